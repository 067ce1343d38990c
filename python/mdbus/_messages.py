"""The message types of mdbus_msg.h as numpy dtypes and as Message objects.

Each dtype has the exact layout of its C structure (no implicit padding,
little-endian); tests/python/test_dtypes.py checks them against the
offsets the compiler reports (_mdbus.layout()). A row of a batch or a
recording array is ROW_HEAD (seq, ts_ns, lost) followed by the structure.
"""
import operator
import struct

import numpy as np

PX_SCALE = 100_000_000
QTY_SCALE = 100_000_000

RAW, QUOTE, TRADE, BOOK_LEVEL, BOOK_SNAPSHOT, STATUS, HEARTBEAT = range(7)
TYPE_NAMES = {RAW: "raw", QUOTE: "quote", TRADE: "trade",
              BOOK_LEVEL: "level", BOOK_SNAPSHOT: "snapshot",
              STATUS: "status", HEARTBEAT: "heartbeat"}
TYPE_NUMBERS = {v: k for k, v in TYPE_NAMES.items()}

ROW_HEAD = [("seq", "<u8"), ("ts_ns", "<u8"), ("lost", "<u8")]

FIELDS = {
    QUOTE: [("symbol", "S16"), ("bid_px", "<i8"), ("bid_qty", "<i8"),
            ("ask_px", "<i8"), ("ask_qty", "<i8"), ("exch_ns", "<u8"),
            ("recv_ns", "<u8")],
    TRADE: [("symbol", "S16"), ("px", "<i8"), ("qty", "<i8"),
            ("trade_id", "<u8"), ("exch_ns", "<u8"), ("recv_ns", "<u8"),
            ("aggressor", "u1"), ("pad", "V7")],
    BOOK_LEVEL: [("symbol", "S16"), ("px", "<i8"), ("qty", "<i8"),
                 ("exch_ns", "<u8"), ("recv_ns", "<u8"), ("level", "<u2"),
                 ("side", "u1"), ("action", "u1"), ("pad", "V4")],
    BOOK_SNAPSHOT: [("symbol", "S16"), ("exch_ns", "<u8"),
                    ("recv_ns", "<u8"), ("bids", "<u2"), ("asks", "<u2"),
                    ("pad", "V4")],
    STATUS: [("symbol", "S16"), ("exch_ns", "<u8"), ("recv_ns", "<u8"),
             ("state", "<u4"), ("text", "S28")],
    HEARTBEAT: [("send_ns", "<u8"), ("feed_seq", "<u8"),
                ("source_id", "<u4"), ("pad", "V4")],
}
LEVEL = np.dtype([("px", "<i8"), ("qty", "<i8")])  # struct mdbus_level

# the structures, and the rows of read_batch() / read_recording()
DTYPES = {t: np.dtype(f) for t, f in FIELDS.items()}
ROW_DTYPES = {t: np.dtype(ROW_HEAD + f) for t, f in FIELDS.items()
              if t != BOOK_SNAPSHOT}

_STRUCTS = {t: struct.Struct("<" + "".join(
    {"S16": "16s", "S28": "28s", "<i8": "q", "<u8": "Q", "<u4": "I",
     "<u2": "H", "u1": "B", "V7": "7x", "V4": "4x"}[f] for _, f in fl))
    for t, fl in FIELDS.items()}
_NAMES = {t: [n for n, f in fl if not f.startswith("V")]
          for t, fl in FIELDS.items()}


def type_number(t):
    """A message type given by name ("quote") or number (any int, numpy's
    too), as its number: ValueError for an unknown name, TypeError for
    what is no int (a float is not truncated)."""
    if not isinstance(t, str):
        return operator.index(t)
    if t not in TYPE_NUMBERS:
        raise ValueError("%r: no message type of that name (%s, or a "
                         "number)" % (t, ", ".join(TYPE_NUMBERS)))
    return TYPE_NUMBERS[t]


class Message:
    """One message: seq, ts_ns, type (number), type_name, lost, data (the
    payload bytes) and, for the types of mdbus_msg.h, their fields as
    attributes (symbol and text as str, prices and quantities as the
    fixed-point integers; px() and qty() give floats); a snapshot's
    levels as a numpy array of LEVEL, empty when the snapshot claims more
    levels than it carries (malformed)."""

    __slots__ = ("seq", "ts_ns", "type", "lost", "data", "__dict__")

    def __init__(self, seq, ts_ns, type, lost, data):
        self.seq, self.ts_ns, self.type, self.lost, self.data = \
            seq, ts_ns, type, lost, data
        st = _STRUCTS.get(type)
        if st is None or len(data) < st.size:
            return
        for name, v in zip(_NAMES[type], st.unpack_from(data)):
            if isinstance(v, bytes):
                v = v.split(b"\0", 1)[0].rstrip(b" ").decode("ascii",
                                                             "replace")
            setattr(self, name, v)
        if type == BOOK_SNAPSHOT:
            n = self.bids + self.asks
            # more levels claimed than carried (malformed): none
            self.levels = np.frombuffer(data, LEVEL, count=n,
                                        offset=st.size) \
                if len(data) >= st.size + 16 * n else np.zeros(0, LEVEL)

    @property
    def type_name(self):
        return TYPE_NAMES.get(self.type, str(self.type))

    @staticmethod
    def px(v):
        return v / PX_SCALE

    @staticmethod
    def qty(v):
        return v / QTY_SCALE

    def __repr__(self):
        return "<mdbus.Message %s seq=%d lost=%d %d bytes>" % (
            self.type_name, self.seq, self.lost, len(self.data))


def rows_to_arrays(rows, other):
    """What read_batch_raw() / read_recording_raw() return as a dict
    {type name: numpy array of ROW_DTYPES}, plus "other": a list of
    Message for the raw, snapshot and unknown messages (when any)."""
    out = {TYPE_NAMES[t]: np.frombuffer(b, ROW_DTYPES[t])
           for t, b in rows.items()}
    if other:
        out["other"] = [Message(*o) for o in other]
    return out

"""mdbus: read, publish and analyse mdbus channels and recordings.

Subscriber and Publisher wrap libmdbus (mdbus.h) through the C extension
mdbus._mdbus; read_batch() and read_recording() return numpy structured
arrays whose dtypes are the structures of mdbus_msg.h (see _messages.py).
Subscriber.view() reads messages in place, without a copy (a View).
Every failure raises mdbus.Error (.code: the library's negative code,
.detail: what mdbus_last_error() said) or one of its subclasses.
"""
import numpy as np

from . import _mdbus
from ._mdbus import (Error, NotFound, Replaced, Evicted, Full, Backpressure,
                     Owned, View, ViewMessage, channels, stats, counters,
                     remove_channel, layout, library_version, COUNTERS_MAX)
from ._messages import (Message, DTYPES, ROW_DTYPES, LEVEL, TYPE_NAMES,
                        TYPE_NUMBERS, PX_SCALE, QTY_SCALE, RAW, QUOTE, TRADE,
                        BOOK_LEVEL, BOOK_SNAPSHOT, STATUS, HEARTBEAT,
                        type_number, rows_to_arrays)

__all__ = ["Subscriber", "Publisher", "Message", "View", "ViewMessage",
           "Error", "NotFound",
           "Replaced", "Evicted", "Full", "Backpressure", "Owned",
           "channels", "stats", "counters", "remove_channel",
           "read_recording", "DTYPES", "ROW_DTYPES"]


class Subscriber(_mdbus.Subscriber):
    """Subscriber(channel, name=None, start="latest"|"oldest"|seq,
    wait="adaptive"|"spin"|"yield"|"block", anonymous=False, dir=None,
    start_time_ns=None, archive_dir=None, owner=None)

    A reader of one channel; a context manager, and an iterator of
    Message objects that waits for each (Ctrl-C interrupts the wait).
    Attributes: lost, loss_events, position, caught_up, payload_max,
    replaying, archive_skipped (archive records read past, not returned,
    to reach the position: the archive's files have no index), owner
    (uid of the segment file's owner: the user this reader trusts),
    epoch (of the segment it maps, whatever the name holds now).

    owner: the user (a name, or a uid as an int or a string) the
    segment file must belong to, else Error (code -EPERM); None:
    $MDBUS_OWNER, or any user when unset. In a directory anyone may
    write, such as /dev/shm, another user could otherwise make a file
    under the channel's name first.

    start_time_ns (instead of start): begin at the first message stamped
    at or after that CLOCK_REALTIME time in ns, from the channel's
    archive when the ring's oldest is later. archive_dir: the archive
    read before the ring when the start is older than the ring ("replay,
    then live"; replaying is True meanwhile): None the one the publisher
    announces, "" none (the ring only). reopen(start=..., or
    start_time_ns=...) attaches again (after Replaced or Evicted) where
    they say, keeping the position in the same segment.

    fileno() is a descriptor for select, selectors and asyncio's
    loop.add_reader(): readable when there may be a message; read() and
    read_batch() re-arm it, so after each readiness read(timeout=0)
    until None (or view() until an empty one, which re-arms it).
    counters() are the publisher's counters (as counters() of the
    module returns them).

    view(max_n=1024) reads in place, zero copy: a View (context manager,
    sequence of ViewMessage(seq, ts_ns, type, payload memoryview into
    the ring)), released on leaving its block with view.used messages
    taken (all unless set lower; none when the block raises) and
    view.torn then the overwritten ones among them, always the first:
    help(mdbus.Subscriber.view) says all, payloads' lifetime and the
    refusals while a view is open included."""

    def read(self, timeout=None):
        """The next Message, waiting up to timeout seconds (None: for
        ever); None at the timeout or after interrupt()."""
        m = self.read_raw(timeout)
        return None if m is None else Message(*m)

    def read_batch(self, max_n, timeout=None):
        """Up to max_n messages, waiting up to timeout seconds for the
        first: {type name: numpy array of ROW_DTYPES[type]} and "other"
        (a list of Message) for raw, snapshot and unknown types; {} at
        the timeout."""
        return rows_to_arrays(*self.read_batch_raw(max_n, timeout))

    def __iter__(self):
        return self

    def __next__(self):
        m = self.read()
        if m is None:  # interrupt()
            raise StopIteration
        return m

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _fixed(v, scale):
    """A price or quantity: an int as the fixed-point integer, a float
    scaled (rounded to the nearest)."""
    return int(round(v * scale)) if isinstance(v, float) else int(v)


class Publisher(_mdbus.Publisher):
    """Publisher(channel, slot_size=, slots_per_block=, block_count=,
    max_consumers=, mode="overwrite"|"lossless", dir=, file_mode=,
    replace=False, group=, stall_evict_ns=, nudge_anonymous=True)

    The publisher of one channel; a context manager (closing marks the
    channel stopped). Attributes: position, payload_max. nudge_anonymous:
    a helper thread wakes anonymous readers (MDBUS_PUB_NUDGE when
    True; libmdbus(3), Waiting).

    skip(n): the next message gets position + n and readers count the n
    as lost (Backpressure in a lossless channel with a reader within a
    ring, or one that joined while it ran: nothing is skipped, and the
    next call must be skip(n) again with the same n, before any publish;
    libmdbus(3), mdbus_pub_skip). Counters readers see (mdbus.counters(), Subscriber.counters(),
    mdsub --status): counter_new(label, kind="total"|"gauge") defines
    the next one (value 0) and returns its id; counter_set(id, value),
    counter_add(id, delta), counter_get(id). Values are ints in
    0..2**64-1; anything else raises TypeError or ValueError. So does
    every integer argument outside its range (a message type above 65535,
    a geometry or file_mode above 2**32-1, a negative ts_ns) or not an
    int (a float is never truncated)."""

    def publish(self, type, data, ts_ns=0):
        """Publishes data (bytes-like) as a message of type (number or
        name); raises Backpressure when a lossless channel is full."""
        super().publish(type_number(type), data, ts_ns)

    def publish_quote(self, symbol, bid_px, bid_qty, ask_px, ask_qty,
                      exch_ns=0, recv_ns=0, ts_ns=0):
        """A quote; prices and quantities as fixed-point ints or floats."""
        q = np.zeros(1, DTYPES[QUOTE])
        q[0] = (symbol.encode(), _fixed(bid_px, PX_SCALE),
                _fixed(bid_qty, QTY_SCALE), _fixed(ask_px, PX_SCALE),
                _fixed(ask_qty, QTY_SCALE), exch_ns, recv_ns)
        self.publish(QUOTE, q.tobytes(), ts_ns)

    def publish_trade(self, symbol, px, qty, trade_id=0, aggressor=0,
                      exch_ns=0, recv_ns=0, ts_ns=0):
        """A trade print; aggressor 0 unknown, 1 buy, 2 sell."""
        t = np.zeros(1, DTYPES[TRADE])
        for k, v in (("symbol", symbol.encode()),
                     ("px", _fixed(px, PX_SCALE)),
                     ("qty", _fixed(qty, QTY_SCALE)), ("trade_id", trade_id),
                     ("aggressor", aggressor), ("exch_ns", exch_ns),
                     ("recv_ns", recv_ns)):
            t[0][k] = v
        self.publish(TRADE, t.tobytes(), ts_ns)

    def publish_batch(self, array, type=None, ts_ns=0):
        """Publishes each element of a structured array as one message:
        its dtype one of DTYPES (the structure) or ROW_DTYPES (as
        read_batch() returns: the head is dropped). The type follows
        from the dtype unless given. Returns the number published (fewer
        than len(array) when a lossless channel pushed back)."""
        t = self._type_of(array.dtype) if type is None else type_number(type)
        if array.dtype != DTYPES[t]:
            body = np.zeros(len(array), DTYPES[t])
            for name in DTYPES[t].names:
                if not name.startswith("pad"):
                    body[name] = array[name]
            array = body
        array = np.ascontiguousarray(array)
        return self.publish_rows(t, array.view(np.uint8).reshape(-1),
                                 DTYPES[t].itemsize, ts_ns)

    @staticmethod
    def _type_of(dtype):
        for t, d in list(DTYPES.items()) + list(ROW_DTYPES.items()):
            if d == dtype:
                return t
        raise TypeError("publish_batch: %s is no message dtype" % (dtype,))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_recording(path, info=False):
    """The messages of a recording (mdsub --record) as read_batch()
    returns them: {type name: numpy array} and "other". With info=True,
    (header dict, that dict). A file cut short is read to its last whole
    record."""
    head, rows, other = _mdbus.read_recording_raw(str(path))
    arrays = rows_to_arrays(rows, other)
    return (head, arrays) if info else arrays

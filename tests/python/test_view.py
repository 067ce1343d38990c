"""Subscriber.view(): messages read in place, against real channels with
a producer in another process: exact counts, sequence continuity and
payload checksums across views (and the rest of a view given again
after a partial release), a lossless producer held by an open view and
let go by exactly what its release takes, a view lapped by an overwrite
producer whose release reports exactly the overwritten prefix as torn
(and sub.lost counts it), the payloads zero-copy (they show the
producer's overwrite) and released with the view, and the refusals
(use after the release, close() and reads while a view is open or a
payload exported) raising, never crashing."""
import gc
import os
import select
import struct
import subprocess
import sys
import time
import weakref
import zlib

import numpy as np
import pytest

import mdbus

SMALL = dict(slots_per_block=16, block_count=4)  # a ring of 64
RING = 64

# Publishes N messages (payload(seq), type 1000 + seq % 5) on CHANNEL in
# MODE, resuming its segment, waiting out Backpressure.
PRODUCER = r"""
import struct, sys, time
import mdbus
ch, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def payload(s):
    return struct.pack("<Q", s) + bytes((s * 31 + j) & 255
                                        for j in range(s * 7 % 57))
with mdbus.Publisher(ch, slots_per_block=16, block_count=4,
                     mode=mode) as pub:
    for _ in range(n):
        s = pub.position
        while True:
            try:
                pub.publish(1000 + s % 5, payload(s))
                break
            except mdbus.Backpressure:
                time.sleep(0.0002)
"""


def payload(s):
    return struct.pack("<Q", s) + bytes((s * 31 + j) & 255
                                        for j in range(s * 7 % 57))


def produce(channel, n, mode="overwrite", wait=True):
    p = subprocess.Popen([sys.executable, "-c", PRODUCER, channel, str(n),
                          mode])
    if wait:
        assert p.wait(timeout=60) == 0
    return p


def make_channel(channel, n=0, mode="overwrite"):
    """The channel, stopped, holding messages 0..n-1 (from this process:
    the readers below then register before any producer runs)."""
    with mdbus.Publisher(channel, mode=mode, **SMALL) as pub:
        for s in range(n):   # distinct times, for a start by time
            pub.publish(1000 + s % 5, payload(s), ts_ns=10**15 + s * 1000)


def check(m):
    """m is message m.seq as the producer wrote it (type, checksum)."""
    assert m.type == 1000 + m.seq % 5
    assert zlib.crc32(m.payload) == zlib.crc32(payload(m.seq))
    assert struct.unpack_from("<Q", m.payload)[0] == m.seq


def wait_write_num(sub, n, timeout=20):
    end = time.monotonic() + timeout
    while sub.publisher_info()["write_num"] < n:
        assert time.monotonic() < end, sub.publisher_info()
        time.sleep(0.005)
    return sub.publisher_info()["write_num"]


def test_counts_continuity_and_checksums_across_views(bus):
    make_channel("ll", mode="lossless")
    total = 5000
    with mdbus.Subscriber("ll", name="viewer") as sub:
        p = produce("ll", total, "lossless", wait=False)
        nxt, views, partial, sizes = 0, 0, 0, set()
        max_ns = [1, 7, 64, 1024]
        deadline = time.monotonic() + 60
        while nxt < total:
            assert time.monotonic() < deadline
            with sub.view(max_n=max_ns[views % 4]) as v:
                if not v:
                    time.sleep(0.0005)
                    continue
                assert v.seq == nxt and v.lost == 0
                assert len(v) <= max_ns[views % 4]
                sizes.add(len(v))
                for i, m in enumerate(v):
                    assert m.seq == nxt + i
                    check(m)
                assert (v[-1].seq, v[0].seq) == (nxt + len(v) - 1, nxt)
                if views % 3 == 2 and len(v) > 1:  # take half: the rest
                    v.used = len(v) // 2            # comes again
                    partial += 1
                views += 1
            assert v.torn == 0
            nxt += v.used
            assert sub.position == nxt
        assert p.wait(timeout=30) == 0
        assert nxt == total and sub.lost == 0 and sub.loss_events == 0
        assert partial > 10 and max(sizes) > 7
        with sub.view() as v:
            assert len(v) == 0 and not v and v.seq == total
        assert v.torn == 0


def test_lossless_producer_waits_for_the_views_release(bus):
    make_channel("ll", mode="lossless")
    with mdbus.Subscriber("ll", name="viewer") as sub:
        p = produce("ll", 200, "lossless", wait=False)
        assert wait_write_num(sub, RING) == RING   # the ring is full
        with sub.view(max_n=RING) as v:
            assert (v.seq, len(v)) == (0, RING)
            time.sleep(0.3)
            # the view is held: nothing more, the producer waits
            assert sub.publisher_info()["write_num"] == RING
            for m in v:
                check(m)
            v.used = 10
        assert v.torn == 0 and sub.position == 10
        assert wait_write_num(sub, RING + 10) == RING + 10
        time.sleep(0.3)   # exactly the 10 released slots, no more
        assert sub.publisher_info()["write_num"] == RING + 10
        assert p.poll() is None
        nxt = 10
        while nxt < 200:
            with sub.view() as v:
                for m in v:
                    assert m.seq == nxt
                    check(m)
                    nxt += 1
            if not v.used:
                time.sleep(0.001)
        assert p.wait(timeout=30) == 0
        assert sub.lost == 0


@pytest.mark.parametrize("used", [RING, 40, 30, 10, 0])
def test_lapped_view_reports_exactly_the_overwritten_prefix(bus, used):
    make_channel("ow", 2 * RING)     # the ring holds 64..127, slots 0..63
    with mdbus.Subscriber("ow", name="viewer", start="oldest") as sub:
        lost0 = sub.lost
        v = sub.view(max_n=RING)
        assert (v.seq, len(v)) == (RING, RING)   # the whole ring
        msgs = list(v)
        for m in msgs:
            check(m)
        # 30 more, in another process: 128..157 take the slots of 64..93
        produce("ow", 30)
        # zero copy: the view's payloads are the ring, and show it
        assert struct.unpack_from("<Q", msgs[0].payload)[0] == 128
        assert struct.unpack_from("<Q", msgs[29].payload)[0] == 157
        assert msgs[0].seq == 64     # the headers were read at the peek
        check(msgs[30])              # 94: not overwritten
        assert v.release(used) == min(used, 30) == v.torn
        with pytest.raises(ValueError):
            msgs[0].payload.tobytes()
        assert sub.lost == lost0 + min(used, 30)
        assert sub.position == 64 + used
        # what follows: the rest, after what was lost in the lap
        seqs = []
        while not sub.caught_up or not seqs:
            with sub.view() as w:
                for m in w:
                    check(m)
                    seqs.append(m.seq)
            assert w.torn == 0
        assert seqs == list(range(max(64 + used, 94), 158))
        # every overwritten message counted once, torn or skipped
        assert sub.lost == lost0 + 30


def test_unused_part_of_a_lapped_view_is_counted_when_read_again(bus):
    make_channel("ow", 2 * RING)
    with mdbus.Subscriber("ow", name="viewer", start="oldest") as sub:
        lost0 = sub.lost
        with sub.view(max_n=8) as v:
            assert (v.seq, len(v)) == (64, 8)
            produce("ow", 30)            # overwrites 64..93
            v.used = 5
        assert v.torn == 5 and sub.lost == lost0 + 5
        with sub.view() as w:
            assert w.seq == 94 and w.lost == 25
            for m in w:
                check(m)
        assert sub.lost == lost0 + 30 and w.torn == 0


def test_a_view_ends_at_the_end_of_the_ring(bus):
    make_channel("w", 100)               # the ring holds 36..99
    with mdbus.Subscriber("w", start="oldest") as sub:
        with sub.view(max_n=RING) as v:
            assert (v.seq, len(v)) == (36, RING - 36)   # slots 36..63
        with sub.view(max_n=RING) as v:
            assert (v.seq, len(v)) == (64, 36)
            for m in v:
                check(m)
        assert sub.position == 100 and sub.lost == 0


def test_use_after_release_raises(bus):
    make_channel("u", 20)
    with mdbus.Subscriber("u", start="oldest") as sub:
        with sub.view() as v:
            m = v[3]
            check(m)
            p = m.payload
            assert p.readonly and len(p) == len(payload(3))
            with pytest.raises(TypeError):
                p[0] = 1
            with pytest.raises(ValueError):
                np.frombuffer(p, np.uint8)[0] = 1   # read-only
            with pytest.raises(IndexError):
                v[20]
            with pytest.raises(ValueError):
                v.used = 21
            with pytest.raises(TypeError):
                v.used = 1.5
            assert v.used == 20            # unchanged
            assert v[-1].seq == 19 and v.lost == 0
        assert v.released and v.torn == 0
        for f in (lambda: len(v), lambda: v[0], lambda: list(v),
                  lambda: bool(v), lambda: v.release(),
                  lambda: setattr(v, "used", 1), lambda: v.__enter__(),
                  lambda: p.tobytes(), lambda: bytes(p),
                  lambda: np.frombuffer(p, np.uint8), lambda: p[0],
                  lambda: m.payload.tobytes()):
            with pytest.raises(ValueError):
                f()
        assert v.__exit__(None, None, None) is False  # ended already
        with pytest.raises(BufferError):
            memoryview(sub)   # the Subscriber lends only payloads
        with sub.view() as v:
            with pytest.raises(ValueError):
                v.used = 1          # empty
            with pytest.raises(ValueError):
                v.release(-1)
        with pytest.raises(ValueError):
            sub.view(0)


def test_one_view_at_a_time_and_close_refused_while_mapped(bus):
    make_channel("c", 20)
    sub = mdbus.Subscriber("c", start="oldest")
    with sub.view(max_n=5) as v:
        for f, exc in ((sub.reopen, RuntimeError), (sub.read, RuntimeError),
                       (lambda: sub.read_batch(5), RuntimeError),
                       (sub.view, RuntimeError)):
            with pytest.raises(exc):
                f()
        assert not sub.closed
        a = np.frombuffer(v[4].payload, np.uint8)   # derived: kept
        keep = v[2].payload[:8]                     # a slice too
    assert v.torn == 0 and sub.position == 5
    with pytest.raises(BufferError):
        sub.close()      # a and keep point into the ring
    assert bytes(a[:8]) == struct.pack("<Q", 4)   # still mapped
    assert bytes(keep) == struct.pack("<Q", 2)
    del keep
    with pytest.raises(BufferError):
        sub.close()
    # the handle outlives the last buffer into its mapping
    ref = a
    del sub, a, v
    gc.collect()
    assert bytes(ref[:8]) == struct.pack("<Q", 4)
    del ref
    gc.collect()
    sub = mdbus.Subscriber("c", start="oldest")
    with sub.view(max_n=5) as v:
        a = np.frombuffer(v[0].payload, np.uint8)
    del a
    sub.close()
    assert sub.closed
    with pytest.raises(ValueError):
        sub.view()


def test_close_ends_an_open_view_releasing_none(bus):
    make_channel("c", 20)
    with mdbus.Subscriber("c", start="oldest") as sub:
        v = sub.view(max_n=5)
        p = v[0].payload
        sub.close()
        assert sub.closed and v.released and v.torn == 0
        with pytest.raises(ValueError):
            p.tobytes()
        with pytest.raises(ValueError):
            len(v)
        v.__exit__(None, None, None)        # nothing left to do
    # an exception in the Subscriber's block with a view open
    with pytest.raises(KeyError):
        with mdbus.Subscriber("c", start="oldest") as sub:
            v = sub.view(max_n=5)
            raise KeyError("failed")
    assert sub.closed and v.released
    # and with a payload exported: close() refuses, the data stays mapped
    sub = mdbus.Subscriber("c", start="oldest")
    v = sub.view(max_n=5)
    a = np.frombuffer(v[1].payload, np.uint8)
    with pytest.raises(BufferError):
        sub.close()
    assert v.released and not sub.closed
    assert bytes(a[:8]) == struct.pack("<Q", 1)
    del a
    sub.close()


def test_exception_releases_none_and_dropped_view_none(bus):
    make_channel("e", 20)
    with mdbus.Subscriber("e", start="oldest") as sub:
        with pytest.raises(KeyError):
            with sub.view(max_n=4) as v:
                list(v)
                raise KeyError("failed")
        assert v.torn == 0 and sub.position == 0   # all come again
        with pytest.raises(KeyError):
            with sub.view(max_n=4) as v:
                assert v.seq == 0
                v.release(3)                # taken before the failure
                raise KeyError("failed")
        assert v.torn == 0 and sub.position == 3
        v = sub.view(max_n=4)
        assert v.seq == 3 and len(v) == 4
        del v                               # dropped: releases none
        with sub.view(max_n=4) as v:
            assert v.seq == 3
        assert sub.position == 7
        m = sub.read(timeout=1)             # reads go on after views
        assert m.seq == 7 and m.data == payload(7)
        with sub.view() as v:
            assert [m.seq for m in v] == list(range(8, 20))
        assert sub.position == 20 and sub.lost == 0


def test_start_time_gives_copied_views_alike(bus):
    """A start time to reach makes the library copy one message per
    view (libmdbus(3)); it reads and releases the same."""
    make_channel("t", 30)
    with mdbus.Subscriber("t", start="oldest") as sub:
        with sub.view() as v:
            ts = v[10].ts_ns
    with mdbus.Subscriber("t", start_time_ns=ts) as sub:
        seqs = []
        while len(seqs) < 20:
            with sub.view() as v:
                assert v
                for m in v:
                    check(m)
                    seqs.append(m.seq)
            assert v.torn == 0
        assert seqs == list(range(10, 30)) and sub.lost == 0


@pytest.mark.parametrize("how", ["start_time", "lap"])
@pytest.mark.parametrize("end", ["raise", "release0", "drop"])
@pytest.mark.parametrize("then", ["read", "read_batch", "reopen"])
def test_copied_view_released_with_none_comes_again_in_a_read(bus, how,
                                                              end, then):
    """A copied view (a start time to reach, a lap to count) took its
    message at the peek; ended releasing none, a read() or read_batch()
    instead of a view delivers it first, also after a reopen() in the
    same segment: nothing skipped unseen."""
    make_channel("t", 2 * RING if how == "lap" else 30)
    if how == "start_time":
        with mdbus.Subscriber("t", start="oldest") as sub:
            with sub.view() as v:
                ts = v[10].ts_ns
        sub = mdbus.Subscriber("t", start_time_ns=ts)
        first, lost = 10, 0
    else:
        sub = mdbus.Subscriber("t", start=0)   # 0..63 overwritten: a lap
        first, lost = RING, RING
    with sub:
        lost0 = sub.lost
        v = sub.view()
        assert (v.seq, len(v), v.lost) == (first, 1, lost)
        assert sub.position == first + 1      # taken by the peek
        if end == "raise":
            with pytest.raises(KeyError):
                with v:
                    raise KeyError("failed")
        elif end == "release0":
            assert v.release(0) == 0
        else:
            del v
        if then == "reopen":
            sub.reopen()
        if then in ("read", "reopen"):
            got = [sub.read(timeout=1)]
        else:
            got = sub.read_batch(4, timeout=1)["other"]  # types 1000+
            assert len(got) == 4
        assert (got[0].seq, got[0].lost) == (first, lost)
        while True:
            m = sub.read(timeout=0)
            if m is None:
                break
            got.append(m)
        for m in got:
            assert m.type == 1000 + m.seq % 5 and m.data == payload(m.seq)
        assert [m.seq for m in got] == list(range(
            first, 2 * RING if how == "lap" else 30))
        assert sub.lost == lost0 + lost   # the lap's, counted once
        # and once taken, a read goes on after it
        assert sub.view().seq == sub.position


@pytest.mark.parametrize("keep", ["view", "payload", "empty"])
def test_a_view_kept_on_its_subscriber_is_collected(bus, keep):
    """sub.v = sub.view() is a cycle (the view holds its Subscriber):
    the collector frees it, ending the view releasing none, and the
    reader's handle with it: its entry no longer holds a lossless
    producer back."""
    with mdbus.Publisher("g", mode="lossless", **SMALL) as pub:
        sub = mdbus.Subscriber("g", name="kept")
        if keep == "empty":
            sub.v = sub.view()
            assert not sub.v
        for s in range(RING):
            pub.publish(1000 + s % 5, payload(s))
        with pytest.raises(mdbus.Backpressure):
            pub.publish(1, b"x")            # the reader holds the ring
        if keep != "empty":
            sub.v = sub.view(max_n=8)
            assert len(sub.v) == 8
        if keep == "payload":
            sub.m = sub.v[3]                # a payload into the ring too
            sub.p = sub.m.payload
            check(sub.m)
        ref = weakref.ref(sub)
        del sub
        gc.collect()
        assert ref() is None                # finalized, handle closed
        assert [c["name"] for c in mdbus.stats("g")["consumers"]] == []
        pub.publish(1, b"x")                # its entry is gone
        assert pub.position == RING + 1


def test_empty_view_holds_nothing(bus):
    """An empty view (nothing ready) keeps nothing of the ring: the loop
    that keeps it while it waits asks for the next view, or reads."""
    with mdbus.Publisher("e", **SMALL) as pub, \
            mdbus.Subscriber("e") as sub:
        v = sub.view()
        assert not v and len(v) == 0 and not v.released
        pub.publish(1, b"a" * 8)
        w = sub.view()                      # v still held: no refusal
        assert len(w) == 1 and bytes(w[0].payload) == b"a" * 8
        with pytest.raises(RuntimeError):
            sub.read(timeout=0)             # w holds a message
        w.release()
        pub.publish(1, b"b" * 8)
        assert sub.read(timeout=1).data == b"b" * 8   # v still held
        with v:
            pass                            # releases nothing, no error
        assert v.released and v.torn == 0 and sub.position == 2


def test_fileno_view_rearms_only_when_it_finds_nothing(bus):
    """Once fileno() made its descriptor, a view that finds messages
    leaves it as it is (no system call: still readable, so a loop that
    stops before the empty view wakes again); the empty view that ends
    the round re-arms it and looks again, so it is readable again
    exactly for what comes after."""
    with mdbus.Publisher("fd", **SMALL) as pub, \
            mdbus.Subscriber("fd") as sub:
        for s in range(20):
            pub.publish(1000 + s % 5, payload(s))
        fd = sub.fileno()
        assert select.select([fd], [], [], 1)[0] == [fd]
        with sub.view(max_n=8) as v:
            assert (v.seq, len(v)) == (0, 8)
        assert select.select([fd], [], [], 0.1)[0] == [fd]  # not re-armed
        seqs = []
        while True:
            with sub.view(max_n=8) as v:
                seqs += [m.seq for m in v]
            if not v.used:
                break
            assert select.select([fd], [], [], 0)[0] == [fd]
        assert seqs == list(range(8, 20))
        # the empty view re-armed it: quiet until the next message
        assert select.select([fd], [], [], 0.1)[0] == []
        for s in range(20, 23):
            pub.publish(1000 + s % 5, payload(s))
            assert select.select([fd], [], [], 1)[0] == [fd]
            with sub.view() as v:
                assert [m.seq for m in v] == [s]
            with sub.view() as w:
                assert not w
            assert select.select([fd], [], [], 0.1)[0] == []


# Re-entrancy: Python code run in the middle of the binding's C code (a
# collection's __del__, an argument's __index__ or __float__, another
# thread then) ending the view or closing the Subscriber. Each runs in a
# child, where a crash is a failure, not the end of the run.
REENTER = r"""
import gc, struct, sys
import mdbus
case = sys.argv[1]
with mdbus.Publisher("r", slots_per_block=16, block_count=4) as pub:
    for s in range(10):
        pub.publish(1, struct.pack("<Q", s) * 4)
sub = mdbus.Subscriber("r", start="oldest")

class Bomb:   # cyclic garbage: what it does runs at the next collection
    def __del__(self):
        if not v.released:
            v.release(0)
def arm():
    b = Bomb(); b.me = b

if case == "item":      # v[i]'s allocations collect: the view ends
    v = sub.view()
    gc.collect(); gc.set_threshold(1)
    out = []
    for i in range(10):
        arm()
        try:
            out.append(v[i])
        except ValueError:
            pass
    gc.set_threshold(700)
    assert v.released
    for m in out:       # a message returned is whole, its payload
        assert struct.unpack_from("<Q", m.payload)[0] == m.seq
    out = m = None
    sub.close()         # nothing of the view escaped its release
elif case == "release":  # the release's own allocations collect
    v = sub.view()
    ms = [v[i] for i in range(len(v))]
    del ms
    gc.collect(); arm(); gc.set_threshold(1)
    torn = v.release(3)
    gc.set_threshold(700)
    assert torn == 0 and v.released and sub.position in (0, 3)
    sub.close()
elif case in ("view", "read", "read_batch"):   # an argument closes us
    class Closer:
        def __index__(self):
            sub.close(); return 4
        def __float__(self):
            sub.close(); return 0.0
    try:
        if case == "view":
            sub.view(Closer())
        elif case == "read":
            sub.read_raw(Closer())
        else:
            sub.read_batch_raw(Closer())
        raise AssertionError("read a closed Subscriber")
    except ValueError:
        assert sub.closed
print("ok")
"""


@pytest.mark.parametrize("case", ["item", "release", "view", "read",
                                  "read_batch"])
def test_python_code_run_inside_the_binding_cannot_crash_it(bus, case):
    p = subprocess.run([sys.executable, "-c", REENTER, case],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == "ok\n", (p.returncode,
                                                       p.stderr[-2000:])

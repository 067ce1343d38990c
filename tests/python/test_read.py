"""Reading from Python what C published (tests/mdsub/testtool): exact
sequence continuity, decoded fields, exact loss counts, batches as numpy
arrays, the waits (timeout, interrupt(), Ctrl-C) and no leak."""
import gc
import os
import signal
import threading
import time
import tracemalloc

import numpy as np
import pytest

import mdbus
from conftest import tool_pub

PX = 100_000_000


def test_every_message_in_order_with_fields(bus):
    tool_pub("feed", 700)
    with mdbus.Subscriber("feed", start="oldest") as sub:
        seqs = []
        for m in sub:
            seqs.append(m.seq)
            assert m.lost == 0
            assert m.type == [1, 2, 3, 4, 5, 6, 0][m.seq % 7]
            if m.type == mdbus.QUOTE:
                i = m.seq
                assert m.symbol == ["AAPL", "MSFT", "BTC-USD"][i % 3]
                assert m.bid_px == (100 + i) * PX + 25 * PX // 100
                assert m.ask_px == (100 + i) * PX + 26 * PX // 100
                assert m.bid_qty == (100 + i) * PX
            if sub.caught_up:
                break
        assert seqs == list(range(700))
        assert sub.lost == 0 and sub.position == 700
        assert sub.read(timeout=0.05) is None


def test_batch_arrays(bus):
    tool_pub("feed", 700)
    with mdbus.Subscriber("feed", start="oldest") as sub:
        got = {}
        n = 0
        while not sub.caught_up:
            b = sub.read_batch(64, timeout=1)
            size = sum(len(v) for v in b.values())
            assert 0 < size <= 64
            n += size
            for k, v in b.items():
                got.setdefault(k, []).append(
                    v if k == "other" else v.copy())
        assert n == 700
        q = np.concatenate(got["quote"])
        assert q.dtype == mdbus.ROW_DTYPES[mdbus.QUOTE]
        assert list(q["seq"]) == list(range(0, 700, 7))
        assert (q["bid_px"] == (100 + q["seq"].astype(np.int64)) * PX
                + 25 * PX // 100).all()
        assert (q["lost"] == 0).all()
        t = np.concatenate(got["trade"])
        assert list(t["seq"]) == list(range(1, 700, 7))
        assert (t["trade_id"] == 9000 + t["seq"]).all()
        for k in ("level", "status", "heartbeat"):
            assert len(np.concatenate(got[k])) == 100
        other = [m for lst in got["other"] for m in lst]
        assert sorted(m.seq for m in other) == \
            sorted(list(range(3, 700, 7)) + list(range(6, 700, 7)))
        snaps = [m for m in other if m.type == mdbus.BOOK_SNAPSHOT]
        assert len(snaps) == 100
        assert len(snaps[0].levels) == snaps[0].bids + snaps[0].asks
        assert sub.read_batch(10, timeout=0.01) == {}


def test_loss_before_the_oldest_is_exact(bus):
    tool_pub("-g", "16:4", "small", 100)   # holds 36..99
    with mdbus.Subscriber("small", start=0) as sub:
        m = sub.read(timeout=1)
        assert (m.seq, m.lost) == (36, 36)
        assert sub.read(timeout=1).lost == 0
        assert sub.lost == 36 and sub.loss_events == 1


def test_overrun_reader_counts_exactly(bus):
    tool_pub("-g", "16:4", "small", 100)
    with mdbus.Subscriber("small") as sub:  # waits at 100
        assert sub.position == 100
        tool_pub("-g", "16:4", "small", 200)  # 100..299, ring holds 236..
        b = sub.read_batch(1000, timeout=1)
        seqs = sorted(np.concatenate(
            [v["seq"] for k, v in b.items() if k != "other"] +
            [np.array([m.seq for m in b.get("other", [])], np.uint64)]))
        assert seqs == list(range(236, 300))
        assert sub.lost == 136 and sub.loss_events == 1
        lost = sum(int(v["lost"].sum()) for k, v in b.items()
                   if k != "other")
        lost += sum(m.lost for m in b.get("other", []))
        assert lost == 136


def test_publisher_info_and_timeouts(bus):
    with mdbus.Publisher("live", slots_per_block=64, block_count=4) as pub:
        with mdbus.Subscriber("live", name="py") as sub:
            info = sub.publisher_info()
            assert info["state"] == "active" and info["pid"] == os.getpid()
            t0 = time.monotonic()
            assert sub.read(timeout=0.2) is None
            assert 0.15 < time.monotonic() - t0 < 2
            pub.publish("raw", b"x")
            assert sub.read(timeout=1).data == b"x"
            assert [c["name"] for c in mdbus.stats("live")["consumers"]] \
                == ["py"]
        info = None
    with mdbus.Subscriber("live", anonymous=True) as sub:
        assert sub.publisher_info()["state"] == "stopped"


def test_interrupt_from_another_thread(bus):
    with mdbus.Publisher("live", slots_per_block=64, block_count=4):
        with mdbus.Subscriber("live", wait="block") as sub:
            threading.Timer(0.2, sub.interrupt).start()
            t0 = time.monotonic()
            assert list(sub) == []
            assert time.monotonic() - t0 < 5


def test_ctrl_c_interrupts_a_blocking_read(bus):
    # Python's own handler, whatever the test inherited: a shell starts
    # background jobs with SIGINT ignored, and Python then keeps it so.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with mdbus.Publisher("live", slots_per_block=64, block_count=4):
            with mdbus.Subscriber("live") as sub:
                threading.Timer(0.2, os.kill,
                                (os.getpid(), signal.SIGINT)).start()
                t0 = time.monotonic()
                with pytest.raises(KeyboardInterrupt):
                    sub.read()
                assert time.monotonic() - t0 < 5
    finally:
        signal.signal(signal.SIGINT, before)


def test_no_leak_over_a_million_reads(bus):
    with mdbus.Publisher("leak", slots_per_block=4096,
                         block_count=16) as pub, \
            mdbus.Subscriber("leak") as sub:
        batch = np.zeros(50_000, mdbus.DTYPES[mdbus.QUOTE])
        batch["symbol"] = b"AAPL"
        batch["bid_px"] = np.arange(50_000)
        batch["ask_px"] = batch["bid_px"] + 1

        def round_trip(n):
            for done in range(0, n, 50_000):
                assert pub.publish_batch(batch[:min(50_000, n - done)]) == \
                    min(50_000, n - done)
                for _ in range(min(50_000, n - done)):
                    m = sub.read(timeout=1)
                    assert m.bid_px == m.ask_px - 1
            b = sub.read_batch(10, timeout=0)
            assert b == {}
        round_trip(1000)
        gc.collect()
        tracemalloc.start()
        objects = len(gc.get_objects())
        before = tracemalloc.get_traced_memory()[0]
        round_trip(1_000_000)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        assert grown < 64 * 1024, grown
        assert len(gc.get_objects()) - objects < 100
        assert sub.position == 1_001_000 and sub.lost == 0


def test_snapshot_claiming_more_levels_than_it_carries(bus):
    # Another user's publisher (or a replayed recording) can send a
    # snapshot whose bids + asks say more levels than its payload holds:
    # every way of reading it gives the header's fields and no level
    # (mdsub shows it as malformed), never an exception.
    head = np.zeros(1, mdbus.DTYPES[mdbus.BOOK_SNAPSHOT])
    head[0]["symbol"], head[0]["bids"], head[0]["asks"] = b"EVIL", 3, 2
    lv = np.zeros(4, mdbus.LEVEL)   # one level short
    lv["px"] = [1, 2, 3, 4]
    with mdbus.Publisher("snap", **{"slots_per_block": 16,
                                    "block_count": 4}) as pub:
        pub.publish(mdbus.BOOK_SNAPSHOT, head.tobytes() + lv.tobytes())
        pub.publish(mdbus.BOOK_SNAPSHOT, head.tobytes())
        with mdbus.Subscriber("snap", start="oldest") as sub:
            for n in (4, 0):
                m = sub.read(timeout=1)
                assert (m.symbol, m.bids, m.asks) == ("EVIL", 3, 2)
                assert len(m.data) == head.itemsize + 16 * n
                assert m.levels.dtype == mdbus.LEVEL and len(m.levels) == 0
        with mdbus.Subscriber("snap", start="oldest") as sub:
            other = sub.read_batch(10, timeout=1)["other"]
            assert [len(m.levels) for m in other] == [0, 0]


def test_reopen_onto_larger_slots_reads_them(bus):
    """A reopen onto the channel made again with larger slots reads its
    larger messages: the read buffer was the first segment's size, and
    every read of a message above it failed (Errno 90, Message too
    long) while a view worked."""
    small = dict(slots_per_block=16, block_count=4)
    with mdbus.Publisher("grow", slot_size=64, **small) as pub:
        pub.publish(1, b"a" * 8)
    sub = mdbus.Subscriber("grow", start="oldest")
    assert sub.read(timeout=0).data == b"a" * 8
    mdbus.remove_channel("grow")
    with mdbus.Publisher("grow", slot_size=1024, **small) as pub:
        pub.publish(1, b"b" * 900)
        sub.reopen(start="oldest")
        assert sub.payload_max == 1024 - 24
        m = sub.read(timeout=0)
        assert (m.seq, m.data) == (0, b"b" * 900)
    sub.close()

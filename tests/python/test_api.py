"""The parts of libmdbus beyond publish and read, from Python, each against
a real channel with exact values: Publisher.skip() (the reader counts the
skip as lost), publisher counters read back by mdbus.counters() and
Subscriber.counters(), a start by time, replay from the archive then live
(a real mdpub writing it), Subscriber.fileno() with select and asyncio,
mdbus.remove_channel(), Subscriber.owner, epoch and owner=; and the argument checks (TypeError, ValueError,
never a crash)."""
import asyncio
import os
import select
import subprocess
import tempfile
import time

import numpy as np
import pytest

import mdbus
from conftest import tool_pub

SMALL = dict(slots_per_block=16, block_count=4)  # a ring of 64


def test_skip_counts_as_lost_and_moves_the_sequence(bus):
    with mdbus.Publisher("skip", **SMALL) as pub, \
            mdbus.Subscriber("skip") as sub:
        pub.publish("raw", b"a")
        pub.skip(5)
        assert pub.position == 6
        pub.publish("raw", b"b")
        pub.skip(0)
        pub.publish("raw", b"c")
        m = sub.read(timeout=1)
        assert (m.seq, m.lost, m.data) == (0, 0, b"a")
        m = sub.read(timeout=1)
        assert (m.seq, m.lost, m.data) == (6, 5, b"b")
        m = sub.read(timeout=1)
        assert (m.seq, m.lost, m.data) == (7, 0, b"c")
        assert (sub.lost, sub.loss_events) == (5, 1)
        with pytest.raises(mdbus.Error) as e:
            pub.skip(1 << 62)
        assert e.value.code == -75  # -EOVERFLOW: past 2**62
        assert pub.position == 8
        for bad, exc in ((-1, ValueError), (1 << 64, ValueError),
                         (None, TypeError), ("5", TypeError),
                         (1.5, TypeError)):
            with pytest.raises(exc):
                pub.skip(bad)
        assert pub.position == 8


def test_integers_out_of_range_are_refused_not_wrapped(bus):
    # The "H", "I" and "K" argument formats take any int modulo 2**16,
    # 2**32, 2**64: publish(65537) published a quote (type 1), slot_size
    # 2**32 + 256 made 256-byte slots. Each is refused instead, nothing
    # published or made.
    for kw in ({"slot_size": (1 << 32) + 256}, {"slots_per_block": -16},
               {"file_mode": (1 << 32) + 0o600},
               {"stall_evict_ns": -1}, {"block_count": 4.0}):
        with pytest.raises((ValueError, TypeError)):
            mdbus.Publisher("wrap", **dict(SMALL, **kw))
    assert "wrap" not in mdbus.channels()
    with mdbus.Publisher("wrap", **SMALL) as pub:
        for t, exc in ((65537, ValueError), (-1, ValueError),
                       (1.9, TypeError), ("bogus", ValueError)):
            with pytest.raises(exc):
                pub.publish(t, b"x")
            if not isinstance(t, str):
                with pytest.raises(exc):
                    pub.publish_rows(t, b"x", 1)
        with pytest.raises(ValueError):
            pub.publish(1, b"x", ts_ns=-1)
        assert pub.position == 0
        pub.publish(np.uint16(6), b"ok")           # numpy ints still do
        pub.publish("raw", b"ok", ts_ns=(1 << 64) - 1)
        with mdbus.Subscriber("wrap", start="oldest") as sub:
            assert (sub.read(timeout=1).type, sub.read(timeout=1).ts_ns) \
                == (6, (1 << 64) - 1)


def test_skip_pushed_back_by_a_lossless_reader(bus):
    with mdbus.Publisher("lskip", mode="lossless", **SMALL) as pub, \
            mdbus.Subscriber("lskip") as sub:
        pub.publish("raw", b"0")
        with pytest.raises(mdbus.Backpressure):
            pub.skip(64)  # message 64 would overwrite the unread 0
        assert pub.position == 1
        pub.skip(63)
        assert pub.position == 64
        m = sub.read(timeout=1)
        assert (m.seq, m.lost) == (0, 0)
        pub.publish("raw", b"64")
        m = sub.read(timeout=1)
        assert (m.seq, m.lost, m.data) == (64, 63, b"64")


def test_counters_read_back_exactly(bus):
    with mdbus.Publisher("cnt", **SMALL) as pub:
        assert mdbus.counters("cnt") == []
        assert pub.counter_new("orders") == 0
        assert pub.counter_new("depth.max-1_x", kind="gauge") == 1
        pub.counter_add(0, 5)
        pub.counter_add(0, 7)
        pub.counter_set(1, (1 << 64) - 1)
        pub.counter_set(1, 42)
        assert (pub.counter_get(0), pub.counter_get(1)) == (12, 42)
        assert pub.counter_get(2) == 0  # not defined
        want = [{"label": "orders", "kind": "total", "id": 0, "value": 12},
                {"label": "depth.max-1_x", "kind": "gauge", "id": 1,
                 "value": 42}]
        assert mdbus.counters("cnt") == want
        with mdbus.Subscriber("cnt", anonymous=True) as sub:
            assert sub.counters() == want
        with pytest.raises(mdbus.Error) as e:
            pub.counter_new("orders")
        assert e.value.code == -17  # -EEXIST
        with pytest.raises(mdbus.Error) as e:
            pub.counter_new("no space")
        assert e.value.code == -22  # -EINVAL: not [A-Za-z0-9_.-]
        with pytest.raises(ValueError):
            pub.counter_new("x", kind="level")
        with pytest.raises(TypeError):
            pub.counter_new(None)
        for call in (pub.counter_set, pub.counter_add):
            for args, exc in (((-1, 1), ValueError), ((24, 1), ValueError),
                              ((0, -1), ValueError),
                              ((0, 1 << 64), ValueError),
                              ((0, None), TypeError), ((None, 1), TypeError),
                              ((0, 1.0), TypeError)):
                with pytest.raises(exc):
                    call(*args)
        with pytest.raises(ValueError):
            pub.counter_get(-1)
        with pytest.raises(TypeError):
            pub.counter_get("0")
        assert mdbus.counters("cnt") == want
        for i in range(2, mdbus.COUNTERS_MAX):
            assert pub.counter_new("c%d" % i) == i
        with pytest.raises(mdbus.Error) as e:
            pub.counter_new("one.more")
        assert e.value.code == -28  # -ENOSPC
    # the stopped publisher's counters stay readable
    got = mdbus.counters("cnt")
    assert len(got) == mdbus.COUNTERS_MAX and got[:2] == want
    with pytest.raises(mdbus.NotFound):
        mdbus.counters("absent")
    with pytest.raises(mdbus.Error) as e:
        mdbus.counters("bad name")
    assert e.value.code == -1012  # MDBUS_ENAME


def test_start_time_in_the_ring(bus):
    with mdbus.Publisher("time", **SMALL) as pub:
        for i in range(40):
            pub.publish("raw", b"%d" % i, ts_ns=1000 * (i + 1))
        for t, first in ((1, 0), (1000, 0), (20500, 20), (21000, 20),
                         (40000, 39)):
            with mdbus.Subscriber("time", start_time_ns=t) as sub:
                m = sub.read(timeout=1)
                assert (m.seq, m.ts_ns, m.lost) == (first, 1000 * (first + 1),
                                                    0)
        with mdbus.Subscriber("time", start_time_ns=40001) as sub:
            assert sub.read(timeout=0.05) is None  # none that late yet
            pub.publish("raw", b"late", ts_ns=50000)
            m = sub.read(timeout=1)
            assert (m.seq, m.data) == (40, b"late")
        with pytest.raises(ValueError):
            mdbus.Subscriber("time", start="oldest", start_time_ns=1)
        with pytest.raises(ValueError):
            mdbus.Subscriber("time", start_time_ns=-1)
        with pytest.raises(TypeError):
            mdbus.Subscriber("time", start_time_ns="1")
        with pytest.raises(TypeError):
            mdbus.Subscriber("time", archive_dir=5)


def mdpub_lines(bus, work, channel, archive):
    """mdpub publishing the CSV lines of its standard input on channel
    (lossless, a ring of 64) and archiving them into archive."""
    conf = os.path.join(work, "mdpub.conf")
    with open(conf, "w") as f:
        f.write("[global]\nstats_interval = 0\n[channel %s]\n"
                "source = lines\nfile = -\nmode = lossless\n"
                "slots_per_block = 16\nblock_count = 4\narchive = %s\n"
                "archive_flush = 0.01\n" % (channel, archive))
    os.chmod(conf, 0o600)
    log = open(os.path.join(work, "mdpub.log"), "w")
    return subprocess.Popen([os.environ["MDPUB"], "-c", conf],
                            stdin=subprocess.PIPE, stdout=log,
                            stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, MDBUS_DIR=bus))


def wait_published(channel, n):
    """Until mdpub has made channel and published n messages into it, 60 s
    at most (a deadline for a loaded machine: it returns at once)."""
    for _ in range(2400):
        try:
            if mdbus.stats(channel)["publisher"]["write_num"] >= n:
                return
        except mdbus.NotFound:
            pass
        time.sleep(0.025)
    pytest.fail("%s: not %d messages in 60 s" % (channel, n))


def trades(sub, n, flags):
    """The next n trades (other messages skipped) as (seq, ts_ns,
    trade_id), the reader's replaying flag after each in flags."""
    out = []
    while len(out) < n:
        m = sub.read(timeout=60)
        assert m is not None, "no message after %d trades" % len(out)
        assert m.lost == 0
        flags.append(sub.replaying)
        if m.type == mdbus.TRADE:
            out.append((m.seq, m.ts_ns, m.trade_id))
    return out


def test_archive_then_live_and_start_time_from_the_archive(bus):
    work = tempfile.mkdtemp(prefix="mdbuspy.")
    archive = os.path.join(work, "ar")
    p = mdpub_lines(bus, work, "arch", archive)
    try:
        p.stdin.write("".join("T,SYM,1,1,B,%d\n" % i for i in range(200)))
        p.stdin.flush()
        wait_published("arch", 200)  # seq 0 is far behind the ring
        with mdbus.Subscriber("arch", start=0) as sub:
            flags = []
            old = trades(sub, 200, flags)
            assert [t[2] for t in old] == list(range(200))
            seqs = [t[0] for t in old]
            assert seqs == sorted(seqs) and sub.lost == 0
            assert flags[0] is True  # seq 0: 136 and more past the ring
            replayed = flags.count(True)
            assert flags == [True] * replayed + [False] * (len(flags) -
                                                           replayed)
            assert replayed >= seqs[-1] + 1 - 64
            # caught up with the archive and the ring: the next look
            # goes to the ring (doc/protocol.md, "Replay, then live")
            assert sub.read(timeout=0.1) is None
            assert sub.caught_up and not sub.replaying
            p.stdin.write("".join("T,SYM,1,1,S,%d\n" % i
                                  for i in range(200, 250)))
            p.stdin.flush()
            live_flags = []
            live = trades(sub, 50, live_flags)
            assert [t[2] for t in live] == list(range(200, 250))
            assert live_flags == [False] * len(live_flags)
            assert sub.lost == 0
        # by time, from the archive: the first stamped at or after it
        at = old[10][1]
        want = next(t for t in old if t[1] >= at)
        with mdbus.Subscriber("arch", start_time_ns=at) as sub:
            first = trades(sub, 1, [])[0]
            assert first == want and sub.replaying
            # reopen by time, in the same segment: the place is kept
            sub.reopen(start_time_ns=at)
            assert sub.position == want[0] + 1
            with pytest.raises(ValueError):
                sub.reopen(start="oldest", start_time_ns=at)
        # by sequence, from the archive: one file from seq 0, whose
        # records before it were read past (it has no index)
        with mdbus.Subscriber("arch", start=want[0]) as sub:
            assert trades(sub, 1, [])[0] == want and sub.replaying
            assert sub.archive_skipped == want[0]
        # "" keeps a reader off the archive: what left the ring is lost
        with mdbus.Subscriber("arch", start=0, archive_dir="") as sub:
            m = sub.read(timeout=1)
            assert not sub.replaying and m.lost == m.seq > 0
    finally:
        p.stdin.close()
        try:
            p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            subprocess.run(["rm", "-rf", work])


def test_fileno_readable_exactly_when_a_message_is_there(bus):
    with mdbus.Publisher("fd", **SMALL) as pub, \
            mdbus.Subscriber("fd") as sub:
        fd = sub.fileno()
        assert fd == sub.fileno() and fd >= 0
        # the first readiness may be the helper's first look: re-arm
        while sub.read(timeout=0) is not None:
            pass
        assert select.select([sub], [], [], 0.1)[0] == []
        for i in range(3):
            pub.publish("raw", b"%d" % i)
            assert select.select([sub], [], [], 1)[0] == [sub]
            m = sub.read(timeout=0)
            assert (m.seq, m.data) == (i, b"%d" % i)
            assert sub.read(timeout=0) is None
            assert select.select([sub], [], [], 0.1)[0] == []
        pub.publish("raw", b"x")
        pub.publish("raw", b"y")
        assert select.select([sub], [], [], 1)[0] == [sub]
        b = sub.read_batch(10, timeout=0)
        assert [m.seq for m in b["other"]] == [3, 4]
        # the helper may have signalled 4 while the batch read it: one
        # readiness with nothing new is allowed (libmdbus(3)), no more
        if select.select([sub], [], [], 0.1)[0]:
            assert sub.read(timeout=0) is None
        assert select.select([sub], [], [], 0.1)[0] == []
    with pytest.raises(ValueError):
        sub.fileno()  # closed


def test_fileno_with_asyncio(bus):
    async def main(sub, pub):
        loop = asyncio.get_running_loop()
        got = []
        burst_read = asyncio.Event()

        def ready():
            while (m := sub.read(timeout=0)) is not None:
                got.append(m.seq)
            if len(got) % 10 == 0:
                burst_read.set()

        loop.add_reader(sub, ready)
        for burst in range(10):  # bursts of 10: none laps the ring
            burst_read.clear()
            for i in range(10):
                pub.publish("raw", b"p")
            while len(got) < 10 * (burst + 1):
                await asyncio.wait_for(burst_read.wait(), 5)
                burst_read.clear()
        loop.remove_reader(sub)
        return got

    with mdbus.Publisher("aio", **SMALL) as pub, \
            mdbus.Subscriber("aio") as sub:
        assert asyncio.run(main(sub, pub)) == list(range(100))
        assert sub.lost == 0


def test_remove_channel(bus):
    with mdbus.Publisher("rm", **SMALL) as pub:
        with mdbus.Subscriber("rm"):
            with pytest.raises(mdbus.Owned):
                mdbus.remove_channel("rm")
        assert "rm" in mdbus.channels()
        n = mdbus.remove_channel("rm", force=True)
        assert n >= 1 and "rm" not in mdbus.channels()
    tool_pub("gone", 10)
    before = set(os.listdir(bus))
    n = mdbus.remove_channel("gone", dir=bus)
    assert n == len(before - set(os.listdir(bus))) and n >= 2
    assert not [f for f in os.listdir(bus) if "gone" in f]
    with pytest.raises(mdbus.NotFound):
        mdbus.remove_channel("gone")
    with pytest.raises(mdbus.Error) as e:
        mdbus.remove_channel("../x")
    assert e.value.code == -1012  # MDBUS_ENAME
    with pytest.raises(TypeError):
        mdbus.remove_channel(None)


def test_owner_given_and_named(bus):
    # owner is the uid of the very file mapped; owner= refuses another
    # user's file (-EPERM) and takes a name or a number
    me = os.geteuid()
    tool_pub("own", 3)
    with mdbus.Subscriber("own", start="oldest") as sub:
        assert sub.owner == me
        assert sub.epoch == mdbus.stats("own")["epoch"] != 0
    for owner in (str(me), me):
        with mdbus.Subscriber("own", owner=owner) as sub:
            assert sub.owner == me
    for owner in (str(me + 1), me + 1):
        with pytest.raises(mdbus.Error) as e:
            mdbus.Subscriber("own", owner=owner)
        assert e.value.code == -1  # -EPERM
    for bad, exc in ((-1, ValueError), (1 << 32, ValueError),
                     (1.0, TypeError), (True, TypeError),
                     ("ro\0ot", ValueError)):
        with pytest.raises(exc):
            mdbus.Subscriber("own", owner=bad)
    if me != 0:
        return  # the rest gives the file to another user
    for f in os.listdir(bus):
        if f.startswith("mdbus.own"):
            os.chown(os.path.join(bus, f), 54321, -1)
    with mdbus.Subscriber("own", anonymous=True) as sub:
        assert sub.owner == 54321
    with pytest.raises(mdbus.Error) as e:
        mdbus.Subscriber("own", owner="root")
    assert e.value.code == -1

"""Publishing from Python, read back by mdsub (C) and by Python."""
import numpy as np

import mdbus
from conftest import mdsub

PX = 100_000_000


def test_mdsub_reads_what_python_published(bus):
    with mdbus.Publisher("py", slots_per_block=64, block_count=4) as pub:
        assert pub.position == 0
        pub.publish_quote("AAPL", 100.25, 100.0, 100.26, 200.5,
                          exch_ns=1, recv_ns=2, ts_ns=1000)
        pub.publish_trade("MSFT", 51.05, 3.0, trade_id=9001, aggressor=1,
                          exch_ns=3, recv_ns=4, ts_ns=2000)
        pub.publish(0, b"\x00\x01\xfe\xff", ts_ns=3000)
        assert pub.position == 3
    out = mdsub("-o", "csv", "--from", "oldest", "-u", "py").splitlines()
    assert out[1] == ("py,0,1000,quote,AAPL,1,2,100.25,100,100.26,200.5,"
                      ",,,,,,,,,,,,,,,64,0")
    assert out[2] == ("py,1,2000,trade,MSFT,3,4,,,,,51.05,3,buy,9001,"
                      ",,,,,,,,,,,64,0")
    raw = mdsub("-o", "raw", "--from", "oldest", "-u", "py").splitlines()
    assert raw[2] == "py 2 3000 0 4 0 0001feff"
    assert len(raw) == 3


def test_publish_batch_round_trip(bus):
    q = np.zeros(500, mdbus.DTYPES[mdbus.QUOTE])
    q["symbol"] = [b"S%d" % (i % 5) for i in range(500)]
    q["bid_px"] = np.arange(500) * PX
    q["ask_px"] = q["bid_px"] + PX // 100
    q["exch_ns"] = np.arange(500, dtype=np.uint64) + 7
    with mdbus.Publisher("batch", slots_per_block=256, block_count=4) as pub:
        with mdbus.Subscriber("batch") as sub:
            assert pub.publish_batch(q) == 500
            got = sub.read_batch(1000, timeout=1)["quote"]
            assert list(got["seq"]) == list(range(500))
            for name in mdbus.DTYPES[mdbus.QUOTE].names:
                assert (got[name] == q[name]).all(), name
            # rows as read come back as the same messages
            assert pub.publish_batch(got[:10]) == 10
            again = sub.read_batch(100, timeout=1)["quote"]
            assert list(again["seq"]) == list(range(500, 510))
            assert (again["bid_px"] == q["bid_px"][:10]).all()


def test_lossless_backpressure(bus):
    with mdbus.Publisher("ll", slots_per_block=16, block_count=4,
                         mode="lossless") as pub:
        with mdbus.Subscriber("ll"):
            q = np.zeros(100, mdbus.DTYPES[mdbus.QUOTE])
            n = pub.publish_batch(q)
            assert 0 < n < 100
            try:
                pub.publish("quote", q[:1].tobytes())
                assert False, "no backpressure"
            except mdbus.Backpressure as e:
                assert e.code == -1008


def _nudgers():
    import glob
    names = []
    for f in glob.glob("/proc/self/task/*/comm"):
        with open(f) as fp:
            names.append(fp.read().strip())
    return names.count("mdbus-nudge")


def test_nudge_anonymous(bus):
    before = _nudgers()
    with mdbus.Publisher("nudged", slots_per_block=64, block_count=4):
        assert _nudgers() == before + 1
    assert _nudgers() == before
    with mdbus.Publisher("quiet", slots_per_block=64, block_count=4,
                         nudge_anonymous=False):
        assert _nudgers() == before

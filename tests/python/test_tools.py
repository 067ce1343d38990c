"""channels(), stats(), read_recording() and the errors."""
import errno
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import mdbus
from conftest import mdsub, tool_pub


def test_channels_and_stats(bus):
    tool_pub("-g", "16:4", "b", 10)
    tool_pub("-g", "16:4", "a", 3)
    assert mdbus.channels() == ["a", "b"]
    assert mdbus.channels(dir=bus) == ["a", "b"]
    st = mdbus.stats("b")
    assert st["capacity"] == 64 and st["slots_per_block"] == 16
    assert st["publisher"]["write_num"] == 10
    assert st["publisher"]["state"] == "stopped"
    assert st["consumers"] == []
    assert st["owner"] == os.getuid()


def test_errors_carry_code_and_detail(bus):
    with pytest.raises(mdbus.NotFound) as e:
        mdbus.Subscriber("absent")
    assert e.value.code == -errno.ENOENT
    assert isinstance(e.value, mdbus.Error) and isinstance(e.value, OSError)
    with pytest.raises(mdbus.Error) as e:
        mdbus.Subscriber("bad/name")
    assert e.value.code == -1012
    with mdbus.Publisher("own", slots_per_block=16, block_count=4):
        with pytest.raises(mdbus.Owned) as e:
            mdbus.Publisher("own", slots_per_block=16, block_count=4)
        assert str(os.getpid()) in e.value.detail
    with pytest.raises(ValueError):
        mdbus.Subscriber("own", wait="sometimes")


def test_recording_round_trip(bus, tmp_path):
    tool_pub("-g", "16:4", "feed", 14)
    rec = tmp_path / "feed.rec"
    subprocess.run([os.environ["MDSUB"], "--record", str(rec), "--from",
                    "oldest", "-u", "feed"], check=True,
                   stderr=subprocess.DEVNULL)
    head, got = mdbus.read_recording(rec, info=True)
    assert head["channel"] == "feed" and head["slots_per_block"] == 16
    with mdbus.Subscriber("feed", start="oldest") as sub:
        live = sub.read_batch(100, timeout=1)
    assert set(got) == set(live) == {"quote", "trade", "level", "status",
                                     "heartbeat", "other"}
    for k in got:
        if k == "other":
            assert [(m.seq, m.type, m.data) for m in got[k]] == \
                [(m.seq, m.type, m.data) for m in live[k]]
        else:
            assert np.array_equal(got[k], live[k]), k
    assert sum(len(v) for v in got.values()) == 14
    rec.write_bytes(rec.read_bytes()[:-3])   # a recorder killed mid-write
    assert sum(len(v) for v in mdbus.read_recording(rec).values()) == 13
    with pytest.raises(mdbus.NotFound):
        mdbus.read_recording(tmp_path / "absent.rec")


def test_command_line(bus):
    tool_pub("-g", "16:4", "feed", 3)
    run = [sys.executable, "-m", "mdbus"]
    out = subprocess.run(run, check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    assert out == "feed\n"
    out = subprocess.run(run + ["feed", "--from", "oldest", "-n", "2"],
                         check=True, stdout=subprocess.PIPE,
                         text=True).stdout.splitlines()
    assert len(out) == 2 and out[1].startswith("1 ")
    assert "symbol=MSFT" in out[1]
    assert "usage" in subprocess.run(run + ["--help"], check=True,
                                     stdout=subprocess.PIPE,
                                     text=True).stdout


def test_command_line_prints_no_control_bytes(bus):
    # a publisher's strings (any user's channel) cannot act on the
    # terminal of `python3 -m mdbus CHANNEL`: escaped as mdsub does
    with mdbus.Publisher("esc", slots_per_block=16, block_count=4) as pub:
        pub.publish_quote("A\x1b]0;owned\x07\\B", 1, 2, 3, 4)
        st = np.zeros(1, mdbus.DTYPES[mdbus.STATUS])
        st[0]["symbol"], st[0]["text"] = b"S\x9b", b"\x1b[2J\x1b]52;c;eA==\x07"
        pub.publish(mdbus.STATUS, st.tobytes())
        out = subprocess.run([sys.executable, "-m", "mdbus", "esc",
                              "--from", "oldest", "-n", "2"], check=True,
                             stdout=subprocess.PIPE).stdout
    assert not re.search(rb"[\x00-\x09\x0b-\x1f\x7f-\xff]", out), out
    lines = out.decode().splitlines()
    assert "symbol=A\\x1b]0;owned\\x07\\\\B bid_px=1" in lines[0]
    assert "symbol=S\\ufffd " in lines[1]
    assert lines[1].endswith(" text=\\x1b[2J\\x1b]52;c;eA==\\x07")
    err = subprocess.run([sys.executable, "-m", "mdbus", "--dir",
                          "/nonexistent/\x1b[2J", "esc"],
                         stderr=subprocess.PIPE).stderr
    assert b"/nonexistent/\\x1b[2J" in err and b"\x1b" not in err, err

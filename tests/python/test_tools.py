"""channels(), stats(), read_recording() and the errors."""
import errno
import os
import re
import subprocess
import sys
import time

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


def test_stats_with_the_table_spoiled(bus):
    """A consumer table a writer spoiled (or removed) hides the consumers
    only: stats() gives the rest, consumers None (it raised before)."""
    tool_pub("-g", "16:4", "t", 5)
    table = [p for p in os.listdir(bus)
             if p.startswith("mdbus.t+") and not p.endswith("+lock")]
    assert len(table) == 1
    with open(os.path.join(bus, table[0]), "r+b") as f:
        f.write(bytes(8))
    st = mdbus.stats("t")
    assert st["publisher"]["write_num"] == 5 and st["capacity"] == 64
    assert st["consumers"] is None
    os.unlink(os.path.join(bus, table[0]))
    assert mdbus.stats("t")["consumers"] is None


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


def recorded_feed(tmp_path, n):
    """tmp_path/feed.rec: mdsub's recording of a ring of 64 that held n
    messages of the deterministic feed (what it still holds)."""
    tool_pub("-g", "16:4", "feed", n)
    rec = tmp_path / "feed.rec"
    subprocess.run([os.environ["MDSUB"], "--record", str(rec), "--from",
                    "oldest", "-u", "feed"], check=True,
                   stderr=subprocess.DEVNULL)
    return rec


def test_recording_round_trip(bus, tmp_path):
    rec = recorded_feed(tmp_path, 14)
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


def test_strings_that_are_not_utf8(bus, tmp_path):
    # Names and texts from shared memory and files are bytes whoever
    # wrote them chose: one that is not UTF-8 shows its bytes as \xNN (as
    # mdsub --status does), never a UnicodeDecodeError in place of the
    # result or of mdbus.Error.
    rec = recorded_feed(tmp_path, 100)
    b = bytearray(rec.read_bytes())
    b[16:20] = b"f\xffd\0"                 # the header's channel name
    rec.write_bytes(b)
    head, got = mdbus.read_recording(rec, info=True)
    assert head["channel"] == "f\\xffd"
    assert sum(len(v) for v in got.values()) == 64
    # a reader registers under a name of bytes (any reader can)
    reader = subprocess.Popen([os.environ["MDSUB"].encode(), b"-q", b"-N",
                               b"x\xffy", b"feed"], stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            if subprocess.run([os.environ["MDSUB"], "--status", "feed"],
                              stdout=subprocess.PIPE).stdout.count(
                                  b"x\\xffy"):
                break
            time.sleep(0.05)
        names = [c["name"] for c in mdbus.stats("feed")["consumers"]]
        assert names == ["x\\xffy"]
    finally:
        reader.kill()
        reader.wait()
    # the publisher announces an archive whose path is not UTF-8 (and no
    # directory): the error naming it is an mdbus.Error (segment header:
    # archive_dir at byte 2176, under the even archive_gen at 2048,
    # archive_state at 2056)
    path = os.path.join(os.fsencode(bus), b"f\xff")
    open(path, "w").close()
    with open(os.path.join(bus, "mdbus.feed"), "r+b") as f:
        f.seek(2056)
        f.write((1).to_bytes(4, "little"))
        f.seek(2176)
        f.write(path + b"\0")
    with pytest.raises(mdbus.Error) as e:
        mdbus.Subscriber("feed", start=0, anonymous=True)
    assert bus + "/f\\xff: Not a directory" in e.value.detail

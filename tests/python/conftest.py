"""Fixtures of the Python module's tests (run by tests/python/run.sh)."""
import os
import shutil
import subprocess
import tempfile

import pytest


@pytest.fixture
def bus(monkeypatch):
    """A private segment directory as $MDBUS_DIR for one test."""
    d = tempfile.mkdtemp(prefix="mdbuspy.", dir="/dev/shm")
    monkeypatch.setenv("MDBUS_DIR", d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def tool_pub(*args):
    """tests/mdsub/testtool pub ARGS: a stopped channel holding the
    deterministic feed (message i of type i % 7: quote, trade, level,
    snapshot, status, heartbeat, raw)."""
    subprocess.run([os.environ["TOOL"], "pub"] + [str(a) for a in args],
                   check=True)


def mdsub(*args):
    """mdsub ARGS: its standard output."""
    return subprocess.run([os.environ["MDSUB"]] + [str(a) for a in args],
                          check=True, stdout=subprocess.PIPE,
                          text=True).stdout

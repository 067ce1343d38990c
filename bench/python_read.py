"""python_read.py - how fast Python reads a channel (make bench).

One publisher fills a lossless channel with N quotes (mdbus.Publisher
.publish_batch from a numpy array), then three readers read all N from the
oldest, interleaved, RUNS times each: Subscriber.read_batch (numpy arrays,
the intended path), the Message iterator (one Python object per message)
and `mdsub -o json` parsed with json.loads (what users did before the
module). Prints messages per second: median [min-max] of the runs, and
each path's ratio to read_batch. Arguments: MDSUB N RUNS.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import mdbus


def fill(ch, d, n):
    blocks = 1
    while blocks << 14 < n:  # room for all n: nothing overwritten
        blocks *= 2
    pub = mdbus.Publisher(ch, slot_size=128, slots_per_block=1 << 14,
                          block_count=blocks, mode="overwrite", dir=d)
    q = np.zeros(n, mdbus.DTYPES[mdbus.QUOTE])
    q["symbol"] = b"BENCH"
    q["bid_px"] = np.arange(n, dtype=np.int64)
    q["ask_px"] = q["bid_px"] + 1
    done = 0
    while done < n:
        done += pub.publish_batch(q[done:])
    return pub


def by_batch(ch, d, n):
    got = 0
    with mdbus.Subscriber(ch, start="oldest", dir=d, anonymous=True) as s:
        while got < n:
            got += len(s.read_batch(65536, timeout=1).get("quote", ()))
    return got


def by_iterator(ch, d, n):
    got = 0
    with mdbus.Subscriber(ch, start="oldest", dir=d, anonymous=True) as s:
        for m in s:
            got += 1
            if got == n:
                break
    return got


def by_json(mdsub, ch, d, n):
    env = dict(os.environ, MDBUS_DIR=d)
    p = subprocess.Popen([mdsub, "-a", "-F", "oldest", "-u", "-o", "json", ch],
                         stdout=subprocess.PIPE, env=env)
    got = sum(1 for line in p.stdout if json.loads(line))
    p.wait()
    return got


def main():
    mdsub, n, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    d = tempfile.mkdtemp(prefix="mdbench-py.", dir="/dev/shm")
    pub = fill("pyb", d, n)
    paths = [("read_batch", lambda: by_batch("pyb", d, n)),
             ("iterator", lambda: by_iterator("pyb", d, n)),
             ("mdsub json", lambda: by_json(mdsub, "pyb", d, n))]
    rates = {name: [] for name, _ in paths}
    for _ in range(runs):
        for name, fn in paths:
            t = time.perf_counter()
            got = fn()
            rates[name].append(got / (time.perf_counter() - t))
            if got < n:
                sys.exit("%s: read %d of %d" % (name, got, n))
    print("\n== Python: reading %d quotes from the oldest, %d runs each "
          "interleaved; msgs/s median [min-max]" % (n, runs))
    base = statistics.median(rates["read_batch"])
    for name, r in rates.items():
        med = statistics.median(r)
        print("%-11s | %12.0f [%12.0f-%12.0f] | %6.3fx read_batch"
              % (name, med, min(r), max(r), med / base))
    pub.close()
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    os.rmdir(d)


main()

"""python3 -m mdbus: list the channels, or tail one.

usage: python3 -m mdbus [--dir DIR] [CHANNEL [-n N] [--from oldest|latest]]
"""
import argparse
import sys

import mdbus


def _safe(v):
    """v as text none of whose characters can act on a terminal, as mdsub
    prints strings from shared memory: printable ASCII as is, a backslash
    as two, anything else as \\xNN (\\uNNNN beyond U+00FF: a byte the
    message held outside ASCII shows as \\ufffd)."""
    return "".join(c if " " <= c <= "~" and c != "\\" else
                   "\\\\" if c == "\\" else
                   "\\x%02x" % ord(c) if c <= "\xff" else "\\u%04x" % ord(c)
                   for c in str(v))


def _line(m):
    fields = {k: v for k, v in vars(m).items() if k != "levels"}
    return "%d %d %s %s" % (m.seq, m.ts_ns, _safe(m.type_name), " ".join(
        "%s=%s" % (k, _safe(v)) for k, v in fields.items()))


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python3 -m mdbus",
        description="Without CHANNEL: list the channels in the segment "
        "directory. With CHANNEL: print its messages as they come "
        "(Ctrl-C stops).")
    p.add_argument("channel", nargs="?", help="channel to tail")
    p.add_argument("--dir", help="segment directory (default $MDBUS_DIR "
                   "or /dev/shm)")
    p.add_argument("-n", type=int, default=0,
                   help="stop after N messages (0: never)")
    p.add_argument("--from", dest="start", default="latest",
                   help="oldest, latest or a sequence number")
    a = p.parse_args(argv)
    try:
        if a.channel is None:
            for c in mdbus.channels(a.dir):
                print(c)
            return 0
        start = int(a.start) if a.start.isdigit() else a.start
        with mdbus.Subscriber(a.channel, start=start, anonymous=True,
                              dir=a.dir) as sub:
            for i, m in enumerate(sub, 1):
                if m.lost:
                    print("lost %d messages" % m.lost, file=sys.stderr)
                print(_line(m), flush=True)
                if i == a.n:
                    break
    except mdbus.Error as e:
        print("mdbus: %s" % _safe(e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

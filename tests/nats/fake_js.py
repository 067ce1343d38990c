#!/usr/bin/env python3
"""fake_js.py - a NATS server of a test's own on loopback that answers
the JetStream API requests the nats source makes at its start as a
hostile or broken server would (tests/nats/count_back.sh).

fake_js.py PORTFILE COUNTFILE CONSUMER_JSON STREAM_JSON [GETMSG_DELAY_S
           [noinfo]]

Speaks the client protocol (INFO, CONNECT, PING/PONG, SUB, PUB, HPUB,
UNSUB) to any number of clients. A request on $JS.API.CONSUMER.INFO.* is
answered with CONSUMER_JSON, one on $JS.API.STREAM.INFO.* with
STREAM_JSON, one on $JS.API.STREAM.MSG.GET.* with "no message found"
after GETMSG_DELAY_S seconds (default 0); with noinfo, a consumer info
request is not answered (the client's request times out) and one that
creates a consumer is answered with CONSUMER_JSON (as nats-server answers
one that exists with that configuration). Any other request (a pull,
a delete) is not answered. The subject of each JetStream API request is
appended to COUNTFILE.api. The number of message reads answered so far is
written to COUNTFILE after each; the port it listens on to PORTFILE.
"""
import json
import socket
import sys
import threading
import time

portfile, countfile, consumer, stream = sys.argv[1:5]
delay = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
noinfo = len(sys.argv) > 6 and sys.argv[6] == "noinfo"
reads = 0
lock = threading.Lock()

NO_MSG = json.dumps({"type": "io.nats.jetstream.api.v1.stream_msg_get_response",
                     "error": {"code": 404, "err_code": 10037,
                               "description": "no message found"}})


def answer(subject):
    global reads
    if subject.startswith("$JS.API."):
        with lock, open(countfile + ".api", "a") as f:
            f.write(subject + "\n")
    if subject.startswith("$JS.API.CONSUMER.INFO."):
        return None if noinfo else consumer
    if noinfo and (subject.startswith("$JS.API.CONSUMER.CREATE.") or
                   subject.startswith("$JS.API.CONSUMER.DURABLE.CREATE.")):
        return consumer
    if subject.startswith("$JS.API.STREAM.INFO."):
        return stream
    if subject.startswith("$JS.API.STREAM.MSG.GET."):
        time.sleep(delay)
        with lock:
            reads += 1
            with open(countfile, "w") as f:
                f.write("%d\n" % reads)
        return NO_MSG
    return None


def client(conn):
    f = conn.makefile("rb")
    subs = {}  # sid -> subject pattern
    info = {"server_id": "FAKE", "version": "2.9.10", "proto": 1,
            "headers": True, "max_payload": 1048576, "jetstream": True}
    conn.sendall(b"INFO " + json.dumps(info).encode() + b"\r\n")

    def deliver(subject, payload):
        for sid, pat in list(subs.items()):
            if pat == subject or (pat.endswith(".*") and
                                  subject.startswith(pat[:-1])):
                conn.sendall(b"MSG %s %s %d\r\n%s\r\n" % (
                    subject.encode(), sid.encode(), len(payload), payload))

    while True:
        line = f.readline()
        if not line:
            return
        parts = line.decode().split()
        if not parts:
            continue
        op = parts[0].upper()
        if op == "PING":
            conn.sendall(b"PONG\r\n")
        elif op == "SUB":
            subs[parts[-1]] = parts[1]
        elif op == "UNSUB":
            subs.pop(parts[1], None)
        elif op in ("PUB", "HPUB"):
            size = int(parts[-1])
            f.read(size + 2)
            if len(parts) >= (4 if op == "PUB" else 5):
                reply = parts[2]
                body = answer(parts[1])
                if body is not None:
                    deliver(reply, body.encode())


def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    import os
    os.rename(portfile + ".tmp", portfile)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=lambda c=conn: _safe(c), daemon=True).start()


def _safe(conn):
    try:
        client(conn)
    except OSError:
        pass
    finally:
        conn.close()


main()

#!/usr/bin/env python3
"""fake_js.py - a NATS server of a test's own on loopback that answers
the JetStream API requests the nats source makes at its start as a
hostile or broken server would (tests/nats/count_back.sh).

fake_js.py PORTFILE COUNTFILE CONSUMER_JSON STREAM_JSON [GETMSG_DELAY_S
           [noinfo|create|gap]]

Speaks the client protocol (INFO, CONNECT, PING/PONG, SUB, PUB, HPUB,
UNSUB) to any number of clients. A request on $JS.API.CONSUMER.INFO.* is
answered with CONSUMER_JSON, one on $JS.API.STREAM.INFO.* with
STREAM_JSON, one on $JS.API.STREAM.MSG.GET.* with "no message found"
after GETMSG_DELAY_S seconds (default 0); with noinfo, a consumer info
request is not answered (the client's request times out) and one that
creates a consumer is answered with CONSUMER_JSON (as nats-server answers
one that exists with that configuration); with create, a consumer info
request is answered "consumer not found" and one that creates a
consumer with CONSUMER_JSON (tests/nats/absurd_seq.sh); with gap, the
first pull ($JS.API.CONSUMER.MSG.NEXT.*) is answered with one message of
consumer sequence 7, a delivery gap for a consumer just bound
(tests/nats/remake_stop.sh). Any other request (a pull,
a delete) is not answered. The subject of each JetStream API request is
appended to COUNTFILE.api. The number of message reads answered so far is
written to COUNTFILE after each; the port it listens on to PORTFILE.

With FAKE_JS_STORE=FILE in the environment it is also a stream for a
forwarder (tests/nats/ack_stranded.sh): every publish on a subject not
under $JS. is stored (stream sequence, subject and the header
Mdbus-Seq appended to FILE, a line each) and acknowledged, except the
FAKE_JS_NOACK-th (stored, never answered), the FAKE_JS_REFUSE-th and one
whose Nats-Expected-Last-Sequence is not the last stored (not stored,
answered with an error); a message read ($JS.API.STREAM.MSG.GET)
is answered with the last message stored, headers and all.
"""
import base64
import os
import json
import sys
import threading
import time

import loopback

portfile, countfile, consumer, stream = sys.argv[1:5]
delay = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
noinfo = len(sys.argv) > 6 and sys.argv[6] == "noinfo"
create = len(sys.argv) > 6 and sys.argv[6] == "create"
gap = len(sys.argv) > 6 and sys.argv[6] == "gap"
gap_sent = False
reads = 0
lock = threading.Lock()
store_file = os.environ.get("FAKE_JS_STORE")
no_ack = int(os.environ.get("FAKE_JS_NOACK", "0"))
refuse = int(os.environ.get("FAKE_JS_REFUSE", "0"))
publishes = 0
stored = []  # (subject, headers, data) in stream order

NO_MSG = json.dumps({"type": "io.nats.jetstream.api.v1.stream_msg_get_response",
                     "error": {"code": 404, "err_code": 10037,
                               "description": "no message found"}})
NO_CONSUMER = json.dumps({"type": "io.nats.jetstream.api.v1.consumer_info_response",
                          "error": {"code": 404, "err_code": 10014,
                                    "description": "consumer not found"}})


def last_stored():
    subject, hdrs, data = stored[-1]
    return json.dumps({
        "type": "io.nats.jetstream.api.v1.stream_msg_get_response",
        "message": {"subject": subject, "seq": len(stored),
                    "hdrs": base64.b64encode(hdrs).decode(),
                    "data": base64.b64encode(data).decode(),
                    "time": "2026-01-01T00:00:00.000000000Z"}})


def publish(subject, hdrs, data):
    """A forwarder's publish in FAKE_JS_STORE mode: the answer, or None."""
    global publishes
    headers = {}
    for h in hdrs.split(b"\r\n")[1:]:
        if b":" in h:
            k, v = h.split(b":", 1)
            headers[k.strip().lower()] = v.strip()
    with lock:
        publishes += 1
        if publishes == refuse:
            return json.dumps({"error": {"code": 503, "err_code": 10077,
                                         "description": "refused by the test"}})
        want = headers.get(b"nats-expected-last-sequence")
        if want is not None and int(want) != len(stored):
            return json.dumps({"error": {"code": 400, "err_code": 10071,
                                         "description": "wrong last sequence: %d"
                                         % len(stored)}})
        stored.append((subject, hdrs, data))
        with open(store_file, "a") as f:
            f.write("%d %s %s\n" % (len(stored), subject,
                                     headers.get(b"mdbus-seq", b"").decode()))
        if publishes == no_ack:
            return None
        return json.dumps({"stream": "S", "seq": len(stored)})


def answer(subject, hdrs=b"", data=b""):
    global reads
    if subject.startswith("$JS.API."):
        with lock, open(countfile + ".api", "a") as f:
            f.write(subject + "\n")
    if subject.startswith("$JS.API.CONSUMER.INFO."):
        return None if noinfo else NO_CONSUMER if create else consumer
    if (noinfo or create) and (subject.startswith("$JS.API.CONSUMER.CREATE.") or
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
            if store_file and stored:
                return last_stored()
        return NO_MSG
    if store_file and not subject.startswith("$JS."):
        return publish(subject, hdrs, data)
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

    def gap_message(inbox):
        """gap mode: the first pull answered with consumer sequence 7"""
        global gap_sent
        with lock:
            if not gap or gap_sent:
                return
            gap_sent = True
        for sid, pat in list(subs.items()):
            if pat == inbox:
                conn.sendall(b"MSG mdbus.X.t.A %s $JS.ACK.S.D.1.7.7."
                             b"1700000000000000000.0 0\r\n\r\n" % sid.encode())

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
            raw = f.read(size + 2)[:size]
            hlen = int(parts[-2]) if op == "HPUB" else 0
            if len(parts) >= (4 if op == "PUB" else 5):
                reply = parts[2]
                body = answer(parts[1], raw[:hlen], raw[hlen:])
                if body is not None:
                    deliver(reply, body.encode())
                elif parts[1].startswith("$JS.API.CONSUMER.MSG.NEXT."):
                    gap_message(reply)



def main():
    srv = loopback.listen(0, portfile)
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

#!/usr/bin/env python3
"""no_pong.py - a listener of a test's own on loopback that starts the
NATS handshake and never ends it, as a local user on a NATS server's port
could (tests/nats/no_pong.sh).

no_pong.py PORT PORTFILE COUNTFILE [quiet|stream|tls|err|pings]

Listens on 127.0.0.1:PORT (0: any free port) and writes the port to
PORTFILE. To every client it sends INFO, then reads what comes (CONNECT,
PING) and never answers: with quiet (the default) it sends nothing more,
with stream it sends bytes without a newline, once the PING came, for as
long as the client takes them; with tls its INFO asks for TLS (the client then begins a
TLS handshake, which gets no answer either); with err it ends the
handshake (PONG to the PING), then sends one -ERR the client library
does not know, which closes the client's connection for good (libnats
3.4.1); with pings it answers PINGs until the client subscribed, then
reads nothing more and sends PINGs for as long as the client takes them. A line is appended to
COUNTFILE for each connection.
"""
import json
import socket
import sys
import threading
import time

import loopback

port, portfile, countfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
mode = sys.argv[4] if len(sys.argv) > 4 else "quiet"
stream = mode == "stream"
INFO = b"INFO " + json.dumps({"server_id": "NOPONG", "version": "2.9.10",
                              "proto": 1, "headers": True,
                              "tls_required": mode == "tls",
                              "max_payload": 1048576}).encode() + b"\r\n"


def ping_came(conn):
    """Reads until the client's PING: False if it closed first."""
    seen = b""
    while b"PING\r\n" not in seen:
        got = conn.recv(65536)
        if not got:
            return False
        seen = seen[-16:] + got
    return True


def client(conn):
    try:
        conn.sendall(INFO)
        if mode == "err":
            if not ping_came(conn):
                return
            conn.sendall(b"PONG\r\n")
            time.sleep(0.5)
            conn.sendall(b"-ERR 'not known to the client library'\r\n")
        elif mode == "pings":
            # answered until the client subscribed (its start flushes)
            seen = b""
            while b"SUB " not in seen:
                got = conn.recv(65536)
                if not got:
                    return
                seen += got
                while b"PING\r\n" in seen:
                    seen = seen.replace(b"PING\r\n", b"", 1)
                    conn.sendall(b"PONG\r\n")
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            while True:
                conn.sendall(b"PING\r\n" * 4096)
        elif stream:
            # after the PING: before, the library's read of INFO could
            # take the stream too, and end with "Line too long" itself
            if not ping_came(conn):
                return
            threading.Thread(target=drain, args=(conn,), daemon=True).start()
            while True:
                conn.sendall(b"B" * 65536)
        drain(conn)
    except OSError:
        pass
    finally:
        conn.close()


def drain(conn):
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


def main():
    srv = loopback.listen(port, portfile)
    while True:
        conn, _ = srv.accept()
        with open(countfile, "a") as f:
            f.write("connection\n")
        threading.Thread(target=client, args=(conn,), daemon=True).start()


main()

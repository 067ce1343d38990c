#!/usr/bin/env python3
"""Writes seed corpora for the harnesses of fuzz/ (README) under DIR
(default fuzz/seeds): ./seeds.py [DIR]. Taken from the formats'
descriptions and the test suite's inputs."""
import glob, os, re, struct, sys

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(top, 'fuzz', 'seeds')


def put(h, name, data):
    os.makedirs(os.path.join(out, h), exist_ok=True)
    with open(os.path.join(out, h, name), 'wb') as f:
        f.write(data)


def mold(sess, seq, blocks, count=None):
    b = sess.ljust(10).encode() + struct.pack(
        '>QH', seq, len(blocks) if count is None else count)
    return b + b''.join(struct.pack('>H', len(m)) + m for m in blocks)


msg = struct.pack('<QHH', 123, 1, 0) + b'ABC' + bytes(61)
put('moldudp64', 'two', mold('SESS1', 1, [msg, msg]))
put('moldudp64', 'heartbeat', mold('SESS1', 5, []))
put('moldudp64', 'end', mold('SESS1', 5, [], 0xffff))
put('moldudp64', 'short', mold('SESS1', 7, [b'', b'x' * 12]))
put('moldudp64', 'request', mold('SESS1', 7, [], 3))

for i, s in enumerate([
        b'\x00AB%2E%00', b'\x00%',
        b'\x01mdbus.demo.quote.BTCUSDT\x00BTCUSDT' + bytes(80),
        b'\x01mdbus.demo.raw.%\x00abc', b'\x01x.y.77.%\x00',
        b'\x029223372036854775807', b'\x0200000000000000fF',
        b'\x03nats://user:pw@h:4222,tls://[::1]:65535',
        b'\x04nats://tok@host:1,nats://a:b@c:2']):
    put('natswire', 's%d' % i, s)

seed = 'SUAACAQDAQCQMBYIBEFAWDANBYHRAEISCMKBKFQXDAMRUGY4DUPB6IC5CQ'
jwt = 'eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJVIn0.c2lnbmF0dXJl'
put('nkey', 'seed', b'\x01' + seed.encode() + b'\n')
put('nkey', 'creds', ('\x00-----BEGIN NATS USER JWT-----\n%s\n------END NATS '
                      'USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n%s\n'
                      '------END USER NKEY SEED------\n' % (jwt, seed)).encode())

# the line parsers: the strings of their unit test, and mdsub's CSV
src = open(os.path.join(top, 'tests/mdpub/parse_test.c')).read()
n = 0
for s in re.findall(r'"((?:[^"\\]|\\.)*)"', src):
    try:
        b = s.encode().decode('unicode_escape').encode('latin-1')
    except (UnicodeError, ValueError):
        continue
    if b'\0' not in b:
        for sel in (b'\x00', b'\x01', b'\x02'):
            put('lines', 'p%d' % n, sel + b)
            n += 1
for i, l in enumerate(open(os.path.join(top, 'tests/mdsub/expected.csv'),
                           'rb').read().split(b'\n')):
    if l:
        put('lines', 'csv%d' % i, b'\x01' + l)

for t in range(8):
    put('mdsub_csv', 'k%d' % t, bytes([0x80, t]) + b'AAPL' + bytes(12) +
        bytes(range(64)) * 2)
snap = b'BTC'.ljust(16, b'\0') + struct.pack('<QQHH', 1, 2, 1, 1) + bytes(4)
put('mdsub_csv', 'snapshot', bytes([4, 0]) + snap + struct.pack('<qq', 100, 200) * 2)

for i, v in enumerate([b'64', b'1048576', b'2147483648', b'4611686018427387904',
                       b'1000000000000000000', b'18446744073709551615', b'0644',
                       b'0.5', b'1e3', b'-0', b'yes', b'green', b'x']):
    put('settings', 'v%d' % i, bytes([i % 12]) + v)

put('conf', 'mdpub.conf', open(os.path.join(top, 'conf/mdpub.conf'), 'rb').read())
n = 0
for f in glob.glob(os.path.join(top, 'tests/**/*.sh'), recursive=True):
    for m in re.finditer(r"<<-?\s*'?(\w+)'?\n(.*?)\n\1\n",
                         open(f, errors='replace').read(), re.S):
        if '[channel' in m.group(2) or '[global' in m.group(2):
            put('conf', 'test%d' % n, (m.group(2) + '\n').encode())
            n += 1


def rec_header(hs=120, ver=0x10000):
    return (b'MDBUSREC' + struct.pack('<II', ver, 1) + b'demo'.ljust(72, b'\0') +
            struct.pack('<IIIIQII', 64, 16, 4, 0, 1700000000000000000, hs, 0) +
            bytes(hs - 120))


def rec(seq, p, t=1):
    return struct.pack('<IHHQQ', len(p), t, 0, seq, 1) + p


put('rec_read', 'whole', rec_header() + rec(1, b'A' * 64) + rec(2, b'') + rec(5, b'xyz'))
put('rec_read', 'cut', rec_header(200) + rec(7, b'B' * 10) + rec(3, b'C' * 5)[:-2])
put('rec_read', 'corrupt', rec_header() + struct.pack('<IHHQQ', 1 << 21, 1, 0, 1, 1))
put('rec_read', 'minor', rec_header(ver=0x10005) + rec(2**64 - 1, b'') + rec(0, b'q'))

put('archive_names', 'a', b'demo.000000000000002a.00000000000000000001.'
    b'20231114T221320.123456789Z.rec')

for i, s in enumerate(['12:30', '12:30:15Z', '12:30:15.123456789',
                       '2024-02-29T23:59:59.5Z', '2024-03-10 02:30',
                       '@1700000000.25', '@9223372036.854775807',
                       '1970-01-01T00:00Z', '2262-04-11T23:47:16.854775807Z']):
    for z in range(3):
        put('from_time', 's%d_%d' % (i, z), bytes([z]) + s.encode())
put('from_time', 'fields', bytes([0x80, 0xd0, 7, 2, 29, 23, 59, 59, 0xff, 0xc9,
                                  0x9a, 0x3b, 3, 1, 0]))


def op(kind, s, forge, seq, cnt, far=0):
    seq -= 1
    return bytes([s << 7 | forge << 6 | kind, seq & 0xff,
                  (seq >> 8) & 0x3f | (0xc0 if far else 0), cnt, far])


put('udp_recv', 'inorder', bytes([0x15, 0]) + op(0, 0, 0, 1, 4) + op(0, 0, 0, 4, 4))
put('udp_recv', 'gap_server', bytes([0x13, 0x81]) + op(0, 0, 0, 1, 4) +
    op(0, 0, 0, 10, 4) + op(2, 0, 0, 4, 7) + op(3, 0, 0, 1, 0) + op(0, 0, 0, 13, 3))
put('udp_recv', 'gap', bytes([0x13, 1]) + b''.join(
    op(0, 0, 0, s, c) for s, c in [(1, 4), (10, 4), (13, 4), (16, 3), (18, 1)]))
put('udp_recv', 'jump', bytes([0x13, 1]) + op(0, 0, 0, 1, 4) +
    b''.join(op(0, 0, 0, s, 4, 1) for s in (100, 103, 106)) + op(0, 1, 0, 1, 4))

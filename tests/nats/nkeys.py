"""nkeys.py - NATS NKeys and JWTs for tests/nats/creds.sh, with PyNaCl
(Debian package python3-nacl) for Ed25519; nothing from NATS tooling.

  python3 nkeys.py DIR

writes into DIR: op.jwt (a self-signed operator), server.conf (operator
mode, memory resolver preloaded with two accounts of that operator),
good.creds (a user of account A allowed mdbus.>), denied.creds (a user
of A allowed only other.>), stranger.creds (a user of an account the
server does not know), nkey.seed and nkey.conf (a server with one user
of that NKey: an `nkey` user, no JWT), all files 0600.

Encodings, as the NATS documents give them (nats-io/nkeys, nats-io/jwt):
an NKey is base32 (RFC 4648, no padding) of a prefix byte (the key's
role), the 32 key bytes and a CRC-16/XMODEM of those, little-endian; a
seed has two prefix bytes: the seed prefix with the role's upper 3 bits,
then the role's lower 5 bits shifted up by 3. A JWT is
base64url(header).base64url(claims).base64url(Ed25519 signature of the
first two by the issuer), header {"typ":"JWT","alg":"ed25519-nkey"}.
"""
import base64
import hashlib
import json
import os
import sys
import time

import nacl.signing

SEED = 18 << 3
OPERATOR = 14 << 3
ACCOUNT = 0
USER = 20 << 3


def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def b32(raw):
    return base64.b32encode(raw).decode().rstrip("=")


def with_crc(raw):
    return raw + crc16(raw).to_bytes(2, "little")


class Key:
    def __init__(self, role):
        self.role = role
        self.sk = nacl.signing.SigningKey.generate()

    @property
    def public(self):
        raw = bytes([self.role]) + bytes(self.sk.verify_key)
        return b32(with_crc(raw))

    @property
    def seed(self):
        raw = bytes([SEED | (self.role >> 5), (self.role & 31) << 3])
        return b32(with_crc(raw + bytes(self.sk)))


def b64(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def jwt(issuer, subject, name, nats):
    claims = {"iat": int(time.time()), "iss": issuer.public, "name": name,
              "sub": subject.public, "nats": dict(nats, version=2)}
    body = json.dumps(claims, sort_keys=True).encode()
    claims["jti"] = b32(hashlib.sha256(body).digest())
    head = b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    signed = head + "." + b64(json.dumps(claims).encode())
    return signed + "." + b64(issuer.sk.sign(signed.encode()).signature)


NO_LIMIT = {"subs": -1, "data": -1, "payload": -1}
ACCOUNT_LIMITS = dict(NO_LIMIT, imports=-1, exports=-1, wildcards=True,
                      conn=-1, leaf=-1)


def account(op, name):
    a = Key(ACCOUNT)
    return a, jwt(op, a, name, {"type": "account", "limits": ACCOUNT_LIMITS})


def user(acct, name, allow):
    u = Key(USER)
    perms = {"pub": {"allow": allow}, "sub": {"allow": allow}}
    return u, jwt(acct, u, name, dict(NO_LIMIT, type="user", **perms))


def creds(u, token):
    return ("-----BEGIN NATS USER JWT-----\n%s\n------END NATS USER JWT------"
            "\n\n-----BEGIN USER NKEY SEED-----\n%s\n------END USER NKEY "
            "SEED------\n" % (token, u.seed))


def write(d, name, text):
    path = os.path.join(d, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def main(d):
    op = Key(OPERATOR)
    a, a_jwt = account(op, "A")
    b, b_jwt = account(op, "B")
    write(d, "op.jwt", jwt(op, op, "mdbus-test", {"type": "operator"}))
    write(d, "server.conf",
          'operator: "%s/op.jwt"\nresolver: MEMORY\nresolver_preload: {\n'
          '  %s: "%s"\n  %s: "%s"\n}\n' % (d, a.public, a_jwt, b.public,
                                         b_jwt))
    write(d, "good.creds", creds(*user(a, "good", ["mdbus.>", "_INBOX.>"])))
    write(d, "denied.creds", creds(*user(a, "denied", ["other.>"])))
    stranger, _ = account(Key(OPERATOR), "C")
    write(d, "stranger.creds", creds(*user(stranger, "x", ["mdbus.>"])))
    u = Key(USER)
    write(d, "nkey.seed", u.seed + "\n")
    write(d, "nkey.conf", 'authorization: { users: [ { nkey: "%s" } ] }\n'
          % u.public)


if __name__ == "__main__":
    main(sys.argv[1])

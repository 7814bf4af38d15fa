#!/usr/bin/env python3
"""Independent check of the x25519 vector in kat.json, written from the
package documentation and RFC 9180 only (no code shared with the Go side).
Needs Python 3 and the `cryptography` package. Run: python3 kat_x25519.py"""
import hashlib, hmac, json, os, struct
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

here = os.path.dirname(os.path.abspath(__file__))
v = [x for x in json.load(open(os.path.join(here, "kat.json"))) if x["suite"] == "x25519"][0]
sealed = bytes.fromhex(v["sealed_record"])

def varint(b, i):
    r = s = 0
    while True:
        c = b[i]; i += 1; r |= (c & 0x7F) << s; s += 7
        if c < 0x80:
            return r, i

f, i = {}, 0
while i < len(sealed):  # minimal protobuf reader: varint and bytes fields
    tag, i = varint(sealed, i)
    if tag & 7 == 0:
        f[tag >> 3], i = varint(sealed, i)
    else:
        n, i = varint(sealed, i); f[tag >> 3] = sealed[i:i + n]; i += n
assert hashlib.sha256(sealed).hexdigest() == v["sealed_sha256"]

def s(b): return struct.pack(">I", len(b)) + b
sig_in = (b"RBDES-v1-SealedRecord\x00" + struct.pack(">I", f[1]) + s(f[2]) + s(f[3])
          + struct.pack(">QQq", f.get(4, 0), f.get(5, 0), f[6]) + struct.pack(">III", f[7], f[8], f[9])
          + s(f[10]) + s(f[11]) + s(f[12]) + s(f[13]) + s(f[14]))
Ed25519PublicKey.from_public_bytes(bytes.fromhex(v["device_public_key"])).verify(f[15], sig_in)

def extract(salt, ikm): return hmac.new(salt or b"\0" * 32, ikm, hashlib.sha256).digest()
def expand(prk, info, n):
    t = o = b""; c = 1
    while len(o) < n:
        t = hmac.new(prk, t + info + bytes([c]), hashlib.sha256).digest(); o += t; c += 1
    return o[:n]
def lextract(sid, salt, label, ikm): return extract(salt, b"HPKE-v1" + sid + label + ikm)
def lexpand(sid, prk, label, info, n): return expand(prk, struct.pack(">H", n) + b"HPKE-v1" + sid + label + info, n)

kem = b"KEM" + struct.pack(">H", 0x0020)
sk = X25519PrivateKey.from_private_bytes(bytes.fromhex(v["node_private_key"]))
enc = f[11]
dh = sk.exchange(X25519PublicKey.from_public_bytes(enc))
shared = lexpand(kem, lextract(kem, b"", b"eae_prk", dh), b"shared_secret", enc + sk.public_key().public_bytes_raw(), 32)
suite = b"HPKE" + struct.pack(">HHH", 0x0020, 0x0001, 0x0002)
info = b"RBDES-v1-CaptureRecord\x00" + struct.pack(">I", f[1]) + s(f[2]) + s(f[3])
ctx = b"\x00" + lextract(suite, b"", b"psk_id_hash", b"") + lextract(suite, b"", b"info_hash", info)
secret = lextract(suite, shared, b"secret", b"")
pt = AESGCM(lexpand(suite, secret, b"key", ctx, 32)).decrypt(lexpand(suite, secret, b"base_nonce", ctx, 12), f[12], b"")
assert pt.hex() == v["capture_record"]
print("x25519 vector: signature and HPKE open verified independently")

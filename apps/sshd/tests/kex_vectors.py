#!/usr/bin/env python3
"""Independent known answers for src/kex.rs (exchange hash and key derivation):
the RFC 4251 encodings written out by hand here, hashed with hashlib."""
import hashlib, struct

def string(b): return struct.pack(">I", len(b)) + b
def mpint(b):
    b = b.lstrip(b"\0")
    if b and b[0] & 0x80: b = b"\0" + b
    return string(b)

q_c = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
q_s = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
k = bytes.fromhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
k_high = b"\xca" + k[1:]
fixed = [b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6", b"SSH-2.0-appliance", b"\x14client-kexinit",
         b"\x14server-kexinit", b"\0\0\0\x0bssh-ed25519\0\0\0\x20" + b"A" * 32, q_c, q_s]

def H(k): return hashlib.sha256(b"".join(map(string, fixed)) + mpint(k)).digest()
def derive(k, h, letter, sid, n):
    out = hashlib.sha256(mpint(k) + h + letter + sid).digest()
    while len(out) < n: out += hashlib.sha256(mpint(k) + h + out).digest()
    return out[:n]

h = H(k)
print("KAT_H", h.hex())
print("KAT_H_HIGH", H(k_high).hex())
print("KAT_KEY_C", derive(k, h, b"C", h, 64).hex())
print("KAT_IV_A", derive(k, h, b"A", h, 12).hex())

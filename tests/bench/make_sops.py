#!/usr/bin/env python3
"""Writes a SOPS document with N string values, encrypted to the age
recipient of an identity file, as sops 3.9 writes it — for the decryption
figure of tests/bench/bench_secrets.sh (sops itself is not installable here).
Built on python3-cryptography, not on edgeflip's code: age v1 (X25519
stanza, HKDF-SHA-256, ChaCha20-Poly1305, header HMAC, STREAM payload,
ASCII armor), AES-256-GCM values with 32-byte IVs and the key path as
additional data, the MAC (SHA-512 over the values, uppercase hex) encrypted
with `lastmodified` as additional data.

  make_sops.py IDENTITY_FILE N json|dotenv > FILE
"""
import base64
import hashlib
import hmac
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def bech32_polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (b >> i) & 1 else 0
    return chk


def bech32_decode(s):
    s = s.lower()
    hrp, data = s[: s.rindex("1")], [CHARSET.index(c) for c in s[s.rindex("1") + 1:]]
    return hrp, convertbits(data[:-6], 5, 8, False)


def bech32_encode(hrp, data8):
    data = convertbits(data8, 8, 5, True)
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data
    poly = bech32_polymod(values + [0] * 6) ^ 1
    return hrp + "1" + "".join(CHARSET[d] for d in data + [(poly >> 5 * (5 - i)) & 31 for i in range(6)])


def convertbits(data, frm, to, pad):
    acc = bits = 0
    out = []
    for v in data:
        acc = (acc << frm) | v
        bits += frm
        while bits >= to:
            bits -= to
            out.append((acc >> bits) & ((1 << to) - 1))
    if pad and bits:
        out.append((acc << (to - bits)) & ((1 << to) - 1))
    return out


def hkdf(ikm, salt, info):
    return HKDF(hashes.SHA256(), 32, salt, info).derive(ikm)


def b64(b):
    return base64.b64encode(b).decode().rstrip("=")


def age_encrypt(recipient_pub, plaintext):
    file_key = os.urandom(16)
    eph = X25519PrivateKey.generate()
    share = eph.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    shared = eph.exchange(X25519PublicKey.from_public_bytes(recipient_pub))
    wrap = hkdf(shared, share + recipient_pub, b"age-encryption.org/v1/X25519")
    body = ChaCha20Poly1305(wrap).encrypt(b"\0" * 12, file_key, None)
    header = "age-encryption.org/v1\n-> X25519 %s\n%s\n---" % (b64(share), b64(body))
    mac = hmac.new(hkdf(file_key, b"", b"header"), header.encode(), "sha256").digest()
    nonce = os.urandom(16)
    pkey = hkdf(file_key, nonce, b"payload")
    payload = ChaCha20Poly1305(pkey).encrypt(b"\0" * 11 + b"\1", plaintext, None)
    raw = (header + " " + b64(mac) + "\n").encode() + nonce + payload
    armored = base64.b64encode(raw).decode()
    lines = [armored[i:i + 64] for i in range(0, len(armored), 64)]
    return "-----BEGIN AGE ENCRYPTED FILE-----\n" + "\n".join(lines) + "\n-----END AGE ENCRYPTED FILE-----\n"


def enc_value(key, plaintext, aad):
    iv = os.urandom(32)
    ct = AESGCM(key).encrypt(iv, plaintext.encode(), aad.encode())
    return "ENC[AES256_GCM,data:%s,iv:%s,tag:%s,type:str]" % (
        base64.b64encode(ct[:-16]).decode(), base64.b64encode(iv).decode(),
        base64.b64encode(ct[-16:]).decode())


def main():
    ident_file, n, fmt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    ident = next(l.strip() for l in open(ident_file) if l.startswith("AGE-SECRET-KEY-1"))
    _, secret = bech32_decode(ident)
    priv = X25519PrivateKey.from_private_bytes(bytes(secret))
    pub = priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    recipient = bech32_encode("age", list(pub))
    data_key = os.urandom(32)
    values = {"key%03d" % i: "value number %d, a secret of some length" % i for i in range(n)}
    lastmodified = "2026-12-05T12:00:00Z"
    mac = hashlib.sha512("".join(values.values()).encode()).hexdigest().upper()
    enc = {k: enc_value(data_key, v, k + ":") for k, v in values.items()}
    age = age_encrypt(pub, data_key)
    smac = enc_value(data_key, mac, lastmodified)
    if fmt == "json":
        enc["sops"] = {"kms": None, "gcp_kms": None, "azure_kv": None, "hc_vault": None,
                       "age": [{"recipient": recipient, "enc": age}], "lastmodified": lastmodified,
                       "mac": smac, "pgp": None, "unencrypted_suffix": "_unencrypted",
                       "version": "3.9.0"}
        print(json.dumps(enc, indent=4))
    else:
        for k, v in enc.items():
            print("%s=%s" % (k, v))
        print("sops_age__list_0__map_enc=" + age.replace("\n", "\\n"))
        print("sops_age__list_0__map_recipient=" + recipient)
        print("sops_lastmodified=" + lastmodified)
        print("sops_mac=" + smac)
        print("sops_unencrypted_suffix=_unencrypted")
        print("sops_version=3.9.0")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Builds a COSE_Sign1 message (RFC 9052) signed with ES256 by openssl.

  cose.py to-be-signed PAYLOAD       prints the Sig_structure to sign
  cose.py message PAYLOAD DER_SIG    prints the tagged COSE_Sign1 message

The signature is made outside (openssl dgst -sha256 -sign), in DER; COSE
wants the raw 32-byte r and s concatenated instead.  The protected header
contains only the algorithm, ES256 (-7); the external AAD is empty.
"""

import sys

PROTECTED = b"\xa1\x01\x26"  # map {1: -7}
SIGN1_TAG = 18


def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    if n < 0x100:
        return bytes([major << 5 | 24, n])
    if n < 0x10000:
        return bytes([major << 5 | 25]) + n.to_bytes(2, "big")
    return bytes([major << 5 | 26]) + n.to_bytes(4, "big")


def bstr(b):
    return head(2, len(b)) + b


def tstr(s):
    b = s.encode()
    return head(3, len(b)) + b


def array(items):
    return head(4, len(items)) + b"".join(items)


def to_be_signed(payload):
    return array([tstr("Signature1"), bstr(PROTECTED), bstr(b""),
                  bstr(payload)])


def der_integer(der, i):
    """Return the value bytes of the DER INTEGER at der[i] and the next offset."""
    if der[i] != 0x02 or der[i + 1] >= 0x80:
        raise ValueError("not a short DER INTEGER")
    n = der[i + 1]
    return der[i + 2:i + 2 + n], i + 2 + n


def raw_signature(der):
    if der[0] != 0x30:
        raise ValueError("not a DER ECDSA signature")
    i = 3 if der[1] == 0x81 else 2
    r, i = der_integer(der, i)
    s, _ = der_integer(der, i)
    return (int.from_bytes(r, "big").to_bytes(32, "big") +
            int.from_bytes(s, "big").to_bytes(32, "big"))


def main():
    payload = open(sys.argv[2], "rb").read()
    if sys.argv[1] == "to-be-signed":
        out = to_be_signed(payload)
    else:
        sig = raw_signature(open(sys.argv[3], "rb").read())
        out = head(6, SIGN1_TAG) + array([bstr(PROTECTED), b"\xa0",
                                          bstr(payload), bstr(sig)])
    sys.stdout.buffer.write(out)


if __name__ == "__main__":
    main()

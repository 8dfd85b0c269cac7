"""HPKE known-answer vectors for wrapped field keys, sealed by ``pyhpke``.

    python tests/wallets/vectors/generate_hpke.py > tests/wallets/vectors/hpke.json

``pyhpke`` is a second, independent RFC 9180 implementation. Recipient and
ephemeral key pairs come from RFC 9180 ``DeriveKeyPair`` over fixed ``ikm`` so the
output is deterministic; the suite and ``info`` are DESIGN's
(DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM,
``consent-ledger/v1:{recipient}:{field}:{version}``). ``test_key_wrap.py`` unwraps
every vector with :func:`wallets.key_wrap.unwrap_key` and re-runs this script.
"""

from __future__ import annotations

import hashlib
import json
import sys

from pyhpke import AEADId, CipherSuite, KDFId, KEMId

SUITE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES256_GCM)


def fixed(label: str, length: int = 32) -> bytes:
    return hashlib.sha256(label.encode()).digest()[:length]


def address(label: str) -> str:
    # Lower-case on purpose: the info string uses the lower-case form.
    return "0x" + fixed(f"address:{label}", 20).hex()


def vector(label: str, recipient: str, field: str, version: int) -> dict[str, object]:
    recipient_pair = SUITE.kem.derive_key_pair(fixed(f"recipient-ikm:{label}"))
    ephemeral_pair = SUITE.kem.derive_key_pair(fixed(f"ephemeral-ikm:{label}"))
    key = fixed(f"field-key:{label}")
    info = f"consent-ledger/v1:{recipient}:{field}:{version}".encode()
    enc, sender = SUITE.create_sender_context(
        recipient_pair.public_key, info=info, eks=ephemeral_pair
    )
    wrapped = enc + sender.seal(key)
    return {
        "label": label,
        "recipient": recipient,
        "field": field,
        "version": str(version),
        "info": info.decode(),
        "recipient_private_key": "0x" + recipient_pair.private_key.to_private_bytes().hex(),
        "recipient_public_key": "0x" + recipient_pair.public_key.to_public_bytes().hex(),
        "ephemeral_private_key": "0x" + ephemeral_pair.private_key.to_private_bytes().hex(),
        "key": "0x" + key.hex(),
        "wrapped": "0x" + wrapped.hex(),
    }


def main() -> None:
    vectors = [
        vector("department-income", address("department:housing"), "income", 1),
        vector("resident-own-key", address("resident:1"), "household_registration", 7),
        vector("max-version", address("resident:2"), "phone", 2**64 - 1),
    ]
    document = {
        "generator": "tests/wallets/vectors/generate_hpke.py",
        "implementation": "pyhpke (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM)",
        "vectors": vectors,
    }
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()

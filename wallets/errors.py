"""Errors raised by the wallet layer.

Hierarchy::

    WalletError
    ├── KeystoreError             a key file could not be opened or written
    │   ├── WrongPassword         the password does not open it (or the ciphertext was altered)
    │   └── CorruptKeystore       not a keystore we can read: bad JSON, missing or
    │                             malformed members, files that belong to different keys
    ├── InvalidRecord             ONE opaque error for every failure to open a field:
    │                             AES-GCM tag, HPKE unwrap, wrong resident/field/version
    │                             binding, ciphertext not under the committed root,
    │                             malformed envelope — it never says which check failed
    ├── InvalidProof              a Merkle proof is malformed or cannot be checked
    ├── InvalidAttestation        an attestation does not hold up; ``reason`` says why
    ├── InvalidSignature          a signature is malformed or not in canonical form
    └── InvalidIntent             a message does not fit its EIP-712 type (also a ValueError)

Lower-level exceptions (``cryptography.exceptions.InvalidTag``, ``eth_keyfile``'s
``ValueError("MAC mismatch")``, JSON and hex decoding errors) are translated at the
boundary with ``raise ... from exc``; no caller has to catch anything from below.
"""

from __future__ import annotations


class WalletError(Exception):
    """Root of every error raised by :mod:`wallets`."""


class KeystoreError(WalletError):
    """A key file could not be read, decrypted or written."""


class WrongPassword(KeystoreError):
    """The password does not open the keystore.

    Web3 Secret Storage and AES-GCM both authenticate with a key derived from the
    password, so an altered ciphertext or MAC looks the same as a wrong password.
    """


class CorruptKeystore(KeystoreError):
    """The file is not a keystore this wallet can read (syntax, members, consistency)."""


class InvalidRecord(WalletError):
    """A field could not be opened or does not belong where it claims to.

    Deliberately opaque (as ``cryptography.fernet.InvalidToken``): the message never
    reveals which check failed, so the error cannot serve as an oracle.
    """

    def __init__(self, message: str = "the record cannot be opened or verified") -> None:
        super().__init__(message)


class InvalidProof(WalletError):
    """A Merkle proof is malformed, or the data needed to check one is missing."""


class InvalidAttestation(WalletError):
    """An attestation fails verification; ``reason`` is a stable machine-readable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class InvalidSignature(WalletError):
    """A signature is malformed (length, ``v``) or malleable (high ``s``)."""


class InvalidIntent(WalletError, ValueError):
    """A message does not match its EIP-712 type: missing fields, wrong types, out of range."""

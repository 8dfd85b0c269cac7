"""An actor's keys: a secp256k1 signing key and HPKE key pair(s), saved under one password.

A saved identity is a directory with two files (see :mod:`wallets.keystore`):
``signing-key.json`` (Web3 Secret Storage v3, opens in geth, MetaMask and
``eth_account.Account.decrypt``) and ``encryption-key.json`` (the X25519 and, if
created with ``hybrid=True``, ML-KEM-768+X25519 private keys).

``cryptography`` 50 exposes the hybrid KEM (``hpke.KEM.MLKEM768_X25519``), so the
optional hybrid key pair is supported; DESIGN's published ``encryptionKey`` stays
the 32-byte X25519 key unless a deployment opts in to the 1216-byte hybrid one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import x25519
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from wallets.errors import KeystoreError
from wallets.key_wrap import (
    X25519_WRAPPED_LENGTH,
    HybridPrivateKey,
    RecipientPrivateKey,
    encode_public_key,
    unwrap_key,
)
from wallets.keystore import (
    DEFAULT_SCRYPT_N,
    ENCRYPTION_KEY_FILE,
    SIGNING_KEY_FILE,
    EncryptionKeys,
    decrypt_encryption_keys,
    decrypt_signing_key,
    encrypt_encryption_keys,
    encrypt_signing_key,
    read_json_file,
    write_json_file,
)
from wallets.signing import sign_intent


class Identity:
    """Signing key + HPKE keys of one actor (resident, department, issuer, ...)."""

    def __init__(self, signing_key: bytes, encryption_keys: EncryptionKeys) -> None:
        self._account: LocalAccount = Account.from_key(signing_key)
        self._encryption_keys = encryption_keys

    # -- construction ---------------------------------------------------------------

    @classmethod
    def create(cls, *, hybrid: bool = False) -> Identity:
        """Fresh random keys; ``hybrid`` adds an ML-KEM-768+X25519 key pair."""
        return cls(_new_signing_key(), _new_encryption_keys(hybrid))

    @classmethod
    def load(cls, directory: str | os.PathLike[str], password: str) -> Identity:
        """Open a directory written by :meth:`save`.

        Raises :class:`~wallets.errors.WrongPassword`, :class:`~wallets.errors.CorruptKeystore`
        (including two files that belong to different keys) or
        :class:`~wallets.errors.KeystoreError` for a missing file.
        """
        folder = Path(directory)
        signing_doc = read_json_file(folder / SIGNING_KEY_FILE, "signing keystore")
        encryption_doc = read_json_file(folder / ENCRYPTION_KEY_FILE, "encryption keystore")
        signing_key = decrypt_signing_key(signing_doc, password)
        address = Account.from_key(signing_key).address
        encryption_keys = decrypt_encryption_keys(encryption_doc, password, address=address)
        return cls(signing_key, encryption_keys)

    @classmethod
    def import_keystore(
        cls,
        keystore: str | os.PathLike[str] | Mapping[str, Any],
        password: str,
        *,
        hybrid: bool = False,
    ) -> Identity:
        """Adopt an existing v3 keystore (a path or its parsed JSON); new HPKE keys are made.

        The HPKE key pair is new, so a department importing its account must publish
        the new :attr:`encryption_public_key` before it can receive grants.
        """
        if isinstance(keystore, Mapping):
            document = dict(keystore)
        else:
            document = read_json_file(Path(keystore), "keystore")
        return cls(decrypt_signing_key(document, password), _new_encryption_keys(hybrid))

    # -- persistence ----------------------------------------------------------------

    def save(
        self,
        directory: str | os.PathLike[str],
        password: str,
        *,
        scrypt_n: int = DEFAULT_SCRYPT_N,
        overwrite: bool = False,
    ) -> Path:
        """Write both key files into ``directory`` (created 0700; files 0600)."""
        folder = Path(directory)
        signing = folder / SIGNING_KEY_FILE
        encryption = folder / ENCRYPTION_KEY_FILE
        if not overwrite:
            for path in (signing, encryption):
                if path.exists():
                    raise KeystoreError(f"{path} already exists; refusing to overwrite a key file")
        write_json_file(signing, self.keystore_json(password, scrypt_n=scrypt_n), overwrite=True)
        encryption_doc = encrypt_encryption_keys(
            self._encryption_keys, password, address=self.address, scrypt_n=scrypt_n
        )
        write_json_file(encryption, encryption_doc, overwrite=True)
        return folder

    def keystore_json(self, password: str, *, scrypt_n: int = DEFAULT_SCRYPT_N) -> dict[str, Any]:
        """The signing key alone as a v3 keystore document (what geth and MetaMask import)."""
        return encrypt_signing_key(self._account.key, password, scrypt_n=scrypt_n)

    def export_keystore(
        self,
        path: str | os.PathLike[str],
        password: str,
        *,
        scrypt_n: int = DEFAULT_SCRYPT_N,
        overwrite: bool = False,
    ) -> Path:
        """Write :meth:`keystore_json` to ``path``."""
        target = Path(path)
        write_json_file(
            target, self.keystore_json(password, scrypt_n=scrypt_n), overwrite=overwrite
        )
        return target

    # -- keys -----------------------------------------------------------------------

    @property
    def address(self) -> str:
        return str(self._account.address)

    @property
    def account(self) -> LocalAccount:
        return self._account

    @property
    def x25519_private_key(self) -> x25519.X25519PrivateKey:
        return self._encryption_keys.x25519

    @property
    def hybrid_private_key(self) -> HybridPrivateKey | None:
        return self._encryption_keys.hybrid

    @property
    def encryption_keys(self) -> EncryptionKeys:
        return self._encryption_keys

    @property
    def encryption_public_key(self) -> bytes:
        """The 32-byte X25519 public key (the ``encryptionKey`` published on chain)."""
        return encode_public_key(self._encryption_keys.x25519.public_key())

    @property
    def hybrid_public_key(self) -> bytes | None:
        """The 1216-byte ML-KEM-768+X25519 public key, if this identity has one."""
        hybrid = self._encryption_keys.hybrid
        return None if hybrid is None else encode_public_key(hybrid.public_key())

    # -- operations -----------------------------------------------------------------

    def unwrap_key(self, wrapped: bytes, *, field: str, version: int) -> bytes:
        """A field key wrapped for this identity (X25519 or hybrid, told apart by length)."""
        private_key: RecipientPrivateKey = self._encryption_keys.x25519
        if len(wrapped) != X25519_WRAPPED_LENGTH and self._encryption_keys.hybrid is not None:
            private_key = self._encryption_keys.hybrid
        return unwrap_key(
            wrapped, private_key, recipient=self.address, field=field, version=version
        )

    def sign_intent(
        self, name: str, message: Mapping[str, Any], *, chain_id: int, verifying_contract: str
    ) -> bytes:
        return sign_intent(
            self._account, name, message, chain_id=chain_id, verifying_contract=verifying_contract
        )

    def sign_text(self, text: str) -> bytes:
        """EIP-191 ``personal_sign`` of ``text`` (the API's sign-in), 65 bytes."""
        signed = Account.sign_message(encode_defunct(text=text), self._account.key)
        return bytes(signed.signature)

    def __repr__(self) -> str:
        return f"Identity(address={self.address})"


def _new_signing_key() -> bytes:
    return bytes(Account.create().key)


def _new_encryption_keys(hybrid: bool) -> EncryptionKeys:
    return EncryptionKeys(
        x25519.X25519PrivateKey.generate(), HybridPrivateKey.generate() if hybrid else None
    )

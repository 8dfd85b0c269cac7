"""Key files: the signing key as Web3 Secret Storage v3, the HPKE keys beside it.

``signing-key.json``
    The secp256k1 key in the Web3 Secret Storage v3 format (scrypt, AES-128-CTR,
    keccak MAC), written by ``eth_account.Account.encrypt``: geth, MetaMask and
    ``Account.decrypt`` open it as it is.

``encryption-key.json``
    The HPKE private key(s), encrypted under the *same* password with scrypt +
    AES-256-GCM in a small JSON document shaped like the v3 file::

        {"format": "consent-ledger/encryption-keys", "version": 1,
         "address": "0x…", "public_keys": {"x25519": "0x…", "mlkem768-x25519": "0x…"},
         "crypto": {"kdf": "scrypt",
                    "kdfparams": {"n": 262144, "r": 8, "p": 1, "dklen": 32, "salt": "0x…"},
                    "cipher": "aes-256-gcm", "nonce": "0x…", "ciphertext": "0x…"}}

    Why not PKCS#8 with ``BestAvailableEncryption``: its KDF and cipher are
    whatever the library picks (PBKDF2 and AES-CBC today) with no way to ask for a
    memory-hard KDF; PKCS#8 has no slot for the hybrid key's two parts or for the
    owning address; and a second container format would need its own parser and
    error mapping. Here one KDF family serves both files, GCM authenticates, and the
    AAD (canonical JSON of every member but ``nonce`` and ``ciphertext``) binds the
    ciphertext to its address, public keys and KDF parameters, so a file cannot be
    swapped between identities or downgraded to a weaker ``n`` unnoticed.

Both formats authenticate with a key derived from the password, so a wrong
password and an altered ciphertext are the same event: :class:`WrongPassword`
says so. Anything unreadable before that point is :class:`CorruptKeystore`.
KDF parameters are bounded on reading, so a hostile file cannot ask for gigabytes.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from eth_account import Account
from eth_keys import keys

from ledger.codec import checksum_address, from_hex, to_hex
from wallets.errors import CorruptKeystore, KeystoreError, WrongPassword
from wallets.key_wrap import HybridPrivateKey

SIGNING_KEY_FILE = "signing-key.json"
ENCRYPTION_KEY_FILE = "encryption-key.json"
ENCRYPTION_KEY_FORMAT = "consent-ledger/encryption-keys"

#: geth's "standard" scrypt cost; tests pass a smaller ``scrypt_n``.
DEFAULT_SCRYPT_N = 2**18
SCRYPT_R = 8
SCRYPT_P = 1
#: Upper bounds accepted when *reading* (128·r·n bytes of memory: 1 GiB at the limits).
MAX_SCRYPT_N = 2**20
MAX_SCRYPT_R = 8
MAX_SCRYPT_P = 16
MAX_PBKDF2_ROUNDS = 10_000_000

_X25519 = "x25519"
_HYBRID = "mlkem768-x25519"
_X25519_PRIVATE_LENGTH = 32
_HYBRID_PRIVATE_LENGTH = 96


@dataclass(frozen=True, repr=False)
class EncryptionKeys:
    """An actor's HPKE private keys: X25519 always, ML-KEM-768+X25519 optionally."""

    x25519: x25519.X25519PrivateKey
    hybrid: HybridPrivateKey | None = None

    def public_keys(self) -> dict[str, str]:
        out = {_X25519: to_hex(self.x25519.public_key().public_bytes_raw())}
        if self.hybrid is not None:
            out[_HYBRID] = to_hex(self.hybrid.public_key().to_bytes())
        return out

    def __repr__(self) -> str:
        return f"EncryptionKeys(kinds={sorted(self.public_keys())})"


# -- Web3 Secret Storage v3 -------------------------------------------------------------


def encrypt_signing_key(
    private_key: bytes, password: str, *, scrypt_n: int = DEFAULT_SCRYPT_N
) -> dict[str, Any]:
    """A v3 keystore document (scrypt) for a 32-byte secp256k1 key."""
    _check_new_password(password)
    _check_scrypt(scrypt_n, SCRYPT_R, SCRYPT_P)
    return dict(Account.encrypt(private_key, password, kdf="scrypt", iterations=scrypt_n))


def decrypt_signing_key(document: Mapping[str, Any] | str | bytes, password: str) -> bytes:
    """The private key in a v3 keystore (scrypt or pbkdf2, as geth and MetaMask write)."""
    if not isinstance(password, str):
        raise TypeError("password must be a string")
    keystore = _as_json_object(document, "signing keystore")
    _validate_v3(keystore)
    try:
        private_key = bytes(Account.decrypt(keystore, password))
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise WrongPassword(
                "wrong password for the signing keystore (or its ciphertext was altered)"
            ) from None
        raise CorruptKeystore(f"signing keystore cannot be decrypted: {exc}") from exc
    except (KeyError, TypeError, NotImplementedError) as exc:
        raise CorruptKeystore(f"signing keystore is malformed: {exc!r}") from exc
    try:
        address = keys.PrivateKey(private_key).public_key.to_checksum_address()
    except Exception as exc:  # eth_keys raises ValidationError for keys out of range
        raise CorruptKeystore("signing keystore holds an invalid secp256k1 key") from exc
    stated = keystore.get("address")
    if stated is not None and _address_or_none(stated) != address:
        raise CorruptKeystore("signing keystore's address does not match the key inside it")
    return private_key


def _validate_v3(keystore: Mapping[str, Any]) -> None:
    if keystore.get("version") != 3:
        raise CorruptKeystore("not a Web3 Secret Storage v3 keystore (version must be 3)")
    crypto = keystore.get("crypto", keystore.get("Crypto"))
    if not isinstance(crypto, Mapping):
        raise CorruptKeystore("v3 keystore has no 'crypto' object")
    try:
        if crypto["cipher"] != "aes-128-ctr":
            raise CorruptKeystore(f"unsupported cipher {crypto['cipher']!r}")
        from_hex("0x" + crypto["cipherparams"]["iv"], length=16, what="iv")
        from_hex("0x" + crypto["ciphertext"], what="ciphertext")
        from_hex("0x" + crypto["mac"], length=32, what="mac")
        params = crypto["kdfparams"]
        if crypto["kdf"] == "scrypt":
            _check_scrypt(params["n"], params["r"], params["p"], reading=True)
        elif crypto["kdf"] == "pbkdf2":
            if params.get("prf") != "hmac-sha256" or not 1 <= params["c"] <= MAX_PBKDF2_ROUNDS:
                raise CorruptKeystore("unsupported or excessive pbkdf2 parameters")
        else:
            raise CorruptKeystore(f"unsupported kdf {crypto['kdf']!r}")
        if params["dklen"] != 32:
            raise CorruptKeystore("v3 keystores derive 32-byte keys")
        from_hex("0x" + params["salt"], what="salt")
    except CorruptKeystore:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptKeystore(f"v3 keystore is malformed: {exc!r}") from exc


# -- HPKE keys --------------------------------------------------------------------------


def encrypt_encryption_keys(
    keys_: EncryptionKeys, password: str, *, address: str, scrypt_n: int = DEFAULT_SCRYPT_N
) -> dict[str, Any]:
    """The ``encryption-key.json`` document for ``keys_``, owned by ``address``."""
    _check_new_password(password)
    _check_scrypt(scrypt_n, SCRYPT_R, SCRYPT_P)
    salt = os.urandom(32)
    nonce = os.urandom(12)
    header: dict[str, Any] = {
        "format": ENCRYPTION_KEY_FORMAT,
        "version": 1,
        "address": checksum_address(address),
        "public_keys": keys_.public_keys(),
        "crypto": {
            "kdf": "scrypt",
            "kdfparams": {
                "n": scrypt_n,
                "r": SCRYPT_R,
                "p": SCRYPT_P,
                "dklen": 32,
                "salt": to_hex(salt),
            },
            "cipher": "aes-256-gcm",
        },
    }
    plaintext = keys_.x25519.private_bytes_raw()
    if keys_.hybrid is not None:
        plaintext += keys_.hybrid.to_bytes()
    key = _scrypt(password, salt, scrypt_n, SCRYPT_R, SCRYPT_P)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, _header_aad(header))
    header["crypto"]["nonce"] = to_hex(nonce)
    header["crypto"]["ciphertext"] = to_hex(ciphertext)
    return header


def decrypt_encryption_keys(
    document: Mapping[str, Any] | str | bytes, password: str, *, address: str | None = None
) -> EncryptionKeys:
    """Open ``encryption-key.json``; ``address`` (if given) must be the file's owner."""
    raw = _as_json_object(document, "encryption keystore")
    try:
        if raw.get("format") != ENCRYPTION_KEY_FORMAT or raw.get("version") != 1:
            raise CorruptKeystore("not a consent-ledger encryption keystore (format/version)")
        crypto = raw["crypto"]
        params = crypto["kdfparams"]
        if crypto["kdf"] != "scrypt" or crypto["cipher"] != "aes-256-gcm":
            raise CorruptKeystore("unsupported kdf or cipher in encryption keystore")
        if params["dklen"] != 32:
            raise CorruptKeystore("encryption keystore must derive 32-byte keys")
        n, r, p = params["n"], params["r"], params["p"]
        _check_scrypt(n, r, p, reading=True)
        salt = from_hex(params["salt"], what="salt")
        nonce = from_hex(crypto["nonce"], length=12, what="nonce")
        ciphertext = from_hex(crypto["ciphertext"], what="ciphertext")
        owner = checksum_address(raw["address"])
        public_keys = {k: to_hex(from_hex(v, what=k)) for k, v in raw["public_keys"].items()}
        header = {
            "format": ENCRYPTION_KEY_FORMAT,
            "version": 1,
            "address": owner,
            "public_keys": public_keys,
            "crypto": {
                "kdf": "scrypt",
                "kdfparams": {"n": n, "r": r, "p": p, "dklen": 32, "salt": to_hex(salt)},
                "cipher": "aes-256-gcm",
            },
        }
    except CorruptKeystore:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptKeystore(f"encryption keystore is malformed: {exc!r}") from exc
    if address is not None and owner != checksum_address(address):
        raise CorruptKeystore(
            f"encryption keystore belongs to {owner}, not to {checksum_address(address)}"
        )
    key = _scrypt(password, salt, n, r, p)
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, _header_aad(header))
    except InvalidTag:
        raise WrongPassword(
            "wrong password for the encryption keystore (or the file was altered)"
        ) from None
    if len(plaintext) not in (_X25519_PRIVATE_LENGTH, _X25519_PRIVATE_LENGTH + 96):
        raise CorruptKeystore("encryption keystore holds keys of an unexpected size")
    x_key = x25519.X25519PrivateKey.from_private_bytes(plaintext[:_X25519_PRIVATE_LENGTH])
    hybrid = None
    if len(plaintext) > _X25519_PRIVATE_LENGTH:
        hybrid = HybridPrivateKey.from_bytes(plaintext[_X25519_PRIVATE_LENGTH:])
    opened = EncryptionKeys(x_key, hybrid)
    if opened.public_keys() != public_keys:
        raise CorruptKeystore("encryption keystore's public keys do not match its private keys")
    return opened


def _header_aad(header: Mapping[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


# -- files ------------------------------------------------------------------------------


def read_json_file(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path``: :class:`KeystoreError` if missing, corrupt if unparsable."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise KeystoreError(f"no {what} at {path}") from None
    except OSError as exc:
        raise KeystoreError(f"cannot read {what} at {path}: {exc.strerror}") from exc
    return _as_json_object(text, f"{what} at {path}")


def write_json_file(path: Path, document: Mapping[str, Any], *, overwrite: bool = False) -> None:
    """Write atomically with mode 0600; refuse to replace an existing key file by default."""
    if path.exists() and not overwrite:
        raise KeystoreError(f"{path} already exists; refusing to overwrite a key file")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- helpers ----------------------------------------------------------------------------


def _as_json_object(document: Mapping[str, Any] | str | bytes, what: str) -> dict[str, Any]:
    if isinstance(document, Mapping):
        return dict(document)
    try:
        parsed = json.loads(document)
    except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise CorruptKeystore(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise CorruptKeystore(f"{what} is not a JSON object")
    return parsed


def _address_or_none(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return checksum_address(value if value.startswith("0x") else "0x" + value)
    except ValueError:
        return None


def _check_new_password(password: str) -> None:
    if not isinstance(password, str) or not password:
        raise ValueError("a keystore password must be a non-empty string")


def _check_scrypt(n: Any, r: Any, p: Any, *, reading: bool = False) -> None:
    ok = (
        all(isinstance(v, int) and not isinstance(v, bool) for v in (n, r, p))
        and 2 <= n <= MAX_SCRYPT_N
        and n & (n - 1) == 0
        and 1 <= r <= MAX_SCRYPT_R
        and 1 <= p <= MAX_SCRYPT_P
    )
    if not ok:
        message = (
            f"scrypt parameters out of bounds: n={n!r} (a power of two up to {MAX_SCRYPT_N}),"
            f" r={r!r} (1..{MAX_SCRYPT_R}), p={p!r} (1..{MAX_SCRYPT_P})"
        )
        if reading:
            raise CorruptKeystore(message)
        raise ValueError(message)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    if not isinstance(password, str):
        raise TypeError("password must be a string")
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode("utf-8"))

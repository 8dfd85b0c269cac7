"""Key files: geth-compatible v3 signing keystore, encrypted HPKE keys, clear errors."""

from __future__ import annotations

import inspect
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from wallets.errors import CorruptKeystore, KeystoreError, WrongPassword
from wallets.identity import Identity
from wallets.keystore import (
    DEFAULT_SCRYPT_N,
    ENCRYPTION_KEY_FILE,
    SIGNING_KEY_FILE,
    decrypt_encryption_keys,
    decrypt_signing_key,
    encrypt_encryption_keys,
    encrypt_signing_key,
)

PASSWORD = "correct horse battery staple"


@pytest.fixture
def saved(tmp_path: Path, scrypt_n: int) -> tuple[Identity, Path]:
    identity = Identity.create()
    folder = identity.save(tmp_path / "wallet", PASSWORD, scrypt_n=scrypt_n)
    return identity, folder


def read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_signing_keystore_opens_with_plain_eth_account_decrypt(
    saved: tuple[Identity, Path],
) -> None:
    identity, folder = saved
    key = Account.decrypt(read(folder / SIGNING_KEY_FILE), PASSWORD)
    assert Account.from_key(key).address == identity.address


def test_signing_keystore_is_web3_secret_storage_v3_with_scrypt(
    saved: tuple[Identity, Path], scrypt_n: int
) -> None:
    identity, folder = saved
    document = read(folder / SIGNING_KEY_FILE)
    assert document["version"] == 3
    assert document["crypto"]["kdf"] == "scrypt"
    assert document["crypto"]["cipher"] == "aes-128-ctr"
    assert document["crypto"]["kdfparams"]["n"] == scrypt_n
    assert document["address"].lower() == identity.address[2:].lower()


def test_default_scrypt_cost_is_geths_standard() -> None:
    assert DEFAULT_SCRYPT_N == 2**18
    for function in (encrypt_signing_key, encrypt_encryption_keys, Identity.save):
        assert inspect.signature(function).parameters["scrypt_n"].default == DEFAULT_SCRYPT_N


def test_key_files_are_readable_by_the_owner_only(saved: tuple[Identity, Path]) -> None:
    _, folder = saved
    for name in (SIGNING_KEY_FILE, ENCRYPTION_KEY_FILE):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600


def test_encryption_keystore_holds_no_plaintext_private_key(saved: tuple[Identity, Path]) -> None:
    identity, folder = saved
    text = (folder / ENCRYPTION_KEY_FILE).read_text()
    assert identity.x25519_private_key.private_bytes_raw().hex() not in text
    assert identity.encryption_public_key.hex() in text


# -- wrong password ---------------------------------------------------------------------


def test_wrong_password_raises_wrong_password(saved: tuple[Identity, Path]) -> None:
    _, folder = saved
    with pytest.raises(WrongPassword, match="wrong password for the signing keystore"):
        Identity.load(folder, "not the password")


def test_wrong_password_for_encryption_keys_raises_wrong_password(
    saved: tuple[Identity, Path],
) -> None:
    _, folder = saved
    with pytest.raises(WrongPassword, match="wrong password for the encryption keystore"):
        decrypt_encryption_keys(read(folder / ENCRYPTION_KEY_FILE), "not the password")


def test_altered_signing_ciphertext_reads_as_wrong_password(saved: tuple[Identity, Path]) -> None:
    _, folder = saved
    document = read(folder / SIGNING_KEY_FILE)
    ciphertext = document["crypto"]["ciphertext"]
    document["crypto"]["ciphertext"] = ("0" if ciphertext[0] != "0" else "1") + ciphertext[1:]
    with pytest.raises(WrongPassword, match="or its ciphertext was altered"):
        decrypt_signing_key(document, PASSWORD)


@pytest.mark.parametrize(
    "path", [("crypto", "ciphertext"), ("crypto", "nonce"), ("public_keys", "x25519")]
)
def test_altered_encryption_keystore_reads_as_wrong_password(
    saved: tuple[Identity, Path], path: tuple[str, str]
) -> None:
    _, folder = saved
    document = read(folder / ENCRYPTION_KEY_FILE)
    value = document[path[0]][path[1]]
    document[path[0]][path[1]] = value[:-1] + ("0" if value[-1] != "0" else "1")
    with pytest.raises(WrongPassword):
        decrypt_encryption_keys(document, PASSWORD)


def test_encryption_keystore_relabelled_to_another_address_is_refused(
    saved: tuple[Identity, Path],
) -> None:
    identity, folder = saved
    document = read(folder / ENCRYPTION_KEY_FILE)
    document["address"] = Identity.create().address
    with pytest.raises(CorruptKeystore, match="belongs to"):
        decrypt_encryption_keys(document, PASSWORD, address=identity.address)
    with pytest.raises(WrongPassword):  # the address is authenticated data
        decrypt_encryption_keys(document, PASSWORD)


# -- corrupt files -------------------------------------------------------------------------


@pytest.mark.parametrize("name", [SIGNING_KEY_FILE, ENCRYPTION_KEY_FILE])
def test_truncated_json_raises_corrupt_keystore(saved: tuple[Identity, Path], name: str) -> None:
    _, folder = saved
    text = (folder / name).read_text()
    (folder / name).write_text(text[: len(text) // 2])
    with pytest.raises(CorruptKeystore, match="not valid JSON"):
        Identity.load(folder, PASSWORD)


@pytest.mark.parametrize("name", [SIGNING_KEY_FILE, ENCRYPTION_KEY_FILE])
def test_json_that_is_not_an_object_raises_corrupt_keystore(
    saved: tuple[Identity, Path], name: str
) -> None:
    _, folder = saved
    (folder / name).write_text("[1, 2, 3]")
    with pytest.raises(CorruptKeystore, match="not a JSON object"):
        Identity.load(folder, PASSWORD)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.pop("crypto"), "no 'crypto'"),
        (lambda d: d.update(version=4), "version must be 3"),
        (lambda d: d["crypto"].pop("mac"), "malformed"),
        (lambda d: d["crypto"].update(ciphertext="zz"), "malformed"),
        (lambda d: d["crypto"].update(kdf="argon2"), "unsupported kdf"),
        (lambda d: d["crypto"].update(cipher="aes-256-cbc"), "unsupported cipher"),
        (lambda d: d["crypto"]["kdfparams"].update(n=2**30), "scrypt parameters out of bounds"),
        (lambda d: d["crypto"]["kdfparams"].update(n=1000), "scrypt parameters out of bounds"),
    ],
    ids=[
        "no-crypto",
        "version-4",
        "no-mac",
        "bad-hex",
        "unknown-kdf",
        "unknown-cipher",
        "excessive-n",
        "n-not-power-of-two",
    ],
)
def test_malformed_signing_keystore_raises_corrupt_keystore(
    saved: tuple[Identity, Path], mutate: Any, match: str
) -> None:
    _, folder = saved
    document = read(folder / SIGNING_KEY_FILE)
    mutate(document)
    with pytest.raises(CorruptKeystore, match=match):
        decrypt_signing_key(document, PASSWORD)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.pop("crypto"), "malformed"),
        (lambda d: d.update(format="pkcs8"), "format"),
        (lambda d: d["crypto"].update(nonce="0x00"), "malformed"),
        (lambda d: d["crypto"]["kdfparams"].update(n=2**40), "out of bounds"),
        (lambda d: d["crypto"].update(cipher="chacha20"), "unsupported"),
        (lambda d: d.update(address="0x1234"), "malformed"),
    ],
    ids=["no-crypto", "other-format", "short-nonce", "excessive-n", "other-cipher", "bad-address"],
)
def test_malformed_encryption_keystore_raises_corrupt_keystore(
    saved: tuple[Identity, Path], mutate: Any, match: str
) -> None:
    _, folder = saved
    document = read(folder / ENCRYPTION_KEY_FILE)
    mutate(document)
    with pytest.raises(CorruptKeystore, match=match):
        decrypt_encryption_keys(document, PASSWORD)


def test_signing_keystore_whose_address_lies_raises_corrupt_keystore(
    saved: tuple[Identity, Path],
) -> None:
    _, folder = saved
    document = read(folder / SIGNING_KEY_FILE)
    document["address"] = Identity.create().address[2:].lower()
    with pytest.raises(CorruptKeystore, match="address does not match"):
        decrypt_signing_key(document, PASSWORD)


def test_key_files_of_two_identities_raise_corrupt_keystore(tmp_path: Path, scrypt_n: int) -> None:
    first = Identity.create().save(tmp_path / "a", PASSWORD, scrypt_n=scrypt_n)
    second = Identity.create().save(tmp_path / "b", PASSWORD, scrypt_n=scrypt_n)
    (first / ENCRYPTION_KEY_FILE).write_bytes((second / ENCRYPTION_KEY_FILE).read_bytes())
    with pytest.raises(CorruptKeystore, match="belongs to"):
        Identity.load(first, PASSWORD)


def test_missing_key_file_raises_keystore_error(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="no signing keystore at"):
        Identity.load(tmp_path / "nowhere", PASSWORD)


def test_save_refuses_to_overwrite_existing_key_files(
    saved: tuple[Identity, Path], scrypt_n: int
) -> None:
    _, folder = saved
    before = (folder / SIGNING_KEY_FILE).read_bytes()
    with pytest.raises(KeystoreError, match="refusing to overwrite"):
        Identity.create().save(folder, PASSWORD, scrypt_n=scrypt_n)
    assert (folder / SIGNING_KEY_FILE).read_bytes() == before


def test_empty_password_is_refused_when_saving(tmp_path: Path, scrypt_n: int) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        Identity.create().save(tmp_path, "", scrypt_n=scrypt_n)


def test_scrypt_cost_below_two_is_refused_when_saving(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scrypt parameters"):
        Identity.create().save(tmp_path, PASSWORD, scrypt_n=1)


def test_unicode_password_round_trips(tmp_path: Path, scrypt_n: int) -> None:
    identity = Identity.create()
    identity.save(tmp_path, "密码 pässwörd", scrypt_n=scrypt_n)
    assert Identity.load(tmp_path, "密码 pässwörd").address == identity.address


def test_encryption_keys_round_trip_directly(scrypt_n: int) -> None:
    identity = Identity.create(hybrid=True)
    document = encrypt_encryption_keys(
        identity.encryption_keys, PASSWORD, address=identity.address, scrypt_n=scrypt_n
    )
    opened = decrypt_encryption_keys(json.dumps(document), PASSWORD, address=identity.address)
    assert opened.public_keys() == identity.encryption_keys.public_keys()
    assert set(document["public_keys"]) == {"x25519", "mlkem768-x25519"}

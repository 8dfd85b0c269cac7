"""Identities: create, save/load, import/export of v3 keystores, key use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from eth_account import Account

from wallets.errors import InvalidRecord, WrongPassword
from wallets.identity import Identity
from wallets.key_wrap import HYBRID_WRAPPED_LENGTH, X25519_WRAPPED_LENGTH, wrap_key
from wallets.signing import recover_intent_signer

PASSWORD = "s3cret-pass"
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
KEY = bytes(range(32))


@pytest.mark.parametrize("hybrid", [False, True], ids=["x25519", "hybrid"])
def test_saved_identity_loads_with_the_same_keys(
    tmp_path: Path, scrypt_n: int, hybrid: bool
) -> None:
    identity = Identity.create(hybrid=hybrid)
    identity.save(tmp_path, PASSWORD, scrypt_n=scrypt_n)
    loaded = Identity.load(tmp_path, PASSWORD)
    assert loaded.address == identity.address
    assert loaded.encryption_public_key == identity.encryption_public_key
    assert loaded.hybrid_public_key == identity.hybrid_public_key
    assert (loaded.hybrid_public_key is not None) == hybrid


def test_new_identities_have_distinct_keys() -> None:
    first, second = Identity.create(), Identity.create()
    assert first.address != second.address
    assert first.encryption_public_key != second.encryption_public_key
    assert len(first.encryption_public_key) == 32


def test_export_writes_a_v3_file_that_eth_account_opens(tmp_path: Path, scrypt_n: int) -> None:
    identity = Identity.create()
    path = identity.export_keystore(tmp_path / "UTC--export.json", PASSWORD, scrypt_n=scrypt_n)
    key = Account.decrypt(json.loads(path.read_text()), PASSWORD)
    assert Account.from_key(key).address == identity.address


@pytest.mark.parametrize("kdf", ["scrypt", "pbkdf2"])
def test_keystore_made_by_eth_account_imports_with_its_address(
    tmp_path: Path, kdf: Literal["scrypt", "pbkdf2"]
) -> None:
    account = Account.create()
    iterations = 2**10 if kdf == "scrypt" else 1000
    path = tmp_path / "foreign.json"
    path.write_text(
        json.dumps(Account.encrypt(account.key, PASSWORD, kdf=kdf, iterations=iterations))
    )
    imported = Identity.import_keystore(path, PASSWORD)
    assert imported.address == account.address
    assert len(imported.encryption_public_key) == 32


def test_imported_identity_saves_and_loads(tmp_path: Path, scrypt_n: int) -> None:
    account = Account.create()
    document = Account.encrypt(account.key, PASSWORD, iterations=scrypt_n)
    Identity.import_keystore(document, PASSWORD, hybrid=True).save(
        tmp_path, PASSWORD, scrypt_n=scrypt_n
    )
    loaded = Identity.load(tmp_path, PASSWORD)
    assert loaded.address == account.address
    assert loaded.hybrid_public_key is not None


def test_import_with_wrong_password_raises_wrong_password(scrypt_n: int) -> None:
    document = Account.encrypt(Account.create().key, PASSWORD, iterations=scrypt_n)
    with pytest.raises(WrongPassword):
        Identity.import_keystore(document, "nope")


def test_geth_style_keystore_with_lower_case_address_and_capital_crypto_imports(
    scrypt_n: int,
) -> None:
    account = Account.create()
    document = dict(Account.encrypt(account.key, PASSWORD, iterations=scrypt_n))
    document["address"] = document["address"].lower()
    document["Crypto"] = document.pop("crypto")
    assert Identity.import_keystore(document, PASSWORD).address == account.address


def test_repr_shows_the_address_and_no_key_material() -> None:
    identity = Identity.create(hybrid=True)
    text = repr(identity) + repr(identity.encryption_keys)
    assert identity.address in text
    assert identity.account.key.hex() not in text
    assert identity.x25519_private_key.private_bytes_raw().hex() not in text


def test_unwrap_key_opens_keys_wrapped_for_the_x25519_key() -> None:
    identity = Identity.create(hybrid=True)
    wrapped = wrap_key(
        KEY, identity.encryption_public_key, recipient=identity.address, field="income", version=1
    )
    assert len(wrapped) == X25519_WRAPPED_LENGTH
    assert identity.unwrap_key(wrapped, field="income", version=1) == KEY


def test_unwrap_key_opens_keys_wrapped_for_the_hybrid_key() -> None:
    identity = Identity.create(hybrid=True)
    assert identity.hybrid_public_key is not None
    wrapped = wrap_key(
        KEY, identity.hybrid_public_key, recipient=identity.address, field="income", version=1
    )
    assert len(wrapped) == HYBRID_WRAPPED_LENGTH
    assert identity.unwrap_key(wrapped, field="income", version=1) == KEY


def test_unwrap_key_refuses_keys_wrapped_for_someone_else() -> None:
    identity, stranger = Identity.create(), Identity.create()
    wrapped = wrap_key(
        KEY, stranger.encryption_public_key, recipient=identity.address, field="income", version=1
    )
    with pytest.raises(InvalidRecord):
        identity.unwrap_key(wrapped, field="income", version=1)


def test_sign_intent_recovers_to_the_identity() -> None:
    identity = Identity.create()
    message = {"resident": identity.address, "consentId": 4, "nonce": 1, "deadline": 2}
    signature = identity.sign_intent("Revoke", message, chain_id=1, verifying_contract=CONTRACT)
    signer = recover_intent_signer(
        "Revoke", message, signature, chain_id=1, verifying_contract=CONTRACT
    )
    assert signer == identity.address

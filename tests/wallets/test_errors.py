"""The wallet error hierarchy: one root, drawn in the module docstring."""

from __future__ import annotations

import inspect

import pytest

from wallets import errors
from wallets.errors import (
    CorruptKeystore,
    InvalidAttestation,
    InvalidIntent,
    InvalidProof,
    InvalidRecord,
    InvalidSignature,
    KeystoreError,
    WalletError,
    WrongPassword,
)

CLASSES = [
    obj
    for obj in vars(errors).values()
    if inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__ == errors.__name__
]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_error_derives_from_wallet_error(cls: type[Exception]) -> None:
    assert issubclass(cls, WalletError)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_error_is_drawn_in_the_module_docstring(cls: type[Exception]) -> None:
    assert cls.__name__ in (errors.__doc__ or "")


def test_keystore_errors_share_a_parent() -> None:
    assert issubclass(WrongPassword, KeystoreError)
    assert issubclass(CorruptKeystore, KeystoreError)
    assert not issubclass(InvalidRecord, KeystoreError)


def test_invalid_record_default_message_names_no_check() -> None:
    message = str(InvalidRecord()).lower()
    for word in ("tag", "hpke", "aad", "proof", "version", "nonce"):
        assert word not in message


def test_invalid_attestation_carries_a_machine_readable_reason() -> None:
    error = InvalidAttestation("untrusted_issuer", "0xabc at 5")
    assert error.reason == "untrusted_issuer" and error.detail == "0xabc at 5"


def test_invalid_intent_is_also_a_value_error() -> None:
    assert issubclass(InvalidIntent, ValueError)


def test_proof_and_signature_errors_are_distinct_from_invalid_record() -> None:
    assert not issubclass(InvalidProof, InvalidRecord)
    assert not issubclass(InvalidSignature, InvalidRecord)

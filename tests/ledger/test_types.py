"""One ConsentTerms wherever terms come from: the event, calldata, the vault row, the journal."""

from __future__ import annotations

import json

import pytest
from eth_utils import to_checksum_address

from ledger.codec import dumps
from ledger.types import ConsentTerms, SignedIntent
from ledger.vocabulary import bytes32_label, name_to_bytes32

TERMS = ConsentTerms(
    resident="0x" + "AB" * 20,
    department="0x" + "cd" * 20,
    fields=(name_to_bytes32("address"), name_to_bytes32("income")),
    purpose=name_to_bytes32("HOUSING"),
    valid_from=10,
    valid_until=2**64 - 1,
    max_uses=3,
)


def test_terms_from_the_event_and_from_calldata_are_the_same() -> None:
    args = {
        "resident": TERMS.resident.lower(),
        "department": TERMS.department,
        "fields": list(TERMS.fields),
        "purpose": TERMS.purpose,
        "validFrom": 10,
        "validUntil": 2**64 - 1,
        "maxUses": 3,
    }
    terms = ConsentTerms.from_event(args)
    assert terms.resident == to_checksum_address(TERMS.resident)  # any case in, EIP-55 out
    assert terms.as_abi() == ConsentTerms.from_event({**args, "consentId": 5}).as_abi()
    assert terms.fields == TERMS.fields and terms.max_uses == 3


def test_terms_survive_the_journal_and_the_vault_row() -> None:
    assert ConsentTerms.from_json(json.loads(dumps(TERMS.to_json()))) == TERMS
    row = {
        "resident": TERMS.resident,
        "department": TERMS.department,
        "fields": json.dumps([bytes32_label(f) for f in reversed(TERMS.fields)]),
        "purpose": bytes32_label(TERMS.purpose),
        "valid_from": 10,
        "valid_until": 2**64 - 1,
        "max_uses": 3,
    }
    assert ConsentTerms.from_row(row) == TERMS  # the row's labels, sorted back into ids


def test_a_signed_intent_survives_the_journal() -> None:
    intent = SignedIntent(
        "Revoke",
        {"resident": TERMS.resident, "consentId": 5, "nonce": 1, "deadline": 9},
        b"\x01" * 65,
        TERMS,
    )
    again = SignedIntent.from_json(json.loads(dumps(intent.to_json())))
    assert again == intent
    assert again.gas() == intent.gas() > 0


def test_an_intent_that_needs_terms_refuses_to_exist_without_them() -> None:
    with pytest.raises(ValueError, match="needs the consent's terms"):
        SignedIntent("Access", {}, b"")
    with pytest.raises(ValueError, match="not an on-chain intent"):
        SignedIntent("Acceptance", {}, b"")

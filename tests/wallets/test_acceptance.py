"""The relayer's acceptance: the digest eth-account computes, offline verification, forgeries."""

from __future__ import annotations

import secrets
from dataclasses import replace

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data

from ledger.acceptance import Acceptance, acceptance_digest, acceptance_typed_data, sign_acceptance
from wallets.acceptance import InvalidAcceptance, verify_acceptance

CHAIN_ID = 20_260


@pytest.fixture
def relayer_key() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def signed(relayer_key: bytes) -> Acceptance:
    return sign_acceptance(
        relayer_key,
        intent=secrets.token_bytes(32),
        chain_id=CHAIN_ID,
        journal_id=42,
        accepted_at=1_767_225_600,
    )


def test_the_digest_is_eip712_as_eth_account_computes_it(signed: Acceptance) -> None:
    signable = encode_typed_data(full_message=acceptance_typed_data(signed))
    expected = _hash_eip191_message(signable)  # keccak(0x19 || 0x01 || domain || struct)
    assert (
        acceptance_digest(
            intent=signed.intent,
            chain_id=signed.chain_id,
            journal_id=signed.journal_id,
            accepted_at=signed.accepted_at,
            relayer=signed.relayer,
        )
        == expected
    )
    # so any EIP-712 wallet library recovers the relayer from it
    assert Account.recover_message(signable, signature=signed.signature) == signed.relayer


def test_a_signed_acceptance_verifies_offline_from_its_json(
    signed: Acceptance, relayer_key: bytes
) -> None:
    checked = verify_acceptance(
        signed.to_json(),
        intent=signed.intent,
        chain_id=CHAIN_ID,
        relayer=Account.from_key(relayer_key).address,
    )
    assert checked == signed


@pytest.mark.parametrize(
    "change",
    [
        {"journal_id": 43},
        {"accepted_at": 1_767_225_601},
        {"intent": bytes(32)},
        {"chain_id": 1},
    ],
)
def test_an_altered_acceptance_does_not_verify(signed: Acceptance, change: dict) -> None:
    with pytest.raises(InvalidAcceptance, match="names relayer"):
        verify_acceptance(replace(signed, **change).to_json())


def test_an_acceptance_signed_by_another_key_in_the_relayers_name_does_not_verify(
    signed: Acceptance,
) -> None:
    forger = sign_acceptance(
        secrets.token_bytes(32),
        intent=signed.intent,
        chain_id=CHAIN_ID,
        journal_id=signed.journal_id,
        accepted_at=signed.accepted_at,
    )
    forged = replace(forger, relayer=signed.relayer)
    with pytest.raises(InvalidAcceptance, match=f"names relayer {signed.relayer}"):
        verify_acceptance(forged.to_json())
    # signed honestly under its own name, it is still not the relayer the caller trusts
    with pytest.raises(InvalidAcceptance, match="not the relayer"):
        verify_acceptance(forger.to_json(), relayer=signed.relayer)


def test_an_acceptance_of_another_intent_or_chain_is_refused(signed: Acceptance) -> None:
    with pytest.raises(InvalidAcceptance, match="not the one sent"):
        verify_acceptance(signed, intent=secrets.token_bytes(32))
    with pytest.raises(InvalidAcceptance, match="not 1"):
        verify_acceptance(signed, chain_id=1)


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"intent": "0x12", "chain_id": 1, "journal_id": 1, "accepted_at": 1, "relayer": "0x1"},
        {
            "intent": "0x" + "00" * 32,
            "chain_id": -1,
            "journal_id": 1,
            "accepted_at": 1,
            "relayer": "0x" + "11" * 20,
            "signature": "0x" + "00" * 65,
        },
    ],
)
def test_a_malformed_acceptance_is_refused(document: dict) -> None:
    with pytest.raises(InvalidAcceptance):
        verify_acceptance(document)

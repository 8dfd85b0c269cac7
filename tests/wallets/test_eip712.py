"""The hand-rolled intent hasher against eth-account's general EIP-712 encoder."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.intents import INTENTS, typed_data
from wallets import eip712
from wallets.encoding import checksum_address

_addresses = st.binary(min_size=20, max_size=20).map(lambda b: checksum_address("0x" + b.hex()))
_words = st.binary(min_size=32, max_size=32)


def _value(kind: str) -> st.SearchStrategy[Any]:
    if kind == "address":
        return _addresses
    if kind == "bytes32":
        return _words
    if kind == "bytes32[]":
        return st.lists(_words, max_size=5)
    if kind == "string":
        return st.text(max_size=40)
    if kind == "bytes":
        return st.binary(max_size=80)
    if kind == "bool":
        return st.booleans()
    bits = int(kind[4:] or 256)
    return st.integers(min_value=0, max_value=2**bits - 1)


@st.composite
def _intents(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(INTENTS)))
    return name, {field: draw(_value(kind)) for field, kind in INTENTS[name].fields}


@settings(max_examples=300, deadline=None)
@given(_intents(), st.integers(min_value=1, max_value=2**64), _addresses)
def test_digest_equals_eth_account_for_every_intent_type(
    intent: tuple[str, dict[str, Any]], chain_id: int, contract: str
) -> None:
    name, message = intent
    document = typed_data(name, message, chain_id=chain_id, verifying_contract=contract)
    signable = encode_typed_data(full_message=document)

    fast = eip712.digest(name, message, chain_id=chain_id, verifying_contract=contract)

    assert fast == keccak(b"\x19" + signable.version + signable.header + signable.body)
    assert eip712.domain_separator(chain_id, contract) == signable.header
    assert eip712.struct_hash(name, message) == signable.body


def test_a_signature_over_the_fast_digest_recovers_the_signer() -> None:
    key = Account.create()
    name = "Revoke"
    message = {"resident": key.address, "consentId": 7, "nonce": 1, "deadline": 2**40}
    digest = eip712.digest(name, message, chain_id=20260, verifying_contract=key.address)

    signature = Account.unsafe_sign_hash(digest, key.key).signature

    assert Account._recover_hash(digest, signature=signature) == key.address

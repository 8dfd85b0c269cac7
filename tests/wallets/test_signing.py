"""EIP-712 intents: digests and signatures against ethers 6, normalisation, canonical form."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from hypothesis import given
from hypothesis import strategies as st

from ledger.eip712 import SECP256K1_N
from ledger.intents import INTENTS, eip712_types, encode_type, type_hash
from ledger.vocabulary import name_to_bytes32
from tests.wallets.known_answers import PROPERTY, hex_bytes, load, params, run_node_script
from wallets.errors import InvalidIntent, InvalidSignature
from wallets.signing import (
    intent_digest,
    intent_typed_data,
    message_to_json,
    normalize_message,
    recover_intent_signer,
    sign_intent,
    signed_intent_body,
)

CHAIN_ID = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
RESIDENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
DEPARTMENT = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def python_message(name: str, message: dict[str, Any]) -> dict[str, Any]:
    """A vector's JSON message with integers as ints (the JSON carries decimal strings)."""
    structs = dict(INTENTS[name].structs)

    def value(kind: str, v: Any) -> Any:
        if kind.endswith("[]") and kind[:-2] in structs:
            return [value(kind[:-2], item) for item in v]
        if kind in structs:
            inner = dict(structs[kind])
            return {k: value(inner[k], x) for k, x in v.items()}
        return int(v) if kind.startswith(("uint", "int")) else v

    types = dict(INTENTS[name].fields)
    return {k: value(types[k], v) for k, v in message.items()}


def revoke(**overrides: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"resident": RESIDENT, "consentId": 1, "nonce": 2, "deadline": 3}
    message.update(overrides)
    return message


def access(**overrides: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "department": DEPARTMENT,
        "resident": RESIDENT,
        "consentId": 1,
        "fields": [name_to_bytes32("income")],
        "nonce": 9,
        "deadline": 10,
    }
    message.update(overrides)
    return message


# -- known answers from ethers ------------------------------------------------------------


def test_vectors_cover_every_intent() -> None:
    assert {v["name"] for v in load("eip712")["vectors"]} == set(INTENTS)


@pytest.mark.parametrize("vector", params("eip712"))
def test_vector_types_are_those_of_ledger_intents(vector: dict[str, Any]) -> None:
    name = vector["name"]
    assert vector["types"] == {k: v for k, v in eip712_types(name).items() if k != "EIP712Domain"}
    assert vector["encodeType"] == encode_type(name)
    assert hex_bytes(vector["typeHash"]) == type_hash(name)


@pytest.mark.parametrize("vector", params("eip712"))
def test_digest_equals_ethers_typed_data_encoder(vector: dict[str, Any]) -> None:
    name, domain = vector["name"], vector["domain"]
    message = python_message(name, vector["message"])
    digest = intent_digest(
        name,
        message,
        chain_id=int(domain["chainId"]),
        verifying_contract=domain["verifyingContract"],
    )
    assert digest == hex_bytes(vector["digest"])


@pytest.mark.parametrize("vector", params("eip712"))
def test_eth_account_domain_separator_and_struct_hash_equal_ethers(
    vector: dict[str, Any],
) -> None:
    name, domain = vector["name"], vector["domain"]
    document = intent_typed_data(
        name,
        python_message(name, vector["message"]),
        chain_id=int(domain["chainId"]),
        verifying_contract=domain["verifyingContract"],
    )
    signable = encode_typed_data(full_message=document)
    assert signable.header == hex_bytes(vector["domainSeparator"])
    assert signable.body == hex_bytes(vector["structHash"])


@pytest.mark.parametrize("vector", params("eip712"))
def test_signature_equals_ethers_wallet_and_recovers_signer(vector: dict[str, Any]) -> None:
    name, domain = vector["name"], vector["domain"]
    message = python_message(name, vector["message"])
    kwargs: dict[str, Any] = {
        "chain_id": int(domain["chainId"]),
        "verifying_contract": domain["verifyingContract"],
    }
    signature = sign_intent(hex_bytes(vector["signerKey"]), name, message, **kwargs)
    assert signature == hex_bytes(vector["signature"])  # both sign deterministically (RFC 6979)
    assert recover_intent_signer(name, message, vector["signature"], **kwargs) == vector["signer"]


@pytest.mark.slow
def test_node_script_reproduces_committed_eip712_vectors() -> None:
    assert run_node_script("eip712.mjs") == load("eip712")


# -- normalisation ------------------------------------------------------------------------


def test_hex_strings_for_bytes_fields_give_the_same_digest() -> None:
    as_bytes = access()
    as_hex = access(fields=["0x" + name_to_bytes32("income").hex()])
    kwargs: dict[str, Any] = {"chain_id": CHAIN_ID, "verifying_contract": CONTRACT}
    assert intent_digest("Access", as_bytes, **kwargs) == intent_digest("Access", as_hex, **kwargs)


def test_lower_case_addresses_are_accepted_and_checksummed() -> None:
    normalized = normalize_message("Revoke", revoke(resident=RESIDENT.lower()))
    assert normalized["resident"] == RESIDENT


def test_bad_checksum_address_is_refused() -> None:
    first_letter = next(i for i, c in enumerate(RESIDENT) if i > 1 and c.isalpha())
    bad = RESIDENT[:first_letter] + RESIDENT[first_letter].swapcase() + RESIDENT[first_letter + 1 :]
    with pytest.raises(InvalidIntent, match=r"Revoke\.resident: bad EIP-55 checksum"):
        normalize_message("Revoke", revoke(resident=bad))


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"consentId": -1}, "out of range"),
        ({"consentId": 2**256}, "out of range"),
        ({"consentId": True}, "expected an int"),
        ({"consentId": "1"}, "expected an int"),
        ({"nonce": 1.0}, "expected an int"),
    ],
)
def test_out_of_range_or_non_int_integers_are_refused(
    overrides: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidIntent, match=match):
        normalize_message("Revoke", revoke(**overrides))


def test_uint64_upper_bound_is_enforced() -> None:
    message = {"resident": RESIDENT, "version": 2**64, "root": bytes(32), "nonce": 0, "deadline": 0}
    with pytest.raises(InvalidIntent, match="uint64"):
        normalize_message("CommitRecord", message)
    message["version"] = 2**64 - 1
    assert normalize_message("CommitRecord", message)["version"] == 2**64 - 1


@pytest.mark.parametrize("field", [b"\0" * 31, "0x" + "00" * 33, "00" * 32, "0xzz" + "00" * 31])
def test_bytes32_of_wrong_length_or_not_hex_is_refused(field: Any) -> None:
    with pytest.raises(InvalidIntent):
        normalize_message("Access", access(fields=[field]))


def test_missing_and_unexpected_fields_are_named() -> None:
    message = revoke()
    del message["nonce"]
    message["extra"] = 1
    with pytest.raises(InvalidIntent, match=r"missing \['nonce'\], unexpected \['extra'\]"):
        normalize_message("Revoke", message)


def test_unknown_intent_is_refused() -> None:
    with pytest.raises(InvalidIntent, match="unknown intent"):
        normalize_message("Transfer", {})


def test_invalid_intent_is_also_a_value_error() -> None:
    with pytest.raises(ValueError):
        normalize_message("Revoke", revoke(consentId=-5))


def test_message_to_json_round_trips_through_normalisation() -> None:
    as_json = message_to_json("Access", access())
    assert as_json["fields"] == ["0x" + name_to_bytes32("income").hex()]
    assert normalize_message("Access", as_json) == normalize_message("Access", access())


def test_bad_chain_id_or_contract_is_refused() -> None:
    with pytest.raises(InvalidIntent, match="chain_id"):
        intent_digest("Revoke", revoke(), chain_id=0, verifying_contract=CONTRACT)
    with pytest.raises(InvalidIntent, match="verifying_contract"):
        intent_digest("Revoke", revoke(), chain_id=1, verifying_contract="0x1234")


# -- signatures ---------------------------------------------------------------------------


@PROPERTY
@given(nonce=st.integers(0, 2**256 - 1), key=st.binary(min_size=32, max_size=32))
def test_signatures_are_65_bytes_low_s_v27_or_28_and_recover(nonce: int, key: bytes) -> None:
    try:
        account = Account.from_key(key)
    except Exception:  # zero or >= n: not a key
        return
    message = revoke(resident=account.address, nonce=nonce)
    kwargs: dict[str, Any] = {"chain_id": CHAIN_ID, "verifying_contract": CONTRACT}
    signature = sign_intent(key, "Revoke", message, **kwargs)
    assert len(signature) == 65
    assert signature[64] in (27, 28)
    assert int.from_bytes(signature[32:64], "big") <= SECP256K1_N // 2
    assert recover_intent_signer("Revoke", message, signature, **kwargs) == account.address


def test_recovery_refuses_the_high_s_twin_of_a_valid_signature() -> None:
    key = b"\x01" * 32
    kwargs: dict[str, Any] = {"chain_id": CHAIN_ID, "verifying_contract": CONTRACT}
    signature = sign_intent(key, "Revoke", revoke(), **kwargs)
    s = int.from_bytes(signature[32:64], "big")
    twin = signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])
    with pytest.raises(InvalidSignature, match="malleable"):
        recover_intent_signer("Revoke", revoke(), twin, **kwargs)


@pytest.mark.parametrize("v", [0, 1, 29])
def test_recovery_refuses_v_other_than_27_or_28(v: int) -> None:
    kwargs: dict[str, Any] = {"chain_id": CHAIN_ID, "verifying_contract": CONTRACT}
    signature = sign_intent(b"\x01" * 32, "Revoke", revoke(), **kwargs)
    with pytest.raises(InvalidSignature, match="v must be"):
        recover_intent_signer("Revoke", revoke(), signature[:64] + bytes([v]), **kwargs)


@pytest.mark.parametrize("signature", ["0x" + "11" * 64, b"\x11" * 66, "not hex"])
def test_recovery_refuses_malformed_signatures(signature: Any) -> None:
    with pytest.raises(InvalidSignature):
        recover_intent_signer(
            "Revoke", revoke(), signature, chain_id=CHAIN_ID, verifying_contract=CONTRACT
        )


def test_signature_for_one_domain_recovers_to_a_stranger_in_another() -> None:
    key = b"\x02" * 32
    signer = Account.from_key(key).address
    signature = sign_intent(key, "Revoke", revoke(), chain_id=CHAIN_ID, verifying_contract=CONTRACT)
    other = recover_intent_signer(
        "Revoke", revoke(), signature, chain_id=CHAIN_ID + 1, verifying_contract=CONTRACT
    )
    assert other != signer


def test_signed_intent_body_is_the_api_shape() -> None:
    body = signed_intent_body(
        b"\x03" * 32, "Access", access(), chain_id=CHAIN_ID, verifying_contract=CONTRACT
    )
    assert set(body) == {"message", "signature"}
    assert body["message"]["fields"] == ["0x" + name_to_bytes32("income").hex()]
    assert body["signature"].startswith("0x") and len(body["signature"]) == 2 + 130
    signer = recover_intent_signer(
        "Access",
        body["message"],
        body["signature"],
        chain_id=CHAIN_ID,
        verifying_contract=CONTRACT,
    )
    assert signer == Account.from_key(b"\x03" * 32).address

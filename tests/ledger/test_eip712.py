"""The one EIP-712 implementation against its oracles: eth-account's general encoder and
recovery, and OpenZeppelin's rules for a signature's form."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys import KeyAPI
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import contract_errors as ce
from ledger import eip712
from ledger.codec import checksum_address
from ledger.intents import INTENTS, intent_digest, typed_data

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
    structs = dict(INTENTS[name].structs)

    def value(kind: str) -> Any:
        if kind.endswith("[]") and kind[:-2] in structs:
            return [value(kind[:-2]) for _ in range(draw(st.integers(0, 3)))]
        if kind in structs:
            return {field: value(inner) for field, inner in structs[kind]}
        return draw(_value(kind))

    return name, {field: value(kind) for field, kind in INTENTS[name].fields}


@settings(max_examples=300, deadline=None)
@given(_intents(), st.integers(min_value=1, max_value=2**64), _addresses)
def test_digest_equals_eth_account_for_every_intent_type(
    intent: tuple[str, dict[str, Any]], chain_id: int, contract: str
) -> None:
    name, message = intent
    document = typed_data(name, message, chain_id=chain_id, verifying_contract=contract)
    signable = encode_typed_data(full_message=document)

    fast = intent_digest(name, message, chain_id=chain_id, verifying_contract=contract)

    assert fast == keccak(b"\x19" + signable.version + signable.header + signable.body)
    assert eip712.domain_separator(chain_id, contract) == signable.header
    assert eip712.struct_hash(name, INTENTS[name].fields, message, INTENTS[name].structs) == (
        signable.body
    )


def _fields(spec: str) -> eip712.Fields:
    return tuple((p.split()[1], p.split()[0]) for p in (q.strip() for q in spec.split(",")))


#: Nested shapes: DESIGN's "Intents added" types with arrays of structs, and one that
#: nests two levels deep with a struct member beside an array of them (the referenced
#: types must be found through one another and sorted by name, not by first use).
_SERVICE_ITEM = _fields(
    "address department, bytes32[] fields, bytes32 purpose, uint64 duration, uint32 maxUses"
)
_BUNDLE_ITEM = _fields(
    "address department, bytes32[] fields, bytes32 purpose, uint64 validUntil, uint32 maxUses"
)
_NESTED: dict[str, tuple[eip712.Fields, eip712.Structs]] = {
    "DefineService": (
        _fields(
            "bytes32 service, string name, ServiceItem[] items, uint256 nonce, uint256 deadline"
        ),
        (("ServiceItem", _SERVICE_ITEM),),
    ),
    "GrantBundle": (
        _fields(
            "address resident, bytes32 service, BundleItem[] items, uint64 validFrom,"
            " uint256 nonce, uint256 deadline"
        ),
        (("BundleItem", _BUNDLE_ITEM),),
    ),
    "Outer": (
        _fields("Zeta single, Middle[] middles, bytes note"),
        (
            ("Zeta", _fields("bytes32[] words, bool flag, string label")),
            ("Middle", _fields("address who, Zeta[] zetas, Alpha alpha")),
            ("Alpha", _fields("uint8 small")),
        ),
    ),
}


def _nested_value(kind: str, structs: eip712.Structs, depth: int = 0) -> st.SearchStrategy[Any]:
    known = dict(structs)
    if kind.endswith("[]") and kind[:-2] in known:
        return st.lists(_nested_value(kind[:-2], structs, depth + 1), max_size=3 if depth else 4)
    if kind in known:
        return st.fixed_dictionaries(
            {name: _nested_value(k, structs, depth + 1) for name, k in known[kind]}
        )
    return _value(kind)


@st.composite
def _nested_messages(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(_NESTED)))
    fields, structs = _NESTED[name]
    return name, {field: draw(_nested_value(kind, structs)) for field, kind in fields}


@settings(max_examples=200, deadline=None)
@given(_nested_messages(), st.integers(min_value=1, max_value=2**64), _addresses)
def test_nested_struct_arrays_hash_as_eth_account_hashes_them(
    nested: tuple[str, dict[str, Any]], chain_id: int, contract: str
) -> None:
    name, message = nested
    fields, structs = _NESTED[name]
    document = eip712.typed_data(
        name, fields, message, chain_id=chain_id, verifying_contract=contract, structs=structs
    )
    signable = encode_typed_data(full_message=document)

    fast = eip712.digest(
        name, fields, message, chain_id=chain_id, verifying_contract=contract, structs=structs
    )

    assert fast == keccak(b"\x19" + signable.version + signable.header + signable.body)
    assert eip712.struct_hash(name, fields, message, structs) == signable.body


def test_a_nested_type_string_appends_its_structs_sorted_by_name() -> None:
    fields, structs = _NESTED["DefineService"]
    assert eip712.encode_type("DefineService", fields, structs) == (
        "DefineService(bytes32 service,string name,ServiceItem[] items,uint256 nonce,"
        "uint256 deadline)ServiceItem(address department,bytes32[] fields,bytes32 purpose,"
        "uint64 duration,uint32 maxUses)"
    )
    outer, deep = _NESTED["Outer"]
    assert eip712.encode_type("Outer", outer, deep) == (
        "Outer(Zeta single,Middle[] middles,bytes note)Alpha(uint8 small)"
        "Middle(address who,Zeta[] zetas,Alpha alpha)"
        "Zeta(bytes32[] words,bool flag,string label)"
    )
    # only the types referenced are served beside it, none it does not use
    assert list(eip712.types_of("Middle", deep[1][1], deep)) == ["Middle", "Alpha", "Zeta"]


def test_an_items_array_hashes_as_the_keccak_of_its_items_struct_hashes() -> None:
    fields, structs = _NESTED["DefineService"]
    item = {
        "department": checksum_address("0x" + "11" * 20),
        "fields": [b"\x01" * 32, b"\x02" * 32],
        "purpose": b"\x03" * 32,
        "duration": 86_400,
        "maxUses": 5,
    }
    item_hash = keccak(
        eip712.type_hash("ServiceItem", _SERVICE_ITEM)
        + bytes(12)
        + bytes.fromhex("11" * 20)
        + keccak(b"\x01" * 32 + b"\x02" * 32)
        + b"\x03" * 32
        + (86_400).to_bytes(32, "big")
        + (5).to_bytes(32, "big")
    )
    message = {
        "service": b"\x09" * 32,
        "name": "Newborn",
        "items": [item, item],
        "nonce": 1,
        "deadline": 2,
    }
    expected = keccak(
        eip712.type_hash("DefineService", fields, structs)
        + b"\x09" * 32
        + keccak(b"Newborn")
        + keccak(item_hash + item_hash)
        + (1).to_bytes(32, "big")
        + (2).to_bytes(32, "big")
    )
    assert eip712.struct_hash("DefineService", fields, message, structs) == expected
    with pytest.raises(ValueError, match="ServiceItem struct"):
        eip712.struct_hash("DefineService", fields, {**message, "items": [b"\x00" * 32]}, structs)


def test_a_signature_made_here_is_what_eth_account_makes_and_recovers() -> None:
    key = Account.create()
    name = "Revoke"
    message = {"resident": key.address, "consentId": 7, "nonce": 1, "deadline": 2**40}
    document = typed_data(name, message, chain_id=20260, verifying_contract=key.address)
    digest = intent_digest(name, message, chain_id=20260, verifying_contract=key.address)

    signature = eip712.sign(digest, bytes(key.key))

    assert signature == bytes(Account.unsafe_sign_hash(digest, key.key).signature)
    signable = encode_typed_data(full_message=document)
    assert Account.recover_message(signable, signature=signature) == key.address
    assert eip712.recover(digest, signature) == key.address
    assert eip712.address_of(bytes(key.key)) == key.address


def test_a_domain_without_verifying_contract_hashes_as_eth_account_does() -> None:
    fields = (("intent", "bytes32"), ("journalId", "uint256"))
    message = {"intent": b"\x07" * 32, "journalId": 42}
    document = eip712.typed_data("Acceptance", fields, message, chain_id=5)
    signable = encode_typed_data(full_message=document)

    digest = eip712.digest("Acceptance", fields, message, chain_id=5)

    assert digest == keccak(b"\x19" + signable.version + signable.header + signable.body)
    assert "verifyingContract" not in document["domain"]


def _signed() -> tuple[bytes, bytes, str]:
    key = Account.create()
    digest = keccak(b"an intent")
    return digest, eip712.sign(digest, bytes(key.key)), key.address


def _with(
    signature: bytes, *, r: int | None = None, s: int | None = None, v: int | None = None
) -> bytes:
    r = int.from_bytes(signature[:32]) if r is None else r
    s = int.from_bytes(signature[32:64]) if s is None else s
    v = signature[64] if v is None else v
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])


def test_the_malleable_twin_is_refused_as_openzeppelin_refuses_it() -> None:
    digest, signature, address = _signed()
    s = int.from_bytes(signature[32:64])
    twin = _with(signature, s=eip712.SECP256K1_N - s, v=55 - signature[64])

    # the twin is a valid secp256k1 signature of the same key: only the rule refuses it
    vrs = (twin[64] - 27, int.from_bytes(twin[:32]), int.from_bytes(twin[32:64]))
    public = KeyAPI.Signature(vrs=vrs).recover_public_key_from_msg_hash(digest)
    assert public.to_checksum_address() == address
    with pytest.raises(ce.ECDSAInvalidSignatureS) as refused:
        eip712.recover(digest, twin)
    assert refused.value.s == twin[32:64]
    assert "lower half" in eip712.signature_problem(twin)[1]  # type: ignore[index]


@pytest.mark.parametrize(
    ("change", "error", "sentence"),
    [
        (lambda sig: sig[:64], ce.ECDSAInvalidSignatureLength, "65 bytes"),
        (lambda sig: sig + b"\0", ce.ECDSAInvalidSignatureLength, "65 bytes"),
        (lambda sig: _with(sig, v=sig[64] - 27), ce.ECDSAInvalidSignature, "v must be 27 or 28"),
        (lambda sig: _with(sig, r=0), ce.ECDSAInvalidSignature, "out of range"),
        (lambda sig: _with(sig, r=eip712.SECP256K1_N), ce.ECDSAInvalidSignature, "out of range"),
        (lambda sig: _with(sig, s=0), ce.ECDSAInvalidSignature, "out of range"),
    ],
)
def test_a_signature_of_the_wrong_form_is_refused_with_the_contracts_error(
    change: Any, error: type[Exception], sentence: str
) -> None:
    digest, signature, _ = _signed()
    bad = change(signature)

    problem = eip712.signature_problem(bad)

    assert problem is not None and isinstance(problem[0], error) and sentence in problem[1]
    with pytest.raises(error):
        eip712.recover(digest, bad)


def test_a_signature_of_another_digest_recovers_to_someone_else() -> None:
    digest, signature, address = _signed()
    assert eip712.signature_problem(signature) is None
    assert eip712.recover(digest, signature) == address
    assert eip712.recover(keccak(b"another intent"), signature) != address


@settings(max_examples=50, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), digest=_words)
def test_every_signature_of_the_right_form_compacts_and_expands_back(
    key: bytes, digest: bytes
) -> None:
    try:
        signature = eip712.sign(digest, key)
    except ValueError:  # not a valid secret key
        return
    compact = eip712.compact_signature(signature)
    assert compact is not None
    r, vs = compact
    assert r == signature[:32] and len(vs) == 32
    assert int.from_bytes(vs) >> 255 == signature[64] - 27
    assert int.from_bytes(vs) & (2**255 - 1) == int.from_bytes(signature[32:64])
    assert eip712.expand_compact(r, vs) == signature


@pytest.mark.parametrize(
    ("change", "compactable"),
    [
        (lambda sig: sig[:64], False),
        (lambda sig: sig + b"\0", False),
        (lambda sig: _with(sig, v=sig[64] - 27), False),
        (lambda sig: _with(sig, v=29), False),
        (lambda sig: _with(sig, s=2**255), False),
        (lambda sig: _with(sig, s=eip712.SECP256K1_N // 2 + 1), True),  # refused on chain
        (lambda sig: _with(sig, r=0), True),  # refused on chain
    ],
)
def test_the_compact_form_carries_a_signature_exactly_or_not_at_all(
    change: Any, compactable: bool
) -> None:
    """A signature the compact form cannot carry byte for byte is not compacted (the
    relayer sends its batch in the 65-byte layout); one it carries comes back the same."""
    _, signature, _ = _signed()
    bad = change(signature)
    compact = eip712.compact_signature(bad)
    assert (compact is not None) is compactable
    if compact is not None:
        assert eip712.expand_compact(*compact) == bad

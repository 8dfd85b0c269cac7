"""EIP-712, once: type strings, ``hashStruct``, domain separators, digests, the
signature's form by OpenZeppelin's rules, and recovery.

Wallets sign these digests, the relayer and the audit recover them, the API checks
sign-in signatures with the same form rules, and the benchmarks sign with them too.
eth-account's ``encode_typed_data`` and ethers are the tests' oracles, never a second
path: the members are atomic (``address``, ``uintN``, ``bytes32``, ``bool``), dynamic
(``string``, ``bytes``) or arrays of either, or structs and arrays of structs named in
``structs`` (``DefineService``'s ``ServiceItem[]``), so the encoding is a few keccaks
over 32-byte words — about 20x faster than a general encoder, which matters because the
relayer hashes every intent it takes and an audit every intent on chain.

Nested structs follow EIP-712 as eth-account and ethers read it: a type's string is its
own followed by every struct type it references (directly or through another), sorted
by name; a struct member is its ``hashStruct``; an array is the keccak of its members'
encodings concatenated (``bytes32[]``: the packed words; ``ServiceItem[]``: the keccak
of the items' ``hashStruct`` concatenated).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import coincurve
from eth_utils import keccak, to_canonical_address

from ledger import contract_errors as ce
from ledger.codec import as_bytes, checksum, to_hex
from ledger.errors import ContractError

DOMAIN_NAME = "ResidentConsentLedger"
DOMAIN_VERSION = "1"

Fields = tuple[tuple[str, str], ...]
#: The struct types a type's members may name, by name (hashable, so type hashes stay
#: cached): ``(("ServiceItem", (("department", "address"), ...)),)``.
Structs = tuple[tuple[str, Fields], ...]

#: The intents' domain; the relayer's acceptances use it without ``verifyingContract``
#: (no contract checks them), which also keeps the two apart.
DOMAIN_FIELDS: Fields = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
)

#: secp256k1's group order: OpenZeppelin's ``ECDSA`` refuses ``s`` above half of it.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SIGNATURE_LENGTH = 65


def _base(kind: str) -> str:
    return kind[: kind.index("[")] if "[" in kind else kind


def referenced(name: str, fields: Fields, structs: Structs = ()) -> tuple[str, ...]:
    """The struct types ``name`` references, directly or through another, sorted by
    name (``name`` itself excluded)."""
    known = dict(structs)
    found: set[str] = set()
    pending = [_base(kind) for _, kind in fields]
    while pending:
        kind = pending.pop()
        if kind not in known or kind in found or kind == name:
            continue
        found.add(kind)
        pending += [_base(k) for _, k in known[kind]]
    return tuple(sorted(found))


def _encode_one(name: str, fields: Fields) -> str:
    return f"{name}({','.join(f'{t} {n}' for n, t in fields)})"


def encode_type(name: str, fields: Fields, structs: Structs = ()) -> str:
    """``Grant(address resident,...)``: the string whose keccak is the type hash; a type
    with struct members has the structs' strings appended, sorted by name
    (``DefineService(...,ServiceItem[] items,...)ServiceItem(address department,...)``)."""
    known = dict(structs)
    return _encode_one(name, fields) + "".join(
        _encode_one(other, known[other]) for other in referenced(name, fields, structs)
    )


@functools.lru_cache(maxsize=64)
def type_hash(name: str, fields: Fields, structs: Structs = ()) -> bytes:
    return keccak(text=encode_type(name, fields, structs))


def _word(kind: str, value: Any, structs: Structs = ()) -> bytes:
    if kind == "address":
        return bytes(12) + to_canonical_address(value)
    if kind == "bytes32":
        raw = as_bytes(value)
        if len(raw) != 32:
            raise ValueError(f"bytes32 value of {len(raw)} bytes")
        return raw
    if kind == "bytes32[]":
        return keccak(b"".join(_word("bytes32", v) for v in value))
    if kind == "string":
        return keccak(text=value)
    if kind == "bytes":
        return keccak(as_bytes(value))
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"bool value {value!r}")
        return int(value).to_bytes(32, "big")
    if kind.startswith("uint"):
        if isinstance(value, bool) or not 0 <= value < 1 << int(kind[4:] or 256):
            raise ValueError(f"{value!r} out of range for {kind}")
        return int(value).to_bytes(32, "big")
    if kind.endswith("[]"):
        if isinstance(value, str | bytes | bytearray | Mapping):
            raise ValueError(f"expected a list for {kind}")
        return keccak(b"".join(_word(kind[:-2], v, structs) for v in value))
    for struct, members in structs:
        if struct == kind:
            if not isinstance(value, Mapping):
                raise ValueError(f"expected a {kind} struct, got {value!r}")
            return struct_hash(kind, members, value, structs)
    raise ValueError(f"no encoding for {kind}")


def struct_hash(
    name: str, fields: Fields, message: Mapping[str, Any], structs: Structs = ()
) -> bytes:
    """``hashStruct(message)``; bytes as bytes or 0x-hex, integers as ints, structs as
    mappings of their members."""
    words = [type_hash(name, fields, structs)]
    words += [_word(kind, message[field], structs) for field, kind in fields]
    return keccak(b"".join(words))


def domain(chain_id: int, verifying_contract: str | None = None) -> dict[str, Any]:
    """The domain's values; without ``verifyingContract`` when there is none."""
    values: dict[str, Any] = {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id}
    if verifying_contract is not None:
        values["verifyingContract"] = checksum(verifying_contract)
    return values


def domain_fields(verifying_contract: str | None) -> Fields:
    return DOMAIN_FIELDS if verifying_contract is not None else DOMAIN_FIELDS[:3]


@functools.lru_cache(maxsize=64)
def domain_separator(chain_id: int, verifying_contract: str | None = None) -> bytes:
    return struct_hash(
        "EIP712Domain",
        domain_fields(verifying_contract),
        domain(chain_id, verifying_contract),
    )


def digest(
    name: str,
    fields: Fields,
    message: Mapping[str, Any],
    *,
    chain_id: int,
    verifying_contract: str | None = None,
    structs: Structs = (),
) -> bytes:
    """``keccak256(0x19 0x01 || domainSeparator || hashStruct(message))``: what is signed."""
    separator = domain_separator(chain_id, verifying_contract)
    return keccak(b"\x19\x01" + separator + struct_hash(name, fields, message, structs))


def typed_data(
    name: str,
    fields: Fields,
    message: Mapping[str, Any],
    *,
    chain_id: int,
    verifying_contract: str | None = None,
    structs: Structs = (),
) -> dict[str, Any]:
    """The full document, as eth-account's ``encode_typed_data(full_message=…)``,
    ethers and wallets take it: the primary type and every struct type it references."""
    return {
        "types": {
            "EIP712Domain": [{"name": n, "type": t} for n, t in domain_fields(verifying_contract)],
            **types_of(name, fields, structs),
        },
        "primaryType": name,
        "domain": domain(chain_id, verifying_contract),
        "message": dict(message),
    }


def types_of(name: str, fields: Fields, structs: Structs = ()) -> dict[str, list[dict[str, str]]]:
    """The ``types`` members of ``name`` (without ``EIP712Domain``): its own and those of
    every struct type it references."""
    known = dict(structs)
    return {
        kind: [{"name": n, "type": t} for n, t in (fields if kind == name else known[kind])]
        for kind in (name, *referenced(name, fields, structs))
    }


# ---------------------------------------------------------------------- signatures


def signature_problem(signature: bytes) -> tuple[ContractError, str] | None:
    """What OpenZeppelin's ``ECDSA.recover`` would refuse in a signature's form, as the
    contract's error and a sentence; ``None`` for 65 bytes ``r || s || v`` with ``v`` 27
    or 28, ``r`` in range and low ``s`` (no malleable twin)."""
    if len(signature) != SIGNATURE_LENGTH:
        return (
            ce.ECDSAInvalidSignatureLength(len(signature)),
            f"the signature must be {SIGNATURE_LENGTH} bytes (r, s, v), got {len(signature)}",
        )
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if s > SECP256K1_N // 2:
        return (
            ce.ECDSAInvalidSignatureS(signature[32:64]),
            "the signature is malleable (s must be in the lower half of the curve order)",
        )
    if v not in (27, 28):
        return ce.ECDSAInvalidSignature(), f"the signature's v must be 27 or 28, got {v}"
    if not 0 < r < SECP256K1_N or s == 0:
        return ce.ECDSAInvalidSignature(), "the signature's r or s is out of range"
    return None


def check_signature_form(signature: bytes) -> None:
    """Raise the contract's error for a signature :func:`signature_problem` refuses."""
    problem = signature_problem(signature)
    if problem is not None:
        raise problem[0]


def compact_signature(signature: bytes) -> tuple[bytes, bytes] | None:
    """EIP-2098's compact form ``(r, vs)`` of a 65-byte signature (``vs``: ``s`` with
    ``v - 27`` in its top bit), or ``None`` for one the form cannot carry exactly: not 65
    bytes, ``v`` neither 27 nor 28, or ``s`` with its top bit set. Every signature
    :func:`signature_problem` passes has the form; one it refuses for a high ``s`` below
    2^255 has it too (the contract refuses that one as it would the 65 bytes).
    :func:`expand_compact` gives the 65 bytes back."""
    if len(signature) != SIGNATURE_LENGTH or signature[64] not in (27, 28):
        return None
    if signature[32] & 0x80:
        return None
    vs = bytes([signature[32] | (signature[64] - 27) << 7]) + signature[33:64]
    return bytes(signature[:32]), vs


def expand_compact(r: bytes, vs: bytes) -> bytes:
    """The 65-byte ``r || s || v`` of a compact ``(r, vs)`` (:func:`compact_signature`)."""
    return bytes(r) + bytes([vs[0] & 0x7F]) + bytes(vs[1:]) + bytes([27 + (vs[0] >> 7)])


def recover(digest: bytes, signature: bytes) -> str:
    """The checksummed address that signed ``digest``, by OpenZeppelin's rules: the
    contract's error for a malformed signature or one that recovers to no key."""
    check_signature_form(signature)
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([signature[64] - 27]), digest, hasher=None
        )
    except ValueError as exc:  # no point on the curve for this r
        raise ce.ECDSAInvalidSignature() from exc
    return _address(public_key)


def sign(digest: bytes, private_key: bytes) -> bytes:
    """A 65-byte ``r || s || v`` signature of ``digest`` (``v`` 27/28, low ``s``: libsecp256k1
    signs canonically, as eth-account does)."""
    raw = _private_key(bytes(private_key)).sign_recoverable(digest, hasher=None)
    return raw[:64] + bytes([raw[64] + 27])


def address_of(private_key: bytes) -> str:
    """The checksummed address of a 32-byte private key."""
    return _address(_private_key(bytes(private_key)).public_key)


@functools.lru_cache(maxsize=256)
def _private_key(secret: bytes) -> coincurve.PrivateKey:
    # Remembered: a relayer signs every acceptance with one key, a benchmark a few.
    return coincurve.PrivateKey(secret)


def _address(public_key: coincurve.PublicKey) -> str:
    return checksum(to_hex(keccak(public_key.format(compressed=False)[1:])[12:]))

"""EIP-712 ``hashStruct`` and digest for the intent types, without a general encoder.

Every intent is a flat struct of atomic values (``address``, ``uintN``, ``bytes32``,
``bool``), dynamic ``string``/``bytes`` and ``bytes32[]``: the encoding is a few keccaks over
fixed 32-byte words. eth-account's general ``encode_typed_data`` builds and validates
the whole document first, about 20x slower; the relayer hashes every intent it takes
and an audit every intent on chain. Tests hold both to the same digests.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from eth_utils import keccak, to_canonical_address

from ledger.intents import DOMAIN_NAME, DOMAIN_VERSION, EIP712_DOMAIN_FIELDS, INTENTS, type_hash


@functools.cache
def _domain_type_hash() -> bytes:
    fields = ",".join(f"{t} {n}" for n, t in EIP712_DOMAIN_FIELDS)
    return keccak(text=f"EIP712Domain({fields})")


@functools.lru_cache(maxsize=64)
def domain_separator(chain_id: int, verifying_contract: str) -> bytes:
    return keccak(
        _domain_type_hash()
        + keccak(text=DOMAIN_NAME)
        + keccak(text=DOMAIN_VERSION)
        + chain_id.to_bytes(32, "big")
        + bytes(12)
        + to_canonical_address(verifying_contract)
    )


@functools.cache
def _type_hash(name: str) -> bytes:
    return type_hash(name)


def _word(kind: str, value: Any) -> bytes:
    if kind == "address":
        return bytes(12) + to_canonical_address(value)
    if kind == "bytes32":
        if len(value) != 32:
            raise ValueError(f"bytes32 value of {len(value)} bytes")
        return bytes(value)
    if kind == "bytes32[]":
        return keccak(b"".join(_word("bytes32", v) for v in value))
    if kind == "string":
        return keccak(text=value)
    if kind == "bytes":
        return keccak(bytes(value))
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"bool value {value!r}")
        return int(value).to_bytes(32, "big")
    if kind.startswith("uint"):
        if not 0 <= value < 1 << int(kind[4:] or 256):
            raise ValueError(f"{value} out of range for {kind}")
        return int(value).to_bytes(32, "big")
    raise ValueError(f"no encoding for {kind}")


def struct_hash(name: str, message: Mapping[str, Any]) -> bytes:
    """``hashStruct(message)`` of a normalised message (bytes as bytes, ints as ints)."""
    words = [_type_hash(name)]
    words += [_word(kind, message[field]) for field, kind in INTENTS[name].fields]
    return keccak(b"".join(words))


def digest(
    name: str, message: Mapping[str, Any], *, chain_id: int, verifying_contract: str
) -> bytes:
    """``keccak256(0x19 0x01 || domainSeparator || hashStruct(message))``."""
    return keccak(
        b"\x19\x01" + domain_separator(chain_id, verifying_contract) + struct_hash(name, message)
    )

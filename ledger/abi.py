"""The contracts' ABI, decoded and encoded with eth_abi directly: selectors, calldata,
view results and event logs.

web3's contract layer normalises every value on the way in and out, which costs more
than the EVM for big batches and long audits; these helpers take the artifacts' ABI
once (cached) and leave values as eth_abi gives them, with addresses checksummed.
``string`` values that are not UTF-8 decode with U+FFFD instead of raising.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from eth_abi import decoding, encoding
from eth_abi.base import parse_type_str
from eth_abi.codec import ABICodec
from eth_abi.registry import BaseEquals
from eth_abi.registry import registry as _default_registry
from eth_utils import keccak

from ledger.artifacts import load_artifact
from ledger.codec import as_bytes, checksum


class _LenientString(decoding.StringDecoder):
    """``string`` values with bytes that are not UTF-8 replaced (U+FFFD) instead of
    raising: a department name sent straight to the chain with bad bytes must not stop
    the indexer or the audit for good. Strings the project writes are always UTF-8,
    so this changes nothing for them."""

    @parse_type_str("string")
    def from_type_str(cls, abi_type: Any, registry: Any) -> _LenientString:  # type: ignore[override]
        return cls(handle_string_errors="replace")  # type: ignore[call-arg]


def _lenient_codec() -> ABICodec:
    registry = _default_registry.copy()
    registry.unregister("string")
    registry.register(
        BaseEquals("string"), encoding.TextStringEncoder, _LenientString, label="string"
    )
    return ABICodec(registry)


abi_decode = _lenient_codec().decode


@functools.cache
def function_codec(contract: str, function: str) -> tuple[bytes, tuple[str, ...]]:
    """Selector and ABI input types of a contract function (not overloaded)."""
    (entry,) = (
        item
        for item in load_artifact(contract).abi
        if item["type"] == "function" and item["name"] == function
    )
    types = tuple(abi_type(i) for i in entry["inputs"])
    return keccak(text=f"{function}({','.join(types)})")[:4], types


@functools.cache
def functions_by_selector(contract: str) -> dict[bytes, Mapping[str, Any]]:
    return {
        function_codec(contract, f["name"])[0]: f
        for f in load_artifact(contract).abi
        if f["type"] == "function"
    }


def named(param: Mapping[str, Any], value: Any, *, structs: type = dict) -> Any:
    """A decoded ABI value shaped as web3 shapes it: addresses checksummed, structs as
    dicts by component name (calldata) or as tuples (view results)."""
    kind = str(param["type"])
    if kind.endswith("]"):
        inner = {**param, "type": kind[: kind.rindex("[")]}
        return [named(inner, v, structs=structs) for v in value]
    if kind == "tuple":
        pairs = zip(param["components"], value, strict=True)
        if structs is dict:
            return {c["name"]: named(c, v) for c, v in pairs}
        return tuple(named(c, v, structs=structs) for c, v in pairs)
    if kind == "address":
        return checksum(value)
    return value


@functools.cache
def outputs(contract: str, function: str) -> list[Mapping[str, Any]]:
    (entry,) = (
        item
        for item in load_artifact(contract).abi
        if item["type"] == "function" and item["name"] == function
    )
    return list(entry["outputs"])


def abi_type(param: Mapping[str, Any]) -> str:
    """``tuple[]`` components spelled out, as eth_abi and selectors want them."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


@functools.cache
def _event_codec(
    signature: str, inputs: tuple[tuple[str, str, bool], ...]
) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    indexed = [(name, kind) for name, kind, is_indexed in inputs if is_indexed]
    data_names = [name for name, _, is_indexed in inputs if not is_indexed]
    data_types = [kind for _, kind, is_indexed in inputs if not is_indexed]
    return indexed, data_names, data_types


def decode_event_args(abi: Mapping[str, Any], topics: Sequence[Any], data: Any) -> dict[str, Any]:
    key = tuple((i["name"], abi_type(i), bool(i["indexed"])) for i in abi["inputs"])
    indexed, data_names, data_types = _event_codec(abi["name"], key)
    args: dict[str, Any] = {}
    for (name, kind), topic in zip(indexed, topics[1:], strict=True):
        raw = bytes(topic)
        # Indexed dynamic values are hashed into their topic; every indexed input here is static.
        args[name] = abi_decode([kind], raw)[0]
    values = abi_decode(data_types, bytes(data)) if data_types else ()
    for name, kind, value in zip(data_names, data_types, values, strict=True):
        if kind.startswith("("):  # a struct (``ServiceItem[]``): members by name
            (param,) = (i for i in abi["inputs"] if i["name"] == name)
            value = named(param, value)
        args[name] = value
    return {k: _plain(_checksummed(v)) for k, v in args.items()}


def _checksummed(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return checksum(value)
    return value


def revert_bytes(exc: Exception) -> bytes:
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return as_bytes(data)
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    return b""


def abi_value(kind: str, value: Any) -> Any:
    """Normalise a JSON-ish message value (0x-hex, checksummed or not) for web3's encoder."""
    if kind == "address":
        return checksum(value)
    if kind == "bytes32[]":
        return [as_bytes(v) for v in value]
    if kind.startswith("bytes"):
        return as_bytes(value)
    if kind == "string":
        return str(value)
    if kind == "bool":
        return bool(value)
    if isinstance(value, str):
        return int(value, 0)
    return int(value)


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return value

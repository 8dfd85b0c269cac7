"""The one codec for bytes and addresses at every boundary of the project.

Everything on the wire and in the event store is 0x-hex (DESIGN, "HTTP API");
everything inside is ``bytes``; addresses are EIP-55. Strict parsers raise
``ValueError`` naming what was wrong, so each caller can turn it into its own error
(``InvalidRecord``, ``InvalidIntent``, a 422); :func:`checksum` is the fast path for
addresses a node or eth_abi reports, which need no validation.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from eth_typing import ChecksumAddress
from eth_utils import (
    is_checksum_address,
    is_checksum_formatted_address,
    is_hex_address,
    to_checksum_address,
)

ZERO_ADDRESS = "0x" + "00" * 20
ZERO32 = b"\0" * 32


def to_hex(data: bytes | bytearray | memoryview) -> str:
    """``b"\\x01\\xab"`` → ``"0x01ab"`` (lower-case, always prefixed)."""
    return "0x" + bytes(data).hex()


def from_hex(value: str | bytes, *, length: int | None = None, what: str = "value") -> bytes:
    """Bytes from a 0x-prefixed hex string (or bytes, passed through), optionally of one length."""
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
    elif isinstance(value, str):
        if not value.startswith(("0x", "0X")):
            raise ValueError(f"{what} must be 0x-prefixed hex")
        body = value[2:]
        if len(body) % 2:
            raise ValueError(f"{what} has an odd number of hex digits")
        try:
            raw = bytes.fromhex(body)
        except ValueError as exc:
            raise ValueError(f"{what} is not hex") from exc
    else:
        raise ValueError(f"{what} must be bytes or a 0x-hex string, not {type(value).__name__}")
    if length is not None and len(raw) != length:
        raise ValueError(f"{what} must be {length} bytes, got {len(raw)}")
    return raw


def as_bytes(value: Any) -> bytes:
    """``bytes`` from bytes or 0x-hex (prefix optional), for values already validated
    upstream (a signed message's fields, a node's answers)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x").removeprefix("0X"))
    raise TypeError(f"expected bytes or 0x-hex, got {type(value).__name__}")


def checksum_address(address: str) -> str:
    """The EIP-55 form of an address; mixed-case input must carry a valid checksum."""
    if not isinstance(address, str):
        raise ValueError(f"not a 0x-hex address: {address!r}")
    return _checksum_address(address)


@functools.lru_cache(maxsize=1 << 16)
def _checksum_address(address: str) -> str:
    # Remembered: each check hashes the address twice, and a relayer or an audit sees
    # the same residents and departments over and over.
    if not address.startswith("0x") or not is_hex_address(address):
        raise ValueError(f"not a 0x-hex address: {address!r}")
    if is_checksum_formatted_address(address) and not is_checksum_address(address):
        raise ValueError(f"bad EIP-55 checksum (mixed case must be exact): {address!r}")
    return str(checksum(address))


@functools.lru_cache(maxsize=1 << 16)
def checksum(address: str) -> ChecksumAddress:
    """The EIP-55 form of a 0x-hex address as a node or eth_abi reports it: no case
    check, remembered (logs and calldata name the same accounts over and over)."""
    return to_checksum_address(address)


def lower_address(address: str) -> str:
    """The lower-case ``0x…`` form that DESIGN's AAD and HPKE ``info`` strings use."""
    return checksum_address(address).lower()


def dumps(value: Any) -> str:
    """Canonical JSON for stored documents (sorted keys, bytes as 0x-hex)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return to_hex(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")

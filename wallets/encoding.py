"""Small boundary helpers: 0x-hex byte strings and Ethereum addresses.

Everything on the wire is 0x-hex (DESIGN, "HTTP API"); everything inside the
wallet is ``bytes``. These helpers convert at the boundary and raise ``ValueError``
with a message naming what was wrong; callers translate that into their own
error (``InvalidRecord``, ``InvalidIntent``, ...).
"""

from __future__ import annotations

import functools

from eth_utils import (
    is_checksum_address,
    is_checksum_formatted_address,
    is_hex_address,
    to_checksum_address,
)


def to_hex(data: bytes) -> str:
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


def checksum_address(address: str) -> str:
    """The EIP-55 form of an address; mixed-case input must carry a valid checksum."""
    if not isinstance(address, str):
        raise ValueError(f"not a 0x-hex address: {address!r}")
    return _checksum_address(address)


@functools.lru_cache(maxsize=1 << 16)
def _checksum_address(address: str) -> str:
    # Remembered: each check hashes the address twice, and a relayer or an audit sees
    # the same residents and departments over and over.
    if not isinstance(address, str) or not address.startswith("0x") or not is_hex_address(address):
        raise ValueError(f"not a 0x-hex address: {address!r}")
    if is_checksum_formatted_address(address) and not is_checksum_address(address):
        raise ValueError(f"bad EIP-55 checksum (mixed case must be exact): {address!r}")
    return str(to_checksum_address(address))


def lower_address(address: str) -> str:
    """The lower-case ``0x…`` form that DESIGN's AAD and HPKE ``info`` strings use."""
    return checksum_address(address).lower()

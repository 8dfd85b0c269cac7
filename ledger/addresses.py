"""Checksummed addresses, remembered.

Logs, calldata and view results name the same contracts, residents and departments
over and over, and each EIP-55 checksum costs a keccak: the chain layer and the
contract client share this one cache."""

from __future__ import annotations

import functools

from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address


@functools.lru_cache(maxsize=1 << 16)
def checksum(address: str) -> ChecksumAddress:
    """The EIP-55 form of a 0x-hex address as a node or eth_abi reports it."""
    return to_checksum_address(address)

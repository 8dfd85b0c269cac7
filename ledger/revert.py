"""Turn revert data into the Python exception that names the contract's custom error."""

from __future__ import annotations

from eth_abi import decode
from eth_utils import keccak

from ledger.codec import checksum, to_hex
from ledger.contract_errors import BY_SELECTOR
from ledger.errors import ContractError, TransactionFailed

_ERROR_STRING = keccak(text="Error(string)")[:4]
_PANIC = keccak(text="Panic(uint256)")[:4]


def decode_revert(data: bytes) -> ContractError | TransactionFailed:
    """The exception for ``data`` (selector + ABI-encoded arguments) a contract reverted with."""
    selector, payload = bytes(data[:4]), bytes(data[4:])
    known = BY_SELECTOR.get(selector)
    if known is not None:
        cls, types = known
        try:
            values = decode(list(types), payload) if types else ()
        except Exception as exc:
            return TransactionFailed(f"malformed {cls.__name__} revert data: 0x{data.hex()}: {exc}")
        return cls(*(_normalise(t, v) for t, v in zip(types, values, strict=True)))
    if selector == _ERROR_STRING:
        return TransactionFailed(f"reverted: {decode(['string'], payload)[0]}")
    if selector == _PANIC:
        return TransactionFailed(f"panic 0x{decode(['uint256'], payload)[0]:02x}")
    if not data:
        return TransactionFailed("reverted without data (out of gas, or a failed call)")
    return TransactionFailed(f"reverted with unknown data {to_hex(data)}")


def _normalise(abi_type: str, value: object) -> object:
    if abi_type == "address" and isinstance(value, str):
        return checksum(value)
    return value

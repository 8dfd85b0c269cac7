"""Revert data becomes the exception named after the contract's custom error."""

from __future__ import annotations

from eth_abi import encode
from eth_utils import keccak

from ledger.contract_errors import ConsentLedgerStaleVersion, SignedIntentNonceUsed
from ledger.errors import TransactionFailed
from ledger.revert import decode_revert


def test_custom_error_decodes_to_same_named_exception_with_arguments() -> None:
    data = ConsentLedgerStaleVersion.selector + encode(
        ["address", "uint64", "uint64"], ["0x" + "ab" * 20, 3, 2]
    )
    error = decode_revert(data)
    assert isinstance(error, ConsentLedgerStaleVersion)
    assert error.arguments == {
        "resident": "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB",
        "current": 3,
        "given": 2,
    }
    assert str(error) == (
        "ConsentLedgerStaleVersion(resident=0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB,"
        " current=3, given=2)"
    )


def test_selector_is_keccak_of_the_solidity_signature() -> None:
    assert (
        SignedIntentNonceUsed.selector == keccak(text="SignedIntentNonceUsed(address,uint256)")[:4]
    )


def test_error_string_panic_empty_and_unknown_data_become_transaction_failed() -> None:
    string = keccak(text="Error(string)")[:4] + encode(["string"], ["boom"])
    panic = keccak(text="Panic(uint256)")[:4] + encode(["uint256"], [0x11])
    assert "boom" in str(decode_revert(string))
    assert "0x11" in str(decode_revert(panic))
    for data in (b"", b"\x01\x02\x03\x04", string, panic):
        assert isinstance(decode_revert(data), TransactionFailed)


def test_truncated_arguments_are_reported_not_raised() -> None:
    error = decode_revert(ConsentLedgerStaleVersion.selector + b"\x00" * 5)
    assert isinstance(error, TransactionFailed)
    assert "malformed" in str(error)

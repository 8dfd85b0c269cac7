"""The one codec: hex and bytes round-trip, addresses are EIP-55, bad input names itself."""

from __future__ import annotations

import pytest
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from ledger.codec import (
    as_bytes,
    checksum,
    checksum_address,
    dumps,
    from_hex,
    lower_address,
    to_hex,
)


@given(st.binary(max_size=100))
def test_bytes_survive_hex_both_ways(data: bytes) -> None:
    text = to_hex(data)
    assert text == "0x" + data.hex()
    assert from_hex(text) == data == as_bytes(text) == as_bytes(text[2:]) == as_bytes(data)


@pytest.mark.parametrize(
    ("value", "length", "message"),
    [
        ("01ab", None, "0x-prefixed"),
        ("0x1", None, "odd number"),
        ("0xzz", None, "not hex"),
        ("0x01", 2, "must be 2 bytes, got 1"),
        (7, None, "not int"),
    ],
)
def test_bad_hex_is_refused_with_what_was_wrong(
    value: object, length: int | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        from_hex(value, length=length, what="the thing")  # type: ignore[arg-type]


def test_an_address_in_any_valid_case_becomes_its_checksum_form() -> None:
    address = Account.create().address
    assert checksum_address(address.lower()) == address == checksum(address.lower())
    assert checksum_address(address.upper().replace("0X", "0x")) == address
    assert lower_address(address) == address.lower()


def test_a_mixed_case_address_with_a_wrong_checksum_is_refused() -> None:
    address = Account.create().address
    flipped = next(
        address[:i] + address[i].swapcase() + address[i + 1 :]
        for i in range(2, 42)
        if address[i].isalpha()
    )
    with pytest.raises(ValueError, match="checksum"):
        checksum_address(flipped)
    with pytest.raises(ValueError, match="not a 0x-hex address"):
        checksum_address(address[2:])


def test_stored_json_is_canonical_with_bytes_as_hex() -> None:
    assert dumps({"b": b"\x01", "a": [1, b""]}) == '{"a":[1,"0x"],"b":"0x01"}'
    with pytest.raises(TypeError):
        dumps({"x": object()})

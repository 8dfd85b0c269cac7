"""Shapes of :mod:`api.routers.auth`: sign-in challenges and bearer tokens."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from eth_utils import is_checksum_address, to_checksum_address
from pydantic import AfterValidator, BaseModel, Field

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def _address(value: str) -> str:
    """A 0x-prefixed 20-byte hex address; mixed case must be a valid EIP-55 checksum."""
    if not _HEX_ADDRESS.fullmatch(value):
        raise ValueError("not a 0x-prefixed 20-byte hex address")
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise ValueError("mixed-case address with a wrong EIP-55 checksum")
    return str(to_checksum_address(value))


Address = Annotated[str, AfterValidator(_address)]


class ChallengeIn(BaseModel):
    address: Address


class ChallengeOut(BaseModel):
    message: str
    nonce: str
    expires_at: int


class TokenIn(BaseModel):
    address: Address
    message: str = Field(max_length=4096)
    signature: str = Field(pattern=r"^0x([0-9a-fA-F]{2})*$", max_length=2 + 2 * 128)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    roles: list[str]

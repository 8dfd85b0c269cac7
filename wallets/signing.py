"""Signing and recovering the EIP-712 intents of :mod:`ledger.intents`, in the wallet.

The types, digests and signature rules are the protocol's (:mod:`ledger.intents`,
:mod:`ledger.eip712`); this module checks messages at the wallet's boundary and turns
what is wrong into :class:`~wallets.errors.InvalidIntent` or
:class:`~wallets.errors.InvalidSignature`:

- messages use Python ``int``, ``bytes`` and addresses (any valid case; mixed case
  must carry a correct EIP-55 checksum); ``bytes``/``bytesN`` fields also accept
  0x-hex strings. Everything is checked against the field's Solidity type (lengths,
  integer ranges) before hashing, so a malformed message raises instead of silently
  hashing to something no contract will accept.
- signatures are 65 bytes ``r || s || v`` with ``v`` in {27, 28} and low ``s``;
  :func:`recover_intent_signer` refuses anything else, as OpenZeppelin's
  ``ECDSA.recover`` does on chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger import eip712, intents
from ledger.codec import checksum_address, from_hex, to_hex
from ledger.errors import ContractError
from wallets.errors import InvalidIntent, InvalidSignature

SIGNATURE_LENGTH = eip712.SIGNATURE_LENGTH

PrivateKeyLike = bytes | str | LocalAccount


def _key_bytes(private_key: PrivateKeyLike) -> bytes:
    if isinstance(private_key, LocalAccount):
        return bytes(private_key.key)
    if isinstance(private_key, str):
        return from_hex(private_key, length=32, what="private key")
    return bytes(private_key)


def address_of(private_key: PrivateKeyLike) -> str:
    """The checksummed address of a private key (bytes, 0x-hex) or a ``LocalAccount``."""
    if isinstance(private_key, LocalAccount):
        return str(private_key.address)
    return eip712.address_of(_key_bytes(private_key))


def normalize_message(name: str, message: Mapping[str, Any]) -> dict[str, Any]:
    """``message`` with every field checked and converted to its canonical Python form."""
    try:
        return intents.normalize_message(name, message)
    except ValueError as exc:
        raise InvalidIntent(str(exc)) from exc


def message_to_json(name: str, message: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON form the API takes inside ``{"message": ...}``: bytes as 0x-hex."""
    try:
        return intents.message_to_json(name, message)
    except ValueError as exc:
        raise InvalidIntent(str(exc)) from exc


def _checked_domain(chain_id: int, verifying_contract: str) -> str:
    """The checksummed verifying contract, once the domain's two values are valid."""
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
        raise InvalidIntent(f"chain_id must be a positive integer, got {chain_id!r}")
    try:
        return checksum_address(verifying_contract)
    except ValueError as exc:
        raise InvalidIntent(f"verifying_contract: {exc}") from exc


def intent_typed_data(
    name: str, message: Mapping[str, Any], *, chain_id: int, verifying_contract: str
) -> dict[str, Any]:
    """The full EIP-712 document (normalised message), as eth-account and ethers take it."""
    contract = _checked_domain(chain_id, verifying_contract)
    return intents.typed_data(
        name, normalize_message(name, message), chain_id=chain_id, verifying_contract=contract
    )


def intent_digest(
    name: str, message: Mapping[str, Any], *, chain_id: int, verifying_contract: str
) -> bytes:
    """``keccak256(0x19 0x01 || domainSeparator || hashStruct(message))`` — what is signed."""
    contract = _checked_domain(chain_id, verifying_contract)
    normalized = normalize_message(name, message)
    return intents.intent_digest(name, normalized, chain_id=chain_id, verifying_contract=contract)


def sign_intent(
    private_key: PrivateKeyLike,
    name: str,
    message: Mapping[str, Any],
    *,
    chain_id: int,
    verifying_contract: str,
) -> bytes:
    """A 65-byte ``r || s || v`` signature (``v`` 27/28, low ``s``) over the intent."""
    digest = intent_digest(name, message, chain_id=chain_id, verifying_contract=verifying_contract)
    return eip712.sign(digest, _key_bytes(private_key))


def check_signature(signature: bytes | str) -> bytes:
    """The 65 signature bytes, if their form is one OpenZeppelin accepts; else
    :class:`InvalidSignature` saying why."""
    try:
        raw = from_hex(signature, what="signature")
    except ValueError as exc:
        raise InvalidSignature(str(exc)) from exc
    problem = eip712.signature_problem(raw)
    if problem is not None:
        raise InvalidSignature(problem[1])
    return raw


def recover_intent_signer(
    name: str,
    message: Mapping[str, Any],
    signature: bytes | str,
    *,
    chain_id: int,
    verifying_contract: str,
) -> str:
    """The checksummed address that signed; :class:`InvalidSignature` if malformed."""
    raw = check_signature(signature)
    digest = intent_digest(name, message, chain_id=chain_id, verifying_contract=verifying_contract)
    try:
        return eip712.recover(digest, raw)
    except ContractError as exc:
        raise InvalidSignature("signature does not recover to any key") from exc


def signed_intent_body(
    private_key: PrivateKeyLike,
    name: str,
    message: Mapping[str, Any],
    *,
    chain_id: int,
    verifying_contract: str,
) -> dict[str, Any]:
    """``{"message": ..., "signature": "0x..."}``, the body of every signed write."""
    signature = sign_intent(
        private_key, name, message, chain_id=chain_id, verifying_contract=verifying_contract
    )
    return {"message": message_to_json(name, message), "signature": to_hex(signature)}

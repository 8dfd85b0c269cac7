"""Signing and recovering the EIP-712 intents of :mod:`ledger.intents`.

The types come from :func:`ledger.intents.typed_data` and nowhere else; this module
only normalises messages at the boundary and drives eth-account:

- messages use Python ``int``, ``bytes`` and addresses (any valid case; mixed case
  must carry a correct EIP-55 checksum); ``bytes``/``bytesN`` fields also accept
  0x-hex strings. Everything is checked against the field's Solidity type (lengths,
  integer ranges) before hashing, so a malformed message raises
  :class:`~wallets.errors.InvalidIntent` instead of silently hashing to something
  no contract will accept.
- signatures are 65 bytes ``r || s || v`` with ``v`` in {27, 28} and low ``s``
  (eth-account signs that way); :func:`recover_intent_signer` refuses anything
  else, as OpenZeppelin's ``ECDSA.recover`` does on chain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount

from ledger.intents import INTENTS, typed_data
from wallets import eip712
from wallets.encoding import checksum_address, from_hex, to_hex
from wallets.errors import InvalidIntent, InvalidSignature

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SIGNATURE_LENGTH = 65

PrivateKeyLike = bytes | str | LocalAccount


def address_of(private_key: PrivateKeyLike) -> str:
    """The checksummed address of a private key (bytes, 0x-hex) or a ``LocalAccount``."""
    if isinstance(private_key, LocalAccount):
        return str(private_key.address)
    return str(Account.from_key(private_key).address)


def normalize_message(name: str, message: Mapping[str, Any]) -> dict[str, Any]:
    """``message`` with every field checked and converted to its canonical Python form."""
    intent = INTENTS.get(name)
    if intent is None:
        raise InvalidIntent(f"unknown intent {name!r}; known: {sorted(INTENTS)}")
    missing = set(intent.field_names) - set(message)
    extra = set(message) - set(intent.field_names)
    if missing or extra:
        raise InvalidIntent(
            f"{name} message fields mismatch: missing {sorted(missing)}, unexpected {sorted(extra)}"
        )
    return {
        field: _normalize_value(solidity_type, message[field], f"{name}.{field}")
        for field, solidity_type in intent.fields
    }


def message_to_json(name: str, message: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON form the API takes inside ``{"message": ...}``: bytes as 0x-hex."""
    return {k: _json_value(v) for k, v in normalize_message(name, message).items()}


def intent_typed_data(
    name: str, message: Mapping[str, Any], *, chain_id: int, verifying_contract: str
) -> dict[str, Any]:
    """The full EIP-712 document (normalised message), as eth-account and ethers take it."""
    contract = _checked_domain(chain_id, verifying_contract)
    return typed_data(
        name, normalize_message(name, message), chain_id=chain_id, verifying_contract=contract
    )


def _checked_domain(chain_id: int, verifying_contract: str) -> str:
    """The checksummed verifying contract, once the domain's two values are valid."""
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
        raise InvalidIntent(f"chain_id must be a positive integer, got {chain_id!r}")
    try:
        return checksum_address(verifying_contract)
    except ValueError as exc:
        raise InvalidIntent(f"verifying_contract: {exc}") from exc


def _signable(
    name: str, message: Mapping[str, Any], chain_id: int, verifying_contract: str
) -> SignableMessage:
    document = intent_typed_data(
        name, message, chain_id=chain_id, verifying_contract=verifying_contract
    )
    return encode_typed_data(full_message=document)


def intent_digest(
    name: str, message: Mapping[str, Any], *, chain_id: int, verifying_contract: str
) -> bytes:
    """``keccak256(0x19 0x01 || domainSeparator || hashStruct(message))`` — what is signed."""
    contract = _checked_domain(chain_id, verifying_contract)
    normalized = normalize_message(name, message)
    return eip712.digest(name, normalized, chain_id=chain_id, verifying_contract=contract)


def sign_intent(
    private_key: PrivateKeyLike,
    name: str,
    message: Mapping[str, Any],
    *,
    chain_id: int,
    verifying_contract: str,
) -> bytes:
    """A 65-byte ``r || s || v`` signature (``v`` 27/28, low ``s``) over the intent."""
    signable = _signable(name, message, chain_id, verifying_contract)
    key = private_key.key if isinstance(private_key, LocalAccount) else private_key
    signed = Account.sign_message(signable, key)
    signature = bytes(signed.signature)
    _check_signature_form(signature)  # eth-account guarantees it; keep the promise explicit
    return signature


def recover_intent_signer(
    name: str,
    message: Mapping[str, Any],
    signature: bytes | str,
    *,
    chain_id: int,
    verifying_contract: str,
) -> str:
    """The checksummed address that signed; :class:`InvalidSignature` if malformed."""
    try:
        raw = from_hex(signature, length=SIGNATURE_LENGTH, what="signature")
    except ValueError as exc:
        raise InvalidSignature(str(exc)) from exc
    _check_signature_form(raw)
    signable = _signable(name, message, chain_id, verifying_contract)
    try:
        return str(Account.recover_message(signable, signature=raw))
    except Exception as exc:  # eth_keys raises BadSignature/ValidationError for no point
        raise InvalidSignature(f"signature does not recover to any key: {exc}") from exc


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


def _check_signature_form(signature: bytes) -> None:
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        raise InvalidSignature(f"signature v must be 27 or 28, got {v}")
    if not 0 < r < SECP256K1_N or not 0 < s <= SECP256K1_N // 2:
        raise InvalidSignature("signature r/s out of range or s not in the lower half (malleable)")


def _normalize_value(solidity_type: str, value: Any, where: str) -> Any:
    if solidity_type.endswith("[]"):
        if not isinstance(value, Sequence) or isinstance(value, str | bytes | bytearray):
            raise InvalidIntent(f"{where}: expected a list for {solidity_type}")
        item_type = solidity_type[:-2]
        return [_normalize_value(item_type, item, f"{where}[{i}]") for i, item in enumerate(value)]
    if solidity_type == "address":
        try:
            return checksum_address(value)
        except ValueError as exc:
            raise InvalidIntent(f"{where}: {exc}") from exc
    if solidity_type == "string":
        if not isinstance(value, str):
            raise InvalidIntent(f"{where}: expected a string")
        return value
    if solidity_type == "bool":
        if not isinstance(value, bool):
            raise InvalidIntent(f"{where}: expected a bool")
        return value
    if solidity_type.startswith("bytes"):
        size = int(solidity_type[5:]) if solidity_type != "bytes" else None
        try:
            return from_hex(value, length=size, what=where)
        except ValueError as exc:
            raise InvalidIntent(str(exc)) from exc
    if solidity_type.startswith(("uint", "int")):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidIntent(f"{where}: expected an int for {solidity_type}")
        signed = solidity_type.startswith("int")
        bits = int(solidity_type[3 if signed else 4 :] or 256)
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)
        if not low <= value < high:
            raise InvalidIntent(f"{where}: {value} out of range for {solidity_type}")
        return value
    raise InvalidIntent(f"{where}: unsupported type {solidity_type}")


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return to_hex(value)
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value

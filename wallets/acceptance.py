"""Checking the relayer's acceptance of an intent (:mod:`ledger.acceptance`) offline.

The wallet keeps an acceptance only once its signature recovers to the relayer it
names and it is about the intent, chain and relayer the wallet sent to: it is the
signer's evidence that the relayer took the intent, should it never reach the chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger import eip712
from ledger.acceptance import Acceptance
from ledger.codec import checksum_address, to_hex
from ledger.errors import ContractError
from wallets.errors import WalletError


class InvalidAcceptance(WalletError):
    """An acceptance that is malformed, not signed by the relayer it names, or not about
    the intent (or chain) the caller sent."""


def parse_acceptance(document: Acceptance | Mapping[str, Any]) -> Acceptance:
    if isinstance(document, Acceptance):
        return document
    try:
        return Acceptance.from_json(document)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidAcceptance(f"not an acceptance: {exc}") from exc


def verify_acceptance(
    document: Acceptance | Mapping[str, Any],
    *,
    intent: bytes | None = None,
    chain_id: int | None = None,
    relayer: str | None = None,
) -> Acceptance:
    """The acceptance, once its signature recovers to the relayer it names and it is about
    ``intent`` on ``chain_id`` (and by ``relayer``) where given; else
    :class:`InvalidAcceptance`."""
    a = parse_acceptance(document)
    try:
        signer = eip712.recover(a.digest(), a.signature)
    except ContractError as exc:  # malformed, or no point on the curve
        raise InvalidAcceptance(f"the acceptance's signature does not recover: {exc}") from exc
    if signer != a.relayer:
        raise InvalidAcceptance(f"the acceptance names relayer {a.relayer} but {signer} signed it")
    if intent is not None and a.intent != bytes(intent):
        raise InvalidAcceptance(
            f"the acceptance is for intent {to_hex(a.intent)}, not the one sent ({to_hex(intent)})"
        )
    if chain_id is not None and a.chain_id != chain_id:
        raise InvalidAcceptance(f"the acceptance is for chain {a.chain_id}, not {chain_id}")
    if relayer is not None and a.relayer != checksum_address(relayer):
        raise InvalidAcceptance(f"the acceptance is by {a.relayer}, not the relayer {relayer}")
    return a

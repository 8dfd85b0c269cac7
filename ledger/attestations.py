"""Issuers' attestations on chain: what the relayer checks before relaying an ``Attest``,
and what an audit checks of each one recorded.

An ``Attest`` carries no nonce and no deadline (DESIGN fixes its fields). The directory
dates it instead: it records the attestation under its EIP-712 digest at the block's
time, judges the issuer's trust at that time, refuses an ``issuedAt`` further than
:data:`ledger.intents.ATTEST_TIME_WINDOW` from it and refuses the same digest twice. So
a key distrusted since cannot backdate, and a replay is refused with
``ConsentDirectoryAttestationRecorded`` (409), never recorded twice.

:func:`check_attest` runs those checks against the head block, so a refusal costs no gas
and answers at once with the contract's own exception. :func:`attestation_problems`
re-derives them from the chain's events alone, for ``GET /audit/verify``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ledger import contract_errors as ce
from ledger.client import LedgerClient
from ledger.codec import as_bytes
from ledger.intents import ATTEST_TIME_WINDOW
from ledger.types import SignedIntent

if TYPE_CHECKING:
    from ledger.audit import ChainEvent


def attestation_digest(client: LedgerClient, intent: SignedIntent) -> bytes:
    """The EIP-712 digest the directory records ``intent`` under."""
    return client.intent_digest(intent.name, intent.message)


def replay_key(client: LedgerClient, intent: SignedIntent) -> int:
    """What makes an intent unique for its signer: its nonce, or an attestation's digest."""
    if "nonce" in intent.message:
        return int(intent.message["nonce"])
    return int.from_bytes(attestation_digest(client, intent), "big")


def check_attest(client: LedgerClient, intent: SignedIntent, signer: str, now: int) -> None:
    """Raise the directory's exception if ``recordAttestation`` would refuse ``intent``
    at a block of time ``now`` (``signer``: whom the signature recovers to)."""
    message = intent.message
    issuer = str(message["issuer"])
    if signer != issuer:
        raise ce.SignedIntentWrongSigner(issuer, signer)
    issued_at, expires_at = int(message["issuedAt"]), int(message["expiresAt"])
    if abs(issued_at - now) > ATTEST_TIME_WINDOW:
        raise ce.ConsentDirectoryAttestationTime(issued_at, now)
    if expires_at <= issued_at or expires_at <= now:
        raise ce.ConsentDirectoryAttestationPeriod(issued_at, expires_at)
    field = message["field"]
    field_id = as_bytes(field) if isinstance(field, str) else bytes(field)
    if not client.is_trusted_issuer(issuer, field_id, now):
        raise ce.ConsentDirectoryUntrustedIssuer(issuer, field_id)
    digest = attestation_digest(client, intent)
    if client.attestation_recorded_at(digest):
        raise ce.ConsentDirectoryAttestationRecorded(digest)


def attestation_problems(found: Iterable[ChainEvent]) -> Iterator[tuple[str, ChainEvent]]:
    """Each ``AttestationRecorded`` among ``found`` (every event from the deployment on, in
    chain order) that is not dated by its block, lies outside the window of it, or names
    an issuer the ``IssuerTrusted``/``IssuerDistrusted`` events before it say was not
    trusted for the field at that time."""
    yield from AttestationReplay().feed(found)


class AttestationReplay:
    """:func:`attestation_problems` fed the log a part at a time, in chain order."""

    def __init__(self) -> None:
        self.open_since: dict[tuple[str, bytes], int] = {}

    def feed(self, found: Iterable[ChainEvent]) -> list[tuple[str, ChainEvent]]:
        open_since = self.open_since
        problems: list[tuple[str, ChainEvent]] = []
        for item in found:
            args = item.event.args
            name = item.event.name
            if name == "IssuerTrusted":
                open_since[(args["issuer"], bytes(args["field"]))] = int(args["since"])
            elif name == "IssuerDistrusted":
                open_since.pop((args["issuer"], bytes(args["field"])), None)
            elif name == "AttestationRecorded":
                problem = _recorded_problem(args, item.block_timestamp, open_since)
                if problem:
                    problems.append((f"attestation {bytes(args['digest']).hex()}: {problem}", item))
        return problems


def _recorded_problem(
    args: Mapping[str, Any], block_time: int, open_since: Mapping[tuple[str, bytes], int]
) -> str | None:
    recorded_at = int(args["recordedAt"])
    issued_at = int(args["issuedAt"])
    if recorded_at != block_time:
        return f"recorded at {recorded_at}, in a block of time {block_time}"
    if abs(issued_at - recorded_at) > ATTEST_TIME_WINDOW:
        return f"issued at {issued_at}, beyond {ATTEST_TIME_WINDOW} s of {recorded_at}"
    key = (str(args["issuer"]), bytes(args["field"]))
    since = open_since.get(key)
    if since is None or since > recorded_at:
        return f"{key[0]} was not trusted for the field at {recorded_at}"
    return None

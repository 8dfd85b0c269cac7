"""What ``GET /audit/verify`` checks of services and bundles, from the chain's events and
the intents decoded from its calldata alone.

A bundle's consents are logged as ``ConsentGranted`` events like any other, but no
``Grant`` names them: the resident signed one ``GrantBundle`` over all its items. So
:func:`bundle_problems` replays the log in chain order and holds each one to what made it:

- **Every consent was signed.** A ``ConsentGranted`` is the outcome of a ``Grant``, or
  one of the consents the ``BundleGranted`` after it in its transaction announces;
  anything else is a consent nobody signed (``consent_not_signed``).
- **A bundle's consents are its resident's signed items.** Its ``GrantBundle`` (in the
  transaction's calldata, recovered with the intent registry) was signed by the
  bundle's resident, names its service and as many items as it has consents, and each
  consent's terms equal its item (``validFrom`` from the bundle); else
  ``bundle_not_signed`` or ``bundle_terms_differ``.
- **Each consent fitted its service item and purpose policy at its block**: the service
  as the ``ServiceDefined`` events before it last defined it (a later redefinition binds
  later bundles only) and the policy the ``PurposePolicySet`` events before it set —
  same department and purpose, fields a subset of both, window within the item's
  duration and the policy's longest, uses within the cap (``bundle_not_allowed``).
- **A revocation ends exactly its bundle.** A ``BundleRevoked`` names a bundle granted
  before and not yet revoked, comes with a ``RevokeBundle`` its resident signed, and the
  ``ConsentRevoked`` events just before it are exactly that bundle's consents still in
  force (``bundle_revocation_wrong``).

The intents come in ``signed``, keyed by the (block, log index) of the event an
intent's success logged, with the address its signature recovers to (``None`` when it
recovers to nobody): the audit's signature check fills it, once per intent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ledger.types import ConsentTerms, SignedIntent

if TYPE_CHECKING:
    from ledger.audit import ChainEvent

#: The intent (and whom its signature recovers to) behind the event at (block, log index).
Signed = Mapping[tuple[int, int], tuple[SignedIntent, str | None]]
#: One finding: its kind, what is wrong, and the event it is about.
Finding = tuple[str, str, "ChainEvent"]

_NO_REQUEST = bytes(32)


@dataclass(frozen=True)
class ServiceItem:
    """One item of a service as a ``ServiceDefined`` event defined it."""

    department: str
    fields: frozenset[bytes]
    purpose: bytes
    duration: int
    max_uses: int

    @classmethod
    def from_event(cls, item: Mapping[str, Any]) -> ServiceItem:
        return cls(
            str(item["department"]),
            frozenset(bytes(f) for f in item["fields"]),
            bytes(item["purpose"]),
            int(item["duration"]),
            int(item["maxUses"]),
        )


@dataclass(frozen=True)
class Policy:
    """A purpose's policy as the last ``PurposePolicySet`` set it (none: no limit)."""

    fields: frozenset[bytes] | None
    max_duration: int


def fit_problem(terms: ConsentTerms, item: ServiceItem, policy: Policy | None) -> str | None:
    """Why a bundle consent's ``terms`` are wider than its service ``item`` and its
    purpose's ``policy`` allow, as the directory's ``bundleItemError`` judges them."""
    if (terms.department, terms.purpose) != (item.department, item.purpose):
        return "another department or purpose than its service item"
    granted = set(terms.fields)
    if not granted <= item.fields:
        return "fields outside its service item"
    if policy is not None and policy.fields is not None and not granted <= policy.fields:
        return "fields its purpose's policy does not allow"
    window = terms.valid_until - terms.valid_from
    limit = item.duration
    if policy is not None and policy.max_duration and policy.max_duration < limit:
        limit = policy.max_duration
    if window <= 0 or window > limit:
        return f"a window of {window} s, beyond the {limit} s allowed"
    if item.max_uses and not 0 < terms.max_uses <= item.max_uses:
        return f"{terms.max_uses or 'unlimited'} uses, beyond the cap of {item.max_uses}"
    return None


def signed_terms(intent: SignedIntent, index: int) -> ConsentTerms:
    """The terms item ``index`` of a ``GrantBundle`` grants."""
    message = intent.message
    item = message["items"][index]
    return ConsentTerms.from_event(
        {
            "resident": message["resident"],
            "department": item["department"],
            "fields": item["fields"],
            "purpose": item["purpose"],
            "validFrom": message["validFrom"],
            "validUntil": item["validUntil"],
            "maxUses": item["maxUses"],
        }
    )


@dataclass
class _Bundle:
    resident: str
    first: int
    count: int
    revoked: bool = False

    @property
    def consents(self) -> range:
        return range(self.first, self.first + self.count)


@dataclass
class _Replay:
    """The state the events so far leave: services, policies, consents, bundles."""

    signed: Signed
    services: dict[bytes, tuple[ServiceItem, ...]] = field(default_factory=dict)
    policies: dict[bytes, Policy] = field(default_factory=dict)
    terms: dict[int, ConsentTerms] = field(default_factory=dict)
    revoked_at: dict[int, tuple[int, int]] = field(default_factory=dict)
    bundles: dict[int, _Bundle] = field(default_factory=dict)
    #: This transaction's consents no ``Grant`` explains, awaiting their ``BundleGranted``.
    unclaimed: dict[int, ChainEvent] = field(default_factory=dict)
    #: This transaction's ``ConsentRevoked`` events since its last bundle revocation.
    segment: list[ChainEvent] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def problem(self, kind: str, detail: str, item: ChainEvent) -> None:
        self.findings.append((kind, detail, item))

    def end_transaction(self) -> None:
        for consent_id, item in self.unclaimed.items():
            self.problem(
                "consent_not_signed",
                f"consent {consent_id} was granted by neither a Grant nor a bundle",
                item,
            )
        self.unclaimed.clear()
        self.segment.clear()


def bundle_problems(found: Iterable[ChainEvent], signed: Signed) -> list[Finding]:
    """Every finding of the module's checks over ``found`` (every event from the
    deployment on, in chain order), ``signed`` holding their transactions' intents."""
    replay = BundleReplay(signed)
    return [*replay.feed(found), *replay.finish()]


class BundleReplay:
    """:func:`bundle_problems` fed the log a part at a time (whole transactions), in
    chain order; ``signed`` need only hold the intents of the part being fed."""

    def __init__(self, signed: Signed) -> None:
        self.replay = _Replay(signed)
        self.tx_hash: str | None = None

    def feed(self, found: Iterable[ChainEvent]) -> list[Finding]:
        replay = self.replay
        for item in found:
            if item.tx_hash != self.tx_hash:
                replay.end_transaction()
                self.tx_hash = item.tx_hash
            _apply(replay, item)
        return self._drain()

    def finish(self) -> list[Finding]:
        self.replay.end_transaction()
        return self._drain()

    def _drain(self) -> list[Finding]:
        findings = list(self.replay.findings)
        self.replay.findings.clear()
        return findings


def _apply(replay: _Replay, item: ChainEvent) -> None:
    args, name = item.event.args, item.event.name
    at = (item.block_number, item.log_index)
    if name == "ServiceDefined":
        items = tuple(ServiceItem.from_event(i) for i in args["items"])
        replay.services[bytes(args["service"])] = items
    elif name == "PurposePolicySet":
        allowed = frozenset(bytes(f) for f in args["fields"])
        replay.policies[bytes(args["purpose"])] = Policy(allowed or None, int(args["maxDuration"]))
    elif name == "ConsentGranted":
        consent_id = int(args["consentId"])
        replay.terms[consent_id] = ConsentTerms.from_event(args)
        by = replay.signed.get(at)
        if by is None or by[0].name != "Grant":
            replay.unclaimed[consent_id] = item
    elif name == "ConsentRevoked":
        replay.revoked_at.setdefault(int(args["consentId"]), at)
        replay.segment.append(item)
    elif name == "IntentRejected":
        replay.segment.clear()
    elif name == "BundleGranted":
        _granted(replay, item)
    elif name == "BundleRevoked":
        _revoked(replay, item)
        replay.segment.clear()


def _granted(replay: _Replay, item: ChainEvent) -> None:
    args = item.event.args
    bundle_id, resident = int(args["bundleId"]), str(args["resident"])
    bundle = _Bundle(resident, int(args["firstConsentId"]), int(args["count"]))
    replay.bundles[bundle_id] = bundle
    where = f"bundle {bundle_id}"
    claimed = [c for c in bundle.consents if replay.unclaimed.pop(c, None) is not None]
    if len(claimed) != bundle.count:
        replay.problem(
            "bundle_terms_differ",
            f"{where} announces {bundle.count} consents from {bundle.first},"
            f" its transaction granted {len(claimed)} of them",
            item,
        )
    intent, signer = replay.signed.get((item.block_number, item.log_index), (None, None))
    if intent is None or intent.name != "GrantBundle":
        replay.problem("bundle_not_signed", f"{where}: no GrantBundle in its calldata", item)
    else:
        _check_signed_bundle(replay, item, intent, signer, claimed)
    service = bytes(args["service"])
    items = replay.services.get(service, ())
    if len(items) != bundle.count:
        replay.problem(
            "bundle_not_allowed",
            f"{where} has {bundle.count} consents; its service had {len(items)} items at its block",
            item,
        )
        return
    for consent_id in claimed:
        terms = replay.terms[consent_id]
        policy = replay.policies.get(terms.purpose)
        why = fit_problem(terms, items[consent_id - bundle.first], policy)
        if why:
            replay.problem("bundle_not_allowed", f"{where}, consent {consent_id}: {why}", item)


def _check_signed_bundle(
    replay: _Replay,
    item: ChainEvent,
    intent: SignedIntent,
    signer: str | None,
    claimed: Sequence[int],
) -> None:
    args = item.event.args
    bundle_id, resident = int(args["bundleId"]), str(args["resident"])
    message = intent.message
    where = f"bundle {bundle_id}"
    if signer != resident or message["resident"] != resident:
        replay.problem(
            "bundle_not_signed",
            f"{where} of {resident}: its GrantBundle names {message['resident']},"
            f" signed by {signer or 'no one'}",
            item,
        )
    if bytes(message["service"]) != bytes(args["service"]):
        replay.problem(
            "bundle_terms_differ", f"{where}: its GrantBundle names another service", item
        )
    if len(message["items"]) != int(args["count"]):
        replay.problem(
            "bundle_terms_differ",
            f"{where}: {args['count']} consents, its GrantBundle {len(message['items'])} items",
            item,
        )
        return
    first = int(args["firstConsentId"])
    for consent_id in claimed:
        if replay.terms[consent_id] != signed_terms(intent, consent_id - first):
            replay.problem(
                "bundle_terms_differ",
                f"{where}, consent {consent_id}: its terms are not item"
                f" {consent_id - first} of the signed GrantBundle",
                item,
            )


def _revoked(replay: _Replay, item: ChainEvent) -> None:
    args = item.event.args
    bundle_id, resident = int(args["bundleId"]), str(args["resident"])
    where = f"bundle {bundle_id}"
    bundle = replay.bundles.get(bundle_id)
    if bundle is None or bundle.resident != resident or bundle.revoked:
        why = (
            "was never granted"
            if bundle is None
            else "was already revoked"
            if bundle.revoked
            else f"is {bundle.resident}'s, not {resident}'s"
        )
        replay.problem("bundle_revocation_wrong", f"{where} revoked, but it {why}", item)
        return
    bundle.revoked = True
    intent, signer = replay.signed.get((item.block_number, item.log_index), (None, None))
    if intent is None or intent.name != "RevokeBundle":
        replay.problem("bundle_revocation_wrong", f"{where}: no RevokeBundle in its calldata", item)
    elif (
        signer != bundle.resident
        or intent.message["resident"] != bundle.resident
        or int(intent.message["bundleId"]) != bundle_id
    ):
        replay.problem(
            "bundle_revocation_wrong",
            f"{where} of {bundle.resident} revoked by a RevokeBundle of"
            f" {intent.message['resident']} for bundle {intent.message['bundleId']},"
            f" signed by {signer or 'no one'}",
            item,
        )
    start = (
        (replay.segment[0].block_number, replay.segment[0].log_index)
        if replay.segment
        else (item.block_number, item.log_index)
    )
    in_force = [
        c for c in bundle.consents if c not in replay.revoked_at or replay.revoked_at[c] >= start
    ]
    ended = [int(e.event.args["consentId"]) for e in replay.segment]
    if ended != in_force:
        replay.problem(
            "bundle_revocation_wrong",
            f"{where} revoked consents {ended}; {in_force} were its consents in force",
            item,
        )

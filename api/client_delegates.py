"""Delegates and guardians from a wallet's side: appoint, list, remove, and act for a
resident.

The resident's wallet appoints a delegate with the record's field keys wrapped for the
delegate's key (:meth:`DelegateFlows.appoint_delegate`), once that key is the one the
registrar's signed enrolment published and the admin's signed ``GrantRole`` made that
registrar one (:func:`wallets.trust.check_resident_key`); every version it commits
afterwards carries keys for the delegates in force (:meth:`~DelegateFlows.delegate_keys_for`).
Removing a delegate rotates the record as a revocation does: fresh keys for every field,
fresh salts (the delegate held them all), re-wrapped for the consents still live and
for the delegates that remain (:meth:`~DelegateFlows.remove_delegate`).

A delegate acts for the resident through a view of the same session,
:meth:`~DelegateFlows.as_delegate_for`: its grants, bundles, revocations, declines and
commitments name the resident and are signed by the delegate (its own nonces), and its
reads are the resident's, its record opened with the keys wrapped for it. What it may
do is the chain's to judge (its appointment's powers, until it ends); the API refuses
the rest with the chain's ``ConsentDelegates…`` error.

A record version a delegate committed is accepted (:meth:`~DelegateFlows.record_signers`)
when an appointment naming the commit power, signed by the resident itself, is served
beside it; a guardian's commitments (its appointment a registrar's) are checked on
chain only (``--chain-url``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Self

from api.client_consents import ConsentFlows
from api.client_errors import ApiProblem, ClientError, ClientRefusal, RemovalRotationFailed
from api.client_records import DAY
from ledger.codec import checksum_address
from ledger.intents import DELEGATES, POWER_COMMIT, POWER_GRANT, POWER_READ, POWERS
from ledger.vocabulary import did_you_mean
from wallets.delegation import wrap_keys_for_delegate
from wallets.errors import WalletError
from wallets.record import RecordVersion
from wallets.trust import Untrusted, check_resident_key, intent_signer

#: Powers that need the record's field keys: granting wraps them for departments,
#: committing re-encrypts the record, reading opens it. Revoking needs none.
KEYED_POWERS = POWER_GRANT | POWER_COMMIT | POWER_READ


def parse_powers(powers: int | str | Iterable[str]) -> int:
    """``grant,revoke`` (names of :data:`ledger.intents.POWERS`, any case, or ``all``),
    a list of them, or the ``uint8`` itself → the bits."""
    if isinstance(powers, int):
        bits = powers
    else:
        names = powers.split(",") if isinstance(powers, str) else list(powers)
        bits = 0
        for raw in names:
            name = raw.strip().lower()
            if not name:
                continue
            if name == "all":
                bits |= sum(POWERS.values())
                continue
            if name not in POWERS:
                guess = did_you_mean(name, POWERS)
                hint = f"did you mean `{guess}`?" if guess else f"{', '.join(POWERS)} (or all)"
                raise ClientRefusal(f"{raw.strip()!r} is not a delegate's power: {hint}")
            bits |= POWERS[name]
    if not 0 < bits <= sum(POWERS.values()):
        raise ClientRefusal(f"a delegate holds at least one of {', '.join(POWERS)}")
    return bits


def power_names(bits: int) -> list[str]:
    return [name for name, bit in POWERS.items() if bits & bit]


@dataclass(frozen=True)
class RemoveResult:
    """A removal and, when the record was rotated after it, the new version and the
    consents whose keys were re-wrapped."""

    removed: dict[str, Any]
    rotated_version: int | None = None
    fresh_salt_fields: frozenset[str] = frozenset()
    rewrapped: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: The emergency directive's keys re-wrapped for its department, if one is in force.
    rewrapped_directive: dict[str, Any] | None = None


class DelegateFlows(ConsentFlows):
    """Appointing, listing and removing delegates; a session acting as one."""

    #: Set on a view from :meth:`as_delegate_for`: closing it leaves the connection open.
    _is_view = False
    _resident_keys: dict[str, bytes] | None = None

    # -- acting for a resident --------------------------------------------------------

    def as_delegate_for(self, resident: str) -> Self:
        """This session acting for ``resident`` as its delegate: the same identity,
        connection and nonces, with :attr:`principal` the resident. Closing the view
        leaves this session open."""
        view = copy.copy(self)
        view.acting_for = checksum_address(resident)
        view._is_view = True
        return view

    def close(self) -> None:
        if not self._is_view:
            super().close()

    def principal_key(self) -> bytes:
        if self.acting_for is not None:
            return self.resident_key(self.acting_for)
        return super().principal_key()

    # -- keys -------------------------------------------------------------------------

    def resident_key(self, address: str) -> bytes:
        """A resident's HPKE key (``GET /residents/{a}/encryption-key``), once its
        registrar's signed enrolment and the admin's signed ``GrantRole`` check out."""
        resident = checksum_address(address)
        if self._resident_keys is None:
            self._resident_keys = {}
        known = self._resident_keys.get(resident)
        if known is not None:
            return known
        entry = self._get(f"/residents/{resident}/encryption-key")
        self.check_domain()
        key = check_resident_key(entry, pins=self.pins, notice=self.notice)
        self._resident_keys[resident] = key
        return key

    # -- the list ---------------------------------------------------------------------

    def delegates(self, resident: str | None = None) -> list[dict[str, Any]]:
        """``GET /residents/{a}/delegates``: current and past delegates (every page)."""
        return list(
            self.pages(f"/residents/{checksum_address(resident or self.principal)}/delegates")
        )

    def delegate(self, delegate: str, resident: str | None = None) -> dict[str, Any] | None:
        """One delegate's entry of the list, or ``None`` if it was never appointed."""
        wanted = checksum_address(delegate)
        for entry in self.delegates(resident):
            if entry["delegate"] == wanted:
                return entry
        return None

    def delegate_keys_for(self, record: RecordVersion) -> dict[str, dict[str, str]]:
        """The new version's keys wrapped for every delegate of the record's resident in
        force whose powers need them (each key checked first)."""
        try:
            listed = self.delegates(record.resident)
        except ApiProblem as problem:
            if problem.status == 404:  # a server without delegates
                return {}
            raise
        keys: dict[str, dict[str, str]] = {}
        for entry in listed:
            if entry["status"] != "active" or not int(entry["power_bits"]) & KEYED_POWERS:
                continue
            delegate = checksum_address(entry["delegate"])
            keys[delegate] = wrap_keys_for_delegate(
                record, delegate=delegate, delegate_public_key=self.resident_key(delegate)
            )
        return keys

    def record_signers(self, resident: str) -> set[str]:
        """Whose ``CommitRecord`` of ``resident``'s record this wallet accepts besides the
        resident's: its own, and each delegate the resident itself appointed with the
        commit power (:meth:`appointed_with`)."""
        return self._own() | self.appointed_with(resident, POWER_COMMIT)

    def consent_signers(self, resident: str) -> set[str]:
        """Whose ``Grant`` in ``resident``'s name this wallet accepts besides the
        resident's: its own, and each delegate the resident itself appointed with the
        grant power."""
        return self._own() | self.appointed_with(resident, POWER_GRANT)

    def _own(self) -> set[str]:
        return {self.address} if self.identity is not None else set()

    def appointed_with(self, resident: str, power: int) -> set[str]:
        """The delegates of ``resident`` that an ``AppointDelegate`` naming ``power``,
        signed by the resident itself in the pinned domain, appointed at some time (the
        chain judged each of their intents at its own block). A registrar's appointments
        (guardians) are not checked here: ``--chain-url`` checks what they signed."""
        resident = checksum_address(resident)
        contract = self.pins.contracts.get(DELEGATES)
        if self.pins.chain_id is None or contract is None:
            return set()
        try:
            listed = self.delegates(resident)
        except ApiProblem as problem:
            if problem.status in (403, 404):  # not the caller's to list, or no delegates
                return set()
            raise
        accepted: set[str] = set()
        for entry in listed:
            delegate = checksum_address(entry["delegate"])
            for event in entry.get("history", []):
                intent = event.get("intent")
                if event.get("type") != "DelegateAppointed" or not intent:
                    continue
                message = intent.get("message", {})
                try:
                    signer = intent_signer(
                        intent, chain_id=self.pins.chain_id, verifying_contract=contract
                    )
                    named = (
                        checksum_address(message.get("resident", "")),
                        checksum_address(message.get("delegate", "")),
                    )
                    bits = int(message.get("powers", 0))
                except (Untrusted, TypeError, ValueError):
                    continue
                if signer == resident and named == (resident, delegate) and bits & power:
                    accepted.add(delegate)
        return accepted

    # -- appoint and remove -----------------------------------------------------------

    def appoint_delegate(
        self,
        delegate: str,
        powers: int | str | Iterable[str],
        *,
        days: float | None = None,
        valid_until: int | None = None,
        resident: str | None = None,
    ) -> dict[str, Any]:
        """``POST /residents/{a}/delegates``: a signed ``AppointDelegate`` for ``days``
        from now (or until ``valid_until``). For the wallet's own record, the field keys
        its powers need are wrapped for the delegate's checked key; ``resident`` another
        address: a registrar appointing a guardian, with no keys (it holds none)."""
        if self.acting_for is not None:
            raise ClientRefusal(
                "a delegate cannot appoint others: only the resident or a registrar"
            )
        bits = parse_powers(powers)
        owner = checksum_address(resident or self.address)
        appointee = checksum_address(delegate)
        if valid_until is None:
            if days is None or days <= 0:
                raise ClientRefusal("an appointment needs a positive number of days")
            valid_until = self.now() + round(days * DAY)
        message = {
            "resident": owner,
            "delegate": appointee,
            "powers": bits,
            "validUntil": int(valid_until),
        }
        extra: dict[str, Any] = {}
        if owner == self.address and bits & KEYED_POWERS and self.latest_version() > 0:
            key = self.resident_key(appointee)  # checked before anything is opened
            record = self.open_record()
            extra = {
                "wrapped_keys": wrap_keys_for_delegate(
                    record, delegate=appointee, delegate_public_key=key
                ),
                "version": record.version,
            }
        answer: dict[str, Any] = self._post_signed(
            "POST", f"/residents/{owner}/delegates", "AppointDelegate", message, **extra
        )
        return answer

    def remove_delegate_intent(self, delegate: str, resident: str | None = None) -> dict[str, Any]:
        """``POST /residents/{a}/delegates/{d}/remove`` (signed ``RemoveDelegate``)."""
        owner = checksum_address(resident or self.address)
        removed = checksum_address(delegate)
        message = {"resident": owner, "delegate": removed}
        answer: dict[str, Any] = self._post_signed(
            "POST", f"/residents/{owner}/delegates/{removed}/remove", "RemoveDelegate", message
        )
        return answer

    def remove_delegate(
        self, delegate: str, *, resident: str | None = None, rotate: bool = True
    ) -> RemoveResult:
        """Remove a delegate; for the wallet's own record (``rotate``), then rotate it as
        after a revocation, if the delegate's powers gave it the keys: a new version with
        fresh keys and salts for every field, re-wrapped for the live consents and the
        remaining delegates, so its cached keys open nothing of it."""
        if self.acting_for is not None:
            raise ClientRefusal("a delegate cannot remove others: only the resident or a registrar")
        owner = checksum_address(resident or self.address)
        held = self.delegate(delegate, owner) if rotate and owner == self.address else None
        removed = self.remove_delegate_intent(delegate, owner)
        if held is None or not int(held["power_bits"]) & KEYED_POWERS:
            return RemoveResult(removed)
        try:
            if self.latest_version() == 0:
                return RemoveResult(removed)
            record = self.open_record()
            rotated = self.rotate(record.field_names)
        except (ClientError, WalletError) as exc:
            raise RemovalRotationFailed(checksum_address(delegate), removed, exc) from exc
        return RemoveResult(removed, *rotated)

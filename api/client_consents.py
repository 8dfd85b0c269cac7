"""A resident's side of sharing: grant, revoke and rotate, and the consents it holds.

:meth:`ConsentFlows.grant` opens the resident's latest record for the field keys and
wraps them for the department's key only once that key is the department's (on chain,
or signed by the pinned admin); a consent's terms are read only as its resident's
``Grant`` signs them (:meth:`~ConsentFlows.checked_consent`). :meth:`~ConsentFlows.revoke`
can rotate the record afterwards, re-wrapping the new keys for the consents still live
and for the resident's emergency directive, if one is in force.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from api.client_errors import ApiProblem, ClientError, ClientRefusal, RotationFailed
from api.client_records import DAY, RecordFlows
from ledger.codec import ZERO32, checksum_address, from_hex
from wallets.errors import WalletError
from wallets.grants import wrap_keys_for_department
from wallets.record import RecordVersion
from wallets.rotation import ActiveConsent, rotate_after_revocation
from wallets.trust import Untrusted, check_consent, check_department_key, short_hex

#: Consent states in which a department can still read (and so needs re-wrapped keys).
LIVE_STATES = frozenset({"active", "not_yet_valid"})


@dataclass(frozen=True)
class RevokeResult:
    """A revocation and, with ``rotate=True``, the new record version and re-wrapped grants
    (and emergency directive: ``PUT /emergency-directives/{a}/wrapped-keys``'s answer)."""

    revoked: dict[str, Any]
    rotated_version: int | None = None
    fresh_salt_fields: frozenset[str] = frozenset()
    rewrapped: dict[int, dict[str, Any]] = field(default_factory=dict)
    rewrapped_directive: dict[str, Any] | None = None


class ConsentFlows(RecordFlows):
    """Consents from the resident's side, and the department keys they are wrapped for."""

    def create_consent(
        self,
        *,
        department: str,
        fields: Iterable[str],
        purpose: str,
        valid_from: int,
        valid_until: int,
        max_uses: int,
        request_id: bytes | str | None,
        version: int,
        wrapped_keys: Mapping[str, str],
    ) -> dict[str, Any]:
        """``POST /consents``: a signed ``Grant`` and the granted fields' wrapped keys."""
        message = {
            "resident": self.principal,
            "department": checksum_address(department),
            "fields": self.field_ids(fields),
            "purpose": self.purpose_id(purpose),
            "validFrom": valid_from,
            "validUntil": valid_until,
            "maxUses": max_uses,
            "requestId": ZERO32 if request_id is None else from_hex(request_id, length=32),
        }
        answer: dict[str, Any] = self._post_signed(
            "POST",
            "/consents",
            "Grant",
            message,
            version=version,
            wrapped_keys=dict(wrapped_keys),
        )
        return answer

    def grant(
        self,
        department: str,
        fields: Iterable[str],
        purpose: str,
        days: float,
        max_uses: int = 0,
        request_id: bytes | str | None = None,
    ) -> dict[str, Any]:
        """Grant ``department`` (address, code or name) ``fields`` for ``days`` from now.

        Opens the resident's latest record to get the field keys, wraps them for the
        department's published key, signs and posts. → ``{"consent_id", ...}``.
        """
        names = self.field_names(fields)
        if not names:
            raise ClientRefusal("a grant covers at least one field")
        entry, record, wrapped = self.wrap_latest_for(department, names)
        now = self.now()
        return self.create_consent(
            department=entry["address"],
            fields=names,
            purpose=purpose,
            valid_from=now,
            valid_until=now + round(days * DAY),
            max_uses=max_uses,
            request_id=request_id,
            version=record.version,
            wrapped_keys=wrapped,
        )

    def wrap_latest_for(
        self, department: str, names: list[str]
    ) -> tuple[Mapping[str, Any], RecordVersion, dict[str, str]]:
        """What sharing ``names`` with ``department`` (address, code or name) needs: its
        directory entry (refused if suspended), the latest record version (refused if it
        lacks a field) and the fields' keys of it wrapped for the department's checked key."""
        entry = self.department(department)
        if not entry.get("active", True):
            raise ClientRefusal(f"department {entry['name']} is suspended")
        record = self.open_record()
        missing = sorted(set(names) - set(record.field_names))
        if missing:
            raise ClientRefusal(f"your record (version {record.version}) has no {missing}")
        wrapped = wrap_keys_for_department(
            record,
            names,
            department=entry["address"],
            department_public_key=self.department_key(entry),
        )
        return entry, record, wrapped

    def revoke_consent(self, consent_id: int) -> dict[str, Any]:
        """``POST /consents/{id}/revoke`` (signed ``Revoke``)."""
        message = {"resident": self.principal, "consentId": int(consent_id)}
        answer: dict[str, Any] = self._post_signed(
            "POST", f"/consents/{int(consent_id)}/revoke", "Revoke", message
        )
        return answer

    def put_wrapped_keys(
        self, consent_id: int, version: int, wrapped_keys: Mapping[str, str]
    ) -> dict[str, Any]:
        """``PUT /consents/{id}/wrapped-keys``: a still-active consent's keys for a new version."""
        answer: dict[str, Any] = self.request(
            "PUT",
            f"/consents/{int(consent_id)}/wrapped-keys",
            json={"version": version, "wrapped_keys": dict(wrapped_keys)},
        )
        return answer

    def consent_signers(self, resident: str) -> set[str]:
        """Besides the resident, whose ``Grant`` in its name this wallet accepts (none here;
        its delegates', :mod:`api.client_delegates`)."""
        return set()

    def consent(self, consent_id: int) -> dict[str, Any]:
        """``GET /consents/{id}``; a delegate (who reads the resident's consents, not each
        one) finds it in ``GET /residents/{a}/consents``."""
        if self.acting_for is not None:
            for found in self.consents():
                if int(found["consent_id"]) == int(consent_id):
                    return found
            raise ClientRefusal(f"{self.acting_for} has no consent {int(consent_id)}")
        answer: dict[str, Any] = self._get(f"/consents/{int(consent_id)}")
        return answer

    def consent_fhir(self, consent_id: int) -> dict[str, Any]:
        """``GET /consents/{id}/fhir``: the consent as an HL7 FHIR R5 ``Consent``."""
        answer: dict[str, Any] = self._get(f"/consents/{int(consent_id)}/fhir")
        return answer

    def checked_consent(self, consent_id: int) -> dict[str, Any]:
        """:meth:`consent`, once every term is what its resident's signed ``Grant`` says
        (:func:`wallets.trust.check_consent`)."""
        answer = self.consent(consent_id)
        self.check_domain()
        check_consent(answer, pins=self.pins, signers=self.consent_signers(answer["resident"]))
        return answer

    def consents(self, resident: str | None = None) -> list[dict[str, Any]]:
        """``GET /residents/{a}/consents`` (every page)."""
        return list(self.pages(f"/residents/{resident or self.principal}/consents"))

    def department_consents(self) -> list[dict[str, Any]]:
        """``GET /consents``: the consents given to the signed-in department (every page)."""
        return list(self.pages("/consents"))

    def revoke(self, consent_id: int, *, rotate: bool = False) -> RevokeResult:
        """Revoke; with ``rotate`` also make a new record version with fresh keys (and fresh
        salts for the fields the consent exposed) and re-wrap keys for live consents."""
        # Unchecked before revoking: ending a consent is never refused for the server's
        # sake. The fields whose salts must change are then the ones the Grant signs.
        consent = self.consent(consent_id) if rotate else None
        revoked = self.revoke_consent(consent_id)
        if consent is None:
            return RevokeResult(revoked)
        try:
            self.check_domain()
            check_consent(
                consent, pins=self.pins, signers=self.consent_signers(consent["resident"])
            )
            rotated = self.rotate(consent["fields"], revoked_consent=int(consent_id))
        except (ClientError, WalletError) as exc:
            raise RotationFailed(int(consent_id), revoked, exc) from exc
        return RevokeResult(revoked, *rotated)

    def rotate(
        self,
        exposed: Iterable[str],
        *,
        revoked_consent: int | None = None,
        ended: Iterable[int] = (),
    ) -> tuple[int, frozenset[str], dict[int, dict[str, Any]], dict[str, Any] | None]:
        """A new record version with fresh keys for every field and fresh salts for the
        ``exposed`` ones; re-wraps the new keys for every live consent (except
        ``revoked_consent`` and those in ``ended``, just revoked: the read model may not
        say so yet) and for the emergency directive in force (:meth:`rewrap_directive`).
        Returns ``(version, fresh_salt_fields, {consent_id: answer}, directive answer or
        None)``.
        """
        record = self.open_record()
        gone = {int(c) for c in ended} | ({revoked_consent} if revoked_consent else set())
        survivors = [
            c
            for c in self.consents()
            if c["status"] in LIVE_STATES and int(c["consent_id"]) not in gone
        ]
        directory = {d["address"]: d for d in self.departments()}
        directive = self._directive_in_force()
        # Every key checked before anything is committed: one substituted key refuses all.
        needed = {c["department"] for c in survivors if set(c["fields"]) & set(record.field_names)}
        if directive is not None:
            needed.add(directive["department"])
        keys = {
            address: self.department_key(directory[address])
            for address in sorted(needed)
            if address in directory
        }
        active = [
            ActiveConsent(
                consent_id=int(c["consent_id"]),
                department=c["department"],
                department_public_key=keys[c["department"]],
                fields=tuple(f for f in c["fields"] if f in record.field_names),
            )
            for c in survivors
            if c["department"] in keys and set(c["fields"]) & set(record.field_names)
        ]
        unknown = sorted(set(exposed) - set(record.field_names))
        if unknown and not gone:
            raise ClientRefusal(f"your record (version {record.version}) has no {unknown}")
        in_record = [f for f in exposed if f in record.field_names]
        rotation = rotate_after_revocation(record, exposed=in_record, active_consents=active)
        self.commit_record(rotation.record)
        rewrapped = {
            other: self.put_wrapped_keys(other, rotation.version, wrapped)
            for other, wrapped in rotation.wrapped_keys.items()
            if wrapped
        }
        rewrapped_directive = None
        if directive is not None and directive["department"] in keys:
            rewrapped_directive = self.rewrap_directive(
                rotation.record, directive, keys[directive["department"]]
            )
        return rotation.version, rotation.fresh_salt_fields, rewrapped, rewrapped_directive

    # -- the emergency directive's keys (leaving one: api.client_emergency) ----------

    def emergency_directive(self, resident: str | None = None) -> dict[str, Any]:
        """``GET /emergency-directives/{a}``: the directive as it stands, with the record
        versions whose keys it holds (404 :class:`ApiProblem` if none was ever left)."""
        answer: dict[str, Any] = self._get(f"/emergency-directives/{resident or self.address}")
        return answer

    def put_directive_keys(self, version: int, wrapped_keys: Mapping[str, str]) -> dict[str, Any]:
        """``PUT /emergency-directives/{a}/wrapped-keys``: the directive's keys of a new
        record version, wrapped for its department."""
        answer: dict[str, Any] = self.request(
            "PUT",
            f"/emergency-directives/{self.address}/wrapped-keys",
            json={"version": version, "wrapped_keys": dict(wrapped_keys)},
        )
        return answer

    def rewrap_directive(
        self, record: RecordVersion, directive: Mapping[str, Any], department_key: bytes
    ) -> dict[str, Any] | None:
        """The directive's fields of ``record`` (a new version) wrapped for its department's
        checked ``department_key`` and stored; ``None`` if the record has none of them."""
        fields = [f for f in directive["fields"] if f in record.field_names]
        if not fields or fields != list(directive["fields"]):
            return None  # a field the record no longer holds: leave the directive anew
        wrapped = wrap_keys_for_department(
            record,
            fields,
            department=directive["department"],
            department_public_key=department_key,
        )
        return self.put_directive_keys(record.version, wrapped)

    def _directive_in_force(self) -> dict[str, Any] | None:
        """The resident's own directive if it is active (a server without the endpoint,
        or a resident who never left one: ``None``)."""
        try:
            directive = self.emergency_directive()
        except ApiProblem as problem:
            if problem.status in (404, 405):
                return None
            raise
        return directive if directive.get("status") == "active" else None

    def access_log(self, resident: str | None = None, *, limit: int | None = None) -> list[Any]:
        """``GET /residents/{a}/access-log``, newest first (every page)."""
        return list(self.pages(f"/residents/{resident or self.principal}/access-log", limit=limit))

    def department_key(self, entry: Mapping[str, Any]) -> bytes:
        """A directory entry's encryption key, once it is the department's: on
        :attr:`chain` when given, else by the pinned admin's signed registration or
        rotation (:func:`wallets.trust.check_department_key`)."""
        self.check_domain()
        if self.chain is None:
            return check_department_key(entry, pins=self.pins, notice=self.notice)
        served = from_hex(entry["encryption_key"], what="encryption key")
        on_chain = self.chain.department_key(entry["address"])
        if on_chain != served:
            raise Untrusted(
                f"the API serves {entry.get('name')}'s key as {short_hex(served)}, but the"
                f" chain's directory holds {short_hex(on_chain)}: not wrapping keys for it"
            )
        return on_chain

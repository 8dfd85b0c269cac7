"""Services and bundles from the resident's side: grant a whole life event in one act.

A *service* (``GET /services``) lists, per department, the most a bundle may grant it:
fields, purpose, duration, uses. :meth:`BundleFlows.grant_bundle` signs one
``GrantBundle`` over every item (narrowed where the resident chose, never wider:
:func:`narrow_item` refuses a widening before anything is signed) and wraps each
department's fields for that department's key only once the key is the department's,
exactly as a single grant does (:meth:`~api.client_consents.ConsentFlows.department_key`:
on chain, or signed by the pinned admin). :meth:`~BundleFlows.revoke_bundle` ends every
consent of the bundle with one signed ``RevokeBundle`` and, with ``rotate``, re-encrypts
the exposed fields as a single revocation does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from api.client_consents import ConsentFlows, RevokeResult
from api.client_errors import ClientError, ClientRefusal, RotationFailed
from ledger.codec import checksum_address
from ledger.vocabulary import name_to_bytes32
from wallets.errors import WalletError
from wallets.grants import wrap_keys_for_department
from wallets.trust import Untrusted, check_consent


@dataclass(frozen=True)
class BundleItem:
    """One item of a bundle as the resident grants it: ``department`` is its directory
    entry, ``duration`` seconds from the bundle's start, ``max_uses`` 0 for no cap."""

    department: Mapping[str, Any]
    fields: tuple[str, ...]
    purpose: str
    duration: int
    max_uses: int

    @property
    def address(self) -> str:
        return checksum_address(self.department["address"])

    @property
    def department_name(self) -> str:
        return str(self.department.get("name") or self.department["address"])


def narrow_item(
    item: BundleItem,
    *,
    fields: Iterable[str] | None = None,
    duration: int | None = None,
    max_uses: int | None = None,
) -> BundleItem:
    """``item`` with fewer fields, a shorter window or fewer uses; a widening is refused
    here, before anything is signed (the chain would refuse it too, the whole bundle)."""
    name = item.department_name
    if fields is not None:
        chosen = tuple(sorted(set(fields)))
        outside = sorted(set(chosen) - set(item.fields))
        if outside:
            raise ClientRefusal(
                f"{name}'s item covers only {', '.join(item.fields)}: a bundle can narrow it,"
                f" not add {', '.join(outside)}"
            )
        if not chosen:
            raise ClientRefusal(f"{name}'s item needs at least one field")
        item = replace(item, fields=chosen)
    if duration is not None:
        if duration <= 0:
            raise ClientRefusal(f"{name}'s item needs a window longer than zero")
        if duration > item.duration:
            raise ClientRefusal(
                f"{name}'s item lasts at most {item.duration / 86_400:g} days"
                f" ({item.duration} s): a bundle can shorten it, not lengthen it to {duration} s"
            )
        item = replace(item, duration=duration)
    if max_uses is not None:
        if max_uses < 0:
            raise ClientRefusal(f"{name}'s item cannot allow a negative number of uses")
        if item.max_uses and (max_uses == 0 or max_uses > item.max_uses):
            wanted = "unlimited uses" if max_uses == 0 else f"{max_uses} uses"
            raise ClientRefusal(
                f"{name}'s item allows at most {item.max_uses} uses: a bundle can lower that,"
                f" not raise it to {wanted}"
            )
        item = replace(item, max_uses=max_uses)
    return item


class BundleFlows(ConsentFlows):
    """Services (their definitions, public) and the bundles that grant them."""

    def services(self) -> list[dict[str, Any]]:
        """``GET /services``: every service with its items."""
        answer: dict[str, Any] = self._get("/services")
        return list(answer["services"])

    def service(self, wanted: str) -> dict[str, Any]:
        """A service by its id (``NEWBORN_REGISTRATION``, any case) or its name."""
        text = wanted.strip().casefold()
        listed = self.services()
        for entry in listed:
            if text in (str(entry["service"]).casefold(), str(entry["name"]).casefold()):
                return entry
        known = ", ".join(str(e["service"]) for e in listed) or "none defined yet"
        raise ClientRefusal(f"no service {wanted!r} (known: {known})")

    def service_items(self, service: Mapping[str, Any]) -> list[BundleItem]:
        """A service's items granted in full, each with its department's directory entry."""
        directory = {checksum_address(d["address"]): d for d in self.departments()}
        items = []
        for item in service["items"]:
            address = checksum_address(item["department"])
            entry = directory.get(address)
            if entry is None:
                raise ClientRefusal(
                    f"service {service['service']} names {address}, which is not in the directory"
                )
            items.append(
                BundleItem(
                    department=entry,
                    fields=tuple(sorted(item["fields"])),
                    purpose=str(item["purpose"]),
                    duration=int(item["duration"]),
                    max_uses=int(item["max_uses"]),
                )
            )
        return items

    def grant_bundle(self, service: str, items: Sequence[BundleItem]) -> dict[str, Any]:
        """``POST /bundles``: one signed ``GrantBundle`` over ``items`` (the service's, in
        its order, narrowed as the resident chose) from chain time now, with each
        department's fields wrapped for its checked key. → ``{"bundle_id", "consent_ids"}``.
        """
        for item in items:
            if not item.department.get("active", True):
                raise ClientRefusal(f"department {item.department_name} is suspended")
        # Every department's key checked before anything is wrapped or signed.
        keys = {item.address: self.department_key(item.department) for item in items}
        record = self.open_record()
        wanted: dict[str, set[str]] = {}
        for item in items:
            wanted.setdefault(item.address, set()).update(item.fields)
        missing = sorted(set().union(*wanted.values()) - set(record.field_names))
        if missing:
            raise ClientRefusal(f"your record (version {record.version}) has no {missing}")
        wrapped = {
            address: wrap_keys_for_department(
                record, sorted(names), department=address, department_public_key=keys[address]
            )
            for address, names in wanted.items()
        }
        now = self.now()
        message = {
            "resident": self.principal,
            "service": name_to_bytes32(service),
            "items": [
                {
                    "department": item.address,
                    "fields": self.field_ids(item.fields),
                    "purpose": self.purpose_id(item.purpose),
                    "validUntil": now + item.duration,
                    "maxUses": item.max_uses,
                }
                for item in items
            ],
            "validFrom": now,
        }
        answer: dict[str, Any] = self._post_signed(
            "POST", "/bundles", "GrantBundle", message, wrapped_keys=wrapped, version=record.version
        )
        return answer

    def bundle(self, bundle_id: int) -> dict[str, Any]:
        """``GET /bundles/{id}``: the bundle, its status and its consents."""
        answer: dict[str, Any] = self._get(f"/bundles/{int(bundle_id)}")
        return answer

    def checked_bundle(self, bundle_id: int) -> dict[str, Any]:
        """:meth:`bundle` once each consent's terms are one item of the ``GrantBundle``
        its resident signed (served beside each, :func:`wallets.trust.check_consent`), all
        of them one signed bundle, and each consent this bundle's."""
        answer = self.bundle(bundle_id)
        self.check_domain()
        signatures = set()
        signers = self.consent_signers(answer["resident"])
        for consent in answer["consents"]:
            check_consent(consent, pins=self.pins, signers=signers)
            if consent.get("bundle_id") != int(bundle_id):
                raise Untrusted(
                    f"the API lists consent {consent['consent_id']} in bundle {bundle_id},"
                    f" but serves it as bundle {consent.get('bundle_id')}'s"
                )
            signatures.add(consent["grant"]["signature"])
        if len(signatures) > 1:
            raise Untrusted(f"the consents of bundle {bundle_id} carry different signatures")
        return answer

    def revoke_bundle_intent(self, bundle_id: int) -> dict[str, Any]:
        """``POST /bundles/{id}/revoke`` (signed ``RevokeBundle``)."""
        message = {"resident": self.principal, "bundleId": int(bundle_id)}
        answer: dict[str, Any] = self._post_signed(
            "POST", f"/bundles/{int(bundle_id)}/revoke", "RevokeBundle", message
        )
        return answer

    def revoke_bundle(self, bundle_id: int, *, rotate: bool = False) -> RevokeResult:
        """Revoke every consent of the bundle; with ``rotate`` also make a new record
        version with fresh keys (fresh salts for the fields the bundle exposed) and re-wrap
        keys for the consents still live outside it."""
        # Unchecked before revoking, as for one consent: ending is never refused.
        held = self.bundle(bundle_id) if rotate else None
        revoked = self.revoke_bundle_intent(bundle_id)
        if held is None:
            return RevokeResult(revoked)
        try:
            # Every consent of it exposed its fields' keys, whether still live or not; the
            # fields are the ones its resident's GrantBundle signs.
            exposed: set[str] = set()
            ended = {int(c["consent_id"]) for c in held["consents"]}
            for consent_id in sorted(ended):
                exposed.update(self.checked_consent(consent_id)["fields"])
            rotated = self.rotate(sorted(exposed), ended=ended)
        except (ClientError, WalletError) as exc:
            raise RotationFailed(int(bundle_id), revoked, exc, what="bundle") from exc
        return RevokeResult(revoked, *rotated)

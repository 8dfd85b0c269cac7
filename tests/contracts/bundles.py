"""Signed services and bundles for the tests: a three-department service and the
bundle that grants it as defined (or narrowed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger.types import ConsentTerms, Event, SignedIntent
from tests.conftest import System, b32, fields

DAY = 86_400
SERVICE = "NEWBORN_REGISTRATION"

#: (fields, purpose, duration in days, max uses) for departments 0, 1, 2.
ITEMS: tuple[tuple[tuple[str, ...], str, int, int], ...] = (
    (("address", "name"), "HOUSING", 30, 5),
    (("income", "name"), "TAXATION", 60, 0),
    (("name",), "HOUSING", 10, 1),
)


def service_items(system: System, items: Sequence[Any] = ITEMS) -> list[dict[str, Any]]:
    return [
        {
            "department": system.departments[i].address,
            "fields": fields(*names),
            "purpose": b32(purpose),
            "duration": days * DAY,
            "maxUses": uses,
        }
        for i, (names, purpose, days, uses) in enumerate(items)
    ]


def define_intent(
    system: System,
    service: str | bytes = SERVICE,
    name: str = "新生儿出生登记 Newborn registration",
    items: list[dict[str, Any]] | None = None,
    *,
    signer: LocalAccount | None = None,
    **overrides: Any,
) -> SignedIntent:
    message = {
        "service": b32(service) if isinstance(service, str) else service,
        "name": name,
        "items": service_items(system) if items is None else items,
        **overrides,
    }
    return system.sign("DefineService", signer or system.admin, message)


def granted_in_full(
    items: list[dict[str, Any]], now: int, narrowed: dict[str, Any]
) -> list[dict[str, Any]]:
    """Service items as a bundle granting each in full from ``now``; ``narrowed`` maps
    ``"<index>_<member>"`` to a value (``"1_fields": fields("income")``)."""
    bundle = []
    for i, item in enumerate(items):
        entry = {
            "department": item["department"],
            "fields": item["fields"],
            "purpose": item["purpose"],
            "validUntil": now + item["duration"],
            "maxUses": item["maxUses"],
        }
        for key, value in narrowed.items():
            index, member = key.split("_", 1)
            if int(index) == i:
                entry[member] = value
        bundle.append(entry)
    return bundle


def bundle_items(system: System, **narrowed: Any) -> list[dict[str, Any]]:
    """This system's service granted in full from now, as :func:`granted_in_full` says."""
    return granted_in_full(service_items(system), system.now(), narrowed)


def bundle_intent(
    system: System,
    items: list[dict[str, Any]] | None = None,
    *,
    resident: LocalAccount | None = None,
    service: str | bytes = SERVICE,
    **overrides: Any,
) -> SignedIntent:
    resident = resident or system.resident
    message = {
        "resident": resident.address,
        "service": b32(service) if isinstance(service, str) else service,
        "items": bundle_items(system) if items is None else items,
        "validFrom": system.now(),
        **overrides,
    }
    return system.sign("GrantBundle", resident, message)


def granted_terms(outcome_events: Sequence[Event]) -> list[tuple[int, ConsentTerms]]:
    return [
        (int(e.args["consentId"]), ConsentTerms.from_event(e.args))
        for e in outcome_events
        if e.name == "ConsentGranted"
    ]


def revoke_bundle_intent(
    system: System,
    bundle_id: int,
    terms: Sequence[ConsentTerms],
    *,
    resident: LocalAccount | None = None,
    **overrides: Any,
) -> SignedIntent:
    resident = resident or system.resident
    message = {"resident": resident.address, "bundleId": bundle_id, **overrides}
    return system.sign("RevokeBundle", resident, message, tuple(terms))

"""A service of three departments and its bundle, through the HTTP API (the wallet
wraps each department's fields for that department's key)."""

from __future__ import annotations

from typing import Any

from ledger.vocabulary import name_to_bytes32
from tests.api.conftest import World, ids
from tests.contracts.bundles import granted_in_full
from wallets.grants import wrap_keys_for_department
from wallets.identity import Identity

DAY = 86_400
SERVICE = "NEWBORN_REGISTRATION"


def three_departments(world: World) -> list[Identity]:
    if "dept3" not in world.actors:
        world.register_department("dept3", "Health Commission", "HC")
    return [world.dept, world.dept2, world.dept3]


def service_items(world: World) -> list[dict[str, Any]]:
    d1, d2, d3 = three_departments(world)
    return [
        {"department": d1.address, "fields": ids("address", "name"),
         "purpose": name_to_bytes32("HOUSING"), "duration": 30 * DAY, "maxUses": 5},
        {"department": d2.address, "fields": ids("income", "name"),
         "purpose": name_to_bytes32("SOCIAL_ASSISTANCE"), "duration": 60 * DAY, "maxUses": 0},
        {"department": d3.address, "fields": ids("name", "phone"),
         "purpose": name_to_bytes32("HEALTHCARE"), "duration": 10 * DAY, "maxUses": 1},
    ]  # fmt: skip


def define_service(world: World, items: list[dict[str, Any]] | None = None) -> Any:
    message = {
        "service": name_to_bytes32(SERVICE),
        "name": "新生儿出生登记",
        "items": service_items(world) if items is None else items,
    }
    return world.post(
        "/admin/services", world.admin, world.body(world.admin, "DefineService", message)
    )


def bundle_items(world: World, **narrowed: Any) -> list[dict[str, Any]]:
    """Every service item granted in full from now (:func:`granted_in_full`'s ``narrowed``)."""
    return granted_in_full(service_items(world), world.now(), narrowed)


def bundle_body(
    world: World, resident: Identity, items: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    record = world.records[resident.address]
    departments = {d.address: d for d in three_departments(world)}
    wanted: dict[str, set[str]] = {}
    for item in items:
        names = {bytes(f).rstrip(b"\0").decode() for f in item["fields"]}
        wanted.setdefault(item["department"], set()).update(names)
    keys = {
        address: wrap_keys_for_department(
            record,
            sorted(names),
            department=address,
            department_public_key=departments[address].encryption_public_key,
        )
        for address, names in wanted.items()
    }
    message = {
        "resident": resident.address,
        "service": name_to_bytes32(SERVICE),
        "items": items,
        "validFrom": world.now(),
    }
    body = world.body(resident, "GrantBundle", message, wrapped_keys=keys, version=record.version)
    return {**body, **extra}


def revoke_bundle_body(world: World, resident: Identity, bundle_id: int) -> dict[str, Any]:
    return world.body(
        resident, "RevokeBundle", {"resident": resident.address, "bundleId": bundle_id}
    )

"""The feed's kinds for delegates and emergencies (issue 15, part 3): a resident and its
delegate hear of an appointment and a removal; a resident and every auditor of an
emergency access served or refused; auditors of its review. Ids and names only."""

from __future__ import annotations

from typing import Any

from ledger.codec import from_hex
from ledger.intents import POWER_GRANT, POWER_READ, normalize_message
from ledger.types import Event, SignedIntent
from ledger.vocabulary import name_to_bytes32, role_id
from tests.api.conftest import World
from wallets.identity import Identity


def submit(world: World, who: Identity, name: str, message: dict[str, Any]) -> Event:
    """Sign and relay one intent (the routes' own tests cover the routes)."""
    assert world.node is not None
    body = world.body(who, name, message)
    intent = SignedIntent(
        name, normalize_message(name, body["message"]), from_hex(body["signature"])
    )
    return world.node.relayer.submit(intent).unwrap()


def feed(world: World, who: Identity) -> list[dict[str, Any]]:
    answer = world.get("/notifications", who)
    assert answer.status_code == 200, answer.text
    return [n for n in answer.json()["data"] if n["kind"] not in ("consent_granted",)]


def ids(*names: str) -> list[str]:
    return sorted("0x" + name_to_bytes32(n).hex() for n in names)


def test_an_appointment_and_its_removal_reach_the_resident_and_the_delegate(
    world: World,
) -> None:
    resident, delegate = world.resident, world.resident2
    until = world.now() + 30 * 86_400
    submit(
        world,
        resident,
        "AppointDelegate",
        {
            "resident": resident.address,
            "delegate": delegate.address,
            "powers": POWER_GRANT | POWER_READ,
            "validUntil": until,
        },
    )
    submit(
        world,
        resident,
        "RemoveDelegate",
        {"resident": resident.address, "delegate": delegate.address},
    )
    for who in (resident, delegate):
        kinds = [(n["kind"], n["delegate"], n["resident"]) for n in feed(world, who)]
        assert kinds == [
            ("delegate_appointed", delegate.address, resident.address),
            ("delegate_removed", delegate.address, resident.address),
        ], who
    assert feed(world, world.dept) == []
    assert feed(world, resident)[0]["powers"] == POWER_GRANT | POWER_READ


def test_an_emergency_access_reaches_the_resident_and_every_auditor_and_its_review_too(
    world: World,
) -> None:
    ambulance, resident = world.dept2, world.resident
    submit(
        world,
        world.admin,
        "GrantRole",
        {"role": role_id("emergency"), "account": ambulance.address, "fields": ids("phone")},
    )
    submit(
        world,
        resident,
        "EmergencyDirective",
        {
            "resident": resident.address,
            "department": ambulance.address,
            "fields": ids("phone"),
            "validUntil": world.now() + 86_400,
        },
    )
    access = {
        "department": ambulance.address,
        "resident": resident.address,
        "reason": "0x" + name_to_bytes32("UNCONSCIOUS").hex(),
        "justificationHash": "0x" + "42" * 32,
    }
    submit(world, ambulance, "EmergencyAccess", {**access, "fields": ids("phone")})
    submit(world, ambulance, "EmergencyAccess", {**access, "fields": ids("name")})
    submit(
        world,
        world.auditor,
        "ReviewEmergency",
        {"accessId": 1, "outcome": ids("justified")[0], "notesHash": "0x" + "07" * 32},
    )

    mine = feed(world, resident)
    assert [(n["kind"], n["fields"], n["reason"]) for n in mine] == [
        ("emergency_access", ["phone"], "UNCONSCIOUS"),
        ("access_denied", ["name"], "field_not_in_directive"),
    ]
    assert mine[0]["access_id"] == 1 and mine[0]["review_due"] > mine[0]["created_at"]
    audits = [(n["kind"], n.get("access_id")) for n in feed(world, world.auditor)]
    assert ("emergency_access", 1) in audits and ("emergency_reviewed", 1) in audits
    assert ("access_denied", None) in audits
    assert (
        next(n for n in feed(world, world.auditor) if n["kind"] == "emergency_reviewed")["outcome"]
        == "justified"
    )
    # another resident and the departments hear nothing of it
    assert feed(world, world.resident2) == []
    assert [n["kind"] for n in feed(world, ambulance)] == []

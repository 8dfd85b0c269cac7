"""A hostile catalogue: every field of every signed write, at and beyond its type's bounds
and in shapes it should never have, signed by the actor who may send it.

Each case must answer a problem (4xx, never 5xx) that leaves the derived state as it
was, or be accepted and then served exactly; afterwards the node is healthy, takes a
normal write, and restarts cleanly on the same data directory. The cases come from the
intent definitions themselves (``ledger.intents.INTENTS``), so a field added to an
intent is attacked without anyone writing its case. ``Access`` is sent both alone and
as the one query of a batch (``POST /queries/batch``), whose item must answer as the
single route does."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.main import create_app
from api.node import open_node
from api.settings import Settings
from api.tables import delegate_keys, emergency_keys
from ledger import store as tables
from ledger.admission import MAX_SERVICE_ITEMS
from ledger.intents import INTENTS, POWER_READ, message_to_json
from ledger.vocabulary import EMERGENCY_DAILY_LIMIT, name_to_bytes32, role_id
from tests.api.bundles import bundle_body, bundle_items, define_service, revoke_bundle_body
from tests.api.conftest import World, ids, make_world
from tests.api.test_delegates import appoint, listed
from tests.api.test_emergency import (
    PATIENT,
    ROLE_FIELDS,
    access_body,
    directive_body,
    emergency_access,
    give_emergency_role,
    leave_directive,
    review_body,
)
from wallets.delegation import wrap_keys_for_delegate
from wallets.grants import wrap_keys_for_department
from wallets.identity import Identity
from wallets.signing import intent_typed_data, signed_intent_body

#: Derived state a refused write must leave as it was, row for row.
_DERIVED = (
    tables.residents,
    tables.record_versions,
    tables.consents,
    tables.access_requests,
    tables.request_answers,
    tables.envelopes,
    tables.wrapped_keys,
    tables.attestations,
    tables.services,
    tables.bundles,
    delegate_keys,
    emergency_keys,
)
#: Events a refused write may add: the chain's logged refusals. Every other event (a
#: delegate appointed, a directive left, an emergency access reviewed: state the read
#: side derives from events alone) must not appear for a refusal.
_REFUSAL_EVENTS = ("IntentRejected", "AccessDenied", "EmergencyDenied")

#: The struct types intents carry in lists (``ServiceItem``, ``BundleItem``), by name.
_STRUCTS: Mapping[str, tuple[tuple[str, str], ...]] = {
    name: fields for intent in INTENTS.values() for name, fields in intent.structs
}


@dataclass(frozen=True)
class FromValid:
    """A hostile list of struct items made from the valid list (whose items only the
    endpoint knows how to make)."""

    label: str
    make: Callable[[list[Any]], Any]


def _struct_list_values() -> list[Any]:
    return [
        "not a list",
        [None],
        [],
        [{}],
        FromValid("an item with a member too many", lambda v: [{**v[0], "extra": 1}]),
        FromValid("an item twice", lambda v: [v[0], v[0]]),
        FromValid("one item beyond the bound", lambda v: [v[0]] * (MAX_SERVICE_ITEMS + 1)),
        FromValid("far more items than any bound", lambda v: [v[0]] * 2_000),
    ]


def hostile_values(solidity_type: str) -> list[Any]:
    """Values of the wrong size, sign, shape or kind for ``solidity_type``."""
    if solidity_type.endswith("[]") and solidity_type[:-2] in _STRUCTS:
        return _struct_list_values()
    if solidity_type.endswith("[]"):
        item = solidity_type[:-2]
        first = hostile_values(item)[0]
        return [
            [first],
            "not a list",
            [None],
            ["0x" + "11" * 32, "0x" + "11" * 32],  # a duplicate: not a set
            ["0x" + f"{i:064x}" for i in range(1, 2_000)],  # far more than any schema has
        ]
    if solidity_type.startswith("uint"):
        bits = int(solidity_type[4:] or 256)
        return [-1, 2**bits, 2**bits - 1, 2**63, 2**256, 1.5, "12", True, None]
    if solidity_type == "address":
        return ["0x" + "00" * 20, "0x" + "ab" * 20, "0x1234", "not an address", 7]
    if solidity_type == "bytes32":
        return ["0x" + "ff" * 32, "0x" + "00" * 32, "0x12", "income", 5]
    if solidity_type == "bytes":
        return ["0x", "0x" + "00" * 100_000, "0xzz", 5]
    if solidity_type == "string":
        return ["", "x" * 100_000, "\x00", "名" * 300, 5]
    if solidity_type == "bool":
        return [2, "true", None]
    raise AssertionError(f"no hostile values for {solidity_type}")


@dataclass(frozen=True)
class Endpoint:
    """A signed write: its intent, who signs it, and how to make a valid body."""

    intent: str
    method: str
    path: Callable[[World], str]
    signer: Callable[[World], Any]
    message: Callable[[World], dict[str, Any]]
    extra: Callable[[World, dict[str, Any]], dict[str, Any]] = lambda world, message: {}
    #: What the service serves afterwards for an accepted one, by message field.
    served: Callable[[World, dict[str, Any]], dict[str, Any]] = lambda world, answer: {}
    #: Sent as the only item of a batch (``{"queries": [body]}``), answered in its item.
    batch: bool = False

    @property
    def label(self) -> str:
        return f"{self.intent} in a batch" if self.batch else self.intent

    def send(self, world: World, body: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
        """Status, content type and document of the answer to ``body``: for a batch, of
        its one item when the batch was taken (its own ``status``, a problem's type)."""
        who = self.signer(world)
        sent = {"queries": [body]} if self.batch else body
        answer = getattr(world.http, self.method)(
            self.path(world), json=sent, headers=world.headers(who)
        )
        kind = answer.headers["content-type"]
        document = answer.json() if kind.endswith("json") else {}
        if self.batch and answer.status_code == 200:
            (item,) = document["answers"]
            refused = item["status"] >= 400
            return item["status"], "application/problem+json" if refused else kind, item
        return answer.status_code, kind, document


def _served_consent(world: World, answer: dict[str, Any]) -> dict[str, Any]:
    consent = world.get(f"/consents/{answer['consent_id']}", world.resident).json()
    return {
        "validFrom": consent["valid_from"],
        "validUntil": consent["valid_until"],
        "maxUses": consent["max_uses"],
    }


def _served_request(world: World, answer: dict[str, Any]) -> dict[str, Any]:
    requests = world.get("/access-requests", world.dept, limit=1000).json()["data"]
    (request,) = [r for r in requests if r["request_id"] == answer["request_id"]]
    return {"duration": request["duration"]}


def _grant_message(world: World) -> dict[str, Any]:
    now = world.now()
    return {
        "resident": world.resident.address,
        "department": world.dept.address,
        "fields": ids("income"),
        "purpose": name_to_bytes32("HOUSING"),
        "validFrom": now,
        "validUntil": now + 86400,
        "maxUses": 0,
        "requestId": "0x" + "00" * 32,
    }


def _grant_keys(world: World, _: dict[str, Any]) -> dict[str, Any]:
    record = world.records[world.resident.address]
    keys = wrap_keys_for_department(
        record,
        ["income"],
        department=world.dept.address,
        department_public_key=world.dept.encryption_public_key,
    )
    return {"wrapped_keys": keys}


def _consent(world: World) -> int:
    if "consent" not in world.__dict__:
        world.__dict__["consent"] = world.grant(world.resident, world.dept, ["income"])
    return int(world.__dict__["consent"])


def _victim(world: World, role: str) -> Any:
    """A department, issuer or auditor of its own that hostile admin intents may cut
    off without touching the actors the other cases use."""
    key = f"victim_{role}"
    if key not in world.__dict__:
        if role == "department":
            world.__dict__[key] = world.register_department(key, "Victim Office", "VO")
        else:
            fields = ["income"] if role == "issuer" else None
            world.__dict__[key] = world.grant_role(key, role, fields)
    return world.__dict__[key]


def _pending_request(world: World, *, fresh: bool = False) -> str:
    """A request of the department to the resident that is still pending: the last one
    filed, or (``fresh``, when a message is made) a new one once it was answered."""
    current = world.__dict__.get("pending_request")
    if fresh and current is not None:
        rows = world.get("/access-requests", world.dept, limit=1000).json()["data"]
        if any(r["request_id"] == current and r["status"] != "pending" for r in rows):
            current = None
    if current is None:
        message = {
            "department": world.dept.address,
            "resident": world.resident.address,
            "fields": ids("income"),
            "purpose": name_to_bytes32("HOUSING"),
            "duration": 86400,
        }
        answer = world.post(
            "/access-requests", world.dept, world.body(world.dept, "AccessRequest", message)
        )
        assert answer.status_code == 201, answer.text
        current = world.__dict__["pending_request"] = answer.json()["request_id"]
    return str(current)


def _access_message(world: World) -> dict[str, Any]:
    return {
        "department": world.dept.address,
        "resident": world.resident.address,
        "consentId": _consent(world),
        "fields": ids("income"),
    }


ENDPOINTS = [
    Endpoint(
        "RegisterDepartment",
        "post",
        lambda w: "/admin/departments",
        lambda w: w.admin,
        lambda w: {
            "department": Account.create().address,
            "name": "Parks Office",
            "code": "PK",
            "encryptionKey": w.dept.encryption_public_key,
        },
    ),
    Endpoint(
        "GrantRole",
        "post",
        lambda w: "/admin/roles",
        lambda w: w.admin,
        lambda w: {
            "role": role_id("auditor"),
            "account": Account.create().address,
            "fields": [],
        },
    ),
    Endpoint(
        "EnrollResident",
        "post",
        lambda w: "/residents",
        lambda w: w.registrar,
        lambda w: {
            "resident": Account.create().address,
            "idCommitment": secrets.token_bytes(32),
            "encryptionKey": w.resident.encryption_public_key,
        },
    ),
    Endpoint(
        "AccessRequest",
        "post",
        lambda w: "/access-requests",
        lambda w: w.dept,
        lambda w: {
            "department": w.dept.address,
            "resident": w.resident.address,
            "fields": ids("income"),
            "purpose": name_to_bytes32("HOUSING"),
            "duration": 86400,
        },
        served=_served_request,
    ),
    Endpoint(
        "Grant",
        "post",
        lambda w: "/consents",
        lambda w: w.resident,
        _grant_message,
        _grant_keys,
        _served_consent,
    ),
    Endpoint(
        "Revoke",
        "post",
        lambda w: f"/consents/{_consent(w)}/revoke",
        lambda w: w.resident,
        lambda w: {"resident": w.resident.address, "consentId": _consent(w)},
    ),
    Endpoint(
        "Access",
        "post",
        lambda w: "/queries",
        lambda w: w.dept,
        _access_message,
    ),
    Endpoint(
        "Access",
        "post",
        lambda w: "/queries/batch",
        lambda w: w.dept,
        _access_message,
        batch=True,
    ),
]


ENDPOINTS += [
    Endpoint(
        "SetDepartmentActive",
        "post",
        lambda w: f"/admin/departments/{_victim(w, 'department').address}/active",
        lambda w: w.admin,
        lambda w: {"department": _victim(w, "department").address, "active": False},
    ),
    Endpoint(
        "RevokeRole",
        "post",
        lambda w: "/admin/roles/revoke",
        lambda w: w.admin,
        lambda w: {"role": role_id("auditor"), "account": _victim(w, "auditor").address},
    ),
    Endpoint(
        "DistrustIssuer",
        "post",
        lambda w: f"/admin/issuers/{_victim(w, 'issuer').address}/distrust",
        lambda w: w.admin,
        lambda w: {"issuer": _victim(w, "issuer").address, "fields": ids("income")},
    ),
    Endpoint(
        "DeclineRequest",
        "post",
        lambda w: f"/access-requests/{_pending_request(w)}/decline",
        lambda w: w.resident,
        lambda w: {
            "resident": w.resident.address,
            "requestId": _pending_request(w, fresh=True),
            "reason": name_to_bytes32("NOT_NEEDED"),
        },
    ),
    Endpoint(
        "WithdrawRequest",
        "post",
        lambda w: f"/access-requests/{_pending_request(w)}/withdraw",
        lambda w: w.dept,
        lambda w: {"department": w.dept.address, "requestId": _pending_request(w, fresh=True)},
    ),
    Endpoint(
        "SetPurposePolicy",
        "post",
        lambda w: "/admin/purpose-policies",
        lambda w: w.admin,
        # A purpose no other case uses: an accepted hostile value limits only it.
        lambda w: {"purpose": name_to_bytes32("EDUCATION"), "fields": [], "maxDuration": 0},
    ),
    Endpoint(
        "RotateDepartmentKey",
        "put",
        lambda w: f"/admin/departments/{_victim(w, 'department').address}/encryption-key",
        lambda w: w.admin,
        lambda w: {
            "department": _victim(w, "department").address,
            "encryptionKey": Identity.create().encryption_public_key,
        },
    ),
]


# ---------------------------------------------------------------- wave 2: services and bundles

DAY = 86_400
#: The service the DefineService cases redefine: one of their own, not the bundles'.
_HOSTILE_SERVICE = "HOSTILE_CHECK"


def _message_of(body: Mapping[str, Any]) -> dict[str, Any]:
    """A signed body's message without its nonce and deadline (the case signs its own)."""
    return {k: v for k, v in body["message"].items() if k not in ("nonce", "deadline")}


def _keys_of(body: Mapping[str, Any]) -> dict[str, Any]:
    """What a body carries beside its signed message (``wrapped_keys``, ``version``)."""
    return {k: v for k, v in body.items() if k not in ("message", "signature")}


def _served_service(world: World, answer: dict[str, Any]) -> dict[str, Any]:
    services = world.http.get("/services").json()["services"]
    (service,) = [s for s in services if s["service"] == answer["service"]]
    item = service["items"][0]  # the item the cases attack (an accepted list may repeat it)
    return {
        "name": service["name"],
        "items[0].duration": item["duration"],
        "items[0].maxUses": item["max_uses"],
    }


def _bundles_service(world: World) -> None:
    """The bundles' service (:mod:`tests.api.bundles`), defined once."""
    if "bundle_service" not in world.__dict__:
        answer = define_service(world)
        assert answer.status_code == 200, answer.text
        world.__dict__["bundle_service"] = answer.json()


def _bundle_message(world: World) -> dict[str, Any]:
    _bundles_service(world)
    body = bundle_body(world, world.resident, bundle_items(world))
    world.__dict__["bundle_keys"] = _keys_of(body)  # its keys, for the extra made next
    return _message_of(body)


def _bundle_keys(world: World, _: dict[str, Any]) -> dict[str, Any]:
    """The keys of the bundle message made last (every case makes its message first)."""
    return dict(world.__dict__["bundle_keys"])


def _served_bundle(world: World, answer: dict[str, Any]) -> dict[str, Any]:
    bundle = world.get(f"/bundles/{answer['bundle_id']}", world.resident).json()
    first = bundle["consents"][0]
    return {
        "validFrom": first["valid_from"],
        "items[0].validUntil": first["valid_until"],
        "items[0].maxUses": first["max_uses"],
    }


def _active_bundle(world: World, *, fresh: bool = False) -> int:
    """A bundle of the resident still in force: the last one granted, or (``fresh``, when
    a message is made) a new one once an accepted case revoked it."""
    current = world.__dict__.get("active_bundle")
    if (
        fresh
        and current is not None
        and world.get(f"/bundles/{current}", world.resident).json()["status"] != "active"
    ):
        current = None
    if current is None:
        _bundles_service(world)
        body = bundle_body(world, world.resident, bundle_items(world))
        answer = world.post("/bundles", world.resident, body)
        assert answer.status_code == 201, answer.text
        current = world.__dict__["active_bundle"] = answer.json()["bundle_id"]
    return int(current)


# ---------------------------------------------------------------- wave 2: delegates


def _delegation(world: World, use: str) -> tuple[Identity, Identity]:
    """A resident with a record and a delegate of its own for ``use`` (``appoint``,
    ``remove``): what an accepted hostile appointment or removal changes is theirs."""
    key = f"delegation_{use}"
    if key not in world.__dict__:
        resident = world.enroll(f"{key}_resident")
        answer = world.upload(resident, PATIENT)
        assert answer.status_code == 200, answer.text
        world.__dict__[key] = (resident, world.enroll(f"{key}_delegate"))
    pair: tuple[Identity, Identity] = world.__dict__[key]
    return pair


def _appointment(world: World) -> dict[str, Any]:
    resident, delegate = _delegation(world, "appoint")
    return {
        "resident": resident.address,
        "delegate": delegate.address,
        "powers": POWER_READ,
        "validUntil": world.now() + 30 * DAY,
    }


def _delegate_keys(world: World, _: dict[str, Any]) -> dict[str, Any]:
    resident, delegate = _delegation(world, "appoint")
    record = world.records[resident.address]
    keys = wrap_keys_for_delegate(
        record, delegate=delegate.address, delegate_public_key=delegate.encryption_public_key
    )
    return {"wrapped_keys": keys, "version": record.version}


def _served_delegate(world: World, answer: dict[str, Any]) -> dict[str, Any]:
    resident, _ = _delegation(world, "appoint")
    # the answer's delegate: a hostile address may be one an accepted case enrolled
    (entry,) = [d for d in listed(world, resident) if d["delegate"] == answer["delegate"]]
    return {"powers": entry["power_bits"], "validUntil": entry["valid_until"]}


def _appointed(world: World, *, fresh: bool = False) -> tuple[Identity, Identity]:
    """The removal cases' delegate, appointed (again, when ``fresh`` and an accepted case
    removed it)."""
    resident, delegate = _delegation(world, "remove")
    current = [d for d in listed(world, resident) if d["delegate"] == delegate.address]
    if not current or (fresh and current[0]["status"] != "active"):
        answer = appoint(world, resident, delegate, POWER_READ)
        assert answer.status_code == 201, answer.text
    return resident, delegate


def _removal(world: World) -> dict[str, Any]:
    resident, delegate = _appointed(world, fresh=True)
    return {"resident": resident.address, "delegate": delegate.address}


# ---------------------------------------------------------------- wave 2: emergencies

#: The fields of every directive the cases leave: within the emergency role's.
_DIRECTIVE_FIELDS = ["health_summary", "name"]


def _emergency_department(world: World, use: str) -> Identity:
    """A department of its own holding the emergency role, for ``use`` (``directive``,
    ``access``)."""
    key = f"ems_{use}"
    if key not in world.__dict__:
        department = world.register_department(key, f"Emergency Centre {use}", "EM")
        give_emergency_role(world, department, ROLE_FIELDS)
        world.__dict__[key] = department
    department_: Identity = world.__dict__[key]
    return department_


def _directive_patient(world: World) -> Identity:
    """The resident the directive cases leave directives for (none of them is read)."""
    if "directive_patient" not in world.__dict__:
        patient = world.enroll("directive_patient")
        assert world.upload(patient, PATIENT).status_code == 200
        world.__dict__["directive_patient"] = patient
    patient_: Identity = world.__dict__["directive_patient"]
    return patient_


def _directive_message(world: World) -> dict[str, Any]:
    department = _emergency_department(world, "directive")
    body = directive_body(world, _directive_patient(world), department, _DIRECTIVE_FIELDS)
    world.__dict__["directive_keys"] = _keys_of(body)  # its keys, for the extra made next
    return _message_of(body)


def _directive_keys(world: World, _: dict[str, Any]) -> dict[str, Any]:
    """The keys of the directive message made last (every case makes its message first)."""
    return dict(world.__dict__["directive_keys"])


def _served_directive(world: World, _: dict[str, Any]) -> dict[str, Any]:
    patient = _directive_patient(world)
    directive = world.get(f"/emergency-directives/{patient.address}", patient).json()
    return {"validUntil": directive["valid_until"]}


def _emergency_accesses(world: World) -> list[dict[str, Any]]:
    answer = world.get("/audit/emergency-accesses", world.auditor, limit=1000)
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()["data"]
    return rows


def _patient(world: World) -> Identity:
    """A resident whose directive names the access department, with reads left today:
    a new one once the chain's daily limit of served emergency accesses is reached, so
    accepted cases never turn later ones into ``daily_limit`` refusals."""
    department = _emergency_department(world, "access")
    current: Identity | None = world.__dict__.get("patient")
    if current is not None:
        served = [a for a in _emergency_accesses(world) if a["resident"] == current.address]
        if len(served) >= EMERGENCY_DAILY_LIMIT:
            current = None
    if current is None:
        current = world.enroll(f"patient_{secrets.token_hex(4)}")
        assert world.upload(current, PATIENT).status_code == 200
        leave_directive(world, current, department, _DIRECTIVE_FIELDS)
        world.__dict__["patient"] = current
    return current


def _emergency_access_message(world: World) -> dict[str, Any]:
    department = _emergency_department(world, "access")
    return _message_of(access_body(world, department, _patient(world), ["name"]))


def _served_access(world: World, answer: dict[str, Any]) -> dict[str, Any]:
    (row,) = [a for a in _emergency_accesses(world) if a["access_id"] == answer["access_id"]]
    return {"justificationHash": row["justification_hash"]}


def _unreviewed_access(world: World, *, fresh: bool = False) -> int:
    """An emergency access no auditor reviewed yet: the last one made, or (``fresh``, when
    a message is made) a new one once an accepted case reviewed it."""
    current = world.__dict__.get("unreviewed_access")
    if fresh and current is not None:
        rows = _emergency_accesses(world)
        if any(a["access_id"] == current and a["outcome"] is not None for a in rows):
            current = None
    if current is None:
        department = _emergency_department(world, "access")
        answer = emergency_access(world, department, _patient(world), ["name"])
        assert answer.status_code == 200, answer.text
        current = world.__dict__["unreviewed_access"] = answer.json()["access_id"]
    return int(current)


def _served_review(world: World, answer: dict[str, Any]) -> dict[str, Any]:
    (row,) = [a for a in _emergency_accesses(world) if a["access_id"] == answer["access_id"]]
    return {"notesHash": row["notes_hash"]}


ENDPOINTS += [
    Endpoint(
        "DefineService",
        "post",
        lambda w: "/admin/services",
        lambda w: w.admin,
        # A service no bundle is granted under: an accepted hostile value redefines only it.
        lambda w: {
            "service": name_to_bytes32(_HOSTILE_SERVICE),
            "name": "Hostile check",
            "items": [
                {
                    "department": w.dept.address,
                    "fields": ids("income"),
                    "purpose": name_to_bytes32("HOUSING"),
                    "duration": 30 * DAY,
                    "maxUses": 5,
                }
            ],
        },
        served=_served_service,
    ),
    Endpoint(
        "GrantBundle",
        "post",
        lambda w: "/bundles",
        lambda w: w.resident,
        _bundle_message,
        _bundle_keys,
        _served_bundle,
    ),
    Endpoint(
        "RevokeBundle",
        "post",
        lambda w: f"/bundles/{_active_bundle(w)}/revoke",
        lambda w: w.resident,
        lambda w: _message_of(revoke_bundle_body(w, w.resident, _active_bundle(w, fresh=True))),
    ),
    Endpoint(
        "AppointDelegate",
        "post",
        lambda w: f"/residents/{_delegation(w, 'appoint')[0].address}/delegates",
        lambda w: _delegation(w, "appoint")[0],
        _appointment,
        _delegate_keys,
        _served_delegate,
    ),
    Endpoint(
        "RemoveDelegate",
        "post",
        lambda w: "/residents/{}/delegates/{}/remove".format(
            *(who.address for who in _delegation(w, "remove"))
        ),
        lambda w: _delegation(w, "remove")[0],
        _removal,
    ),
    Endpoint(
        "EmergencyDirective",
        "post",
        lambda w: "/emergency-directives",
        _directive_patient,
        _directive_message,
        _directive_keys,
        _served_directive,
    ),
    Endpoint(
        "EmergencyAccess",
        "post",
        lambda w: "/emergency-accesses",
        lambda w: _emergency_department(w, "access"),
        _emergency_access_message,
        served=_served_access,
    ),
    Endpoint(
        "ReviewEmergency",
        "post",
        lambda w: f"/emergency-accesses/{_unreviewed_access(w)}/review",
        lambda w: w.auditor,
        lambda w: _message_of(review_body(w, w.auditor, _unreviewed_access(w, fresh=True))),
        served=_served_review,
    ),
]


def _fields(intent: str) -> list[tuple[str, str]]:
    """The intent's fields with their Solidity types, and for a list of structs each
    member of its first item too (``items[0].maxUses``)."""
    fields: list[tuple[str, str]] = []
    for field, solidity_type in INTENTS[intent].fields:
        fields.append((field, solidity_type))
        struct = _STRUCTS.get(solidity_type.removesuffix("[]"))
        if struct is not None:
            fields += [(f"{field}[0].{member}", member_type) for member, member_type in struct]
    return fields


def _cases() -> Iterator[tuple[str, str, int]]:
    for endpoint in ENDPOINTS:
        for field, solidity_type in _fields(endpoint.intent):
            for index, _ in enumerate(hostile_values(solidity_type)):
                yield endpoint.label, field, index


def _endpoint(label: str) -> Endpoint:
    return next(e for e in ENDPOINTS if e.label == label)


CASES = list(_cases())


def _snapshot(world: World) -> dict[str, Any]:
    """A digest of every derived table's rows, and the count of each event other than
    the chain's logged refusals."""
    assert world.node is not None
    with world.node.store.connect() as c:
        state: dict[str, Any] = {
            t.name: hashlib.sha256(
                repr(sorted(repr(tuple(row)) for row in c.execute(select(t)))).encode()
            ).hexdigest()
            for t in _DERIVED
        }
        counts = c.execute(
            select(tables.events.c.name, func.count())
            .where(tables.events.c.name.not_in(_REFUSAL_EVENTS))
            .group_by(tables.events.c.name)
        )
        state.update({f"events:{name}": int(n) for name, n in counts})
    return state


def _get(message: Mapping[str, Any], field: str) -> Any:
    """``message[field]``, ``field`` a member of a list's item as :func:`_fields` names it."""
    if "[" not in field:
        return message[field]
    head, member = field.split(".", 1)
    name, index = head.rstrip("]").split("[")
    return message[name][int(index)][member]


def _with(message: Mapping[str, Any], field: str, value: Any) -> dict[str, Any]:
    """``message`` with ``field`` (as :func:`_fields` names it) set to ``value``."""
    if "[" not in field:
        return {**message, field: value}
    head, member = field.split(".", 1)
    name, index = head.rstrip("]").split("[")
    items = list(message[name])
    items[int(index)] = {**items[int(index)], member: value}
    return {**message, name: items}


def _signed_body(
    world: World, endpoint: Endpoint, field: str, value: Any
) -> tuple[dict[str, Any], Any]:
    """The valid message with ``field`` set to ``value`` (a :class:`FromValid` made from
    the valid message's list), signed by the right actor when the value can be signed at
    all (else the valid message's signature: the server must refuse the message's shape
    before anything else); and the value sent."""
    who = endpoint.signer(world)
    valid = endpoint.message(world)
    spec = world.http.get("/eip712").json()["intents"][endpoint.intent]
    nonce = secrets.randbits(64)
    full = {"nonce": nonce, "deadline": world.now() + 600, **valid}
    extra = endpoint.extra(world, full)
    domain = {
        "chain_id": spec["domain"]["chainId"],
        "verifying_contract": spec["domain"]["verifyingContract"],
    }
    if isinstance(value, FromValid):
        value = value.make(_get(message_to_json(endpoint.intent, full), field))
    try:
        body = signed_intent_body(
            who.account.key, endpoint.intent, _with(full, field, value), **domain
        )
    except Exception:  # not encodable as the type: send it under a valid signature
        body = signed_intent_body(who.account.key, endpoint.intent, full, **domain)
        body["message"] = _with(body["message"], field, value)
    return {**body, **extra}, value


@pytest.fixture(scope="module")
def hostile_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from make_world(tmp_path_factory.mktemp("hostile"))


@pytest.mark.parametrize(("endpoint", "field", "index"), CASES)
def test_a_hostile_value_is_refused_without_change_or_served_exactly(
    hostile_world: World, endpoint: str, field: str, index: int
) -> None:
    world = hostile_world
    sent_to = _endpoint(endpoint)
    value = hostile_values(dict(_fields(sent_to.intent))[field])[index]
    body, value = _signed_body(world, sent_to, field, value)
    before = _snapshot(world)
    status, kind, document = sent_to.send(world, body)
    assert status < 500, document
    if status >= 400:
        assert kind.startswith("application/problem+json"), document
        assert document["status"] == status and document["detail"]
        assert _snapshot(world) == before, (status, document)
    else:
        served = sent_to.served(world, document)
        if field in served:
            assert served[field] == value, (field, value, served)
    health = world.http.get("/health")
    assert health.status_code == 200, health.text


def _forged(world: World, endpoint: Endpoint, forgery: str) -> dict[str, Any]:
    """A valid body whose signature was made for another chain, another contract or
    another type: it recovers to a stranger, never to the actor it names."""
    who = endpoint.signer(world)
    spec = world.http.get("/eip712").json()["intents"][endpoint.intent]
    full = {"nonce": secrets.randbits(64), "deadline": world.now() + 600, **endpoint.message(world)}
    extra = endpoint.extra(world, full)
    chain_id = spec["domain"]["chainId"]
    contract = spec["domain"]["verifyingContract"]
    body = signed_intent_body(
        who.account.key, endpoint.intent, full, chain_id=chain_id, verifying_contract=contract
    )
    document = intent_typed_data(
        endpoint.intent, full, chain_id=chain_id, verifying_contract=contract
    )
    if forgery == "other chain":
        document["domain"]["chainId"] = chain_id + 1
    elif forgery == "other contract":
        contracts = world.http.get("/health").json()["contracts"]
        # Every other contract of the deployment: the directory's and the ledger's
        # intents are forged for the next one in deployment order.
        others = [a for a in contracts.values() if a != contract]
        document["domain"]["verifyingContract"] = others[0]
    else:  # the same fields under another type's name
        document["types"]["Other"] = document["types"].pop(endpoint.intent)
        document["primaryType"] = "Other"
    signed = Account.sign_message(encode_typed_data(full_message=document), who.account.key)
    return {**body, "signature": "0x" + bytes(signed.signature).hex(), **extra}


@pytest.mark.parametrize("forgery", ["other chain", "other contract", "other type"])
@pytest.mark.parametrize("endpoint", [e.label for e in ENDPOINTS])
def test_a_signature_made_for_another_domain_or_type_is_refused_without_change(
    hostile_world: World, endpoint: str, forgery: str
) -> None:
    world = hostile_world
    sent_to = _endpoint(endpoint)
    body = _forged(world, sent_to, forgery)
    before = _snapshot(world)
    status, kind, document = sent_to.send(world, body)
    assert status in (403, 422), document  # a stranger signed it
    assert kind.startswith("application/problem+json")
    assert _snapshot(world) == before
    assert world.http.get("/health").status_code == 200


@pytest.mark.parametrize("endpoint", [e.label for e in ENDPOINTS if e.intent != "Revoke"])
def test_a_replayed_body_is_409_and_applies_once(hostile_world: World, endpoint: str) -> None:
    world = hostile_world
    sent_to = _endpoint(endpoint)
    body = world.body(sent_to.signer(world), sent_to.intent, sent_to.message(world))
    body.update(sent_to.extra(world, body["message"]))
    first, _, document = sent_to.send(world, body)
    assert first in (200, 201, 403), document  # an access may be refused
    after_first = _snapshot(world)
    again, _, document = sent_to.send(world, body)
    assert again == 409, document
    assert document["error"] == "SignedIntentNonceUsed"
    assert _snapshot(world) == after_first


def test_after_the_catalogue_the_node_takes_a_write_and_restarts_cleanly(
    hostile_world: World,
) -> None:
    world = hostile_world
    assert world.node is not None
    world.grant(world.resident, world.dept, ["income"])
    data_dir = Path(world.node.settings.data_dir)
    settings: Settings = world.node.settings
    world.node.close()
    again = open_node(settings)
    try:
        with TestClient(create_app(node=again)) as http:
            health = http.get("/health")
            assert health.status_code == 200 and health.json()["status"] == "ok", health.text
            assert again.indexer.failure is None
    finally:
        again.close()
    assert data_dir.exists()

"""Hostile integers, and field ids that are not names, against a node over HTTP.

Every integer field of ``CommitRecord``, ``Grant``, ``AccessRequest`` and ``Attest`` at
its type's bounds (uint64: 2**63 - 1, 2**63, 2**64 - 1; uint32 ``maxUses``: 2**31 - 1,
2**31, 2**32 - 1) and one beyond: each is either accepted and then served exactly by every
view that shows it, or refused with 4xx changing nothing. Before the read model held
uint64 exactly, one value at 2**63 made every indexer round raise ``OverflowError``: each
later write answered 500 after being mined (its envelopes and keys never stored), ``/health``
said ok, and the node could not start again. So each case ends with :meth:`Host.sound`:
``/health`` 200, a further write answered, and a restart on the same data directory that
serves the same values.

Queries naming a field id that is not ASCII are written by another submitter straight to
the chain (the API's relayer may refuse them, the chain takes them from anyone), and the
access log, the consent record and the audit views still answer, showing the id as hex.

Every case runs on SQLite and on PostgreSQL; one world per database serves the module,
and each case enrols its own resident.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from api.main import create_app
from api.node import Node, open_node
from api.routers.consent_records import iso_utc
from api.settings import Settings
from api.views import require_consent
from ledger.chain import TransactionSigner
from ledger.client import LedgerClient
from ledger.types import ConsentTerms, SignedIntent
from ledger.vocabulary import name_to_bytes32, role_id
from tests.api.conftest import World, ids, populate
from tests.postgres import pg_schema
from wallets.attestation import attest
from wallets.grants import wrap_keys_for_department
from wallets.identity import Identity
from wallets.record import RecordVersion
from wallets.signing import sign_intent

TOP = 2**64 - 1
UINT64_BOUNDS = [2**63 - 1, 2**63, TOP]
UINT32_BOUNDS = [2**31 - 1, 2**31, 2**32 - 1]
VALUES = {"name": "Li Wei", "income": "52000", "address": "1 Lake Rd", "phone": "138"}
ZERO32 = "0x" + "00" * 32
ODD_FIELD = b"\xff" * 32


@dataclass
class Host:
    """A world whose node can be closed and opened again on the same settings."""

    world: World
    settings: Settings
    http: TestClient

    @property
    def node(self) -> Node:
        assert self.world.node is not None
        return self.world.node

    def restart(self) -> None:
        """Close the node as ``consent serve`` does at exit and start a new process's."""
        self.http.__exit__(None, None, None)
        self.node.close()
        node = open_node(self.settings)
        self.http = TestClient(create_app(node=node))
        self.http.__enter__()  # the app's startup: catch up, settle the journal, follow
        self.world.node, self.world.http = node, self.http

    def close(self) -> None:
        self.http.__exit__(None, None, None)
        self.node.close()

    def sound(self, *checks: tuple[str, Identity, dict[str, Any]]) -> None:
        """Healthy, a further write answered, and after a restart healthy again with each
        ``(path, reader, expected subset)`` answering as before."""
        before = [(path, who, _read(self.world, path, who)) for path, who, _ in checks]
        for (path, _, want), (_, _, have) in zip(checks, before, strict=True):
            assert _subset(want, have), (path, want, have)
        for attempt in ("before", "after"):
            health = self.world.http.get("/health")
            assert health.status_code == 200, (attempt, health.text)
            body = health.json()
            assert body["status"] == "ok" and body["indexer_failure"] is None, body
            assert body["indexer_lag"] == 0, body
            resident = self.world.enroll(f"writer-{secrets.token_hex(4)}")
            answer = self.world.upload(resident, {"name": "Zhang San"})
            assert answer.status_code == 200, (attempt, answer.text)
            if attempt == "before":
                self.restart()
        for path, who, seen in before:
            assert _read(self.world, path, who) == seen, path


def _read(world: World, path: str, who: Identity) -> Any:
    answer = world.get(path, who)
    assert answer.status_code == 200, (path, answer.text)
    return answer.json()


def _subset(want: Any, have: Any) -> bool:
    if isinstance(want, dict):
        return isinstance(have, dict) and all(
            k in have and _subset(v, have[k]) for k, v in want.items()
        )
    return bool(want == have)


def _host(tmp_path: Path, database_url: str | None) -> Host:
    settings = Settings(data_dir=tmp_path, block_period=0, database_url=database_url)
    node = open_node(settings)
    admin = Identity.load(tmp_path / "admin", (tmp_path / "admin.password").read_text().strip())
    node.chain.fund(admin.address, 10**20)
    http = TestClient(create_app(node=node))
    http.__enter__()
    try:
        world = populate(World(node=node, http=http, admin=admin))
    except BaseException:
        http.__exit__(None, None, None)
        node.close()
        raise
    return Host(world, settings, http)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def host(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Host]:
    tmp_path = Path(tmp_path_factory.mktemp(f"hostile-{request.param}"))
    if request.param == "sqlite":
        served = _host(tmp_path, None)
        try:
            yield served
        finally:
            served.close()
        return
    with pg_schema() as url:
        served = _host(tmp_path, url)
        try:
            yield served
        finally:
            served.close()


def resident_with_record(world: World) -> Identity:
    resident = world.enroll(f"resident-{secrets.token_hex(4)}")
    answer = world.upload(resident, VALUES)
    assert answer.status_code == 200, answer.text
    return resident


def grant_body(world: World, resident: Identity, **message: Any) -> dict[str, Any]:
    now = world.now()
    fields = ["income", "name"]
    return world.body(
        resident,
        "Grant",
        {
            "resident": resident.address,
            "department": world.dept.address,
            "fields": ids(*fields),
            "purpose": name_to_bytes32("HOUSING"),
            "validFrom": now,
            "validUntil": now + 86400,
            "maxUses": 0,
            "requestId": ZERO32,
            **message,
        },
        wrapped_keys=wrap_keys_for_department(
            world.records[resident.address],
            fields,
            department=world.dept.address,
            department_public_key=world.dept.encryption_public_key,
        ),
    )


def beyond(body: dict[str, Any], member: str, value: int) -> dict[str, Any]:
    """``body`` with ``message[member]`` set to ``value``, which no wallet would sign (the
    API must refuse the message's shape before it checks the signature)."""
    return {**body, "message": {**body["message"], member: value}}


def assert_refused(answer: Any, *, detail: str) -> None:
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert detail in answer.text, answer.text


def consents_of(world: World, resident: Identity) -> list[dict[str, Any]]:
    return list(_read(world, f"/residents/{resident.address}/consents", resident)["data"])


def events_of(world: World, resident: Identity, kind: str) -> list[dict[str, Any]]:
    answer = world.get("/audit/events", world.auditor, resident=resident.address, type=kind)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


# ---------------------------------------------------------------------- CommitRecord


@pytest.mark.parametrize("version", UINT64_BOUNDS, ids=["2**63-1", "2**63", "2**64-1"])
def test_a_record_version_at_the_uint64_bounds_is_served_exactly(host: Host, version: int) -> None:
    world = host.world
    resident = world.enroll(f"resident-{secrets.token_hex(4)}")
    answer = world.upload(resident, VALUES, version=version)
    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == version
    path = f"/residents/{resident.address}/record"
    for params in ({}, {"version": version}):
        record = world.get(path, resident, **params).json()
        assert record["version"] == version and sorted(record["fields"]) == sorted(VALUES)
    (committed,) = events_of(world, resident, "RecordCommitted")
    assert committed["args"]["version"] == version

    consent_id = world.grant(resident, world.dept, ["income"])
    served = world.query(world.dept, resident, consent_id, ["income"])
    assert served.status_code == 200, served.text
    assert served.json()["record"]["version"] == version
    assert served.json()["fields"]["income"]["version"] == version
    host.sound((f"{path}?version={version}", resident, {"version": version}))


def test_a_record_version_beyond_uint64_is_refused_before_relaying(host: Host) -> None:
    world = host.world
    resident = world.enroll(f"resident-{secrets.token_hex(4)}")
    head = host.node.chain.head_number()
    record = RecordVersion.build(
        VALUES,
        resident=resident.address,
        version=1,
        owner_public_key=resident.encryption_public_key,
    )
    body = world.body(
        resident,
        "CommitRecord",
        {"resident": resident.address, "version": 1, "root": record.root},
        fields=record.envelopes(),
    )
    body["message"]["version"] = TOP + 1  # no wallet signs it: the API must refuse the shape
    answer = world.put(f"/residents/{resident.address}/record", resident, body)
    assert_refused(answer, detail="CommitRecord.version")
    assert host.node.chain.head_number() == head
    assert world.get(f"/residents/{resident.address}/record", resident).status_code == 404
    host.sound()


@pytest.mark.parametrize(
    ("version", "status"),
    [(TOP, 404), (TOP + 1, 422), (2**70, 422), (-1, 422)],
    ids=["2**64-1", "2**64", "2**70", "-1"],
)
def test_reading_a_record_version_out_of_range_is_4xx(
    host: Host, version: int, status: int
) -> None:
    world = host.world
    answer = world.get(
        f"/residents/{world.resident.address}/record", world.resident, version=version
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


# ---------------------------------------------------------------------- Grant


def _consent_views(world: World, resident: Identity, consent_id: int) -> dict[str, Any]:
    """The consent as each view that shows its terms gives it."""
    own = _read(world, f"/consents/{consent_id}", resident)
    listed = next(c for c in consents_of(world, resident) if c["consent_id"] == consent_id)
    by_department = _read(world, "/consents", world.dept)["data"]
    theirs = next(c for c in by_department if c["consent_id"] == consent_id)
    record = _read(world, f"/consents/{consent_id}/record", resident)
    (granted,) = [
        e for e in events_of(world, resident, "ConsentGranted") if e["consent_id"] == consent_id
    ]
    return {"own": own, "listed": listed, "theirs": theirs, "record": record, "event": granted}


def _assert_terms(views: dict[str, Any], **terms: int) -> None:
    for name in ("own", "listed", "theirs"):
        assert {k: views[name][k] for k in terms} == terms, name
    validity = views["record"]["validity"]
    assert validity["valid_from_unix"] == terms["valid_from"]
    assert validity["valid_until_unix"] == terms["valid_until"]
    assert validity["valid_from"] == iso_utc(terms["valid_from"])
    assert validity["valid_until"] == iso_utc(terms["valid_until"])
    assert validity["max_uses"] == terms["max_uses"]
    args = views["event"]["args"]
    assert (args["validFrom"], args["validUntil"], args["maxUses"]) == (
        terms["valid_from"],
        terms["valid_until"],
        terms["max_uses"],
    )


@pytest.mark.parametrize("valid_until", UINT64_BOUNDS, ids=["2**63-1", "2**63", "2**64-1"])
def test_a_grant_valid_until_the_uint64_bounds_is_served_exactly(
    host: Host, valid_until: int
) -> None:
    world = host.world
    resident = resident_with_record(world)
    now = world.now()
    answer = world.post("/consents", resident, grant_body(world, resident, validUntil=valid_until))
    assert answer.status_code == 201, answer.text
    consent_id = answer.json()["consent_id"]
    views = _consent_views(world, resident, consent_id)
    assert views["own"]["status"] == "active"
    _assert_terms(views, valid_from=views["own"]["valid_from"], valid_until=valid_until, max_uses=0)
    assert views["own"]["valid_from"] >= now
    served = world.query(world.dept, resident, consent_id, ["income"])
    assert served.status_code == 200, served.text
    host.sound((f"/consents/{consent_id}", resident, {"valid_until": valid_until}))


@pytest.mark.parametrize(
    "valid_from", [2**63 - 1, 2**63, TOP - 1], ids=["2**63-1", "2**63", "2**64-2"]
)
def test_a_grant_valid_from_the_uint64_bounds_is_served_exactly(
    host: Host, valid_from: int
) -> None:
    world = host.world
    resident = resident_with_record(world)
    body = grant_body(world, resident, validFrom=valid_from, validUntil=TOP)
    answer = world.post("/consents", resident, body)
    assert answer.status_code == 201, answer.text
    consent_id = answer.json()["consent_id"]
    views = _consent_views(world, resident, consent_id)
    assert views["own"]["status"] == "not_yet_valid"
    _assert_terms(views, valid_from=valid_from, valid_until=TOP, max_uses=0)
    early = world.query(world.dept, resident, consent_id, ["income"])
    assert (early.status_code, early.json()["reason"]) == (403, "not_yet_valid")
    host.sound((f"/consents/{consent_id}", resident, {"valid_from": valid_from}))


def test_a_grant_window_from_the_top_of_uint64_is_refused_on_chain(host: Host) -> None:
    world = host.world
    resident = resident_with_record(world)
    answer = world.post(
        "/consents", resident, grant_body(world, resident, validFrom=TOP, validUntil=TOP)
    )
    assert_refused(answer, detail="ConsentLedgerInvalidWindow")
    assert consents_of(world, resident) == []
    host.sound()


@pytest.mark.parametrize("member", ["validFrom", "validUntil"])
def test_a_grant_time_beyond_uint64_is_refused_before_relaying(host: Host, member: str) -> None:
    world = host.world
    resident = resident_with_record(world)
    head = host.node.chain.head_number()
    answer = world.post("/consents", resident, beyond(grant_body(world, resident), member, TOP + 1))
    assert_refused(answer, detail=f"Grant.{member}")
    assert host.node.chain.head_number() == head
    assert consents_of(world, resident) == []
    host.sound()


@pytest.mark.parametrize("max_uses", UINT32_BOUNDS, ids=["2**31-1", "2**31", "2**32-1"])
def test_a_use_cap_at_the_uint32_bounds_is_served_exactly(host: Host, max_uses: int) -> None:
    world = host.world
    resident = resident_with_record(world)
    answer = world.post("/consents", resident, grant_body(world, resident, maxUses=max_uses))
    assert answer.status_code == 201, answer.text
    consent_id = answer.json()["consent_id"]
    served = world.query(world.dept, resident, consent_id, ["income"])
    assert served.status_code == 200, served.text
    views = _consent_views(world, resident, consent_id)
    _assert_terms(
        views,
        valid_from=views["own"]["valid_from"],
        valid_until=views["own"]["valid_until"],
        max_uses=max_uses,
    )
    assert (views["own"]["uses"], views["record"]["validity"]["uses"]) == (1, 1)
    host.sound((f"/consents/{consent_id}", resident, {"max_uses": max_uses, "uses": 1}))


def test_a_use_cap_beyond_uint32_is_refused_before_relaying(host: Host) -> None:
    world = host.world
    resident = resident_with_record(world)
    head = host.node.chain.head_number()
    answer = world.post(
        "/consents", resident, beyond(grant_body(world, resident), "maxUses", 2**32)
    )
    assert_refused(answer, detail="Grant.maxUses")
    assert host.node.chain.head_number() == head
    host.sound()


# ---------------------------------------------------------------------- AccessRequest


def request_body(world: World, resident: Identity, duration: int) -> dict[str, Any]:
    return world.body(
        world.dept,
        "AccessRequest",
        {
            "department": world.dept.address,
            "resident": resident.address,
            "fields": ids("income", "name"),
            "purpose": name_to_bytes32("HOUSING"),
            "duration": duration,
        },
    )


@pytest.mark.parametrize("duration", UINT64_BOUNDS, ids=["2**63-1", "2**63", "2**64-1"])
def test_a_request_duration_at_the_uint64_bounds_is_served_exactly(
    host: Host, duration: int
) -> None:
    world = host.world
    resident = resident_with_record(world)
    answer = world.post("/access-requests", world.dept, request_body(world, resident, duration))
    assert answer.status_code == 201, answer.text
    request_id = answer.json()["request_id"]
    path = f"/residents/{resident.address}/access-requests"
    (pending,) = _read(world, path, resident)["data"]
    assert (pending["request_id"], pending["duration"], pending["status"]) == (
        request_id,
        duration,
        "pending",
    )
    own = [
        r
        for r in _read(world, "/access-requests", world.dept)["data"]
        if r["request_id"] == request_id
    ]
    assert [r["duration"] for r in own] == [duration]
    (filed,) = events_of(world, resident, "AccessRequested")
    assert filed["args"]["duration"] == duration
    granted = world.post(
        "/consents", resident, grant_body(world, resident, requestId=request_id, validUntil=TOP)
    )
    assert granted.status_code == 201, granted.text
    (answered,) = _read(world, path, resident)["data"]
    assert (answered["duration"], answered["status"], answered["consent_id"]) == (
        duration,
        "granted",
        granted.json()["consent_id"],
    )
    host.sound((path, resident, {}))


@pytest.mark.parametrize(
    ("duration", "detail"),
    [(TOP + 1, "AccessRequest.duration"), (0, "ConsentLedgerZeroDuration")],
    ids=["2**64", "0"],
)
def test_a_request_duration_outside_uint64_or_zero_is_refused(
    host: Host, duration: int, detail: str
) -> None:
    world = host.world
    resident = resident_with_record(world)
    body = request_body(world, resident, min(duration, TOP))
    answer = world.post("/access-requests", world.dept, beyond(body, "duration", duration))
    assert_refused(answer, detail=detail)
    assert _read(world, f"/residents/{resident.address}/access-requests", resident)["data"] == []
    host.sound()


# ---------------------------------------------------------------------- Attest


def attest_body(
    world: World, resident: Identity, *, issued_at: int, expires_at: int
) -> dict[str, Any]:
    salt = world.records[resident.address].values()["income"].salt
    domain = world.http.get("/eip712").json()["intents"]["Attest"]["domain"]
    attestation = attest(
        world.issuer.account.key,
        resident=resident.address,
        field="income",
        value=VALUES["income"],
        salt=salt,
        issued_at=issued_at,
        expires_at=min(expires_at, TOP),
        chain_id=domain["chainId"],
        directory=domain["verifyingContract"],
    )
    body = attestation.to_json()
    body["message"]["expiresAt"] = expires_at  # beyond uint64: no wallet signs it
    return body


@pytest.mark.parametrize("expires_at", UINT64_BOUNDS, ids=["2**63-1", "2**63", "2**64-1"])
def test_an_attestation_expiring_at_the_uint64_bounds_is_served_exactly(
    host: Host, expires_at: int
) -> None:
    world = host.world
    resident = resident_with_record(world)
    body = attest_body(world, resident, issued_at=world.now(), expires_at=expires_at)
    answer = world.post("/attestations", world.issuer, body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["expires_at"] == expires_at
    consent_id = world.grant(resident, world.dept, ["income"])
    served = world.query(world.dept, resident, consent_id, ["income"])
    assert served.status_code == 200, served.text
    attestation = served.json()["fields"]["income"]["attestation"]
    assert attestation["message"]["expiresAt"] == expires_at
    host.sound()


@pytest.mark.parametrize(
    ("issued_at", "expires_at"),
    [(2**63, TOP), (TOP - 1, TOP), (None, TOP + 1)],
    ids=["issued 2**63", "issued 2**64-2", "expires 2**64"],
)
def test_an_attestation_with_times_out_of_range_is_refused(
    host: Host, issued_at: int | None, expires_at: int
) -> None:
    world = host.world
    resident = resident_with_record(world)
    issued = world.now() if issued_at is None else issued_at
    body = attest_body(world, resident, issued_at=issued, expires_at=expires_at)
    answer = world.post("/attestations", world.issuer, body)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    consent_id = world.grant(resident, world.dept, ["income"])
    served = world.query(world.dept, resident, consent_id, ["income"])
    assert served.json()["fields"]["income"]["attestation"] is None  # nothing was stored
    host.sound()


# ---------------------------------------------------------------------- query parameters


@pytest.mark.parametrize("value", [2**63, TOP, 2**70], ids=["2**63", "2**64-1", "2**70"])
@pytest.mark.parametrize("path", ["/audit/events", "/audit/export"])
@pytest.mark.parametrize("bound", ["since", "until"])
def test_a_time_filter_beyond_signed_64_bits_is_422_before_any_answer(
    host: Host, path: str, bound: str, value: int
) -> None:
    world = host.world
    answer = world.get(path, world.auditor, **{bound: value})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


# ---------------------------------------------------------------------- ids that are not names


def other_submitter(world: World) -> LedgerClient:
    """Another relayer (another API instance, say), sending straight to the contracts."""
    node = world.node
    assert node is not None
    account = Account.create()
    node.chain.fund(account.address, 10**20)
    answer = world.post(
        "/admin/roles",
        world.admin,
        world.body(
            world.admin,
            "GrantRole",
            {"role": role_id("relayer"), "account": account.address, "fields": []},
        ),
    )
    assert answer.status_code == 201, answer.text
    return LedgerClient(node.chain, node.deployment, TransactionSigner(account))


def access_naming(
    world: World,
    resident: Identity,
    consent_id: int,
    field_ids: list[bytes],
    terms: ConsentTerms,
) -> SignedIntent:
    """The department's signed ``Access`` to exactly ``field_ids`` (sorted)."""
    node = world.node
    assert node is not None
    message = {
        "department": world.dept.address,
        "resident": resident.address,
        "consentId": consent_id,
        "fields": sorted(field_ids),
        "nonce": secrets.randbits(128),
        "deadline": world.now() + 600,
    }
    signature = sign_intent(
        world.dept.account.key,
        "Access",
        message,
        chain_id=node.chain.chain_id,
        verifying_contract=node.client.verifying_contract("Access"),
    )
    return SignedIntent("Access", message, signature, terms)


def test_a_field_id_that_is_not_a_name_is_shown_as_hex_in_every_view(host: Host) -> None:
    """Before, one such refusal made the resident's access log and the consent's record
    answer 500 for good. One refusal names a granted consent (``field_not_in_scope``), one
    the id the next grant takes (``unknown_consent``: its record lists it)."""
    world, node = host.world, host.node
    resident = resident_with_record(world)
    consent_id = world.grant(resident, world.dept, ["income"])
    with node.store.connect() as c:
        granted_terms = ConsentTerms.from_row(require_consent(c, consent_id))
    odd, income = "0x" + ODD_FIELD.hex(), name_to_bytes32("income")
    outcomes = other_submitter(world).submit(
        [
            access_naming(world, resident, consent_id, [ODD_FIELD], granted_terms),
            access_naming(
                world, resident, consent_id + 1, [income, ODD_FIELD], ConsentTerms.empty()
            ),
        ]
    )
    reasons = [bytes(o.unwrap().args["reason"]).rstrip(b"\0").decode() for o in outcomes]
    assert reasons == ["field_not_in_scope", "unknown_consent"]
    assert world.grant(resident, world.dept, ["name"]) == consent_id + 1

    log = _read(world, f"/residents/{resident.address}/access-log", resident)["data"]
    assert [(e["consent_id"], e["fields"], e["reason"]) for e in log] == [
        (consent_id + 1, ["income", odd], "unknown_consent"),
        (consent_id, [odd], "field_not_in_scope"),
    ]
    for consent, fields, reason in (
        (consent_id, [odd], "field_not_in_scope"),
        (consent_id + 1, ["income", odd], "unknown_consent"),
    ):
        record = _read(world, f"/consents/{consent}/record", resident)
        refused = [e for e in record["events"] if e["event_type"] == "access_refused"]
        assert [(e["pii_categories"], e["reason"]) for e in refused] == [(fields, reason)]
    denied = events_of(world, resident, "AccessDenied")
    assert [e["args"]["fields"] for e in denied] == [[odd], ["0x" + income.hex(), odd]]
    for fmt in ("jsonl", "csv"):
        export = world.get("/audit/export", world.auditor, format=fmt, resident=resident.address)
        assert export.status_code == 200 and export.text.count(odd) == 2
    verified = _read(world, "/audit/verify", world.auditor)
    assert verified["ok"], verified["problems"]
    host.sound(
        (f"/residents/{resident.address}/access-log", resident, {}),
        (f"/consents/{consent_id}/record", resident, {}),
        (f"/consents/{consent_id + 1}/record", resident, {}),
    )


# ---------------------------------------------------------------------- a round that fails


def refuse_index_writes(host: Host) -> None:
    """Make the database itself refuse the indexer's bookkeeping rows (a trigger), as a
    full disk or a revoked grant would: real failures, nothing mocked."""
    with host.node.store.begin() as c:
        if host.node.store.is_sqlite:
            c.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON indexed_blocks"
                " BEGIN SELECT RAISE(ABORT, 'the disk said no'); END"
            )
        else:
            c.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql"
                " AS $$ BEGIN RAISE EXCEPTION 'the disk said no'; END $$"
            )
            c.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON indexed_blocks"
                " FOR EACH ROW EXECUTE FUNCTION refuse()"
            )


def allow_index_writes(host: Host) -> None:
    with host.node.store.begin() as c:
        if host.node.store.is_sqlite:
            c.exec_driver_sql("DROP TRIGGER refuse")
        else:
            c.exec_driver_sql("DROP TRIGGER refuse ON indexed_blocks")
            c.exec_driver_sql("DROP FUNCTION refuse()")


def assert_failing(host: Host) -> None:
    health = host.world.http.get("/health")
    assert health.status_code == 503, health.text
    body = health.json()
    assert body["status"] == "failing"
    assert "the disk said no" in body["indexer_failure"], body
    assert body["indexer_lag"] > 0


def test_health_is_503_while_an_indexer_round_fails_and_ok_once_one_succeeds(host: Host) -> None:
    node = host.node
    assert host.world.http.get("/health").status_code == 200
    refuse_index_writes(host)
    try:
        node.chain.fund(Account.create().address, 1)  # a block for the indexer to take
        with pytest.raises(Exception, match="the disk said no"):
            node.indexer.catch_up()
        assert_failing(host)
    finally:
        allow_index_writes(host)
    node.indexer.catch_up()
    host.sound()


def test_a_node_starts_while_its_read_model_cannot_advance_and_recovers_in_place(
    host: Host,
) -> None:
    """Before, a read model that could not catch up failed the start ("Application
    startup failed"), so a supervisor restarted it in a loop."""
    refuse_index_writes(host)
    try:
        host.node.chain.fund(Account.create().address, 1)
        host.restart()
        assert_failing(host)
        assert host.node.indexer.failure is not None
    finally:
        allow_index_writes(host)
    host.node.indexer.catch_up()  # what the follower does every second
    assert host.world.http.get("/health").status_code == 200
    host.sound()

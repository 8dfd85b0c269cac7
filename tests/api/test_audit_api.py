"""Auditors' endpoints, the resident's access log, health's indexer figures and the
ISO/IEC TS 27560-style consent record, over one story told once for the module."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from api.commands import register
from api.commands.demo import serve_in_thread
from api.export_marker import ExportChecker, ExportIncomplete
from api.node import Node
from api.routers import audit as audit_router
from api.routers import consent_records
from ledger.store import consents, events
from tests.api.conftest import FAST_SCRYPT, World, make_world

RECORD_PATH = "/consents/{consent_id}/record"


@dataclass
class Told:
    world: World
    consent: int  # resident → Housing Bureau, used twice, refused to the Tax Office, revoked
    consent2: int  # resident2 → Tax Office, max one use, then exhausted
    last_block: int


@pytest.fixture(scope="module")
def told(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Told]:
    for world in make_world(Path(tmp_path_factory.mktemp("audit-api"))):
        assert isinstance(world.http, TestClient)
        app = world.http.app
        assert isinstance(app, FastAPI)
        if not any(getattr(r, "path", None) == RECORD_PATH for r in app.routes):
            app.include_router(consent_records.router)  # until api/main.py includes it
        resident, resident2, dept, dept2 = world.resident, world.resident2, world.dept, world.dept2
        consent = world.grant(resident, dept, ["address", "income", "name"])
        for names in (["income"], ["income", "name"]):
            assert world.query(dept, resident, consent, names).status_code == 200
        assert world.query(dept2, resident, consent, ["income"]).json()["reason"] == "not_granted"
        consent2 = world.grant(resident2, dept2, ["income"], max_uses=1)
        assert world.query(dept2, resident2, consent2, ["income"]).status_code == 200
        refused = world.query(dept2, resident2, consent2, ["income"]).json()
        assert refused["reason"] == "uses_exhausted"
        assert world.revoke(resident, consent).status_code == 200
        last = world.query(dept, resident, consent, ["income"])
        assert last.json()["reason"] == "revoked"
        yield Told(world, consent, consent2, int(last.json()["receipt"]["block_number"]))


def node_of(world: World) -> Node:
    assert world.node is not None, "these tests look into the node's read model"
    return world.node


def stored_events(world: World) -> list[dict[str, Any]]:
    """The read model's events as the API shows them, in chain order. This story has no
    service or bundle, so none names one (``tests/api/test_audit_bundles.py`` names them)."""
    with node_of(world).store.connect() as c:
        rows = c.execute(select(events).order_by(events.c.block_number, events.c.log_index))
        return [
            {
                "type": r["name"],
                "block_number": r["block_number"],
                "log_index": r["log_index"],
                "tx_hash": r["tx_hash"],
                "block_timestamp": r["block_timestamp"],
                "contract": r["contract"],
                "resident": r["resident"],
                "department": r["department"],
                "consent_id": r["consent_id"],
                "args": json.loads(r["args"]),
                "bundle_id": None,
                "service": None,
                "service_name": None,
            }
            for r in rows.mappings()
        ]


def walk(world: World, path: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every page of a cursor-paginated list; the items and how many pages."""
    items: list[dict[str, Any]] = []
    cursor, pages = None, 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = world.get(path, world.auditor, **query)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["data"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 1000


def position(e: dict[str, Any]) -> tuple[int, int]:
    return e["block_number"], e["log_index"]


# ---------------------------------------------------------------------- /audit/events


def test_events_lists_the_read_model_in_chain_order(told: Told) -> None:
    world = told.world
    everything = world.get("/audit/events", world.auditor, limit=1000).json()
    assert everything["next_cursor"] is None
    assert everything["data"] == stored_events(world)
    names = [e["type"] for e in everything["data"]]
    assert names.count("AccessLogged") == 3 and names.count("AccessDenied") == 3


def test_events_filters(told: Told) -> None:
    world = told.world
    every = stored_events(world)
    resident, dept2 = world.resident.address, world.dept2.address

    def listed(**params: Any) -> list[dict[str, Any]]:
        items, _ = walk(world, "/audit/events", limit=1000, **params)
        return items

    by_resident = listed(resident=resident)
    assert by_resident == [e for e in every if e["resident"] == resident]
    assert {e["type"] for e in by_resident} >= {"ResidentEnrolled", "ConsentGranted"}
    by_department = listed(department=dept2)
    assert by_department == [e for e in every if e["department"] == dept2]
    assert {e["type"] for e in by_department} >= {"DepartmentRegistered", "AccessDenied"}
    accesses = listed(type=["AccessLogged", "AccessDenied"])
    assert accesses == [e for e in every if e["type"] in ("AccessLogged", "AccessDenied")]
    assert len(accesses) == 6
    assert listed(type="ConsentRevoked") == [e for e in every if e["type"] == "ConsentRevoked"]
    assert listed(type="NoSuchEvent") == []
    # a value that cannot be an event name is refused, not answered with an empty page
    refused = world.get("/audit/events", world.auditor, type="-3.3e166")
    assert refused.status_code == 422, refused.text

    stamps = sorted({e["block_timestamp"] for e in accesses})
    since, until = stamps[1], stamps[-1]
    window = listed(since=since, until=until)
    assert window == [e for e in every if since <= e["block_timestamp"] < until]
    assert window and all(since <= e["block_timestamp"] < until for e in window)
    both = listed(resident=resident, department=dept2, type=["AccessDenied"], since=since)
    assert both == [
        e
        for e in every
        if e["resident"] == resident
        and e["department"] == dept2
        and e["type"] == "AccessDenied"
        and e["block_timestamp"] >= since
    ]


def test_events_cursor_pagination_is_stable(told: Told) -> None:
    world = told.world
    unpaginated = world.get("/audit/events", world.auditor, limit=1000).json()["data"]
    paged, pages = walk(world, "/audit/events", limit=3)
    assert pages == -(-len(unpaginated) // 3)
    assert paged == unpaginated
    assert len({position(e) for e in paged}) == len(paged)
    assert [position(e) for e in paged] == sorted(position(e) for e in paged)
    # The same walk again gives the same pages; so does a filtered walk.
    assert walk(world, "/audit/events", limit=3)[0] == paged
    resident = world.resident.address
    filtered, _ = walk(
        world,
        "/audit/events",
        limit=2,
        resident=resident,
        type=["AccessLogged", "AccessDenied", "ConsentRevoked"],
    )
    assert filtered == [
        e
        for e in unpaginated
        if e["resident"] == resident
        and e["type"] in ("AccessLogged", "AccessDenied", "ConsentRevoked")
    ]


def test_events_refuse_bad_cursors_and_non_auditors(told: Told) -> None:
    world = told.world
    assert world.get("/audit/events", world.auditor, cursor="garbage!").status_code == 422
    assert world.get("/audit/events", world.auditor, limit=0).status_code == 422
    for path in ("/audit/events", "/audit/export", "/audit/verify"):
        assert world.get(path, None).status_code == 401
        for who in (world.resident, world.dept, world.registrar):
            answer = world.get(path, who)
            assert answer.status_code == 403, (path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"


# ---------------------------------------------------------------------- /audit/export


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Export pages of 4 events, so the stream spans many pages."""
    monkeypatch.setattr(audit_router, "_EXPORT_PAGE", 4)


def test_export_jsonl_holds_exactly_the_events(told: Told, small_pages: None) -> None:
    world = told.world
    answer = world.get("/audit/export", world.auditor, format="jsonl")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in answer.headers["content-disposition"]
    lines = answer.text.splitlines()
    assert all(lines) and answer.text.endswith("\n")
    *records, end = [json.loads(line) for line in lines]
    assert records == stored_events(world)
    assert end == {"end": True, "events": len(records)}

    filtered = world.get("/audit/export", world.auditor, format="jsonl", type=["AccessLogged"])
    *parsed, end = [json.loads(line) for line in filtered.text.splitlines()]
    assert parsed == [e for e in stored_events(world) if e["type"] == "AccessLogged"]
    assert end == {"end": True, "events": 3}
    nothing = world.get("/audit/export", world.auditor, format="jsonl", type=["NoSuchEvent"])
    assert nothing.text == '{"end":true,"events":0}\n'


def test_export_csv_holds_exactly_the_events(told: Told, small_pages: None) -> None:
    world = told.world
    answer = world.get("/audit/export", world.auditor, format="csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    *rows, end = list(csv.DictReader(io.StringIO(answer.text)))
    every = stored_events(world)
    assert len(rows) == len(every)
    assert end == {
        c: {"block_number": "end", "log_index": str(len(every))}.get(c, "")
        for c in audit_router._CSV_COLUMNS
    }
    for row, event in zip(rows, every, strict=True):
        assert set(row) == set(audit_router._CSV_COLUMNS)
        assert json.loads(row["args"]) == event["args"]
        for column in ("block_number", "log_index", "block_timestamp", "consent_id"):
            assert row[column] == ("" if event[column] is None else str(event[column]))
        for column in ("tx_hash", "contract", "type", "resident", "department"):
            assert row[column] == (event[column] or "")

    resident2 = world.resident2.address
    filtered = world.get("/audit/export", world.auditor, format="csv", resident=resident2)
    *rows, end = list(csv.DictReader(io.StringIO(filtered.text)))
    assert [(int(r["block_number"]), int(r["log_index"])) for r in rows] == [
        position(e) for e in every if e["resident"] == resident2
    ]
    assert (end["block_number"], end["log_index"]) == ("end", str(len(rows)))
    assert world.get("/audit/export", world.auditor, format="xml").status_code == 422


@pytest.mark.parametrize("bound", ["since", "until"])
def test_export_with_a_bound_it_cannot_compare_is_a_problem_not_a_cut_200(
    told: Told, bound: str
) -> None:
    """Before, ``since=2**70`` answered 200 and then broke the stream."""
    world = told.world
    for value in (2**63, 2**70, -1):
        answer = world.get("/audit/export", world.auditor, format="jsonl", **{bound: value})
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"


@pytest.fixture
def corrupt_row(told: Told) -> Iterator[None]:
    """A read-model row whose args are not JSON, after the first export page: the export
    fails in the middle of its stream, after its 200 and first lines went out."""
    store = node_of(told.world).store
    with store.begin() as c:
        c.execute(
            events.insert().values(
                block_number=told.last_block + 10**6,
                log_index=0,
                tx_hash="0x" + "ab" * 32,
                block_timestamp=0,
                contract="ConsentLedger",
                name="AccessLogged",
                args="{not json",
            )
        )
    try:
        yield
    finally:
        with store.begin() as c:
            c.execute(events.delete().where(events.c.block_number == told.last_block + 10**6))


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_export_that_fails_midway_has_no_end_marker(
    told: Told, small_pages: None, corrupt_row: None, fmt: str
) -> None:
    world = told.world
    lenient = TestClient(world.http.app, raise_server_exceptions=False)
    with lenient.stream(
        "GET", "/audit/export", params={"format": fmt}, headers=world.headers(world.auditor)
    ) as answer:
        assert answer.status_code == 200  # the first page went out before the failure
        received = b""
        # A server drops the connection (the CLI test below meets that over real HTTP);
        # the test client just ends the body. Either way the marker must not be there.
        with contextlib.suppress(httpx.HTTPError):
            for chunk in answer.iter_bytes():
                received += chunk
    assert received  # some events arrived, and they end on a whole line
    checker = ExportChecker(fmt)
    checker.feed(received)
    with pytest.raises(ExportIncomplete, match="no end marker"):
        checker.events()
    assert b'"end":true' not in received and b"\nend," not in received


# ---------------------------------------------------------------------- the CLI's export


@pytest.fixture
def served_auditor(told: Told, tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """The told world over real HTTP, and the auditor's wallet and password file."""
    world = told.world
    wallet, password = tmp_path / "auditor-wallet", tmp_path / "password"
    password.write_text("auditor password\n")
    world.auditor.save(wallet, "auditor password", scrypt_n=FAST_SCRYPT)
    with serve_in_thread(node_of(world)) as url:
        yield url, wallet, password


def export_cli(url: str, wallet: Path, password: Path, *args: str) -> Any:
    app = typer.Typer()
    register(app)
    options = ["--api", url, "--wallet", str(wallet), "--password-file", str(password)]
    return CliRunner().invoke(app, ["audit", "export", *args, *options])


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_the_cli_writes_a_whole_export_with_its_end_marker(
    told: Told, small_pages: None, served_auditor: tuple[str, Path, Path], tmp_path: Path, fmt: str
) -> None:
    url, wallet, password = served_auditor
    output = tmp_path / f"events.{fmt}"
    result = export_cli(url, wallet, password, "--format", fmt, "--output", str(output))
    assert result.exit_code == 0, result.output
    count = len(stored_events(told.world))
    assert f"exported {count} events" in result.output
    checker = ExportChecker(fmt)
    checker.feed(output.read_bytes())
    assert checker.events() == count
    assert not output.with_name(output.name + ".partial").exists()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_the_cli_fails_clearly_on_an_export_cut_short(
    told: Told,
    small_pages: None,
    corrupt_row: None,
    served_auditor: tuple[str, Path, Path],
    tmp_path: Path,
    fmt: str,
) -> None:
    url, wallet, password = served_auditor
    output = tmp_path / f"events.{fmt}"
    result = export_cli(url, wallet, password, "--format", fmt, "--output", str(output))
    assert result.exit_code == 1, result.output
    assert "the export broke off after" in result.output, result.output
    assert not output.exists()
    partial = output.with_name(output.name + ".partial")
    assert partial.exists() and partial.stat().st_size > 0
    assert str(partial) in result.output.replace("\n", "")


def test_the_export_checker_tells_a_whole_export_from_a_cut_one() -> None:
    whole = b'{"a":1}\n{"a":2}\n{"end":true,"events":2}\n'
    for cut, message in (
        (whole, None),
        (whole[: whole.index(b'{"end"')], "no end marker"),
        (whole[:-5], "in the middle of a line"),
        (b'{"a":1}\n{"end":true,"events":2}\n', "counts 2 events but 1"),
        (b'{"end":"yes","events":0}\n', "no end marker"),
        (b"", "in the middle of a line"),
    ):
        checker = ExportChecker("jsonl")
        for i in range(0, len(cut), 3):  # any chunking
            checker.feed(cut[i : i + 3])
        if message is None:
            assert checker.events() == 2
        else:
            with pytest.raises(ExportIncomplete, match=message):
                checker.events()
    header = ",".join(audit_router._CSV_COLUMNS).encode()
    end = b"end,1" + b"," * (len(audit_router._CSV_COLUMNS) - 2)
    checker = ExportChecker("csv")
    checker.feed(header + b"\r\n1,0,0x,1,C,T,,,,{}\r\n" + end + b"\r\n")
    assert checker.events() == 1
    cut = ExportChecker("csv")
    cut.feed(header + b"\r\n1,0,0x,1,C,T,,,,{}\r\n")
    with pytest.raises(ExportIncomplete, match="no end marker"):
        cut.events()


# ---------------------------------------------------------------------- /audit/verify


def test_verify_reports_a_tampered_row(told: Told) -> None:
    world = told.world
    clean = world.get("/audit/verify", world.auditor).json()
    assert clean["ok"], clean["problems"]
    assert clean["events"] == len(stored_events(world))
    primary = {
        "DepartmentRegistered",
        "RoleAssigned",
        "ResidentEnrolled",
        "RecordCommitted",
        "AccessRequested",
        "ConsentGranted",
        "ConsentRevoked",
        "AccessLogged",
        "AccessDenied",
    }  # one per accepted intent
    intents = [e for e in stored_events(world) if e["type"] in primary]
    assert clean["signatures_verified"] == len(intents) >= 18
    assert clean["to_block"] >= told.last_block

    store = node_of(world).store
    with store.connect() as c:
        row = (
            c.execute(select(consents).where(consents.c.consent_id == told.consent))
            .mappings()
            .one()
        )
    try:
        with store.begin() as c:
            c.execute(
                update(consents)
                .where(consents.c.consent_id == told.consent)
                .values(valid_until=row["valid_until"] + 365 * 86400)
            )
        report = world.get("/audit/verify", world.auditor).json()
        assert report["ok"] is False
        (problem,) = report["problems"]
        assert problem["kind"] == "consents_altered"
        assert "valid_until" in problem["detail"]
        assert problem["receipt"]["tx_hash"] == row["tx_hash"]
        assert problem["receipt"]["block_number"] == row["block_number"]
        assert (report["events"], report["signatures_verified"]) == (
            clean["events"],
            clean["signatures_verified"],
        )
    finally:
        node_of(world).indexer.rebuild()
    assert world.get("/audit/verify", world.auditor).json()["ok"]


# ---------------------------------------------------------------------- access log


def test_access_log_is_newest_first_and_paginated(told: Told) -> None:
    world = told.world
    resident = world.resident
    path = f"/residents/{resident.address}/access-log"
    full = world.get(path, resident, limit=1000).json()
    assert full["next_cursor"] is None
    entries = full["data"]
    assert [(e["type"], e["reason"], e["department_name"]) for e in entries] == [
        ("AccessDenied", "revoked", "Housing Bureau"),
        ("AccessDenied", "not_granted", "Tax Office"),
        ("AccessLogged", None, "Housing Bureau"),
        ("AccessLogged", None, "Housing Bureau"),
    ]
    assert [e["use"] for e in entries if e["type"] == "AccessLogged"] == [2, 1]
    assert entries[2]["fields"] == ["income", "name"] and entries[2]["purpose"] == "HOUSING"
    keys = [(e["receipt"]["block_number"], e["receipt"]["log_index"]) for e in entries]
    assert keys == sorted(keys, reverse=True)
    expected = [
        e
        for e in reversed(stored_events(world))
        if e["resident"] == resident.address and e["type"] in ("AccessLogged", "AccessDenied")
    ]
    assert [(e["receipt"]["tx_hash"], *k) for e, k in zip(entries, keys, strict=True)] == [
        (e["tx_hash"], *position(e)) for e in expected
    ]

    paged: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        body = world.get(path, resident, limit=1, **({"cursor": cursor} if cursor else {})).json()
        assert len(body["data"]) == 1
        paged += body["data"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 4 and paged == entries

    assert world.get(path, world.auditor).json()["data"] == entries
    assert world.get(path, world.resident2).status_code == 403
    assert world.get(path, world.dept).status_code == 403


# ---------------------------------------------------------------------- health


def test_health_shows_the_indexer_caught_up(told: Told) -> None:
    world = told.world
    answer = world.upload(world.resident2, {"name": "Li Wei", "income": "61000"}, version=2)
    assert answer.status_code == 200, answer.text
    receipt_block = answer.json()["receipt"]["block_number"]
    health = world.http.get("/health").json()
    assert health["indexer_lag"] == 0
    assert health["indexer_block"] >= receipt_block
    assert health["indexer_block"] == health["block_number"]


# ---------------------------------------------------------------------- consent record


def iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_consent_record_follows_ts_27560(told: Told) -> None:
    world = told.world
    consent = world.get(f"/consents/{told.consent}", world.resident).json()
    answer = world.get(RECORD_PATH.format(consent_id=told.consent), world.resident)
    assert answer.status_code == 200, answer.text
    record = answer.json()
    ledger = node_of(world).deployment.ledger
    chain_id = node_of(world).chain.chain_id

    assert record["schema_version"].startswith("ISO/IEC TS 27560")
    assert record["record_id"] == f"urn:consent-ledger:{chain_id}:{ledger}:{told.consent}"
    assert record["pii_principal_id"] == world.resident.address
    assert record["consent_status"] == "revoked" == consent["status"]
    housing = {"name": "Housing Bureau", "code": "HB", "address": world.dept.address}
    assert record["pii_controllers"] == [{**housing, "role": "controller"}]
    assert record["recipients"] == [{**housing, "role": "recipient"}]
    (purpose,) = record["purposes"]
    assert purpose["purpose_id"] == "HOUSING"
    assert purpose["lawful_basis"] == "consent"
    assert purpose["processing"] == ["access"]
    assert [p["pii_category"] for p in purpose["pii_information"]] == ["address", "income", "name"]
    schema = world.http.get("/schema").json()["fields"]
    assert all(p["field_id"] == schema[p["pii_category"]] for p in purpose["pii_information"])
    validity = record["validity"]
    assert validity["valid_from"] == iso(consent["valid_from"])
    assert validity["valid_until"] == iso(consent["valid_until"])
    assert datetime.fromisoformat(validity["valid_until"]).tzinfo is not None
    assert (validity["max_uses"], validity["uses"]) == (0, 2)

    events_of = [
        e
        for e in stored_events(world)
        if e["consent_id"] == told.consent and e["type"] != "AccessRequested"
    ]
    history = record["events"]
    assert [(h["event_type"], h["reason"], h["use"]) for h in history] == [
        ("consent_given", None, None),
        ("pii_accessed", None, 1),
        ("pii_accessed", None, 2),
        ("access_refused", "not_granted", None),
        ("consent_withdrawn", None, None),
        ("access_refused", "revoked", None),
    ]
    assert [h["receipt"]["tx_hash"] for h in history] == [e["tx_hash"] for e in events_of]
    assert [(h["receipt"]["block_number"], h["receipt"]["log_index"]) for h in history] == [
        position(e) for e in events_of
    ]
    assert all(h["event_time"] == iso(h["receipt"]["block_timestamp"]) for h in history)
    assert history[0]["event_by"] == world.resident.address
    assert history[0]["receipt"] == consent["receipt"]
    assert history[1]["event_by"] == world.dept.address
    assert history[1]["pii_categories"] == ["income"]
    assert history[3]["event_by"] == world.dept2.address

    chain = record["chain"]
    assert chain == {
        "chain_id": chain_id,
        "contract": "ConsentLedger",
        "contract_address": ledger,
        "consent_id": told.consent,
        "grant_tx": consent["receipt"]["tx_hash"],
        "grant_block": consent["receipt"]["block_number"],
        "grant_log_index": consent["receipt"]["log_index"],
        "request_id": None,
    }


def test_consent_record_of_an_exhausted_consent(told: Told) -> None:
    world = told.world
    record = world.get(RECORD_PATH.format(consent_id=told.consent2), world.dept2).json()
    assert record["consent_status"] == "exhausted"
    assert record["pii_principal_id"] == world.resident2.address
    assert record["pii_controllers"][0]["code"] == "TX"
    assert (record["validity"]["max_uses"], record["validity"]["uses"]) == (1, 1)
    assert [(h["event_type"], h["reason"]) for h in record["events"]] == [
        ("consent_given", None),
        ("pii_accessed", None),
        ("access_refused", "uses_exhausted"),
    ]


def test_consent_record_is_for_the_parties_and_auditors(told: Told) -> None:
    world = told.world
    path = RECORD_PATH.format(consent_id=told.consent)
    for who in (world.resident, world.dept, world.auditor):
        assert world.get(path, who).status_code == 200
    for who in (world.resident2, world.dept2, world.registrar, world.issuer):
        answer = world.get(path, who)
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    assert world.get(path, None).status_code == 401
    assert world.get(RECORD_PATH.format(consent_id=999), world.auditor).status_code == 404

"""Supervision (数据铁笼): a department's burst of served accesses, or of refused queries,
beyond the admin's threshold within an hour of chain time raises exactly one anomaly for
auditors, naming the events behind it; below the threshold none; a department's own
threshold overrides the default; auditors close anomalies with a note; only the admin
sets thresholds and only auditors see and close anomalies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from standardwebhooks.webhooks import Webhook

from api import anomalies
from api.anomalies import Thresholds
from api.tables import anomalies as anomaly_table
from ledger.store import Store, events
from tests.api.conftest import World, make_world
from tests.api.test_served import free_port
from tests.api.test_webhooks import FAST_RETRIES, Receiver, until
from tests.postgres import pg_schema

LOW: dict[str, Any] = {
    "anomaly_accesses_per_hour": 3,
    "anomaly_refusals_per_hour": 2,
    **FAST_RETRIES,
}
PROBLEM = "application/problem+json"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def low_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "sqlite":
        yield from make_world(tmp_path, **LOW)
        return
    with pg_schema() as url:
        yield from make_world(tmp_path, database_url=url, **LOW)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path, **LOW)


def open_anomalies(world: World, status: str = "open") -> list[dict[str, Any]]:
    answer = world.get("/audit/anomalies", world.auditor, status=status)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def feed(world: World, who: Any) -> list[dict[str, Any]]:
    answer = world.get("/notifications", who)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def served(world: World, dept: Any, resident: Any, consent: int, times: int) -> None:
    for _ in range(times):
        assert world.query(dept, resident, consent, ["name"]).status_code == 200


def refused(world: World, dept: Any, resident: Any, consent: int, times: int) -> None:
    for _ in range(times):
        assert world.query(dept, resident, consent, ["name"]).status_code == 403


def ids_of(world: World, resident: Any, kind: str) -> list[str]:
    return [n["id"] for n in feed(world, resident) if n["kind"] == kind]


def test_an_access_burst_and_a_refusal_burst_each_raise_one_anomaly_for_auditors(
    low_world: World,
) -> None:
    w = low_world
    consent = w.grant(w.resident, w.dept, ["name"])
    served(w, w.dept, w.resident, consent, 3)  # at the threshold: not beyond it
    refused(w, w.dept2, w.resident, consent, 2)  # dept2 probes a consent it does not hold
    assert open_anomalies(w) == [] and feed(w, w.auditor) == []

    served(w, w.dept, w.resident, consent, 1)
    (burst,) = open_anomalies(w)
    accesses = ids_of(w, w.resident, "access_logged")
    assert burst["rule"] == "accesses" and burst["department"] == w.dept.address
    assert burst["department_name"] == "Housing Bureau"
    assert (burst["threshold"], burst["count"], burst["event_ids"]) == (3, 4, accesses)
    assert burst["status"] == "open" and burst["closed_by"] is None
    assert burst["window_end"] - burst["window_start"] == 3600
    assert burst["id"] == f"{burst['block_number']}-a0"
    assert burst["block_number"] == int(accesses[-1].split("-")[0])

    served(w, w.dept, w.resident, consent, 2)  # the same burst: no second anomaly
    refused(w, w.dept2, w.resident, consent, 1)
    found = open_anomalies(w)
    probes = ids_of(w, w.resident, "access_denied")
    assert [(a["rule"], a["department"], a["event_ids"]) for a in found] == [
        ("accesses", w.dept.address, accesses),
        ("refusals", w.dept2.address, probes),
    ]
    assert found[1]["threshold"] == 2 and found[1]["count"] == 3

    alerts = feed(w, w.auditor)
    assert [(n["kind"], n["id"], n["rule"]) for n in alerts] == [
        ("anomaly", a["id"], a["rule"]) for a in found
    ]
    assert alerts[0]["event_ids"] == accesses and alerts[0]["tx_hash"] == found[0]["tx_hash"]
    assert alerts[1]["department"] == w.dept2.address and alerts[1]["threshold"] == 2
    for who in (w.dept, w.dept2, w.resident):  # anomalies are the auditors' alone
        assert [n for n in feed(w, who) if n["kind"] == "anomaly"] == []

    assert w.node is not None
    w.node.chain.time_travel(3600)  # an hour later a new burst is a new anomaly
    served(w, w.dept, w.resident, consent, 4)
    later = open_anomalies(w)
    assert len(later) == 3 and later[:2] == found
    assert later[2]["event_ids"] == ids_of(w, w.resident, "access_logged")[-4:]


def test_a_departments_own_threshold_overrides_the_default(world: World) -> None:
    w = world
    listed = w.get("/admin/anomaly-thresholds", w.admin)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {
        "default": {
            "department": None,
            "department_name": None,
            "accesses_per_hour": 3,
            "refusals_per_hour": 2,
            "set_by": None,
            "set_at": None,
        },
        "departments": [],
    }
    body = {"department": w.dept2.address.lower(), "accesses_per_hour": 10, "refusals_per_hour": 5}
    answer = w.put("/admin/anomaly-thresholds", w.admin, body)
    assert answer.status_code == 200, answer.text
    own = answer.json()
    assert own["department"] == w.dept2.address and own["department_name"] == "Tax Office"
    assert (own["accesses_per_hour"], own["refusals_per_hour"]) == (10, 5)
    assert own["set_by"] == w.admin.address and own["set_at"] > 0
    assert w.get("/admin/anomaly-thresholds", w.auditor).json()["departments"] == [own]

    mine = w.grant(w.resident, w.dept, ["name"])
    theirs = w.grant(w.resident2, w.dept2, ["name"])
    served(w, w.dept2, w.resident2, theirs, 4)  # beyond the default, within its own
    served(w, w.dept, w.resident, mine, 4)
    (only,) = open_anomalies(w)
    assert (only["department"], only["threshold"], only["count"]) == (w.dept.address, 3, 4)

    default = {"department": None, "accesses_per_hour": 50, "refusals_per_hour": 0}
    assert w.put("/admin/anomaly-thresholds", w.admin, default).status_code == 200
    refused(w, w.dept, w.resident2, theirs, 1)  # beyond a default of no refusals at all
    assert [(a["rule"], a["threshold"]) for a in open_anomalies(w)] == [
        ("accesses", 3),
        ("refusals", 0),
    ]
    shown = w.get("/admin/anomaly-thresholds", w.admin).json()
    assert shown["default"]["set_by"] == w.admin.address
    assert (shown["default"]["accesses_per_hour"], shown["departments"]) == (50, [own])


def test_only_the_admin_sets_thresholds_and_bad_ones_change_nothing(world: World) -> None:
    w = world
    good = {"department": None, "accesses_per_hour": 9, "refusals_per_hour": 9}
    assert w.put("/admin/anomaly-thresholds", None, good).status_code == 401
    for who in (w.auditor, w.dept, w.resident, w.registrar):
        answer = w.put("/admin/anomaly-thresholds", who, good)
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"].startswith(PROBLEM)
    for who in (w.dept, w.resident):
        assert w.get("/admin/anomaly-thresholds", who).status_code == 403
    for bad in (
        {**good, "accesses_per_hour": -1},
        {**good, "refusals_per_hour": 10_001},
        {**good, "accesses_per_hour": "9"},
        {**good, "accesses_per_hour": 1.5},
        {**good, "department": "0x1234"},
        {**good, "extra": 1},
        {"department": None, "accesses_per_hour": 9},
    ):
        answer = w.put("/admin/anomaly-thresholds", w.admin, bad)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"].startswith(PROBLEM)
    stranger = {**good, "department": w.resident.address}  # not a department
    answer = w.put("/admin/anomaly-thresholds", w.admin, stranger)
    assert answer.status_code == 404 and answer.headers["content-type"].startswith(PROBLEM)
    assert w.get("/admin/anomaly-thresholds", w.admin).json()["default"]["set_by"] is None


def test_an_auditor_closes_an_anomaly_with_a_note_and_nobody_else_may(world: World) -> None:
    w = world
    consent = w.grant(w.resident, w.dept, ["name"])
    served(w, w.dept, w.resident, consent, 4)
    (anomaly,) = open_anomalies(w)
    for who in (w.dept, w.resident, w.admin):
        assert w.get("/audit/anomalies", who).status_code == 403
        closing = w.post(f"/audit/anomalies/{anomaly['id']}/close", who, {"note": "mine"})
        assert closing.status_code == 403
    assert w.get("/audit/anomalies", None).status_code == 401
    assert w.post(f"/audit/anomalies/{anomaly['id']}/close", None, {"note": "x"}).status_code == 401
    assert w.get("/audit/anomalies", w.auditor, status="all").status_code == 422
    assert w.post("/audit/anomalies/nonsense/close", w.auditor, {"note": "x"}).status_code == 422
    assert (
        w.post(f"/audit/anomalies/{anomaly['id']}/close", w.auditor, {"note": ""}).status_code
        == 422
    )
    unknown = w.post("/audit/anomalies/999999-a0/close", w.auditor, {"note": "x"})
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith(PROBLEM)
    assert open_anomalies(w) == [anomaly]

    closed = w.post(f"/audit/anomalies/{anomaly['id']}/close", w.auditor, {"note": "a census run"})
    assert closed.status_code == 200, closed.text
    assert closed.json() == {
        **anomaly,
        "status": "closed",
        "closed_by": w.auditor.address,
        "closed_at": closed.json()["closed_at"],
        "note": "a census run",
    }
    assert open_anomalies(w) == [] and open_anomalies(w, "closed") == [closed.json()]
    again = w.post(f"/audit/anomalies/{anomaly['id']}/close", w.auditor, {"note": "twice"})
    assert again.status_code == 409
    assert [n["id"] for n in feed(w, w.auditor)] == [anomaly["id"]]  # the feed keeps it


def test_an_auditors_webhook_is_sent_the_anomaly_and_a_departments_is_not(
    world: World,
) -> None:
    w = world
    receiver = Receiver(free_port())
    receiver.start()
    try:
        audit = w.post("/webhooks", w.auditor, {"url": receiver.url, "events": []})
        dept = w.post("/webhooks", w.dept, {"url": receiver.url, "events": ["anomaly"]})
        assert audit.status_code == dept.status_code == 201
        consent = w.grant(w.resident, w.dept, ["name"])
        served(w, w.dept, w.resident, consent, 4)
        until(lambda: receiver.received)
        (anomaly,) = open_anomalies(w)
        (alert,) = feed(w, w.auditor)
        until(lambda: [h for h in w.get("/webhooks", w.auditor).json()["data"] if h["delivered"]])
        ((headers, body),) = receiver.received
        assert headers["webhook-id"] == anomaly["id"] == alert["id"]
        assert Webhook(audit.json()["secret"]).verify(body, headers) == alert
        assert [h["delivered"] for h in w.get("/webhooks", w.dept).json()["data"]] == [0]
    finally:
        receiver.stop()


# ---------------------------------------------------------------- the rules, on rows


def _event(block: int, stamp: int, name: str, department: str = "0xD") -> dict[str, Any]:
    return {
        "block_number": block,
        "log_index": 0,
        "tx_hash": f"0x{block:064x}",
        "block_timestamp": stamp,
        "contract": "ConsentLedger",
        "name": name,
        "resident": "0xR",
        "department": department,
        "consent_id": 1,
        "args": "{}",
    }


def test_a_sliding_hour_catches_a_burst_across_a_clock_hour_and_emergencies_always_count() -> None:
    store = Store("sqlite://")
    try:
        stamps = [7000, 7150, 7199, 7201, 7250, 7300, 7400, 10_900, 11_000]  # 7200: a clock hour
        with store.begin() as c:
            c.execute(insert(events), [_event(b, s, "AccessLogged") for b, s in enumerate(stamps)])
            c.execute(insert(events), _event(20, 12_000, "EmergencyAccessed"))
            opened = anomalies.judge(
                c, -1, 20, Thresholds(accesses_per_hour=4, refusals_per_hour=9)
            )
            rows = (
                c.execute(select(anomaly_table).order_by(anomaly_table.c.block_number))
                .mappings()
                .all()
            )
        assert opened == 2
        assert [(r["rule"], r["block_number"], r["threshold"]) for r in rows] == [
            ("accesses", 4, 4),
            ("emergency_access", 20, None),
        ]
        assert json.loads(rows[0]["event_ids"]) == ["0-0", "1-0", "2-0", "3-0", "4-0"]
        assert json.loads(rows[1]["event_ids"]) == ["20-0"]
        # Blocks 5 and 6 are the same burst; 7 and 8 are an hour on but only two.
        with store.begin() as c:
            more = [_event(21 + n, 14_700 + n, "AccessLogged") for n in range(5)]
            c.execute(insert(events), more)
            assert anomalies.judge(c, 20, 25, Thresholds(4, 9)) == 1
            newest = c.execute(
                select(anomaly_table.c.event_ids).where(anomaly_table.c.block_number == 25)
            )
            assert json.loads(newest.scalar_one()) == [f"{21 + n}-0" for n in range(5)]
    finally:
        store.close()

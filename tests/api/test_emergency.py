"""Emergency access through the HTTP API (issue 15, part 2), on the embedded chain and on
anvil: a resident leaves a directive for an ambulance service holding the emergency role;
the ambulance reads exactly the directive's fields, which open with its key and check
against the root committed on chain, and nothing before the chain logged the access;
every refusal (no directive, a field outside it, the daily limit, no role) answers as a
refused query does and is logged; an auditor, and only an auditor, reviews each access,
late after its deadline, and the queue says which are pending, overdue or reviewed in
chain time. Bad input is a problem that changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from sqlalchemy import func, select

from api.messages import catalogue, explain
from api.tables import emergency_keys
from ledger.codec import from_hex
from ledger.intents import POWER_GRANT, POWER_READ
from ledger.store import events
from ledger.types import SignedIntent
from ledger.vocabulary import (
    EMERGENCY_DAILY_LIMIT,
    EMERGENCY_REFUSALS,
    EMERGENCY_REVIEW_PERIOD,
    name_to_bytes32,
    role_id,
)
from tests.api.conftest import World, ids, make_world
from wallets.emergency import JUSTIFICATION, REVIEW_NOTES, SaltedText
from wallets.grants import open_granted_fields, wrap_keys_for_department
from wallets.identity import Identity
from wallets.signing import normalize_message

DAY = 86_400
#: The fields the admin lets the ambulance service read in an emergency.
ROLE_FIELDS = ("birth_date", "health_summary", "name", "phone")
PATIENT = {
    "name": "Wang Fang",
    "phone": "139 0000 1234",
    "health_summary": "type 1 diabetes; allergic to penicillin",
    "income": "31000",
}


@pytest.fixture(params=["embedded", "anvil"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """The API world of :mod:`tests.api.conftest` on either chain, with an ambulance
    service holding the emergency role and a patient whose record has health data."""
    url = request.getfixturevalue("anvil_node_url") if request.param == "anvil" else None
    for populated in make_world(tmp_path, chain_url=url):
        ambulance = populated.register_department("ambulance", "120 Emergency Centre", "EMS")
        give_emergency_role(populated, ambulance, ROLE_FIELDS)
        patient = populated.enroll("patient")
        assert populated.upload(patient, PATIENT).status_code == 200
        yield populated


def give_emergency_role(world: World, account: Identity, fields: tuple[str, ...]) -> None:
    message = {"role": role_id("emergency"), "account": account.address, "fields": ids(*fields)}
    answer = world.post("/admin/roles", world.admin, world.body(world.admin, "GrantRole", message))
    assert answer.status_code == 201, answer.text


def directive_body(
    world: World,
    resident: Identity,
    department: Identity,
    names: list[str],
    *,
    days: int = 365,
    **over: Any,
) -> dict[str, Any]:
    record = world.records[resident.address]
    keys = (
        wrap_keys_for_department(
            record,
            names,
            department=department.address,
            department_public_key=department.encryption_public_key,
        )
        if names
        else {}
    )
    message = {
        "resident": resident.address,
        "department": department.address,
        "fields": ids(*names),
        "validUntil": world.now() + days * DAY,
        **over,
    }
    extra: dict[str, Any] = {"wrapped_keys": keys}
    if names:
        extra["version"] = record.version
    return world.body(resident, "EmergencyDirective", message, **extra)


def leave_directive(
    world: World, resident: Identity, department: Identity, fields: list[str]
) -> Any:
    answer = world.post(
        "/emergency-directives", resident, directive_body(world, resident, department, fields)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def access_body(
    world: World,
    department: Identity,
    resident: Identity,
    names: list[str],
    *,
    justification: SaltedText | None = None,
    **over: Any,
) -> dict[str, Any]:
    salted = justification or SaltedText.new(JUSTIFICATION, "found unconscious at home")
    message = {
        "department": department.address,
        "resident": resident.address,
        "fields": ids(*names),
        "reason": name_to_bytes32("UNCONSCIOUS"),
        "justificationHash": salted.hash,
        **over,
    }
    return world.body(department, "EmergencyAccess", message)


def emergency_access(
    world: World, department: Identity, resident: Identity, fields: list[str], **kw: Any
) -> Any:
    return world.post(
        "/emergency-accesses", department, access_body(world, department, resident, fields, **kw)
    )


def review_body(
    world: World, who: Identity, access_id: int, outcome: str = "justified", **over: Any
) -> dict[str, Any]:
    notes = SaltedText.new(REVIEW_NOTES, "the crew log confirms it")
    message = {
        "accessId": access_id,
        "outcome": name_to_bytes32(outcome),
        "notesHash": notes.hash,
        **over,
    }
    return world.body(who, "ReviewEmergency", message)


def review(world: World, who: Identity, access_id: int, outcome: str = "justified") -> Any:
    return world.post(
        f"/emergency-accesses/{access_id}/review",
        who,
        review_body(world, who, access_id, outcome),
    )


def opened(world: World, department: Identity, resident: Identity, answer: Any) -> dict[str, str]:
    """The values, opened with the department's key and checked against the root the
    chain holds for the resident (never the root the answer reports)."""
    assert world.node is not None
    on_chain = world.node.client.resident(resident.address)
    values = open_granted_fields(
        answer["fields"],
        resident=resident.address,
        identity=department,
        root={on_chain.version: on_chain.root},
    )
    return {name: value.value for name, value in values.items()}


def logged(world: World, name: str) -> list[dict[str, Any]]:
    rows = world.get("/audit/events", world.auditor, type=name, limit=1000).json()["data"]
    return [row["args"] for row in rows]


def queue(world: World, status: str | None = None) -> list[int]:
    params = {"status": status} if status else {}
    answer = world.get("/audit/emergency-accesses", world.auditor, **params)
    assert answer.status_code == 200, answer.text
    return [row["access_id"] for row in answer.json()["data"]]


def snapshot(world: World) -> tuple[int, int]:
    """Events on chain and directive keys in the vault."""
    assert world.node is not None
    with world.node.store.connect() as c:
        count = int(c.execute(select(func.count()).select_from(events)).scalar() or 0)
        keys = int(c.execute(select(func.count()).select_from(emergency_keys)).scalar() or 0)
    return count, keys


# ---------------------------------------------------------------- served


def test_the_ambulance_reads_exactly_the_directive_fields_and_they_open_against_the_chain(
    world: World,
) -> None:
    patient, ambulance = world.patient, world.ambulance
    left = leave_directive(world, patient, ambulance, ["health_summary", "phone"])
    assert (left["status"], left["department_name"], left["fields"]) == (
        "active", "120 Emergency Centre", ["health_summary", "phone"],
    )  # fmt: skip
    assert left["key_versions"] == {"health_summary": [1], "phone": [1]}
    salted = SaltedText.new(JUSTIFICATION, "collapsed in the street, not responding")

    answer = emergency_access(
        world, ambulance, patient, ["health_summary", "phone"], justification=salted
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert opened(world, ambulance, patient, body) == {
        "health_summary": PATIENT["health_summary"],
        "phone": PATIENT["phone"],
    }
    assert body["access_id"] == 1
    assert body["review_due"] == body["receipt"]["block_timestamp"] + EMERGENCY_REVIEW_PERIOD
    assert (body["reason"], body["resident"], body["department"]) == (
        "UNCONSCIOUS", patient.address, ambulance.address,
    )  # fmt: skip
    # the shape of POST /queries' answer, field by field
    consent_id = world.grant(world.resident, world.dept, ["phone"])
    query = world.query(world.dept, world.resident, consent_id, ["phone"]).json()
    assert set(body) >= set(query) - {"consent_id"}
    assert set(body["fields"]["phone"]) == set(query["fields"]["phone"])
    assert set(body["record"]) == set(query["record"])
    # on chain: the salted hash, never the text or its plain hash
    (accessed,) = logged(world, "EmergencyAccessed")
    assert accessed["justificationHash"] == "0x" + salted.hash.hex()
    assert salted.matches(accessed["justificationHash"])
    assert accessed["justificationHash"] != "0x" + keccak(text=salted.text).hex()
    assert accessed["reviewDue"] == body["review_due"]
    # the chain's own record of it
    assert world.node is not None
    record = world.node.client.simulate("ConsentEmergency", "emergencyRecord", 1)
    assert (record[0], record[2], record[3]) == (
        ambulance.address,
        body["review_due"],
        patient.address,
    )


def test_fields_outside_the_directive_are_refused_and_logged_as_a_query_is(world: World) -> None:
    patient, ambulance = world.patient, world.ambulance
    leave_directive(world, patient, ambulance, ["health_summary"])
    consent_id = world.grant(world.resident, world.dept, ["income"])
    refused_query = world.query(world.dept, world.resident, consent_id, ["name"])

    for fields in (["health_summary", "phone"], ["income"]):  # in the role, not; neither listed
        answer = emergency_access(world, ambulance, patient, fields)

        assert answer.status_code == refused_query.status_code == 403, answer.text
        assert answer.headers["content-type"] == refused_query.headers["content-type"]
        problem = answer.json()
        assert set(problem) == set(refused_query.json())
        assert (problem["type"], problem["reason"]) == (
            refused_query.json()["type"], "field_not_in_directive",
        )  # fmt: skip
        assert problem["receipt"]["tx_hash"].startswith("0x")
        assert "ciphertext" not in answer.text
    denied = logged(world, "EmergencyDenied")
    assert [d["fields"] for d in denied] == [
        ["0x" + f.hex() for f in ids("health_summary", "phone")],
        ["0x" + f.hex() for f in ids("income")],
    ]
    assert {name_to_bytes32("field_not_in_directive").hex()} == {d["refusal"][2:] for d in denied}
    assert queue(world) == []  # nothing served, nothing to review


def test_without_a_directive_the_access_is_refused_and_logged(world: World) -> None:
    answer = emergency_access(world, world.ambulance, world.resident, ["phone"])

    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["reason"] == "no_directive"
    (denied,) = logged(world, "EmergencyDenied")
    assert denied["resident"] == world.resident.address
    assert denied["refusal"] == "0x" + name_to_bytes32("no_directive").hex()
    # the resident's directive for another department is no directive for this one
    other = world.register_department("ambulance2", "Fire Brigade", "FB")
    give_emergency_role(world, other, ("phone",))
    leave_directive(world, world.resident, other, ["phone"])
    again = emergency_access(world, world.ambulance, world.resident, ["phone"])
    assert (again.status_code, again.json()["reason"]) == (403, "no_directive")


def test_a_department_without_the_emergency_role_is_refused_and_cannot_be_named(
    world: World,
) -> None:
    patient = world.patient
    leave_directive(world, patient, world.ambulance, ["phone"])
    before = snapshot(world)
    named = world.post(
        "/emergency-directives", patient, directive_body(world, patient, world.dept, ["phone"])
    )
    assert named.status_code == 403, named.text
    assert named.json()["error"] == "ConsentEmergencyNotEmergencyDepartment"
    assert snapshot(world) == before

    answer = emergency_access(world, world.dept, patient, ["phone"])

    assert (answer.status_code, answer.json()["reason"]) == (403, "no_emergency_role")
    assert logged(world, "EmergencyDenied")[-1]["department"] == world.dept.address


def test_the_directory_names_the_fields_each_emergency_department_may_read(world: World) -> None:
    def listed() -> dict[str, list[str]]:
        entries = world.http.get("/departments").json()["data"]
        return {e["address"]: e["emergency_fields"] for e in entries}

    shown = listed()
    assert shown[world.ambulance.address] == sorted(ROLE_FIELDS)
    assert shown[world.dept.address] == []  # no emergency role: nothing to offer it
    message = {"role": role_id("emergency"), "account": world.ambulance.address}
    revoked = world.post(
        "/admin/roles/revoke", world.admin, world.body(world.admin, "RevokeRole", message)
    )
    assert revoked.status_code < 300, revoked.text
    assert listed()[world.ambulance.address] == []


def test_over_the_daily_limit_the_access_is_refused_until_the_next_day(world: World) -> None:
    patient, ambulance = world.patient, world.ambulance
    leave_directive(world, patient, ambulance, ["phone"])
    assert world.node is not None
    chain = world.node.chain
    # just after a UTC midnight of chain time, so the four accesses fall in one day
    chain.time_travel(DAY - chain.latest_timestamp() % DAY + 5)

    served = [emergency_access(world, ambulance, patient, ["phone"]) for _ in range(3)]
    fourth = emergency_access(world, ambulance, patient, ["phone"])

    assert [a.status_code for a in served] == [200] * EMERGENCY_DAILY_LIMIT
    assert (fourth.status_code, fourth.json()["reason"]) == (403, "daily_limit")
    assert "fields" not in fourth.json()
    # another resident's count is their own
    leave_directive(world, world.resident, ambulance, ["phone"])
    assert emergency_access(world, ambulance, world.resident, ["phone"]).status_code == 200
    chain.time_travel(DAY)
    assert emergency_access(world, ambulance, patient, ["phone"]).status_code == 200
    assert [d["refusal"] for d in logged(world, "EmergencyDenied")] == [
        "0x" + name_to_bytes32("daily_limit").hex()
    ]


# ---------------------------------------------------------------- reviews


def test_reviews_before_and_after_the_deadline_and_the_queue_in_chain_time(world: World) -> None:
    patient, ambulance, auditor = world.patient, world.ambulance, world.auditor
    leave_directive(world, patient, ambulance, ["health_summary", "phone"])
    first = emergency_access(world, ambulance, patient, ["phone"]).json()["access_id"]
    second = emergency_access(world, ambulance, patient, ["health_summary"]).json()["access_id"]
    assert queue(world) == queue(world, "pending") == [first, second]
    assert queue(world, "overdue") == queue(world, "reviewed") == []

    in_time = review(world, auditor, first)

    assert in_time.status_code == 200, in_time.text
    assert (in_time.json()["outcome"], in_time.json()["late"]) == ("justified", False)
    assert in_time.json()["reviewer"] == auditor.address
    assert (queue(world, "reviewed"), queue(world, "pending")) == ([first], [second])
    assert world.node is not None
    world.node.chain.time_travel(EMERGENCY_REVIEW_PERIOD + 60)
    assert (queue(world, "pending"), queue(world, "overdue")) == ([], [second])

    late = review(world, auditor, second, "unjustified")

    assert late.status_code == 200, late.text
    assert (late.json()["outcome"], late.json()["late"]) == ("unjustified", True)
    assert queue(world, "overdue") == [second]  # reviewed, but late
    assert queue(world, "reviewed") == [first]
    page = world.get("/audit/emergency-accesses", auditor).json()
    rows = {row["access_id"]: row for row in page["data"]}
    assert page["as_of"] >= rows[second]["review_due"]
    assert rows[first]["department_name"] == "120 Emergency Centre"
    assert rows[first]["fields"] == ["phone"]
    assert rows[second]["receipts"]["review"]["tx_hash"] == late.json()["receipt"]["tx_hash"]
    assert rows[second]["reviewed_at"] > rows[second]["review_due"]
    assert (rows[second]["outcome"], rows[second]["late"]) == ("unjustified", True)
    # once only; an access that does not exist
    again = review(world, auditor, first, "unjustified")
    assert (again.status_code, again.json()["error"]) == (409, "ConsentEmergencyAlreadyReviewed")
    unknown = review(world, auditor, 99)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "ConsentEmergencyUnknownAccess")
    paged = world.get("/audit/emergency-accesses", auditor, limit=1).json()
    assert [r["access_id"] for r in paged["data"]] == [first] and paged["next_cursor"]
    rest = world.get("/audit/emergency-accesses", auditor, cursor=paged["next_cursor"]).json()
    assert [r["access_id"] for r in rest["data"]] == [second] and rest["next_cursor"] is None


def test_only_an_auditor_reviews_and_reads_the_queue(world: World) -> None:
    patient, ambulance = world.patient, world.ambulance
    leave_directive(world, patient, ambulance, ["phone"])
    access_id = emergency_access(world, ambulance, patient, ["phone"]).json()["access_id"]
    before = snapshot(world)

    for who in (ambulance, patient, world.dept):
        answer = review(world, who, access_id)
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"] == "ConsentEmergencyUnauthorizedSigner"
        assert world.get("/audit/emergency-accesses", who).status_code == 403
    # an auditor's signature sent under someone else's token is refused too
    signed = review_body(world, world.auditor, access_id)
    stolen = world.post(f"/emergency-accesses/{access_id}/review", ambulance, signed)
    assert stolen.status_code == 403, stolen.text

    assert snapshot(world) == before
    assert queue(world, "pending") == [access_id]
    assert world.get("/audit/emergency-accesses", None).status_code == 401


# ---------------------------------------------------------------- directives


def test_a_directive_is_replaced_withdrawn_and_read_only_by_its_parties(world: World) -> None:
    patient, ambulance = world.patient, world.ambulance
    leave_directive(world, patient, ambulance, ["health_summary", "phone"])
    replaced = leave_directive(world, patient, ambulance, ["name"])
    assert replaced["fields"] == ["name"] and replaced["key_versions"] == {"name": [1]}
    refused = emergency_access(world, ambulance, patient, ["phone"])
    assert refused.json()["reason"] == "field_not_in_directive"
    assert opened(
        world, ambulance, patient, emergency_access(world, ambulance, patient, ["name"]).json()
    ) == {"name": PATIENT["name"]}
    path = f"/emergency-directives/{patient.address}"
    for who in (patient, ambulance, world.auditor):
        assert world.get(path, who).json()["fields"] == ["name"]
        found = world.get("/emergency-directives", who, resident=patient.address).json()
        assert [d["fields"] for d in found["data"]] == [["name"]]
    for who in (world.resident, world.dept):
        shown = world.get(path, who)
        assert shown.status_code == 403, shown.text
        listed = world.get("/emergency-directives", who, resident=patient.address)
        assert listed.status_code == 403, listed.text
    assert (
        world.get(f"/emergency-directives/{world.resident.address}", world.resident).status_code
        == 404
    )
    # Asking whether there is one gets an answer, not a 404.
    none = world.get("/emergency-directives", world.resident, resident=world.resident.address)
    assert (none.status_code, none.json()) == (200, {"data": []})
    bad = world.get("/emergency-directives", world.resident, resident="0x12")
    assert bad.status_code == 422, bad.text

    withdrawn = world.post(
        "/emergency-directives", patient, directive_body(world, patient, ambulance, [])
    )

    assert withdrawn.status_code == 200, withdrawn.text
    assert (withdrawn.json()["status"], withdrawn.json()["fields"]) == ("withdrawn", [])
    assert snapshot(world)[1] == 0  # its keys are gone
    assert world.get(path, patient).json()["status"] == "withdrawn"
    after = emergency_access(world, ambulance, patient, ["name"])
    assert (after.status_code, after.json()["reason"]) == (403, "no_directive")


def appoint(world: World, resident: Identity, delegate: Identity, powers: int) -> None:
    """``resident`` appoints ``delegate`` on chain (through the relayer: the delegates'
    own routes are not this module's)."""
    assert world.node is not None
    message = {
        "resident": resident.address,
        "delegate": delegate.address,
        "powers": powers,
        "validUntil": world.now() + 30 * DAY,
    }
    body = world.body(resident, "AppointDelegate", message)
    intent = SignedIntent(
        "AppointDelegate",
        normalize_message("AppointDelegate", body["message"]),
        from_hex(body["signature"]),
    )
    world.node.relayer.submit(intent).unwrap()


def test_a_delegate_with_the_grant_power_leaves_the_directive_and_one_without_cannot(
    world: World,
) -> None:
    patient, ambulance = world.patient, world.ambulance
    daughter, neighbour = world.resident, world.resident2
    appoint(world, patient, daughter, POWER_GRANT | POWER_READ)
    appoint(world, patient, neighbour, POWER_READ)
    body = directive_body(world, patient, ambulance, ["phone"])
    path = f"/emergency-directives/{patient.address}"
    assert world.get(path, neighbour).status_code == 404  # a reader, and there is none yet

    for stranger in (neighbour, world.dept):
        signed = world.body(stranger, "EmergencyDirective", body["message"])
        refused = world.post("/emergency-directives", stranger, {**body, **signed})
        assert refused.status_code in (403, 422), refused.text
    signed = world.body(daughter, "EmergencyDirective", body["message"])
    answer = world.post("/emergency-directives", daughter, {**body, **signed})

    assert answer.status_code == 200, answer.text
    assert (answer.json()["signer"], answer.json()["fields"]) == (daughter.address, ["phone"])
    assert world.get(path, neighbour).json()["signer"] == daughter.address
    served = emergency_access(world, ambulance, patient, ["phone"])
    assert opened(world, ambulance, patient, served.json()) == {"phone": PATIENT["phone"]}


def test_a_directive_runs_out_at_its_valid_until(world: World) -> None:
    patient, ambulance = world.patient, world.ambulance
    answer = world.post(
        "/emergency-directives",
        patient,
        directive_body(world, patient, ambulance, ["phone"], days=1),
    )
    assert answer.status_code == 200, answer.text
    assert world.node is not None
    world.node.chain.time_travel(DAY + 60)
    assert (
        world.get(f"/emergency-directives/{patient.address}", patient).json()["status"] == "expired"
    )

    refused = emergency_access(world, ambulance, patient, ["phone"])

    assert (refused.status_code, refused.json()["reason"]) == (403, "directive_expired")


# ---------------------------------------------------------------- bad input


def test_bad_input_is_a_problem_that_changes_nothing(world: World) -> None:
    patient, ambulance = world.patient, world.ambulance
    leave_directive(world, patient, ambulance, ["phone"])
    access_id = emergency_access(world, ambulance, patient, ["phone"]).json()["access_id"]
    before = snapshot(world)
    good = directive_body(world, patient, ambulance, ["phone"])
    zero = "0x" + "00" * 32
    cases: list[tuple[str, dict[str, Any], int, str | None]] = [
        # keys that do not cover exactly the directive's fields
        ("/emergency-directives", {**good, "wrapped_keys": {}}, 422, None),
        # a field the emergency role does not name
        ("/emergency-directives", directive_body(world, patient, ambulance, ["income"]), 422,
         "ConsentEmergencyFieldNotAllowed"),
        # a field of the role the record does not hold
        ("/emergency-directives",
         directive_body(world, patient, ambulance, ["phone"], fields=ids("birth_date"))
         | {"wrapped_keys": {"birth_date": good["wrapped_keys"]["phone"]}}, 422, None),
        # already over
        ("/emergency-directives",
         directive_body(world, patient, ambulance, ["phone"], validUntil=1), 422,
         "ConsentEmergencyInvalidValidity"),
        # a withdrawal with keys
        ("/emergency-directives", {**directive_body(world, patient, ambulance, []),
                                   "wrapped_keys": good["wrapped_keys"]}, 422, None),
        # no justification
        ("/emergency-accesses", access_body(world, ambulance, patient, ["phone"],
                                            justificationHash=zero), 422,
         "ConsentEmergencyMissingJustification"),
        # fields out of order
        ("/emergency-accesses", access_body(world, ambulance, patient, ["phone"],
                                            fields=list(reversed(ids("name", "phone")))), 422,
         "ConsentDirectoryUnsortedFields"),
        # an outcome that is neither
        (f"/emergency-accesses/{access_id}/review",
         review_body(world, world.auditor, access_id, "maybe"), 422,
         "ConsentEmergencyInvalidOutcome"),
        # the path and the message disagree
        (f"/emergency-accesses/{access_id + 1}/review",
         review_body(world, world.auditor, access_id), 422, None),
    ]  # fmt: skip
    for path, body, status, error in cases:
        signer = {
            "/emergency-directives": patient,
            "/emergency-accesses": ambulance,
        }.get(path, world.auditor)

        answer = world.post(path, signer, body)

        assert answer.status_code == status, (path, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["status"] == status and problem["detail"]
        if error:
            assert problem["error"] == error, problem
        assert snapshot(world) == before, (path, answer.text)
    for params in ({"status": "late"}, {"limit": 0}, {"cursor": "garbled"}):
        listed = world.get("/audit/emergency-accesses", world.auditor, **params)
        assert listed.status_code == 422, listed.text
    assert world.get("/emergency-directives/0x1234", patient).status_code == 422
    rewrap = world.put(
        f"/emergency-directives/{patient.address}/wrapped-keys",
        patient,
        {"version": 9, "wrapped_keys": good["wrapped_keys"]},
    )
    assert rewrap.status_code == 404, rewrap.text
    taken = world.put(
        f"/emergency-directives/{patient.address}/wrapped-keys",
        patient,
        {"version": 1, "wrapped_keys": good["wrapped_keys"]},
    )
    assert taken.status_code == 409, taken.text
    assert snapshot(world) == before
    assert queue(world, "pending") == [access_id]


def test_every_refusal_reads_as_a_sentence_in_each_language() -> None:
    for language in ("en", "zh-CN"):
        assert set(EMERGENCY_REFUSALS) <= set(catalogue(language)["reasons"]), language
    assert explain({"status": 403, "reason": "daily_limit", "detail": "x"}) == (
        "Emergency access refused: the resident's emergency accesses for today are used up."
    )


def test_a_new_record_version_is_read_once_its_keys_are_rewrapped(world: World) -> None:
    patient, ambulance = world.patient, world.ambulance
    leave_directive(world, patient, ambulance, ["phone"])
    assert (
        world.upload(patient, {**PATIENT, "phone": "139 5555 0000"}, version=2).status_code == 200
    )
    old = emergency_access(world, ambulance, patient, ["phone"]).json()
    assert (old["fields"]["phone"]["version"], old["record"]["version"]) == (1, 1)
    record = world.records[patient.address]
    keys = wrap_keys_for_department(
        record,
        ["phone"],
        department=ambulance.address,
        department_public_key=ambulance.encryption_public_key,
    )
    path = f"/emergency-directives/{patient.address}/wrapped-keys"
    assert world.put(path, ambulance, {"version": 2, "wrapped_keys": keys}).status_code == 403

    answer = world.put(path, patient, {"version": 2, "wrapped_keys": keys})

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"resident": patient.address, "version": 2, "fields": ["phone"]}
    shown = world.get(f"/emergency-directives/{patient.address}", patient).json()
    assert shown["key_versions"] == {"phone": [1, 2]}
    new = emergency_access(world, ambulance, patient, ["phone"]).json()
    assert opened(world, ambulance, patient, new) == {"phone": "139 5555 0000"}
    assert world.node is not None
    client = world.node.client
    assert client.simulate("ConsentEmergency", "DAILY_LIMIT") == EMERGENCY_DAILY_LIMIT
    assert client.simulate("ConsentEmergency", "REVIEW_PERIOD") == EMERGENCY_REVIEW_PERIOD

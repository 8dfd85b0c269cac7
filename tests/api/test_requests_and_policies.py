"""Requests answered and purpose policies through the HTTP API (issue 14, parts 3 and 4):
a resident declines with a reason code, a department withdraws its own request, both
sides see the status; the admin sets a purpose policy that ``GET /schema`` lists and that
grants and requests are held to (422 with a sentence). Every hostile answer changes
nothing."""

from __future__ import annotations

from typing import Any

from api.messages import explain
from ledger.vocabulary import REQUEST_ANSWER_WINDOW, name_to_bytes32
from tests.api.conftest import World, ids
from wallets.identity import Identity

DAY = 86_400


def request_body(world: World, dept: Identity, resident: Identity, **over: Any) -> dict[str, Any]:
    message = {
        "department": dept.address,
        "resident": resident.address,
        "fields": ids("income", "name"),
        "purpose": name_to_bytes32("HOUSING"),
        "duration": 7 * DAY,
        **over,
    }
    return world.body(dept, "AccessRequest", message)


def file_request(world: World, dept: Identity, resident: Identity, **over: Any) -> str:
    answer = world.post("/access-requests", dept, request_body(world, dept, resident, **over))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["request_id"])


def decline_body(
    world: World, resident: Identity, request_id: str, reason: str = "NOT_NEEDED"
) -> dict[str, Any]:
    message = {
        "resident": resident.address,
        "requestId": request_id,
        "reason": name_to_bytes32(reason),
    }
    return world.body(resident, "DeclineRequest", message)


def withdraw_body(world: World, dept: Identity, request_id: str) -> dict[str, Any]:
    return world.body(
        dept, "WithdrawRequest", {"department": dept.address, "requestId": request_id}
    )


def statuses(world: World, who: Identity, path: str) -> dict[str, dict[str, Any]]:
    answer = world.get(path, who)
    assert answer.status_code == 200, answer.text
    return {r["request_id"]: r for r in answer.json()["data"]}


def both_sides(world: World, request_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    resident_view = statuses(
        world, world.resident, f"/residents/{world.resident.address}/access-requests"
    )
    dept_view = statuses(world, world.dept, "/access-requests")
    return resident_view[request_id], dept_view[request_id]


def test_each_status_is_shown_to_both_sides(world: World) -> None:
    pending = file_request(world, world.dept, world.resident)
    granted = file_request(world, world.dept, world.resident)
    declined = file_request(world, world.dept, world.resident)
    withdrawn = file_request(world, world.dept, world.resident)

    consent_id = world.grant(world.resident, world.dept, ["income"], request_id=granted)
    answer = world.post(
        f"/access-requests/{declined}/decline",
        world.resident,
        decline_body(world, world.resident, declined, "TOO_LONG"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "declined" and answer.json()["reason"] == "TOO_LONG"
    answer = world.post(
        f"/access-requests/{withdrawn}/withdraw",
        world.dept,
        withdraw_body(world, world.dept, withdrawn),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "withdrawn"

    for request_id, status in (
        (pending, "pending"),
        (granted, "granted"),
        (declined, "declined"),
        (withdrawn, "withdrawn"),
    ):
        for side in both_sides(world, request_id):
            assert side["status"] == status, (request_id, side)
    assert both_sides(world, granted)[0]["consent_id"] == consent_id
    assert both_sides(world, declined)[1]["reason"] == "TOO_LONG"
    assert both_sides(world, withdrawn)[0]["answered_at"] is not None

    assert world.node is not None
    world.node.chain.time_travel(REQUEST_ANSWER_WINDOW + 60)
    for side in both_sides(world, pending):
        assert side["status"] == "expired"
    late = world.post(
        "/consents",
        world.resident,
        world.grant_body(world.resident, world.dept, ["income"], request_id=pending),
    )
    assert late.status_code == 422, late.text
    assert late.json()["error"] == "ConsentLedgerRequestExpired"
    assert "went unanswered until" in explain(late.json())
    assert both_sides(world, declined)[0]["status"] == "declined"


def test_a_declined_request_cannot_be_granted_or_answered_again(world: World) -> None:
    request_id = file_request(world, world.dept, world.resident)
    path = f"/access-requests/{request_id}/decline"
    assert (
        world.post(
            path, world.resident, decline_body(world, world.resident, request_id)
        ).status_code
        == 200
    )

    again = world.post(path, world.resident, decline_body(world, world.resident, request_id))
    assert again.status_code == 409, again.text
    assert again.json()["error"] == "ConsentLedgerRequestAnswered"
    withdraw = world.post(
        f"/access-requests/{request_id}/withdraw",
        world.dept,
        withdraw_body(world, world.dept, request_id),
    )
    assert withdraw.status_code == 409, withdraw.text
    grant = world.post(
        "/consents",
        world.resident,
        world.grant_body(world.resident, world.dept, ["income"], request_id=request_id),
    )
    assert grant.status_code == 409, grant.text
    assert grant.json()["error"] == "ConsentLedgerRequestAnswered"
    assert "is already answered (status 2" in explain(grant.json())
    consents = world.get(f"/residents/{world.resident.address}/consents", world.resident).json()
    assert consents["data"] == []


def test_hostile_answers_change_nothing(world: World) -> None:
    request_id = file_request(world, world.dept, world.resident)
    unknown = "0x" + "42" * 32
    decline = f"/access-requests/{request_id}/decline"

    bad_reason = world.post(
        decline, world.resident, decline_body(world, world.resident, request_id, "BECAUSE")
    )
    assert bad_reason.status_code == 422, bad_reason.text
    assert bad_reason.json()["error"] == "ConsentLedgerUnknownReason"

    missing = world.post(
        f"/access-requests/{unknown}/decline",
        world.resident,
        decline_body(world, world.resident, unknown),
    )
    assert missing.status_code == 404, missing.text

    others = world.post(
        f"/access-requests/{request_id}/withdraw",
        world.dept2,
        withdraw_body(world, world.dept2, request_id),
    )
    assert others.status_code == 403, others.text
    assert others.json()["error"] == "ConsentLedgerNotRequestDepartment"

    stranger = world.post(
        decline, world.resident2, decline_body(world, world.resident2, request_id)
    )
    assert stranger.status_code == 404, stranger.text

    path_mismatch = world.post(
        f"/access-requests/{unknown}/decline",
        world.resident,
        decline_body(world, world.resident, request_id),
    )
    assert path_mismatch.status_code == 422, path_mismatch.text

    expired = decline_body(world, world.resident, request_id)
    expired["message"]["deadline"] = world.now() - 10
    resigned = world.body(world.resident, "DeclineRequest", expired["message"])
    late = world.post(decline, world.resident, resigned)
    assert late.status_code == 422, late.text
    assert late.json()["error"] == "SignedIntentExpired"

    resident_side, dept_side = both_sides(world, request_id)
    assert resident_side["status"] == dept_side["status"] == "pending"

    good = decline_body(world, world.resident, request_id)
    assert world.post(decline, world.resident, good).status_code == 200
    replay = world.post(decline, world.resident, good)
    assert replay.status_code == 409, replay.text
    assert replay.json()["error"] == "SignedIntentNonceUsed"


def policy_body(world: World, purpose: str, fields: list[str], max_duration: int) -> dict[str, Any]:
    message = {
        "purpose": name_to_bytes32(purpose),
        "fields": ids(*fields),
        "maxDuration": max_duration,
    }
    return world.body(world.admin, "SetPurposePolicy", message)


def test_a_purpose_policy_is_listed_and_held_to(world: World) -> None:
    consent_id = world.grant(world.resident, world.dept, ["income", "phone"], days=30)
    before = world.get("/schema", None).json()
    assert before["policies"]["HOUSING"] == {"fields": [], "max_duration": 0}
    assert set(before) >= {"fields", "purposes", "roles", "policies"}

    answer = world.post(
        "/admin/purpose-policies",
        world.admin,
        policy_body(world, "HOUSING", ["income", "name"], 7 * DAY),
    )
    assert answer.status_code == 200, answer.text
    assert (
        answer.json()["fields"] == ["income", "name"] and answer.json()["max_duration"] == 7 * DAY
    )
    assert world.get("/schema", None).json()["policies"]["HOUSING"] == {
        "fields": ["income", "name"],
        "max_duration": 7 * DAY,
    }

    wide = world.post(
        "/consents",
        world.resident,
        world.grant_body(world.resident, world.dept, ["income", "phone"], days=7),
    )
    assert wide.status_code == 422, wide.text
    assert wide.json()["error"] == "ConsentDirectoryPolicyFieldNotAllowed"
    assert explain(wide.json()).startswith(
        "The policy for `HOUSING` does not allow the field `phone`"
    ), explain(wide.json())
    long = world.post(
        "/consents",
        world.resident,
        world.grant_body(world.resident, world.dept, ["income"], days=8),
    )
    assert long.status_code == 422, long.text
    assert long.json()["error"] == "ConsentLedgerPolicyDurationTooLong"
    assert "allows at most 604800 seconds; this asks for 691200" in explain(long.json())
    asked = world.post(
        "/access-requests",
        world.dept,
        request_body(world, world.dept, world.resident, duration=30 * DAY),
    )
    assert asked.status_code == 422, asked.text
    assert asked.json()["error"] == "ConsentLedgerPolicyDurationTooLong"

    # The consent granted before the policy keeps its terms.
    served = world.query(world.dept, world.resident, consent_id, ["income", "phone"])
    assert served.status_code == 200, served.text
    assert world.grant(world.resident, world.dept, ["income"], days=7) > consent_id

    not_admin = world.post(
        "/admin/purpose-policies",
        world.dept,
        world.body(
            world.dept,
            "SetPurposePolicy",
            {
                "purpose": name_to_bytes32("HOUSING"),
                "fields": [],
                "maxDuration": 0,
            },
        ),
    )
    assert not_admin.status_code in (403, 401), not_admin.text
    assert world.get("/schema", None).json()["policies"]["HOUSING"]["max_duration"] == 7 * DAY


def test_the_audit_lists_and_verifies_the_answers_and_the_policy(world: World) -> None:
    declined = file_request(world, world.dept, world.resident)
    withdrawn = file_request(world, world.dept, world.resident)
    for path, who, body in (
        (
            f"/access-requests/{declined}/decline",
            world.resident,
            decline_body(world, world.resident, declined, "OTHER"),
        ),
        (
            f"/access-requests/{withdrawn}/withdraw",
            world.dept,
            withdraw_body(world, world.dept, withdrawn),
        ),
        ("/admin/purpose-policies", world.admin, policy_body(world, "TAXATION", ["income"], 0)),
    ):
        answer = world.post(path, who, body)
        assert answer.status_code == 200, answer.text

    for kind, check in (
        ("RequestDeclined", lambda e: e["resident"] == world.resident.address),
        ("RequestWithdrawn", lambda e: e["department"] == world.dept.address),
        ("PurposePolicySet", lambda e: e["args"]["maxDuration"] == 0),
    ):
        found = world.get("/audit/events", world.auditor, type=kind).json()["data"]
        assert len(found) == 1 and check(found[0]), (kind, found)
    verified = world.get("/audit/verify", world.auditor).json()
    assert verified["ok"] is True, verified["problems"]
    baseline = verified["signatures_verified"]
    answer = world.post(
        "/admin/purpose-policies", world.admin, policy_body(world, "TAXATION", [], 0)
    )
    assert answer.status_code == 200, answer.text
    assert world.get("/audit/verify", world.auditor).json()["signatures_verified"] == baseline + 1

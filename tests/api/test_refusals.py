"""Every refusal reason over HTTP.

A department's query under a consent that the chain does not allow at that block answers
a 403 problem with the contract's ``reason`` and the receipt of the ``AccessDenied``
event that recorded the refusal on chain. The refusal shows in the resident's access
log and the auditor's events, releases no field and spends no use, and the consent's
derived status says why.

One world serves the module; each scenario makes its own consent (and its own
department where it suspends one), so scenarios run in any order. Only ``expired``
moves chain time, by a minute, which no other consent's window notices.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from ledger.chain import TransactionSigner
from ledger.vocabulary import name_to_bytes32
from tests.api.conftest import World
from tests.api.helpers_matrix import assert_problem, grant_window, module_world
from wallets.identity import Identity

UNKNOWN_CONSENT = 987_654


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from module_world(tmp_path_factory, "refusals")


@dataclass(frozen=True)
class Scenario:
    """Who queries which consent for which fields, and the consent's status afterwards
    (``None``: there is no such consent)."""

    dept: Identity
    consent_id: int
    fields: list[str]
    status: str | None


def _unknown_consent(world: World) -> Scenario:
    return Scenario(world.dept, UNKNOWN_CONSENT, ["income"], None)


def _not_granted_to_another_department(world: World) -> Scenario:
    consent_id = world.grant(world.resident, world.dept, ["income"])
    return Scenario(world.dept2, consent_id, ["income"], "active")


def _not_granted_to_a_suspended_department(world: World) -> Scenario:
    dept = world.register_department("suspended", "Suspended Bureau", "SB")
    consent_id = world.grant(world.resident, dept, ["income"])
    receipt = world.node.client.set_department_active(
        TransactionSigner(world.admin.account), dept.address, False
    )
    assert receipt["status"] == 1
    listed = {d["address"]: d["active"] for d in world.http.get("/departments").json()["data"]}
    assert listed[dept.address] is False
    return Scenario(dept, consent_id, ["income"], "active")


def _revoked(world: World) -> Scenario:
    consent_id = world.grant(world.resident, world.dept, ["income"])
    answer = world.revoke(world.resident, consent_id)
    assert answer.status_code == 200, answer.text
    return Scenario(world.dept, consent_id, ["income"], "revoked")


def _not_yet_valid(world: World) -> Scenario:
    consent_id = world.grant(world.resident, world.dept, ["income"], valid_from=world.now() + 3600)
    return Scenario(world.dept, consent_id, ["income"], "not_yet_valid")


def _expired(world: World) -> Scenario:
    now = world.now()
    consent_id = grant_window(
        world, world.resident, world.dept, ["income"], valid_from=now, valid_until=now + 30
    )
    world.node.chain.time_travel(60)
    assert world.now() >= now + 30
    return Scenario(world.dept, consent_id, ["income"], "expired")


def _uses_exhausted(world: World) -> Scenario:
    consent_id = world.grant(world.resident, world.dept, ["income"], max_uses=1)
    first = world.query(world.dept, world.resident, consent_id, ["income"])
    assert first.status_code == 200, first.text
    return Scenario(world.dept, consent_id, ["income"], "exhausted")


def _field_not_in_scope(world: World) -> Scenario:
    consent_id = world.grant(world.resident, world.dept, ["income"])
    return Scenario(world.dept, consent_id, ["name"], "active")


SCENARIOS: dict[str, tuple[str, Callable[[World], Scenario]]] = {
    "unknown consent": ("unknown_consent", _unknown_consent),
    "another department": ("not_granted", _not_granted_to_another_department),
    "suspended department": ("not_granted", _not_granted_to_a_suspended_department),
    "revoked": ("revoked", _revoked),
    "not yet valid": ("not_yet_valid", _not_yet_valid),
    "expired": ("expired", _expired),
    "uses exhausted": ("uses_exhausted", _uses_exhausted),
    "field not in scope": ("field_not_in_scope", _field_not_in_scope),
}


@pytest.mark.parametrize("case", list(SCENARIOS))
def test_a_refused_access_is_a_403_with_its_reason_and_an_on_chain_receipt(
    world: World, case: str
) -> None:
    reason, setup = SCENARIOS[case]
    scenario = setup(world)
    resident = world.resident
    before = world.get(f"/consents/{scenario.consent_id}", world.auditor)

    answer = world.query(scenario.dept, resident, scenario.consent_id, scenario.fields)

    body = assert_problem(
        answer,
        403,
        "access-refused",
        title="Access refused",
        detail=f"access to consent {scenario.consent_id} refused on chain: {reason}",
    )
    assert body["reason"] == reason
    assert "fields" not in body
    receipt = body["receipt"]
    assert set(receipt) == {"tx_hash", "block_number", "log_index", "block_timestamp"}

    # The receipt names a mined transaction whose log at log_index is this very denial.
    w3 = world.node.chain.w3
    mined = w3.eth.get_transaction_receipt(receipt["tx_hash"])
    assert mined["status"] == 1
    assert mined["blockNumber"] == receipt["block_number"]
    assert w3.eth.get_block(receipt["block_number"])["timestamp"] == receipt["block_timestamp"]
    log = next(entry for entry in mined["logs"] if entry["logIndex"] == receipt["log_index"])
    event = world.node.client.decode_log(log)
    assert event is not None
    assert event.name == "AccessDenied"
    assert event.args["reason"] == name_to_bytes32(reason)
    assert event.args["consentId"] == scenario.consent_id
    assert event.args["department"] == scenario.dept.address
    assert event.args["resident"] == resident.address

    # Recorded, so the department's Access nonce is spent.
    nonce = json.loads(answer.request.content)["message"]["nonce"]
    assert world.node.client.is_nonce_used("Access", scenario.dept.address, nonce)

    # The resident's access log and the auditor's events show the refusal with its reason.
    log_entries = world.get(f"/residents/{resident.address}/access-log", resident).json()["data"]
    entry = next(e for e in log_entries if e["receipt"]["tx_hash"] == receipt["tx_hash"])
    assert entry["type"] == "AccessDenied"
    assert entry["reason"] == reason
    assert entry["consent_id"] == scenario.consent_id
    assert entry["department"] == scenario.dept.address
    assert entry["fields"] == scenario.fields
    assert entry["use"] is None
    assert entry["receipt"] == receipt
    assert log_entries[0] == entry  # newest first
    events = world.get(
        "/audit/events", world.auditor, type="AccessDenied", resident=resident.address
    ).json()["data"]
    assert [e["args"]["consentId"] for e in events if e["tx_hash"] == receipt["tx_hash"]] == [
        scenario.consent_id
    ]

    # The consent says why; a refusal spends no use.
    after = world.get(f"/consents/{scenario.consent_id}", world.auditor)
    if scenario.status is None:
        assert before.status_code == after.status_code == 404
    else:
        assert after.status_code == 200, after.text
        assert after.json()["status"] == scenario.status
        assert after.json()["uses"] == before.json()["uses"]
        resident_view = world.get(f"/consents/{scenario.consent_id}", resident).json()
        assert resident_view["status"] == scenario.status


def test_every_reason_of_the_design_is_covered() -> None:
    assert {reason for reason, _ in SCENARIOS.values()} == {
        "not_granted",
        "field_not_in_scope",
        "not_yet_valid",
        "expired",
        "revoked",
        "uses_exhausted",
        "unknown_consent",
    }


def test_a_consent_reads_exhausted_only_once_its_last_use_is_spent(world: World) -> None:
    consent_id = world.grant(world.resident, world.dept, ["income"], max_uses=2)
    statuses = []
    for _ in range(2):
        answer = world.query(world.dept, world.resident, consent_id, ["income"])
        assert answer.status_code == 200, answer.text
        body = world.get(f"/consents/{consent_id}", world.dept).json()
        statuses.append((body["uses"], body["status"]))
    assert statuses == [(1, "active"), (2, "exhausted")]
    refused = world.query(world.dept, world.resident, consent_id, ["income"])
    assert (refused.status_code, refused.json()["reason"]) == (403, "uses_exhausted")


def test_a_revoked_consent_stays_refused_after_its_window_also_ends(world: World) -> None:
    now = world.now()
    consent_id = grant_window(
        world, world.resident, world.dept, ["income"], valid_from=now, valid_until=now + 20
    )
    assert world.revoke(world.resident, consent_id).status_code == 200
    world.node.chain.time_travel(30)
    refused = world.query(world.dept, world.resident, consent_id, ["income"])
    assert (refused.status_code, refused.json()["reason"]) == (403, "revoked")
    assert world.get(f"/consents/{consent_id}", world.resident).json()["status"] == "revoked"

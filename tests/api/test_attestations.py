"""Attestations over HTTP: relayed to the chain, which dates them and judges the issuer's
trust then; stored with the chain's receipt; served every one per field, so a bogus
attestation by another trusted issuer cannot hide the genuine one from the department."""

from __future__ import annotations

import secrets
from typing import Any

from api.client import ConsentApi
from ledger.vocabulary import name_to_bytes32, role_id
from tests.api.conftest import World, ids
from tests.api.helpers_matrix import assert_contract_error
from wallets.attestation import commitment
from wallets.identity import Identity
from wallets.signing import signed_intent_body


def attest_body(
    world: World, issuer: Identity, *, value: str | None = None, field: str = "income", **kw: Any
) -> dict[str, Any]:
    """An issuer's signed ``Attest`` about ``world.resident``: of the record's own value
    and salt of ``field`` unless ``value`` names another."""
    salt = secrets.token_bytes(32)
    if value is None:
        opened = world.records[world.resident.address].field(field).value
        value, salt = opened.value, opened.salt
    now = world.now()
    field_id = name_to_bytes32(field)
    message = {
        "issuer": issuer.address,
        "resident": world.resident.address,
        "field": field_id,
        "commitment": commitment(field_id, value, salt),
        "issuedAt": now,
        "expiresAt": now + 86400,
        **kw,
    }
    domain = world.http.get("/eip712").json()["intents"]["Attest"]["domain"]
    return signed_intent_body(
        issuer.account.key,
        "Attest",
        message,
        chain_id=domain["chainId"],
        verifying_contract=domain["verifyingContract"],
    )


def read_income(world: World, consent_id: int) -> dict[str, Any]:
    answer = world.query(world.dept, world.resident, consent_id, ["income"])
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["fields"]["income"])


def test_an_attestation_is_recorded_on_chain_and_served_with_its_receipt(world: World) -> None:
    body = attest_body(world, world.issuer)

    answer = world.post("/attestations", world.issuer, body)

    assert answer.status_code == 201, answer.text
    stored = answer.json()
    digest = bytes.fromhex(stored["digest"][2:])
    assert stored["recorded_at"] == stored["receipt"]["block_timestamp"]
    assert world.node.client.attestation_recorded_at(digest) == stored["recorded_at"]
    assert world.node.client.verify_attestation(
        {**body["message"], "field": bytes.fromhex(body["message"]["field"][2:])},
        bytes.fromhex(body["signature"][2:]),
    )
    consent_id = world.grant(world.resident, world.dept, ["income"])
    served = read_income(world, consent_id)
    (only,) = served["attestations"]
    assert only["message"] == body["message"]
    assert only["signature"] == body["signature"]
    assert only["receipt"]["digest"] == stored["digest"]
    assert only["receipt"]["tx_hash"] == stored["receipt"]["tx_hash"]
    assert only["receipt"]["recorded_at"] == stored["recorded_at"]
    assert served["attestation"] == only


def test_a_replayed_attestation_is_refused_and_stored_once(world: World) -> None:
    body = attest_body(world, world.issuer)
    assert world.post("/attestations", world.issuer, body).status_code == 201

    again = world.post("/attestations", world.issuer, body)

    assert_contract_error(again, 409, "ConsentDirectoryAttestationRecorded")
    consent_id = world.grant(world.resident, world.dept, ["income"])
    assert len(read_income(world, consent_id)["attestations"]) == 1


def test_a_newer_bogus_attestation_does_not_hide_the_genuine_one(world: World) -> None:
    rogue = world.grant_role("rogue", "issuer", ["income"])  # trusted, for any resident
    genuine = world.post("/attestations", world.issuer, attest_body(world, world.issuer))
    assert genuine.status_code == 201, genuine.text
    world.node.chain.time_travel(5)
    bogus = world.post("/attestations", rogue, attest_body(world, rogue, value="1"))
    assert bogus.status_code == 201, bogus.text
    consent_id = world.grant(world.resident, world.dept, ["income"])

    served = read_income(world, consent_id)
    issuers = [a["message"]["issuer"] for a in served["attestations"]]
    assert issuers == [rogue.address, world.issuer.address]  # newest first
    assert served["attestation"]["message"]["issuer"] == rogue.address  # DESIGN's one member

    client = world.node.client
    transport = world.http._transport  # the TestClient's: the app in process
    with ConsentApi("http://testserver", world.dept, transport=transport) as department:
        result = department.query(
            consent_id,
            world.resident.address,
            ["income"],
            is_trusted=client.is_trusted_issuer,
            recorded_at=client.attestation_recorded_at,
        )
    income = result.fields["income"]
    assert (income.value.value, income.attestation, income.issuer) == (
        "52000",
        "verified",
        world.issuer.address,
    )


def test_the_departments_check_refuses_an_attestation_the_chain_never_recorded(
    world: World,
) -> None:
    stored = world.post("/attestations", world.issuer, attest_body(world, world.issuer))
    assert stored.status_code == 201, stored.text
    consent_id = world.grant(world.resident, world.dept, ["income"])
    transport = world.http._transport
    with ConsentApi("http://testserver", world.dept, transport=transport) as department:
        result = department.query(
            consent_id,
            world.resident.address,
            ["income"],
            is_trusted=world.node.client.is_trusted_issuer,
            recorded_at=lambda _digest: 0,  # a chain that holds no record of it
        )
    assert result.fields["income"].attestation == "invalid"
    assert "not_recorded" in (result.fields["income"].problem or "")


def test_an_attestation_of_a_field_id_that_is_no_name_is_refused_not_a_server_error(
    world: World,
) -> None:
    body = attest_body(world, world.issuer)
    message = dict(body["message"], field="0x" + "ff" * 32)
    domain = world.http.get("/eip712").json()["intents"]["Attest"]["domain"]
    forged_field = signed_intent_body(
        world.issuer.account.key,
        "Attest",
        message,
        chain_id=domain["chainId"],
        verifying_contract=domain["verifyingContract"],
    )

    answer = world.post("/attestations", world.issuer, forged_field)

    assert_contract_error(answer, 403, "ConsentDirectoryUntrustedIssuer", field="0x" + "ff" * 32)
    assert world.http.get("/health").status_code == 200


def test_an_attestation_expiring_at_or_past_2_63_is_stored_and_served_exactly(
    world: World,
) -> None:
    for expires in (2**63, 2**64 - 1):
        answer = world.post(
            "/attestations", world.issuer, attest_body(world, world.issuer, expiresAt=expires)
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["expires_at"] == expires
    consent_id = world.grant(world.resident, world.dept, ["income"])
    served = read_income(world, consent_id)["attestations"]
    assert sorted(a["message"]["expiresAt"] for a in served) == [2**63, 2**64 - 1]
    assert world.http.get("/health").status_code == 200


def test_an_expired_attestation_is_not_served(world: World) -> None:
    soon = world.now() + 120
    answer = world.post(
        "/attestations", world.issuer, attest_body(world, world.issuer, expiresAt=soon)
    )
    assert answer.status_code == 201, answer.text
    consent_id = world.grant(world.resident, world.dept, ["income"])
    assert len(read_income(world, consent_id)["attestations"]) == 1
    world.node.chain.time_travel(300)
    assert read_income(world, consent_id)["attestations"] == []


def test_the_audit_checks_attestations_and_the_admins_intents(world: World) -> None:
    stored = world.post("/attestations", world.issuer, attest_body(world, world.issuer))
    assert stored.status_code == 201, stored.text
    distrust = world.body(
        world.admin, "DistrustIssuer", {"issuer": world.issuer.address, "fields": ids("income")}
    )
    path = f"/admin/issuers/{world.issuer.address}/distrust"
    assert world.post(path, world.admin, distrust).status_code == 200
    revoke = world.body(
        world.admin, "RevokeRole", {"role": role_id("department"), "account": world.dept2.address}
    )
    assert world.post("/admin/roles/revoke", world.admin, revoke).status_code == 200
    dept = world.dept.address
    for active in (False, True):
        body = world.body(
            world.admin, "SetDepartmentActive", {"department": dept, "active": active}
        )
        assert world.post(f"/admin/departments/{dept}/active", world.admin, body).status_code == 200
    rotate = world.body(
        world.admin,
        "RotateDepartmentKey",
        {"department": dept, "encryptionKey": world.dept.encryption_public_key},
    )
    rotated = world.put(f"/admin/departments/{dept}/encryption-key", world.admin, rotate)
    assert rotated.status_code == 200, rotated.text
    consent_id = world.grant(world.resident, world.dept, ["income"])
    assert world.query(world.dept, world.resident, consent_id, ["income"]).status_code == 200

    report = world.get("/audit/verify", world.auditor).json()

    assert report["ok"], report["problems"]
    names = {e["type"] for e in world.get("/audit/events", world.auditor, limit=500).json()["data"]}
    assert {
        "AttestationRecorded",
        "IssuerTrustEnded",
        "RoleRemoved",
        "DepartmentSuspended",
        "DepartmentReinstated",
        "DepartmentKeyRotated",
    } <= names
    assert report["signatures_verified"] >= 6

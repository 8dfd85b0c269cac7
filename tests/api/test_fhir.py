"""``GET /consents/{id}/fhir``: each answer is a valid FHIR R5 ``Consent`` (the
``fhir.resources`` R5 models) and says what the consent it describes says, its status
following chain time; it is read by exactly those who read ``GET /consents/{id}``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhir.resources.consent import Consent

from tests.api.conftest import World

FHIR_JSON = "application/fhir+json"


def fhir(world: World, consent_id: int, who: Any) -> dict[str, Any]:
    answer = world.get(f"/consents/{consent_id}/fhir", who)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == FHIR_JSON
    body: dict[str, Any] = answer.json()
    Consent.model_validate(body)  # raises unless it is a valid R5 Consent
    return body


def seconds(value: str) -> int:
    return int(datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def receipt_parts(resource: dict[str, Any]) -> dict[str, Any]:
    (receipt,) = [e for e in resource["extension"] if e["url"].endswith("/chain-receipt")]
    return {
        part["url"]: next(v for k, v in part.items() if k.startswith("value"))
        for part in receipt["extension"]
    }


def test_the_fhir_consent_says_what_the_consent_says(world: World) -> None:
    assert world.node is not None
    consent_id = world.grant(world.resident, world.dept, ["income", "name"], max_uses=3)
    view = world.get(f"/consents/{consent_id}", world.resident).json()
    for reader in (world.resident, world.dept, world.auditor):
        resource = fhir(world, consent_id, reader)
        assert resource["resourceType"] == "Consent"
        assert resource["id"] == str(consent_id)
        assert resource["status"] == "active" and view["status"] == "active"
        assert resource["decision"] == "permit"
        (grantor,) = resource["grantor"]
        assert grantor["type"] == "Patient"
        assert grantor["identifier"]["value"] == world.resident.address == view["resident"]
        assert grantor["identifier"]["system"].endswith("/fhir/resident-address")
        assert resource["subject"] == grantor
        (grantee,) = resource["grantee"]
        assert grantee["type"] == "Organization"
        assert grantee["identifier"]["value"] == world.dept.address
        assert grantee["display"] == "Housing Bureau"
        assert seconds(resource["period"]["start"]) == view["valid_from"]
        assert seconds(resource["period"]["end"]) == view["valid_until"]
        granted = datetime.fromtimestamp(view["granted_at"], UTC)
        assert resource["date"] == granted.date().isoformat()
        (provision,) = resource["provision"]
        (purpose,) = provision["purpose"]
        assert purpose["code"] == "HOUSING" == view["purpose"]
        assert purpose["system"].endswith("/fhir/CodeSystem/purpose")
        assert purpose["display"] == "housing assistance and public housing applications"
        assert [d["reference"]["identifier"]["value"] for d in provision["data"]] == [
            "income",
            "name",
        ]
        assert {d["meaning"] for d in provision["data"]} == {"instance"}
        assert provision["data"][0]["reference"]["display"] == "yearly income"
        by_id, by_urn = resource["identifier"]
        assert by_id["value"] == str(consent_id)
        record = world.get(f"/consents/{consent_id}/record", reader).json()
        assert by_urn == {"system": "urn:ietf:rfc:3986", "value": record["record_id"]}
        parts = receipt_parts(resource)
        assert parts == {
            "chainId": str(world.node.chain.chain_id),
            "ledger": world.node.deployment.ledger,
            "transactionHash": view["receipt"]["tx_hash"],
            "blockNumber": str(view["receipt"]["block_number"]),  # integer64: a JSON string
            "logIndex": view["receipt"]["log_index"],
        }
        (source,) = resource["sourceAttachment"]
        assert source["url"].endswith(f"/consents/{consent_id}")


def test_status_follows_the_derived_status_through_chain_time(world: World) -> None:
    assert world.node is not None
    later = world.now() + 3600
    waiting = world.grant(world.resident, world.dept, ["income"], valid_from=later, days=1)
    assert world.get(f"/consents/{waiting}", world.dept).json()["status"] == "not_yet_valid"
    resource = fhir(world, waiting, world.dept)
    assert resource["status"] == "active"
    assert seconds(resource["period"]["start"]) == later

    world.node.chain.time_travel(3600 + 86400 + 60)
    assert world.get(f"/consents/{waiting}", world.dept).json()["status"] == "expired"
    assert fhir(world, waiting, world.dept)["status"] == "inactive"


def test_revoked_and_used_up_consents_are_inactive(world: World) -> None:
    revoked = world.grant(world.resident, world.dept, ["income"])
    assert world.revoke(world.resident, revoked).status_code == 200
    assert world.get(f"/consents/{revoked}", world.resident).json()["status"] == "revoked"
    assert fhir(world, revoked, world.resident)["status"] == "inactive"

    once = world.grant(world.resident, world.dept, ["name"], max_uses=1)
    assert fhir(world, once, world.dept)["status"] == "active"
    assert world.query(world.dept, world.resident, once, ["name"]).status_code == 200
    assert world.get(f"/consents/{once}", world.dept).json()["status"] == "exhausted"
    assert fhir(world, once, world.dept)["status"] == "inactive"


def test_read_by_exactly_those_who_read_the_consent(world: World) -> None:
    consent_id = world.grant(world.resident, world.dept, ["income"])
    for outsider in (world.dept2, world.resident2, world.registrar):
        plain = world.get(f"/consents/{consent_id}", outsider)
        answer = world.get(f"/consents/{consent_id}/fhir", outsider)
        assert answer.status_code == plain.status_code == 403
        assert answer.headers["content-type"] == "application/problem+json"
    assert world.get(f"/consents/{consent_id}/fhir", None).status_code == 401

    unknown = world.get("/consents/999999/fhir", world.auditor)
    assert unknown.status_code == world.get("/consents/999999", world.auditor).status_code
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "999999" in unknown.json()["detail"]


def test_openapi_documents_the_fhir_route_and_its_content_type(world: World) -> None:
    spec = world.http.get("/openapi.json").json()
    operation = spec["paths"]["/consents/{consent_id}/fhir"]["get"]
    content = operation["responses"]["200"]["content"]
    assert list(content) == [FHIR_JSON]
    schema = content[FHIR_JSON]["schema"]
    assert schema["properties"]["resourceType"]["enum"] == ["Consent"]
    assert {"401", "403", "404"} <= set(operation["responses"])
    # what the document promises, a real answer keeps
    resource = fhir(world, world.grant(world.resident, world.dept, ["phone"]), world.dept)
    assert set(schema["required"]) <= set(resource) <= set(schema["properties"])
    assert resource["status"] in schema["properties"]["status"]["enum"]

"""Bad requests answer the right status and change nothing.

DESIGN: 400/422 malformed input, 404 unknown, 409 conflict (nonce reused, already
revoked, stale version), and "a bad request never half-applies". Each test takes a
:class:`State` of what the request could have touched (the signer's nonces, the
resident's record, consents, requests, access log and events, the chain head) and
compares it afterwards. A request refused before the relayer queues it mines no block;
one the contract refuses mines the block that records the refusal and nothing else.

One world serves the module; no test relies on another's leftovers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from ledger.vocabulary import name_to_bytes32
from tests.api.conftest import World, ids
from tests.api.helpers_matrix import (
    assert_contract_error,
    assert_invalid,
    assert_problem,
    head,
    high_s,
    lenient,
    module_world,
    sign,
)
from wallets.identity import Identity
from wallets.record import RecordVersion

VALUES = {"name": "Li Wei", "income": "52000", "address": "1 Lake Rd", "phone": "138"}
SQLITE_MAX = 2**63 - 1


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from module_world(tmp_path_factory, "bad-input")


@dataclass(frozen=True)
class State:
    head: int
    nonces: dict[str, int]
    record: dict[str, Any]
    consents: list[dict[str, Any]]
    requests: list[dict[str, Any]]
    access_log: list[dict[str, Any]]
    events: list[tuple[int, int]]


def state(world: World, signer: Identity, resident: Identity | None = None) -> State:
    resident = resident or world.resident
    base = f"/residents/{resident.address}"

    def read(path: str, who: Identity, **params: Any) -> Any:
        answer = world.get(path, who, **params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    return State(
        head=head(world),
        nonces=read(f"/nonces/{signer.address}", signer),
        record=read(f"{base}/record", resident),
        consents=read(f"{base}/consents", resident, limit=1000)["data"],
        requests=read(f"{base}/access-requests", resident)["data"],
        access_log=read(f"{base}/access-log", resident, limit=1000)["data"],
        events=[
            (e["block_number"], e["log_index"])
            for e in read("/audit/events", world.auditor, resident=resident.address, limit=1000)[
                "data"
            ]
        ],
    )


def assert_unchanged(world: World, before: State, signer: Identity, *, mined: bool) -> None:
    """Nothing changed; ``mined``: the contract refused it in exactly one new block."""
    after = state(world, signer)
    if mined:
        assert after.head == before.head + 1
        after = replace(after, head=before.head)
    assert after == before


def grant_message(world: World, dept: Identity, fields: list[str]) -> dict[str, Any]:
    now = world.now()
    return {
        "resident": world.resident.address,
        "department": dept.address,
        "fields": ids(*fields),
        "purpose": name_to_bytes32("HOUSING"),
        "validFrom": now,
        "validUntil": now + 86400,
        "maxUses": 0,
        "requestId": "0x" + "00" * 32,
    }


# ------------------------------------------------------------------ records


def _changed_ciphertext(record: RecordVersion, other: RecordVersion) -> dict[str, Any]:
    fields = record.envelopes()
    fields["income"] = other.envelopes()["income"]
    return fields


def _missing_field(record: RecordVersion, other: RecordVersion) -> dict[str, Any]:
    fields = record.envelopes()
    del fields["phone"]
    return fields


def _extra_field(record: RecordVersion, other: RecordVersion) -> dict[str, Any]:
    return {**record.envelopes(), "vehicle": other.envelopes()["income"]}


@pytest.mark.parametrize(
    "tamper",
    [_changed_ciphertext, _missing_field, _extra_field],
    ids=["a changed ciphertext", "a missing field", "an extra field"],
)
def test_a_record_whose_envelopes_miss_the_signed_root_is_422_and_changes_nothing(
    world: World, tamper: Callable[[RecordVersion, RecordVersion], dict[str, Any]]
) -> None:
    resident = world.resident
    before = state(world, resident)
    version = before.record["version"] + 1
    record, other = (
        RecordVersion.build(
            {**VALUES, "income": income},
            resident=resident.address,
            version=version,
            owner_public_key=resident.encryption_public_key,
        )
        for income in ("70000", "1")
    )
    body = world.body(
        resident,
        "CommitRecord",
        {"resident": resident.address, "version": version, "root": record.root},
        fields=tamper(record, other),
    )
    answer = world.put(f"/residents/{resident.address}/record", resident, body)
    problem = assert_invalid(answer, detail="the envelopes do not match the committed root")
    assert problem["computed_root"] != "0x" + record.root.hex()
    assert_unchanged(world, before, resident, mined=False)
    assert before.record["version"] == version - 1


def _record_body(world: World, resident: Identity, version: int) -> dict[str, Any]:
    record = RecordVersion.build(
        VALUES,
        resident=resident.address,
        version=version,
        owner_public_key=resident.encryption_public_key,
    )
    return world.body(
        resident,
        "CommitRecord",
        {"resident": resident.address, "version": version, "root": record.root},
        fields=record.envelopes(),
    )


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ("other resident in the path", "message.resident differs from the path"),
        ("no fields", "a record has at least one field"),
        ("a field outside the schema", "fields not in the schema: ['shoe_size']"),
        # Envelope members are bounded by the body's model (test_limits has the rest).
        ("an envelope that is not hex", "the request does not validate"),
        ("a 13-byte nonce", "the request does not validate"),
    ],
)
def test_a_malformed_record_upload_is_422_and_changes_nothing(
    world: World, change: str, detail: str
) -> None:
    resident = world.resident
    before = state(world, resident)
    body = _record_body(world, resident, before.record["version"] + 1)
    path = f"/residents/{resident.address}/record"
    if change == "other resident in the path":
        path = f"/residents/{world.resident2.address}/record"
    elif change == "no fields":
        body["fields"] = {}
    elif change == "a field outside the schema":
        body["fields"]["shoe_size"] = body["fields"]["name"]
    elif change == "an envelope that is not hex":
        body["fields"]["name"]["ciphertext"] = "0xnothex"
    else:
        body["fields"]["name"]["nonce"] = "0x" + "00" * 13
    assert_invalid(world.put(path, resident, body), detail=detail)
    assert_unchanged(world, before, resident, mined=False)


def test_uploading_the_current_version_again_is_409_and_keeps_the_stored_record(
    world: World,
) -> None:
    resident = world.resident
    before = state(world, resident)
    current = before.record["version"]
    body = _record_body(world, resident, current)
    answer = world.put(f"/residents/{resident.address}/record", resident, body)
    assert_contract_error(
        answer,
        409,
        "ConsentLedgerStaleVersion",
        resident=resident.address,
        current=current,
        given=current,
    )
    assert not world.node.client.is_nonce_used(
        "CommitRecord", resident.address, body["message"]["nonce"]
    )
    assert_unchanged(world, before, resident, mined=True)


# ------------------------------------------------------------------ grants


@pytest.mark.parametrize(
    ("keys", "detail"),
    [
        ("missing", "wrapped_keys must cover exactly the granted fields ['income', 'name']"),
        ("extra", "wrapped_keys must cover exactly the granted fields ['income', 'name']"),
        # A wrapped key's size and form are bounded by the body's model (test_limits).
        ("short", "the request does not validate"),
        ("not hex", "the request does not validate"),
    ],
)
def test_a_grant_whose_wrapped_keys_do_not_fit_is_422_and_creates_no_consent(
    world: World, keys: str, detail: str
) -> None:
    resident = world.resident
    before = state(world, resident)
    body = world.grant_body(resident, world.dept, ["income", "name"])
    wrapped = body["wrapped_keys"]
    if keys == "missing":
        del wrapped["name"]
    elif keys == "extra":
        wrapped["phone"] = wrapped["name"]
    elif keys == "short":
        wrapped["income"] = wrapped["income"][:-2]
    else:
        wrapped["income"] = "0x" + "zz" * 80
    assert_invalid(world.post("/consents", resident, body), detail=detail)
    assert_unchanged(world, before, resident, mined=False)


def test_unsorted_fields_are_422_with_the_contract_error_and_create_no_consent(
    world: World,
) -> None:
    resident = world.resident
    before = state(world, resident)
    body = world.grant_body(resident, world.dept, ["income", "name"])
    message = {**body["message"], "fields": list(reversed(body["message"]["fields"]))}
    unsorted = {**sign(world, resident, "Grant", message), "wrapped_keys": body["wrapped_keys"]}
    answer = world.post("/consents", resident, unsorted)
    assert_contract_error(answer, 422, "ConsentDirectoryUnsortedFields", index=1)
    assert not world.node.client.is_nonce_used("Grant", resident.address, message["nonce"])
    # The relayer now judges a list's shape before relaying, with the contract's error.
    assert_unchanged(world, before, resident, mined=False)


def test_a_query_with_unsorted_fields_is_422_and_logs_no_access(world: World) -> None:
    consent_id = world.grant(world.resident, world.dept, ["income", "name"])
    before = state(world, world.dept)
    body = world.query_body(world.dept, world.resident, consent_id, ["income", "name"])
    message = {**body["message"], "fields": list(reversed(body["message"]["fields"]))}
    answer = world.post("/queries", world.dept, sign(world, world.dept, "Access", message))
    assert_contract_error(answer, 422, "ConsentLedgerUnsortedFields", index=1)
    assert "fields" not in answer.json()
    assert_unchanged(world, before, world.dept, mined=False)  # refused before relaying


# ------------------------------------------------------------------ nonces, deadlines, signatures


def test_a_reused_nonce_is_409_and_files_nothing_twice(world: World) -> None:
    dept = world.dept
    body = world.body(
        dept,
        "AccessRequest",
        {
            "department": dept.address,
            "resident": world.resident.address,
            "fields": ids("phone"),
            "purpose": name_to_bytes32("HOUSING"),
            "duration": 3600,
        },
    )
    first = world.post("/access-requests", dept, body)
    assert first.status_code == 201, first.text
    before = state(world, dept)
    again = world.post("/access-requests", dept, body)
    nonce = body["message"]["nonce"]
    assert_contract_error(again, 409, "SignedIntentNonceUsed", signer=dept.address, nonce=nonce)
    assert [r["request_id"] for r in before.requests].count(first.json()["request_id"]) == 1
    assert_unchanged(world, before, dept, mined=False)


def test_a_different_grant_under_a_spent_nonce_is_409_and_creates_no_consent(
    world: World,
) -> None:
    resident = world.resident
    first = world.grant_body(resident, world.dept, ["income"])
    assert world.post("/consents", resident, first).status_code == 201
    before = state(world, resident)
    spent = {k: first["message"][k] for k in ("nonce", "deadline")}
    message = {**grant_message(world, world.dept2, ["phone"]), **spent}
    second = sign(world, resident, "Grant", message)
    second["wrapped_keys"] = {"phone": "0x" + "ab" * 80}
    answer = world.post("/consents", resident, second)
    assert_contract_error(
        answer, 409, "SignedIntentNonceUsed", signer=resident.address, nonce=message["nonce"]
    )
    assert_unchanged(world, before, resident, mined=False)


@pytest.mark.parametrize("offset", [-1, 0], ids=["deadline passed", "deadline is the head time"])
def test_an_expired_deadline_is_422_and_creates_nothing(world: World, offset: int) -> None:
    resident = world.resident
    before = state(world, resident)
    deadline = world.now() + offset
    body = world.body(
        resident,
        "Grant",
        {**grant_message(world, world.dept, ["income"]), "deadline": deadline},
        wrapped_keys=world.grant_body(resident, world.dept, ["income"])["wrapped_keys"],
    )
    answer = world.post("/consents", resident, body)
    problem = assert_contract_error(answer, 422, "SignedIntentExpired", deadline=deadline)
    assert problem["arguments"]["timestamp"] >= deadline
    assert_unchanged(world, before, resident, mined=False)


def _flip_v(signature: str) -> str:
    raw = bytes.fromhex(signature[2:])
    return "0x" + (raw[:64] + bytes([0])).hex()


SIGNATURES: list[Any] = [
    pytest.param(lambda s: s[:-2], "ECDSAInvalidSignatureLength", id="64 bytes"),
    pytest.param(lambda s: s + "00", "ECDSAInvalidSignatureLength", id="66 bytes"),
    pytest.param(high_s, "ECDSAInvalidSignatureS", id="high s"),
    pytest.param(_flip_v, "ECDSAInvalidSignature", id="v is 0"),
]


@pytest.mark.parametrize(("mangle", "error"), SIGNATURES)
def test_a_malformed_signature_is_422_and_creates_nothing(
    world: World, mangle: Callable[[str], str], error: str
) -> None:
    resident = world.resident
    before = state(world, resident)
    body = world.grant_body(resident, world.dept, ["income"])
    body["signature"] = mangle(body["signature"])
    assert_contract_error(world.post("/consents", resident, body), 422, error)
    assert_unchanged(world, before, resident, mined=False)


@pytest.mark.parametrize(
    ("signature", "detail"),
    [("0x123", "signature: value has an odd number of hex digits"), ("", ""), ("zz", "")],
    ids=["odd hex digits", "empty", "not 0x-hex"],
)
def test_a_signature_that_is_not_even_hex_is_422(world: World, signature: str, detail: str) -> None:
    resident = world.resident
    before = state(world, resident)
    body = {**world.grant_body(resident, world.dept, ["income"]), "signature": signature}
    answer = world.post("/consents", resident, body)
    problem = assert_invalid(answer, detail=detail)
    if not detail:
        assert problem["errors"][0]["loc"] == ["body", "signature"]
    assert_unchanged(world, before, resident, mined=False)


# ------------------------------------------------------------------ message shapes

MESSAGES: list[Any] = [
    pytest.param(
        lambda m: {**m, "maxUses": "1"},
        "Grant.maxUses: expected an int for uint32",
        id="string in uint",
    ),
    pytest.param(
        lambda m: {**m, "maxUses": 2**32},
        "Grant.maxUses: 4294967296 out of range",
        id="uint overflow",
    ),
    pytest.param(lambda m: {**m, "maxUses": True}, "expected an int", id="bool in uint"),
    pytest.param(lambda m: {**m, "colour": "red"}, "unexpected ['colour']", id="unknown member"),
    pytest.param(
        lambda m: {k: v for k, v in m.items() if k != "deadline"},
        "missing ['deadline']",
        id="missing member",
    ),
    pytest.param(lambda m: {**m, "department": "0x1234"}, "Grant.department", id="bad address"),
    pytest.param(lambda m: {**m, "purpose": "0x" + "00" * 31}, "Grant.purpose", id="short bytes32"),
    pytest.param(lambda m: {**m, "fields": "0x00"}, "expected a list", id="string for a list"),
]


@pytest.mark.parametrize(("mutate", "detail"), MESSAGES)
def test_a_message_of_the_wrong_shape_is_422_with_a_detail_and_creates_nothing(
    world: World, mutate: Callable[[dict[str, Any]], dict[str, Any]], detail: str
) -> None:
    resident = world.resident
    before = state(world, resident)
    body = world.grant_body(resident, world.dept, ["income"])
    body["message"] = mutate(body["message"])
    problem = assert_invalid(world.post("/consents", resident, body), detail=detail)
    assert problem["error"] == "InvalidIntent"
    assert_unchanged(world, before, resident, mined=False)


BODIES: list[Any] = [
    pytest.param(lambda b: {**b, "message": [1, 2]}, ["body", "message"], id="message a list"),
    pytest.param(lambda b: {**b, "message": None}, ["body", "message"], id="message null"),
    pytest.param(
        lambda b: {k: v for k, v in b.items() if k != "signature"},
        ["body", "signature"],
        id="no signature",
    ),
    pytest.param(
        lambda b: {k: v for k, v in b.items() if k != "wrapped_keys"},
        ["body", "wrapped_keys"],
        id="no wrapped keys",
    ),
    pytest.param(lambda b: [b], ["body"], id="body a list"),
]


@pytest.mark.parametrize(("mutate", "loc"), BODIES)
def test_a_body_of_the_wrong_shape_is_422_with_errors_and_creates_nothing(
    world: World, mutate: Callable[[dict[str, Any]], Any], loc: list[str]
) -> None:
    resident = world.resident
    before = state(world, resident)
    body = mutate(world.grant_body(resident, world.dept, ["income"]))
    problem = assert_invalid(world.post("/consents", resident, body))
    assert problem["detail"] == "the request does not validate"
    assert loc in [e["loc"] for e in problem["errors"]], problem["errors"]
    assert all(e["msg"] for e in problem["errors"])
    assert_unchanged(world, before, resident, mined=False)


def test_a_body_that_is_not_json_is_422(world: World) -> None:
    before = state(world, world.resident)
    answer = world.http.post(
        "/consents",
        content=b'{"message": {',
        headers={**world.headers(world.resident), "Content-Type": "application/json"},
    )
    problem = assert_invalid(answer)
    assert problem["errors"][0]["type"] == "json_invalid"
    assert_unchanged(world, before, world.resident, mined=False)


# ------------------------------------------------------------------ revocation


def _revoke_body(world: World, consent_id: int) -> dict[str, Any]:
    resident = world.resident
    return world.body(resident, "Revoke", {"resident": resident.address, "consentId": consent_id})


def test_revoking_an_unknown_consent_is_404_and_spends_no_nonce(world: World) -> None:
    before = state(world, world.resident)
    answer = world.post("/consents/424242/revoke", world.resident, _revoke_body(world, 424242))
    assert_problem(answer, 404, "not-found", title="Not found", detail="no consent 424242")
    assert_unchanged(world, before, world.resident, mined=False)


def test_revoking_a_consent_twice_is_409_and_keeps_the_first_revocation(world: World) -> None:
    consent_id = world.grant(world.resident, world.dept, ["income"])
    first = world.revoke(world.resident, consent_id)
    assert first.status_code == 200, first.text
    before = state(world, world.resident)
    revoked = world.get(f"/consents/{consent_id}", world.resident).json()
    body = _revoke_body(world, consent_id)
    again = world.post(f"/consents/{consent_id}/revoke", world.resident, body)
    assert_contract_error(again, 409, "ConsentLedgerAlreadyRevoked", consentId=consent_id)
    assert not world.node.client.is_nonce_used(
        "Revoke", world.resident.address, body["message"]["nonce"]
    )
    assert world.get(f"/consents/{consent_id}", world.resident).json() == revoked
    assert revoked["status"] == "revoked"
    assert revoked["revoked_at"] == first.json()["receipt"]["block_timestamp"]
    assert_unchanged(world, before, world.resident, mined=True)


def test_a_revoke_naming_another_consent_than_its_path_is_422(world: World) -> None:
    consent_id = world.grant(world.resident, world.dept, ["income"])
    other = world.grant(world.resident, world.dept, ["phone"])
    before = state(world, world.resident)
    answer = world.post(
        f"/consents/{consent_id}/revoke", world.resident, _revoke_body(world, other)
    )
    assert_invalid(answer, detail="message.consentId differs from the path")
    assert_unchanged(world, before, world.resident, mined=False)


# ------------------------------------------------------------------ reads: cursors, paths


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


GARBLED = {
    "not base64": "%%%",
    "not json": _cursor(b"not json"),
    "an object": _cursor(b'{"block": 1}'),
    "too short": _cursor(b"[]"),
    "too long": _cursor(b"[1, 2, 3]"),
    "strings": _cursor(b'["1", "2"]'),
    "booleans": _cursor(b"[true, false]"),
    "floats": _cursor(b"[1.5, 2.5]"),
    "not utf-8": _cursor(b"\xff\xfe\xfd"),
}


@pytest.mark.parametrize("garbled", list(GARBLED))
def test_a_garbled_cursor_is_422_on_every_list(world: World, garbled: str) -> None:
    cursor = GARBLED[garbled]
    resident = world.resident
    for path, reader in (
        (f"/residents/{resident.address}/consents", resident),
        (f"/residents/{resident.address}/access-log", resident),
        ("/consents", world.dept),
        ("/audit/events", world.auditor),
    ):
        answer = world.get(path, reader, cursor=cursor)
        assert_invalid(answer, detail="invalid cursor")


def test_an_unknown_path_is_a_404_problem(world: World) -> None:
    for method, path in (
        ("GET", "/nowhere"),
        ("POST", "/consents/1/approve"),
        ("GET", f"/residents/{world.resident.address}/secrets"),
    ):
        answer = world.http.request(method, path, headers=world.headers(world.auditor))
        assert_problem(answer, 404, "not-found", detail="Not Found")
    wrong_method = world.http.delete("/consents", headers=world.headers(world.dept))
    assert_problem(wrong_method, 405, "method-not-allowed", detail="Method Not Allowed")


def test_a_malformed_path_or_query_parameter_is_422(world: World) -> None:
    resident, auditor = world.resident, world.auditor
    assert_invalid(world.get("/residents/not-an-address/record", resident), detail="not an address")
    mixed = "0x" + resident.address[2:].swapcase()
    if mixed[2:] != mixed[2:].lower() and mixed[2:] != mixed[2:].upper():
        assert_invalid(world.get(f"/residents/{mixed}/consents", auditor), detail="not an address")
    assert_invalid(world.get("/nonces/0x1234", None), detail="not an address")
    assert_invalid(world.get("/consents/first", auditor))
    assert_invalid(world.get("/audit/events", auditor, limit=0))
    assert_invalid(world.get("/audit/events", auditor, limit=1001))
    assert_invalid(world.get("/audit/export", auditor, format="xml"))
    assert_invalid(world.get("/audit/events", auditor, since="yesterday"))


# ------------------------------------------------------------------ out-of-range numbers


@pytest.mark.parametrize("consent_id", ["abc", None, [1]], ids=["string", "null", "list"])
def test_a_query_whose_consent_id_is_not_an_integer_is_422(world: World, consent_id: Any) -> None:
    before = state(world, world.dept)
    body = world.query_body(world.dept, world.resident, 1, ["income"])
    body["message"]["consentId"] = consent_id
    answer = lenient(world).post("/queries", json=body, headers=world.headers(world.dept))
    assert_invalid(answer, detail="Access.consentId")
    assert_unchanged(world, before, world.dept, mined=False)


@pytest.mark.parametrize("consent_id", [SQLITE_MAX + 1, 2**255], ids=["2**63", "2**255"])
def test_an_unknown_consent_id_beyond_64_bits_is_unknown_not_a_server_error(
    world: World, consent_id: int
) -> None:
    http = lenient(world)
    resident, dept = world.resident, world.dept
    read = http.get(f"/consents/{consent_id}", headers=world.headers(world.auditor))
    assert_problem(read, 404, "not-found", detail=f"no consent {consent_id}")
    revoke = http.post(
        f"/consents/{consent_id}/revoke",
        json=_revoke_body(world, consent_id),
        headers=world.headers(resident),
    )
    assert_problem(revoke, 404, "not-found", detail=f"no consent {consent_id}")
    query = http.post(
        "/queries",
        json=world.query_body(dept, resident, consent_id, ["income"]),
        headers=world.headers(dept),
    )
    assert query.status_code == 403, query.text
    assert query.json()["reason"] == "unknown_consent"


def test_a_cursor_naming_a_position_beyond_64_bits_is_422(world: World) -> None:
    http = lenient(world)
    resident = world.resident
    for path, reader, position in (
        (f"/residents/{resident.address}/consents", resident, [2**64]),
        (f"/residents/{resident.address}/access-log", resident, [2**64, 0]),
        ("/audit/events", world.auditor, [2**64, 0]),
    ):
        cursor = _cursor(json.dumps(position).encode())
        answer = http.get(path, params={"cursor": cursor}, headers=world.headers(reader))
        assert_invalid(answer, detail="invalid cursor")


@pytest.mark.parametrize("path", ["/audit/events", "/audit/export"])
@pytest.mark.parametrize("bound", ["since", "until"])
def test_a_time_filter_beyond_64_bits_is_422_not_a_server_error(
    world: World, bound: str, path: str
) -> None:
    answer = lenient(world).get(path, params={bound: 2**64}, headers=world.headers(world.auditor))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_the_server_still_answers_after_the_bad_requests(world: World) -> None:
    """Nothing above left the relayer or the read model stuck."""
    consent_id = world.grant(world.resident, world.dept, ["income"])
    answer = world.query(world.dept, world.resident, consent_id, ["income"])
    assert answer.status_code == 200, answer.text
    report = world.get("/audit/verify", world.auditor).json()
    assert report["ok"], report["problems"]
    health = world.http.get("/health").json()
    assert (health["relayer_queue_depth"], health["indexer_lag"]) == (0, 0)

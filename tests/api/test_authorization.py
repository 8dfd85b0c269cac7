"""The authorization matrix: every endpoint of DESIGN's HTTP API table against every actor.

Actors: no token, a stranger with a token and no role, the admin, the registrar, two
departments, an issuer, an auditor and two enrolled residents with a committed record.

- Reads answer 200 to the parties they belong to, 403 problem to everyone else, 401
  problem without a token.
- Signed writes: the signer's valid intent sent with someone else's token is 403
  ``SignedIntentWrongSigner`` (the relayer refuses before anything is queued, so the
  signer's nonce stays unused); with no token 401. Role-gated intents signed by an actor
  without the role are 403 with the contract's ``UnauthorizedSigner``.
- Public endpoints need no token.

One world serves the module (see ``helpers_matrix``); each cell is one request, and a
cell that succeeds creates only objects no other cell looks at.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from httpx import Response

from api.deps import metrics_token
from ledger.vocabulary import name_to_bytes32, role_id
from tests.api.conftest import World, ids
from tests.api.helpers_matrix import (
    ACTORS,
    assert_contract_error,
    assert_forbidden,
    assert_unauthorized,
    module_world,
    sign,
    who,
)
from wallets.grants import wrap_keys_for_department
from wallets.identity import Identity
from wallets.record import RecordVersion

VALUES = {"name": "Li Wei", "income": "61000", "address": "2 Lake Rd", "phone": "139"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from module_world(tmp_path_factory, "authorization")


#: Each department's counterpart in the cast: resident grants dept, resident2 grants dept2.
PARTNER = {"dept": "resident", "dept2": "resident2"}


@dataclass(frozen=True)
class Cast:
    consents: dict[str, int]  # department -> the consent its partner granted it
    requests: dict[str, str]  # department -> the request it filed with its partner

    @property
    def consent_id(self) -> int:
        return self.consents["dept"]


def request_body(world: World, dept: Identity, resident: Identity) -> dict[str, Any]:
    return world.body(
        dept,
        "AccessRequest",
        {
            "department": dept.address,
            "resident": resident.address,
            "fields": ids("income"),
            "purpose": name_to_bytes32("HOUSING"),
            "duration": 86400,
        },
    )


def file_request(world: World, dept: Identity, resident: Identity) -> str:
    answer = world.post("/access-requests", dept, request_body(world, dept, resident))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["request_id"])


@pytest.fixture(scope="module")
def cast(world: World) -> Cast:
    built = Cast(
        consents={
            "dept": world.grant(world.resident, world.dept, ["income", "name"]),
            "dept2": world.grant(world.resident2, world.dept2, ["phone"]),
        },
        requests={
            "dept": file_request(world, world.dept, world.resident),
            "dept2": file_request(world, world.dept2, world.resident2),
        },
    )
    answer = world.query(world.dept, world.resident, built.consent_id, ["income"])
    assert answer.status_code == 200, answer.text
    return built


# ------------------------------------------------------------------ reads

#: endpoint -> the actors it answers 200; everyone else with a token gets 403.
READS: dict[str, tuple[str, ...]] = {
    "/residents/{resident}/record": ("resident",),
    "/residents/{resident}/consents": ("resident", "auditor"),
    "/residents/{resident}/access-requests": ("resident", "auditor"),
    "/residents/{resident}/access-log": ("resident", "auditor"),
    "/consents/{consent}": ("resident", "dept", "auditor"),
    "/consents": ("dept", "dept2"),
    "/access-requests": ("dept", "dept2"),
    "/audit/events": ("auditor",),
    "/audit/export?format=jsonl": ("auditor",),
    "/audit/export?format=csv": ("auditor",),
    "/audit/verify": ("auditor",),
}


def _expected(actor: str, allowed: tuple[str, ...], success: int) -> int:
    if actor == "none":
        return 401
    return success if actor in allowed else 403


READ_CELLS = [
    pytest.param(path, actor, _expected(actor, allowed, 200), id=f"GET {path} as {actor}")
    for path, allowed in READS.items()
    for actor in ACTORS
]


@pytest.mark.parametrize(("path", "actor", "expected"), READ_CELLS)
def test_a_read_answers_its_parties_and_refuses_everyone_else(
    world: World, cast: Cast, path: str, actor: str, expected: int
) -> None:
    url = path.format(resident=world.resident.address, consent=cast.consent_id)
    answer = world.get(url, who(world, actor))
    if expected == 401:
        assert_unauthorized(answer, detail="Authorization: Bearer")
    elif expected == 403:
        assert_forbidden(answer)
    else:
        assert answer.status_code == 200, answer.text
        if url.startswith("/audit/export"):
            assert "ConsentGranted" in answer.text
        elif url == "/audit/verify":
            assert answer.json()["ok"] is True, answer.json()["problems"]
        elif url.endswith("/record"):
            assert answer.json()["resident"] == world.resident.address
        elif url.startswith("/consents/"):
            assert answer.json()["consent_id"] == cast.consent_id
        else:
            assert answer.json()["data"], url


def test_the_resident_reads_its_own_record_and_consent(world: World, cast: Cast) -> None:
    record = world.get(f"/residents/{world.resident.address}/record", world.resident).json()
    assert record["resident"] == world.resident.address
    assert set(VALUES) <= set(record["fields"])
    for reader in (world.resident, world.dept, world.auditor):
        body = world.get(f"/consents/{cast.consent_id}", reader).json()
        assert (body["consent_id"], body["resident"], body["department"]) == (
            cast.consent_id,
            world.resident.address,
            world.dept.address,
        )


@pytest.mark.parametrize(("dept", "other"), [("dept", "dept2"), ("dept2", "dept")])
def test_a_department_lists_only_its_own_consents_and_requests(
    world: World, cast: Cast, dept: str, other: str
) -> None:
    caller = who(world, dept)
    assert caller is not None
    consents = world.get("/consents", caller).json()["data"]
    assert cast.consents[dept] in [c["consent_id"] for c in consents]
    assert cast.consents[other] not in [c["consent_id"] for c in consents]
    assert {c["department"] for c in consents} == {caller.address}
    requests = world.get("/access-requests", caller).json()["data"]
    assert cast.requests[dept] in [r["request_id"] for r in requests]
    assert cast.requests[other] not in [r["request_id"] for r in requests]
    assert {r["department"] for r in requests} == {caller.address}


@pytest.mark.parametrize(("dept", "other"), [("dept", "dept2"), ("dept2", "dept")])
def test_a_resident_sees_only_requests_and_consents_naming_it(
    world: World, cast: Cast, dept: str, other: str
) -> None:
    resident = who(world, PARTNER[dept])
    assert resident is not None
    base = f"/residents/{resident.address}"
    consents = [c["consent_id"] for c in world.get(f"{base}/consents", resident).json()["data"]]
    assert cast.consents[dept] in consents
    assert cast.consents[other] not in consents
    requests = [
        r["request_id"] for r in world.get(f"{base}/access-requests", resident).json()["data"]
    ]
    assert cast.requests[dept] in requests
    assert cast.requests[other] not in requests


# ------------------------------------------------------------------ signed writes

Send = Callable[[Identity | None], Response]


@dataclass(frozen=True)
class Write:
    """A signed write: the intent, who must sign it, its success status, and a factory
    ``make(world, cast, signer, succeed)`` for a request sender with a fresh valid body."""

    intent: str
    signer: str
    success: int
    make: Callable[[World, Cast, Identity, bool], Send]


def _poster(world: World, path: str, body: dict[str, Any]) -> Send:
    return lambda caller: world.post(path, caller, body)


def _register_department(world: World, cast: Cast, signer: Identity, succeed: bool) -> Send:
    fresh = Identity.create()
    message = {
        "department": fresh.address,
        "name": f"Bureau {fresh.address[-6:]}",
        "code": fresh.address[-4:].upper(),
        "encryptionKey": fresh.encryption_public_key,
    }
    return _poster(world, "/admin/departments", world.body(signer, "RegisterDepartment", message))


def _grant_role(world: World, cast: Cast, signer: Identity, succeed: bool) -> Send:
    message = {"role": role_id("auditor"), "account": Identity.create().address, "fields": []}
    return _poster(world, "/admin/roles", world.body(signer, "GrantRole", message))


def _enroll(world: World, cast: Cast, signer: Identity, succeed: bool) -> Send:
    fresh = Identity.create()
    message = {
        "resident": fresh.address,
        "idCommitment": secrets.token_bytes(32),
        "encryptionKey": fresh.encryption_public_key,
    }
    return _poster(world, "/residents", world.body(signer, "EnrollResident", message))


def _commit_record(world: World, cast: Cast, signer: Identity, succeed: bool) -> Send:
    version = world.records[signer.address].version + 1
    record = RecordVersion.build(
        VALUES,
        resident=signer.address,
        version=version,
        owner_public_key=signer.encryption_public_key,
    )
    body = world.body(
        signer,
        "CommitRecord",
        {"resident": signer.address, "version": version, "root": record.root},
        fields=record.envelopes(),
    )

    def send(caller: Identity | None) -> Response:
        answer = world.put(f"/residents/{signer.address}/record", caller, body)
        if answer.status_code == 200:
            world.records[signer.address] = record
        return answer

    return send


def _attest(world: World, cast: Cast, signer: Identity, succeed: bool) -> Send:
    now = world.now()
    message = {
        "issuer": signer.address,
        "resident": world.resident.address,
        "field": name_to_bytes32("income"),
        "commitment": secrets.token_bytes(32),
        "issuedAt": now,
        "expiresAt": now + 86400,
    }
    return _poster(world, "/attestations", sign(world, signer, "Attest", message))


def _access_request(world: World, cast: Cast, signer: Identity, succeed: bool) -> Send:
    return _poster(world, "/access-requests", request_body(world, signer, world.resident))


def _grant(world: World, cast: Cast, signer: Identity, succeed: bool) -> Send:
    return _poster(world, "/consents", world.grant_body(signer, world.dept, ["income"]))


def _revoke(world: World, cast: Cast, signer: Identity, succeed: bool) -> Send:
    # Only the cell that succeeds spends a consent of its own; refused cells name the cast's.
    consent_id = world.grant(signer, world.dept, ["phone"]) if succeed else cast.consent_id
    body = world.body(signer, "Revoke", {"resident": signer.address, "consentId": consent_id})
    return _poster(world, f"/consents/{consent_id}/revoke", body)


def _access(world: World, cast: Cast, signer: Identity, succeed: bool) -> Send:
    return _poster(
        world, "/queries", world.query_body(signer, world.resident, cast.consent_id, ["income"])
    )


WRITES: dict[str, Write] = {
    "POST /admin/departments": Write("RegisterDepartment", "admin", 201, _register_department),
    "POST /admin/roles": Write("GrantRole", "admin", 201, _grant_role),
    "POST /residents": Write("EnrollResident", "registrar", 201, _enroll),
    "PUT /residents/{resident}/record": Write("CommitRecord", "resident", 200, _commit_record),
    "POST /attestations": Write("Attest", "issuer", 201, _attest),
    "POST /access-requests": Write("AccessRequest", "dept", 201, _access_request),
    "POST /consents": Write("Grant", "resident", 201, _grant),
    "POST /consents/{consent}/revoke": Write("Revoke", "resident", 200, _revoke),
    "POST /queries": Write("Access", "dept", 200, _access),
}

WRITE_CELLS = [
    pytest.param(
        endpoint,
        actor,
        _expected(actor, (write.signer,), write.success),
        id=f"{endpoint} signed by {write.signer} sent as {actor}",
    )
    for endpoint, write in WRITES.items()
    for actor in ACTORS
]


@pytest.mark.parametrize(("endpoint", "actor", "expected"), WRITE_CELLS)
def test_a_signed_write_is_accepted_only_from_its_signer(
    world: World, cast: Cast, endpoint: str, actor: str, expected: int
) -> None:
    write = WRITES[endpoint]
    signer = who(world, write.signer)
    assert signer is not None
    send = write.make(world, cast, signer, expected == write.success)
    caller = who(world, actor)
    answer = send(caller)
    if expected == write.success:
        assert answer.status_code == expected, answer.text
        return
    if expected == 401:
        assert_unauthorized(answer, detail="Authorization: Bearer")
    elif write.intent == "Attest":  # the route checks the issuer is the caller first
        assert_forbidden(answer, detail="attests only under its own name")
    else:
        assert caller is not None
        assert_contract_error(
            answer,
            403,
            "SignedIntentWrongSigner",
            expected=caller.address,
            recovered=signer.address,
        )
    if write.intent != "Attest":
        nonce = int(json.loads(answer.request.content)["message"]["nonce"])
        assert not world.node.client.is_nonce_used(write.intent, signer.address, nonce)


#: intent -> (the role holder, the error for anyone else, the role the error names)
ROLE_GATED = {
    "RegisterDepartment": ("admin", "ConsentDirectoryUnauthorizedSigner", "admin"),
    "GrantRole": ("admin", "ConsentDirectoryUnauthorizedSigner", "admin"),
    "EnrollResident": ("registrar", "ConsentLedgerUnauthorizedSigner", "registrar"),
}
_BY_INTENT = {write.intent: write for write in WRITES.values()}

ROLE_CELLS = [
    pytest.param(intent, actor, id=f"{intent} signed and sent by {actor}")
    for intent in ROLE_GATED
    for actor in ACTORS
    if actor != "none"
]


@pytest.mark.parametrize(("intent", "actor"), ROLE_CELLS)
def test_a_role_gated_intent_signed_without_the_role_is_403(
    world: World, cast: Cast, intent: str, actor: str
) -> None:
    holder, error, role = ROLE_GATED[intent]
    write = _BY_INTENT[intent]
    signer = who(world, actor)
    assert signer is not None
    answer = write.make(world, cast, signer, actor == holder)(signer)
    if actor == holder:
        assert answer.status_code == write.success, answer.text
    else:
        assert_contract_error(
            answer, 403, error, signer=signer.address, role="0x" + role_id(role).hex()
        )


@pytest.mark.parametrize("actor", [a for a in ACTORS if a not in ("none", "issuer")])
def test_an_attestation_signed_by_an_untrusted_issuer_is_403(
    world: World, cast: Cast, actor: str
) -> None:
    signer = who(world, actor)
    assert signer is not None
    answer = _attest(world, cast, signer, False)(signer)
    # judged by the directory (before relaying, as it would on chain): trust at block time
    assert_contract_error(
        answer,
        403,
        "ConsentDirectoryUntrustedIssuer",
        issuer=signer.address,
        field="0x" + name_to_bytes32("income").hex(),
    )


def test_an_attestation_signed_and_sent_by_the_trusted_issuer_is_stored(
    world: World, cast: Cast
) -> None:
    answer = _attest(world, cast, world.issuer, True)(world.issuer)
    assert answer.status_code == 201, answer.text
    assert (answer.json()["issuer"], answer.json()["field"]) == (world.issuer.address, "income")


NOT_DEPARTMENTS = ("stranger", "admin", "registrar", "issuer", "auditor", "resident2")


@pytest.mark.parametrize("actor", NOT_DEPARTMENTS)
def test_a_non_department_signing_as_a_department_is_refused_and_nothing_is_recorded(
    world: World, cast: Cast, actor: str
) -> None:
    signer = who(world, actor)
    assert signer is not None
    log_before = world.get(f"/residents/{world.resident.address}/access-log", world.resident)
    requests_before = world.get(
        f"/residents/{world.resident.address}/access-requests", world.resident
    )
    for send in (
        _access_request(world, cast, signer, False),
        _access(world, cast, signer, False),
    ):
        assert_contract_error(
            send(signer), 403, "ConsentLedgerUnknownDepartment", department=signer.address
        )
    log_after = world.get(f"/residents/{world.resident.address}/access-log", world.resident)
    requests_after = world.get(
        f"/residents/{world.resident.address}/access-requests", world.resident
    )
    assert log_after.json() == log_before.json()
    assert requests_after.json() == requests_before.json()


def test_another_resident_cannot_revoke_a_consent_it_did_not_grant(
    world: World, cast: Cast
) -> None:
    body = world.body(
        world.resident2,
        "Revoke",
        {"resident": world.resident2.address, "consentId": cast.consent_id},
    )
    answer = world.post(f"/consents/{cast.consent_id}/revoke", world.resident2, body)
    assert_contract_error(
        answer,
        403,
        "ConsentLedgerNotConsentResident",
        consentId=cast.consent_id,
        resident=world.resident2.address,
    )
    assert world.get(f"/consents/{cast.consent_id}", world.auditor).json()["status"] == "active"


REWRAP_CELLS = [
    pytest.param(actor, _expected(actor, ("resident",), 200), id=f"rewrap as {actor}")
    for actor in ACTORS
]


@pytest.mark.parametrize(("actor", "expected"), REWRAP_CELLS)
def test_only_the_consents_resident_rewraps_its_keys(
    world: World, cast: Cast, actor: str, expected: int
) -> None:
    resident = world.resident
    fields = ["income", "name"]
    if expected == 200:
        consent_id = world.grant(resident, world.dept, fields)
        assert _commit_record(world, cast, resident, True)(resident).status_code == 200
    else:
        consent_id = cast.consent_id
    record = world.records[resident.address]
    body = {
        "version": record.version,
        "wrapped_keys": wrap_keys_for_department(
            record,
            fields,
            department=world.dept.address,
            department_public_key=world.dept.encryption_public_key,
        ),
    }
    answer = world.put(f"/consents/{consent_id}/wrapped-keys", who(world, actor), body)
    if expected == 401:
        assert_unauthorized(answer)
    elif expected == 403:
        assert_forbidden(answer, detail="only the consent's resident")
    else:
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "consent_id": consent_id,
            "version": record.version,
            "fields": fields,
        }


# ------------------------------------------------------------------ tokens and public reads

PROTECTED = [
    ("GET", "/residents/{resident}/record"),
    ("GET", "/residents/{resident}/consents"),
    ("GET", "/consents"),
    ("GET", "/consents/{consent}"),
    ("GET", "/access-requests"),
    ("GET", "/audit/events"),
    ("GET", "/audit/verify"),
    ("POST", "/queries"),
    ("POST", "/consents"),
    ("POST", "/admin/departments"),
    ("PUT", "/consents/{consent}/wrapped-keys"),
]


def test_a_missing_malformed_or_tampered_token_is_a_401_problem(world: World, cast: Cast) -> None:
    good = world.headers(world.auditor)["Authorization"]
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    for method, path in PROTECTED:
        url = path.format(resident=world.resident.address, consent=cast.consent_id)
        body = None if method == "GET" else {"message": {}, "signature": "0x"}
        for headers, challenge in (
            ({}, "Bearer"),
            ({"Authorization": "Bearer not-a-token"}, 'Bearer error="invalid_token"'),
            ({"Authorization": tampered}, 'Bearer error="invalid_token"'),
            ({"Authorization": "Basic dXNlcjpwdw=="}, "Bearer"),
        ):
            answer = world.http.request(method, url, json=body, headers=headers)
            assert_unauthorized(answer)
            assert answer.headers["www-authenticate"] == challenge, (method, url, headers)


def test_public_endpoints_answer_without_a_token(world: World) -> None:
    for path in ("/health", "/eip712", "/schema", "/departments", f"/nonces/{world.dept.address}"):
        answer = world.http.get(path)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["content-type"] == "application/json"
    assert world.http.get("/metrics").status_code == 401  # operator only (test_limits)
    operator = {"Authorization": f"Bearer {metrics_token(world.node.settings)}"}
    metrics = world.http.get("/metrics", headers=operator)
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "consent_chain_head_block" in metrics.text

    account = Account.create()
    challenge = world.http.post("/auth/challenge", json={"address": account.address})
    assert challenge.status_code == 200, challenge.text
    message = challenge.json()["message"]
    signature = Account.sign_message(encode_defunct(text=message), account.key).signature
    token = world.http.post(
        "/auth/token",
        json={
            "address": account.address,
            "message": message,
            "signature": "0x" + bytes(signature).hex(),
        },
    )
    assert token.status_code == 200, token.text
    assert token.json()["roles"] == []

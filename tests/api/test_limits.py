"""Limits: body sizes, envelope and key sizes, rate limits, outstanding challenges,
pagination, security headers, 405s and the operator-only metrics.

Each refusal is checked for its status and problem+json shape, for having changed
nothing (no challenge stored, no record version, no consent, no department, no block
mined), and for leaving the service healthy. One node serves the module; a test that
needs other limits builds its own app over that node (:func:`limited`), so each has
fresh counters; clients are told apart by the test client's peer address.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account.messages import encode_defunct
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from api import auth
from api.challenges import challenges
from api.deps import metrics_token
from api.http_bounds import MAX_CIPHERTEXT, RECORD_BODY_BYTES
from api.main import create_app
from ledger.vocabulary import name_to_bytes32
from tests.api.conftest import World, ids
from tests.api.helpers_matrix import assert_problem, head, module_world
from wallets.identity import Identity
from wallets.record import RecordVersion

VALUES = {"name": "Li Wei", "income": "52000", "address": "1 Lake Rd", "phone": "138"}
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from module_world(tmp_path_factory, "limits")


def limited(world: World, **settings: Any) -> FastAPI:
    """A fresh app (fresh rate counters) with these settings over the module's running
    node; no lifespan of its own, so the node stays the module's."""
    assert world.node is not None
    app = create_app(world.node.settings.model_copy(update=settings), node=world.node)
    app.state.node = world.node
    return app


def client(world: World, app: FastAPI, ip: str = "testclient") -> World:
    """The module's cast (and its tokens) talking to ``app`` from ``ip``."""
    return World(
        node=world.node,
        http=TestClient(app, client=(ip, 50000)),
        admin=world.admin,
        actors=world.actors,
        tokens=dict(world.tokens),
        records=world.records,
    )


def challenge_count(world: World) -> int:
    assert world.node is not None
    with world.node.store.connect() as c:
        return int(c.execute(select(func.count()).select_from(challenges)).scalar_one())


def assert_healthy(world: World) -> None:
    answer = world.http.get("/health")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ok"


def assert_too_many(answer: Response) -> int:
    body = assert_problem(answer, 429, "too-many-requests")
    wait = int(answer.headers["retry-after"])
    assert wait >= 1
    assert body["retry_after"] == wait
    return wait


def record_state(world: World) -> Any:
    answer = world.get(f"/residents/{world.resident.address}/record", world.resident)
    assert answer.status_code == 200, answer.text
    return answer.json()


def record_body(world: World, values: dict[str, str], version: int) -> dict[str, Any]:
    resident = world.resident
    record = RecordVersion.build(
        values,
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


def next_version(world: World) -> int:
    return int(record_state(world)["version"]) + 1


# ------------------------------------------------------------------ body sizes


def test_a_body_over_content_length_bound_is_refused_413_and_stores_nothing(world: World) -> None:
    before, block = challenge_count(world), head(world)
    body = b'{"address": "' + b"0" * (1 << 20) + b'"}'
    answer = world.http.post(
        "/auth/challenge", content=body, headers={"content-type": "application/json"}
    )
    problem = assert_problem(answer, 413, "payload-too-large")
    assert problem["max_bytes"] == world.node.settings.max_body_bytes
    assert answer.headers["connection"] == "close"
    assert (challenge_count(world), head(world)) == (before, block)
    assert_healthy(world)


def test_a_chunked_body_is_counted_while_read_and_refused_413(world: World) -> None:
    before = challenge_count(world)
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        yield b'{"address": "'
        for _ in range(64):  # 64 x 16 KiB = 1 MiB, no Content-Length
            sent.append(1)
            yield b"0" * 16384
        yield b'"}'

    answer = world.http.post(
        "/auth/challenge", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in answer.request.headers
    assert_problem(answer, 413, "payload-too-large")
    assert challenge_count(world) == before
    assert_healthy(world)


def test_a_record_may_exceed_the_default_bound_up_to_its_own(world: World) -> None:
    big = {name: "x" * 12_000 for name in VALUES}  # 4 envelopes of ~12 KB: ~97 KB of JSON
    body = record_body(world, big, next_version(world))
    size = len(json.dumps(body, separators=(",", ":")))
    assert world.node.settings.max_body_bytes < size < RECORD_BODY_BYTES
    answer = world.put(f"/residents/{world.resident.address}/record", world.resident, body)
    assert answer.status_code == 200, answer.text
    # The same size anywhere else is refused.
    answer = world.post("/access-requests", world.dept, body)
    assert_problem(answer, 413, "payload-too-large")


# ------------------------------------------------------------------ envelopes and keys


def _envelope_cases() -> list[tuple[str, str, Any]]:
    return [
        ("empty owner_wrapped_key", "owner_wrapped_key", "0x"),
        ("81-byte owner_wrapped_key", "owner_wrapped_key", "0x" + "ab" * 81),
        ("owner_wrapped_key not hex", "owner_wrapped_key", "0x" + "zz" * 80),
        ("empty ciphertext", "ciphertext", "0x"),
        ("ciphertext shorter than a field", "ciphertext", "0x" + "00" * 16),
        ("ciphertext over its bound", "ciphertext", "0x" + "00" * (MAX_CIPHERTEXT + 1)),
        ("11-byte nonce", "nonce", "0x" + "00" * 11),
        ("empty nonce", "nonce", "0x"),
    ]


@pytest.mark.parametrize(
    ("member", "value"),
    [(c[1], c[2]) for c in _envelope_cases()],
    ids=[c[0] for c in _envelope_cases()],
)
def test_an_absurd_envelope_member_is_refused_422_and_commits_nothing(
    world: World, member: str, value: str
) -> None:
    before, block = record_state(world), head(world)
    body = record_body(world, VALUES, int(before["version"]) + 1)
    body["fields"]["income"][member] = value
    answer = world.put(f"/residents/{world.resident.address}/record", world.resident, body)
    problem = assert_problem(answer, 422, "invalid-request")
    assert any(member in e["loc"] for e in problem["errors"]), problem
    assert (record_state(world), head(world)) == (before, block)
    assert_healthy(world)


def test_a_4_mb_wrapped_key_is_refused_413_and_commits_nothing(world: World) -> None:
    before, block = record_state(world), head(world)
    body = record_body(world, VALUES, int(before["version"]) + 1)
    body["fields"]["income"]["owner_wrapped_key"] = "0x" + "ab" * (4 << 20)
    answer = world.put(f"/residents/{world.resident.address}/record", world.resident, body)
    assert_problem(answer, 413, "payload-too-large")
    assert (record_state(world), head(world)) == (before, block)
    assert_healthy(world)


def consents_of(world: World) -> list[Any]:
    answer = world.get(f"/residents/{world.resident.address}/consents", world.resident)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


@pytest.mark.parametrize(
    ("wrapped", "status", "kind"),
    [
        ("0x", 422, "invalid-request"),
        ("0x" + "ab" * 200, 422, "invalid-request"),
        ("0x" + "ab" * (4 << 20), 413, "payload-too-large"),
    ],
    ids=["empty", "200 bytes", "4 MB"],
)
def test_a_grant_with_an_absurd_wrapped_key_is_refused_and_grants_nothing(
    world: World, wrapped: str, status: int, kind: str
) -> None:
    before, block = consents_of(world), head(world)
    body = world.grant_body(world.resident, world.dept, ["income"])
    body["wrapped_keys"]["income"] = wrapped
    assert_problem(world.post("/consents", world.resident, body), status, kind)
    assert (consents_of(world), head(world)) == (before, block)
    assert_healthy(world)


def directory(world: World) -> list[Any]:
    answer = world.http.get("/departments", params={"limit": 1000})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"name": "N" * 129}, "name is 129 characters"),
        ({"code": "C" * 33}, "code is 33 characters"),
        ({"encryptionKey": b"\x01" * 33}, "encryptionKey must be 32"),
        ({"encryptionKey": b"\x01" * (4 << 10)}, "encryptionKey must be 32"),
    ],
    ids=["long name", "long code", "33-byte key", "4 KiB key"],
)
def test_a_department_with_an_absurd_name_code_or_key_is_refused_422(
    world: World, change: dict[str, Any], detail: str
) -> None:
    before, block = directory(world), head(world)
    message = {
        "department": world.new("applicant").address,
        "name": "Civil Affairs",
        "code": "CA",
        "encryptionKey": world.dept.encryption_public_key,
        **change,
    }
    body = world.body(world.admin, "RegisterDepartment", message)
    answer = world.post("/admin/departments", world.admin, body)
    assert_problem(answer, 422, "invalid-request", detail=detail)
    assert (directory(world), head(world)) == (before, block)
    assert_healthy(world)


# ------------------------------------------------------------------ rate limits


def test_challenges_from_one_ip_beyond_its_limit_answer_429_with_retry_after(
    world: World,
) -> None:
    app = limited(world, rate_limit_sign_in_ip="5/hour")
    one, other = client(world, app, "10.0.0.1"), client(world, app, "10.0.0.2")
    for _ in range(5):
        answer = one.http.post("/auth/challenge", json={"address": random_address()})
        assert answer.status_code == 200, answer.text
    before = challenge_count(world)
    wait = assert_too_many(one.http.post("/auth/challenge", json={"address": random_address()}))
    assert wait <= 3600
    assert challenge_count(world) == before
    assert_healthy(one)  # its other requests still answer
    answer = other.http.post("/auth/challenge", json={"address": random_address()})
    assert answer.status_code == 200, answer.text  # another IP is counted apart


def random_address() -> str:
    return "0x" + secrets.token_hex(20)


def test_challenges_for_one_address_beyond_its_limit_answer_429(world: World) -> None:
    http = client(world, limited(world, rate_limit_sign_in_address="3/hour")).http
    victim = random_address()
    for _ in range(3):
        assert http.post("/auth/challenge", json={"address": victim}).status_code == 200
    before = challenge_count(world)
    assert_too_many(http.post("/auth/challenge", json={"address": victim}))
    assert challenge_count(world) == before
    assert http.post("/auth/challenge", json={"address": random_address()}).status_code == 200


def test_requests_from_one_ip_beyond_its_limit_answer_429_before_any_route(world: World) -> None:
    app = limited(world, rate_limit_ip="10/hour")
    flooder = client(world, app, "10.0.0.3").http
    for _ in range(10):
        assert flooder.get("/schema").status_code == 200
    before = challenge_count(world)
    assert_too_many(flooder.get("/health"))
    assert_too_many(flooder.post("/auth/challenge", json={"address": random_address()}))
    assert challenge_count(world) == before
    assert_healthy(client(world, app, "10.0.0.4"))  # every other client is unaffected


def test_writes_by_one_address_beyond_its_limit_answer_429_and_relay_nothing(
    world: World,
) -> None:
    world.headers(world.dept), world.headers(world.dept2)  # tokens before counting
    capped = client(world, limited(world, rate_limit_address="2/hour"))
    for _ in range(2):
        file_request(capped)
    block, before = head(world), capped.get("/access-requests", world.dept).json()
    assert_too_many(capped.post("/access-requests", world.dept, request_body(capped)))
    after = capped.get("/access-requests", world.dept)  # reads are not counted per address
    assert after.status_code == 200, after.text
    assert (head(world), after.json()) == (block, before)  # nothing relayed
    file_request(capped, world.dept2)  # another address is counted apart


# ------------------------------------------------------------------ outstanding challenges


def test_a_new_challenge_supersedes_the_oldest_beyond_the_per_address_bound(
    world: World,
) -> None:
    http = client(world, limited(world, max_challenges_per_address=3)).http
    account = world.new("signer")
    issued = [http.post("/auth/challenge", json={"address": account.address}) for _ in range(5)]
    assert all(i.status_code == 200 for i in issued)
    assert stored_nonces(world, account.address) == {i.json()["nonce"] for i in issued[2:]}
    for answer, status in ((issued[0], 401), (issued[-1], 200)):
        message = answer.json()["message"]
        signature = account.account.sign_message(encode_defunct(text=message)).signature
        token = http.post(
            "/auth/token",
            json={
                "address": account.address,
                "message": message,
                "signature": "0x" + bytes(signature).hex(),
            },
        )
        assert token.status_code == status, token.text


def stored_nonces(world: World, address: str) -> set[str]:
    assert world.node is not None
    with world.node.store.connect() as c:
        rows = c.execute(select(challenges.c.nonce).where(challenges.c.address == address))
        return {row.nonce for row in rows}


def test_beyond_the_total_bound_challenges_answer_429_until_some_expire(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    moment = [auth.now()]
    monkeypatch.setattr(auth, "now", lambda: moment[0])
    assert world.node is not None
    ttl = world.node.settings.challenge_ttl
    moment[0] += 2 * ttl + 1  # everything issued so far has expired and may be purged
    post = client(world, limited(world, max_challenges=2)).http.post
    for _ in range(2):
        assert post("/auth/challenge", json={"address": random_address()}).status_code == 200
    assert challenge_count(world) == 2  # the expired ones were purged on the way
    wait = assert_too_many(post("/auth/challenge", json={"address": random_address()}))
    assert 1 <= wait <= ttl
    assert challenge_count(world) == 2
    assert_healthy(world)
    moment[0] += ttl  # expired: no longer outstanding
    assert post("/auth/challenge", json={"address": random_address()}).status_code == 200


# ------------------------------------------------------------------ pagination


def request_body(world: World, dept: Identity | None = None) -> dict[str, Any]:
    dept = dept or world.dept
    return world.body(
        dept,
        "AccessRequest",
        {
            "department": dept.address,
            "resident": world.resident2.address,
            "fields": ids("income"),
            "purpose": name_to_bytes32("HOUSING"),
            "duration": 86400,
        },
    )


def file_request(world: World, dept: Identity | None = None) -> str:
    answer = world.post("/access-requests", dept or world.dept, request_body(world, dept))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["request_id"])


def walk(world: World, path: str, who: Any, limit: int) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        answer = world.get(path, who, **params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert set(page) == {"data", "next_cursor"}
        assert len(page["data"]) <= limit
        items += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


@pytest.mark.parametrize(
    ("path", "who", "key"),
    [
        ("/access-requests", "dept", "request_id"),
        ("/residents/{resident2}/access-requests", "resident2", "request_id"),
        ("/departments", None, "address"),
        ("/consents", "dept", "consent_id"),
        ("/residents/{resident}/consents", "resident", "consent_id"),
        ("/residents/{resident}/access-log", "resident", "receipt"),
    ],
)
def test_every_list_pages_with_limit_and_cursor_without_repeats(
    world: World, path: str, who: str | None, key: str
) -> None:
    if not any(world.get("/access-requests", world.dept).json()["data"]):
        filed = [file_request(world) for _ in range(3)]
        assert len(set(filed)) == 3
    if len(consents_of(world)) < 3:
        for _ in range(3):
            consent = world.grant(world.resident, world.dept, ["income"])
            assert world.query(world.dept, world.resident, consent, ["income"]).status_code == 200
    path = path.format(resident=world.resident.address, resident2=world.resident2.address)
    caller = None if who is None else getattr(world, who)
    whole = world.get(path, caller, limit=1000).json()["data"]
    assert len(whole) >= 2
    paged = walk(world, path, caller, 1)
    assert [repr(i[key]) for i in paged] == [repr(i[key]) for i in whole]


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 1001}, {"cursor": "garbage!"}, {"cursor": "W10"}],
    ids=["limit 0", "limit 1001", "garbled cursor", "cursor of the wrong shape"],
)
def test_a_bad_limit_or_cursor_is_422(world: World, params: dict[str, Any]) -> None:
    for path, who in (("/access-requests", world.dept), ("/departments", None)):
        assert_problem(world.get(path, who, **params), 422, "invalid-request")


def test_openapi_shows_pages_limits_and_refusals(world: World) -> None:
    spec = world.http.get("/openapi.json").json()
    for path in (
        "/access-requests",
        "/residents/{address}/access-requests",
        "/departments",
        "/consents",
        "/residents/{address}/consents",
        "/residents/{address}/access-log",
    ):
        operation = spec["paths"][path]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert {"limit", "cursor"} <= names, path
        limit = next(p for p in operation["parameters"] if p["name"] == "limit")
        assert limit["schema"]["anyOf"][0]["maximum"] == 1000
        assert "429" in operation["responses"], path
        assert "Retry-After" in operation["responses"]["429"]["headers"], path
    assert "413" in spec["paths"]["/residents/{address}/record"]["put"]["responses"]
    assert "413" in spec["paths"]["/auth/challenge"]["post"]["responses"]
    assert "/auth/logout" in spec["paths"]


# ------------------------------------------------------------------ headers and methods


def test_every_answer_carries_the_security_headers(world: World) -> None:
    answers = [
        world.http.get("/health"),
        world.http.get("/nope"),
        world.http.post("/auth/challenge", json={"address": world.resident.address}),
        world.get(f"/residents/{world.resident.address}/record", world.resident),
        world.http.request("TRACE", "/health"),
        world.http.get("/docs"),
    ]
    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers.get(name) == value, (answer.request.url, name)
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert "strict-transport-security" not in answer.headers  # public URL is http
    assert answers[0].headers["content-security-policy"].startswith("default-src 'none'")
    secure = client(world, limited(world, public_url="https://consent.example.gov"))
    answer = secure.http.get("/health")
    assert answer.headers["strict-transport-security"] == "max-age=31536000"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("TRACE", "/health", "GET, HEAD"),
        ("DELETE", "/health", "GET, HEAD"),
        ("TRACE", "/residents/0x0000000000000000000000000000000000000001/record", "GET, HEAD, PUT"),
        ("PATCH", "/consents", "GET, HEAD, POST"),
        ("GET", "/auth/token", "POST"),
    ],
)
def test_an_unsupported_method_is_405_with_allow(
    world: World, method: str, path: str, allowed: str
) -> None:
    block = head(world)
    answer = world.http.request(method, path)
    body = assert_problem(answer, 405, "method-not-allowed")
    assert answer.headers["allow"] == allowed
    assert body["allowed"] == allowed.split(", ")
    assert head(world) == block
    assert_healthy(world)


def test_metrics_answer_only_the_operator(world: World) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, world.headers(world.admin)):
        answer = world.http.get("/metrics", headers=headers)
        assert_problem(answer, 401, "unauthorized")
        assert answer.headers["www-authenticate"].startswith("Bearer")
    token = metrics_token(world.node.settings)
    assert (world.node.settings.data_dir / "metrics.token").stat().st_mode & 0o077 == 0
    answer = world.http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert "consent_chain_head_block" in answer.text
    configured = client(world, limited(world, metrics_token="s3cret-operator")).http
    answer = configured.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert_problem(answer, 401, "unauthorized")
    answer = configured.get("/metrics", headers={"Authorization": "Bearer s3cret-operator"})
    assert answer.status_code == 200

"""Shared pieces of the authorization, refusal and bad-input suites.

A world takes about ten seconds to build (two keystores with full scrypt, deployment and
nine setup blocks), so each of those modules builds one with :func:`module_world` and
keeps every test independent of the others' order: a test makes the objects it changes
(its own consent, its own department) and compares before and after, never absolute
counts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from ledger.vocabulary import name_to_bytes32
from tests.api.conftest import World, ids, make_world
from wallets.grants import wrap_keys_for_department
from wallets.identity import Identity
from wallets.signing import signed_intent_body

PROBLEM = "application/problem+json"
TYPE_BASE = "https://consent-ledger.example/problems/"
ZERO32 = "0x" + "00" * 32
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

#: Who calls: ``none`` sends no token; ``stranger`` has a token and no role.
ACTORS = (
    "none",
    "stranger",
    "admin",
    "registrar",
    "dept",
    "dept2",
    "issuer",
    "auditor",
    "resident",
    "resident2",
)


def module_world(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[World]:
    """The conftest world, built once for a module (with a ``stranger`` who has a token)."""
    for world in make_world(tmp_path_factory.mktemp(name)):
        world.new("stranger")
        yield world


def who(world: World, actor: str) -> Identity | None:
    return None if actor == "none" else getattr(world, actor)


def lenient(world: World) -> TestClient:
    """A client that answers a server error as a 500 response instead of raising it."""
    return TestClient(world.http.app, raise_server_exceptions=False)


def head(world: World) -> int:
    return int(world.node.chain.w3.eth.block_number)


def nonces(world: World, identity: Identity) -> dict[str, int]:
    answer = world.get(f"/nonces/{identity.address}", None)
    assert answer.status_code == 200, answer.text
    body: dict[str, int] = answer.json()
    return body


def consent_ids(world: World, resident: Identity) -> list[int]:
    answer = world.get(f"/residents/{resident.address}/consents", resident, limit=1000)
    assert answer.status_code == 200, answer.text
    return [c["consent_id"] for c in answer.json()["data"]]


def consent(world: World, consent_id: int, reader: Identity) -> dict[str, Any]:
    answer = world.get(f"/consents/{consent_id}", reader)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def sign(world: World, signer: Identity, name: str, message: Mapping[str, Any]) -> dict[str, Any]:
    """``{"message", "signature"}`` for ``message`` as given (no nonce or deadline added)."""
    domain = world.http.get("/eip712").json()["intents"][name]["domain"]
    return signed_intent_body(
        signer.account.key,
        name,
        dict(message),
        chain_id=domain["chainId"],
        verifying_contract=domain["verifyingContract"],
    )


def grant_window(
    world: World,
    resident: Identity,
    dept: Identity,
    fields: list[str],
    *,
    valid_from: int,
    valid_until: int,
    max_uses: int = 0,
) -> int:
    """Grant over an exact window (seconds, unlike ``world.grant``'s days); the consent id."""
    body = world.body(
        resident,
        "Grant",
        {
            "resident": resident.address,
            "department": dept.address,
            "fields": ids(*fields),
            "purpose": name_to_bytes32("HOUSING"),
            "validFrom": valid_from,
            "validUntil": valid_until,
            "maxUses": max_uses,
            "requestId": ZERO32,
        },
        wrapped_keys=wrap_keys_for_department(
            world.records[resident.address],
            fields,
            department=dept.address,
            department_public_key=dept.encryption_public_key,
        ),
    )
    answer = world.post("/consents", resident, body)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["consent_id"])


def high_s(signature: str) -> str:
    """The other, malleable signature of the same key: ``s' = n - s``, ``v`` flipped."""
    raw = bytes.fromhex(signature[2:])
    s = SECP256K1_N - int.from_bytes(raw[32:64], "big")
    v = 55 - raw[64]
    return "0x" + (raw[:32] + s.to_bytes(32, "big") + bytes([v])).hex()


# ------------------------------------------------------------------ problem+json


def assert_problem(
    answer: Response, status: int, kind: str, *, title: str | None = None, detail: str = ""
) -> dict[str, Any]:
    """``answer`` is an RFC 9457 problem of ``status`` and ``kind`` whose detail has ``detail``."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body: dict[str, Any] = answer.json()
    assert body["type"] == TYPE_BASE + kind
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    if title is not None:
        assert body["title"] == title
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert detail in body["detail"], body["detail"]
    return body


def assert_unauthorized(answer: Response, *, detail: str = "") -> dict[str, Any]:
    body = assert_problem(answer, 401, "unauthorized", title="Unauthorized", detail=detail)
    assert answer.headers["www-authenticate"].startswith("Bearer")
    return body


def assert_forbidden(answer: Response, *, detail: str = "") -> dict[str, Any]:
    return assert_problem(answer, 403, "forbidden", title="Forbidden", detail=detail)


def assert_invalid(answer: Response, *, detail: str = "") -> dict[str, Any]:
    return assert_problem(answer, 422, "invalid-request", title="Invalid request", detail=detail)


def assert_contract_error(
    answer: Response, status: int, error: str, **arguments: Any
) -> dict[str, Any]:
    """A contract's custom error (raised by the relayer's pre-check or by the chain)."""
    body = assert_problem(answer, status, "contract-error", title="Refused by the contract")
    assert body["error"] == error
    assert body["detail"].startswith(error + "(")
    for name, value in arguments.items():
        assert body["arguments"][name] == value, (name, body["arguments"])
    return body

"""Cutting an actor off over HTTP: the admin suspends and resumes a department, revokes a
role, ends an issuer's trust and rotates a department's key, each a signed intent that
takes effect at the block recording it; and the ``consent admin`` commands that send them."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from api.client import ConsentApi
from ledger.intents import MAX_DEADLINE_AHEAD
from ledger.vocabulary import name_to_bytes32, role_id
from tests.api.conftest import FAST_SCRYPT, World, ids
from tests.api.helpers_matrix import assert_contract_error, assert_invalid
from wallets.errors import WalletError
from wallets.grants import open_granted_fields
from wallets.identity import Identity
from wallets.signing import signed_intent_body


def admin_post(world: World, path: str, name: str, message: dict[str, Any], **kw: Any) -> Any:
    body = world.body(world.admin, name, message)
    return world.http.request(
        kw.get("method", "POST"), path, json=body, headers=world.headers(kw.get("who", world.admin))
    )


def set_active(world: World, dept: Identity, active: bool, **kw: Any) -> Any:
    message = {"department": dept.address, "active": active}
    return admin_post(
        world, f"/admin/departments/{dept.address}/active", "SetDepartmentActive", message, **kw
    )


def listed(world: World, address: str) -> dict[str, Any]:
    (entry,) = [d for d in world.http.get("/departments").json()["data"] if d["address"] == address]
    return dict(entry)


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


# ---------------------------------------------------------------- suspend and resume


def test_a_suspended_departments_next_query_and_request_are_refused(world: World) -> None:
    consent_id = world.grant(world.resident, world.dept, ["income"])
    assert world.query(world.dept, world.resident, consent_id, ["income"]).status_code == 200

    answer = set_active(world, world.dept, False)

    assert answer.status_code == 200, answer.text
    suspended = answer.json()
    assert (suspended["department"], suspended["active"]) == (world.dept.address, False)
    block = suspended["receipt"]["block_number"]
    assert listed(world, world.dept.address)["active"] is False
    assert listed(world, world.dept.address)["status"] == "suspended"
    refused = world.query(world.dept, world.resident, consent_id, ["income"])
    assert refused.status_code == 403, refused.text
    body = refused.json()
    assert "fields" not in body
    # judged on chain, at a block after the suspension's: recorded as a denial
    assert body["reason"] == "not_granted"
    assert body["receipt"]["block_number"] > block
    request = world.post(
        "/access-requests", world.dept, request_body(world, world.dept, world.resident)
    )
    assert_contract_error(request, 403, "ConsentLedgerInactiveDepartment")
    grant = world.post(
        "/consents", world.resident, world.grant_body(world.resident, world.dept, ["income"])
    )
    assert_contract_error(grant, 403, "ConsentLedgerInactiveDepartment")

    resumed = set_active(world, world.dept, True)

    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["active"] is True
    assert listed(world, world.dept.address)["status"] == "active"
    assert world.query(world.dept, world.resident, consent_id, ["income"]).status_code == 200


def test_department_activation_is_the_admins_and_names_the_path(world: World) -> None:
    path = f"/admin/departments/{world.dept.address}/active"
    by_registrar = world.body(
        world.registrar, "SetDepartmentActive", {"department": world.dept.address, "active": False}
    )
    assert_contract_error(
        world.post(path, world.registrar, by_registrar), 403, "ConsentDirectoryUnauthorizedSigner"
    )
    other = world.body(
        world.admin, "SetDepartmentActive", {"department": world.dept2.address, "active": False}
    )
    assert_invalid(world.post(path, world.admin, other), detail="the path names")
    unknown = set_active(world, Identity.create(), False)
    assert_contract_error(unknown, 404, "ConsentDirectoryUnknownDepartment")
    far = world.body(
        world.admin,
        "SetDepartmentActive",
        {
            "department": world.dept.address,
            "active": False,
            "deadline": world.now() + MAX_DEADLINE_AHEAD + 3600,
        },
    )
    too_far = world.post(path, world.admin, far)
    assert too_far.status_code == 422, too_far.text
    assert all(d["active"] for d in world.http.get("/departments").json()["data"])


# ---------------------------------------------------------------- revoke a role


def revoke(world: World, role: str, account: str) -> Any:
    message = {"role": role_id(role), "account": account}
    return admin_post(world, "/admin/roles/revoke", "RevokeRole", message)


def test_a_revoked_registrar_cannot_enrol(world: World) -> None:
    answer = revoke(world, "registrar", world.registrar.address)

    assert answer.status_code == 200, answer.text
    assert answer.json()["role"] == "registrar"
    assert answer.json()["account"] == world.registrar.address
    newcomer = Identity.create()
    body = world.body(
        world.registrar,
        "EnrollResident",
        {
            "resident": newcomer.address,
            "idCommitment": secrets.token_bytes(32),
            "encryptionKey": newcomer.encryption_public_key,
        },
    )
    refused = world.post("/residents", world.registrar, body)
    assert_contract_error(refused, 403, "ConsentLedgerUnauthorizedSigner")
    assert not world.node.client.has_role("registrar", world.registrar.address)
    assert not world.node.client.resident(newcomer.address).enrolled


def test_a_revoked_department_is_off_for_good(world: World) -> None:
    consent_id = world.grant(world.resident, world.dept2, ["income"])
    answer = revoke(world, "department", world.dept2.address)
    assert answer.status_code == 200, answer.text
    assert listed(world, world.dept2.address)["status"] == "revoked"
    refused = world.query(world.dept2, world.resident, consent_id, ["income"])
    assert refused.status_code == 403, refused.text
    again = set_active(world, world.dept2, True)
    assert_contract_error(again, 409, "ConsentDirectoryDepartmentRevoked")
    assert listed(world, world.dept2.address)["active"] is False


def test_revoking_the_admin_role_is_refused(world: World) -> None:
    answer = revoke(world, "admin", world.admin.address)
    assert_contract_error(answer, 422, "ConsentDirectoryUnsupportedRole")
    assert world.node.client.has_role("admin", world.admin.address)


# ---------------------------------------------------------------- distrust an issuer


def attest_body(world: World, issuer: Identity, field: str = "income", **kw: Any) -> dict[str, Any]:
    now = world.now()
    message = {
        "issuer": issuer.address,
        "resident": world.resident.address,
        "field": name_to_bytes32(field),
        "commitment": secrets.token_bytes(32),
        "issuedAt": now,
        "expiresAt": now + 86400,
        **kw,
    }
    return signed_attest(world, issuer, message)


def signed_attest(world: World, issuer: Identity, message: dict[str, Any]) -> dict[str, Any]:
    """An ``Attest`` body as an outside wallet signs it: no nonce or deadline to fill in."""
    domain = world.http.get("/eip712").json()["intents"]["Attest"]["domain"]
    return signed_intent_body(
        issuer.account.key,
        "Attest",
        message,
        chain_id=domain["chainId"],
        verifying_contract=domain["verifyingContract"],
    )


def test_a_distrusted_issuers_new_attestations_are_refused(world: World) -> None:
    first = world.post("/attestations", world.issuer, attest_body(world, world.issuer))
    assert first.status_code == 201, first.text
    issued_while_trusted = world.now()

    answer = admin_post(
        world,
        f"/admin/issuers/{world.issuer.address}/distrust",
        "DistrustIssuer",
        {"issuer": world.issuer.address, "fields": ids("income")},
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["fields"] == ["income"]
    later = world.post("/attestations", world.issuer, attest_body(world, world.issuer))
    assert_contract_error(later, 403, "ConsentDirectoryUntrustedIssuer")
    # Dated to before the distrust, within the window: the old check of trust at issuedAt
    # let this through; the chain judges trust at its own time.
    backdated = world.post(
        "/attestations",
        world.issuer,
        attest_body(world, world.issuer, issuedAt=issued_while_trusted),
    )
    assert_contract_error(backdated, 403, "ConsentDirectoryUntrustedIssuer")
    world.node.chain.time_travel(3600)
    long_ago = world.post(
        "/attestations",
        world.issuer,
        attest_body(world, world.issuer, issuedAt=issued_while_trusted),
    )
    assert_contract_error(long_ago, 422, "ConsentDirectoryAttestationTime")
    other_field = world.post(
        "/attestations", world.issuer, attest_body(world, world.issuer, "name")
    )
    assert other_field.status_code == 201, other_field.text


# ---------------------------------------------------------------- rotate a department's key


def test_a_rotated_key_is_served_and_what_new_grants_wrap_for(world: World) -> None:
    old = world.dept
    rotated = Identity(old.account.key, Identity.create().encryption_keys)
    key = "0x" + rotated.encryption_public_key.hex()

    answer = admin_post(
        world,
        f"/admin/departments/{old.address}/encryption-key",
        "RotateDepartmentKey",
        {"department": old.address, "encryptionKey": rotated.encryption_public_key},
        method="PUT",
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["encryption_key"] == key
    assert listed(world, old.address)["encryption_key"] == key
    # The resident's wallet wraps for the key the directory serves (ConsentApi.grant).
    transport = world.http._transport  # the TestClient's: the app in process
    with ConsentApi("http://testserver", world.resident, transport=transport) as resident:
        consent_id = int(resident.grant(old.address, ["income"], "HOUSING", 30)["consent_id"])
    with ConsentApi("http://testserver", rotated, transport=transport) as department:
        result = department.query(consent_id, world.resident.address, ["income"], is_trusted=None)
    assert result.values == {"income": "52000"}
    # The old key opens nothing granted after the rotation.
    read = world.query(old, world.resident, consent_id, ["income"])
    assert read.status_code == 200, read.text
    with pytest.raises(WalletError):
        open_granted_fields(
            read.json()["fields"],
            resident=world.resident.address,
            identity=old,
            root=read.json()["record"]["root"],
        )


def test_a_rotation_to_a_key_of_no_valid_size_is_refused(world: World) -> None:
    answer = admin_post(
        world,
        f"/admin/departments/{world.dept.address}/encryption-key",
        "RotateDepartmentKey",
        {"department": world.dept.address, "encryptionKey": b"\x01" * 7},
        method="PUT",
    )
    assert_invalid(answer, detail="encryptionKey")
    assert listed(world, world.dept.address)["encryption_key"] == (
        "0x" + world.dept.encryption_public_key.hex()
    )


# ---------------------------------------------------------------- the client and the CLI


def test_the_client_suspends_rotates_revokes_and_distrusts(world: World) -> None:
    transport = world.http._transport  # the TestClient's: the app in process
    fresh = Identity.create()
    with ConsentApi("http://testserver", world.admin, transport=transport) as api:
        assert api.set_department_active(world.dept.address, False)["active"] is False
        assert api.set_department_active(world.dept.address, True)["active"] is True
        rotated = api.rotate_department_key(world.dept.address, fresh.encryption_public_key)
        assert rotated["encryption_key"] == "0x" + fresh.encryption_public_key.hex()
        assert api.department(world.dept.address)["encryption_key"] == rotated["encryption_key"]
        assert api.distrust_issuer(world.issuer.address, ["name"])["fields"] == ["name"]
        assert api.revoke_role("auditor", world.auditor.address)["role"] == "auditor"
    assert not world.node.client.has_role("auditor", world.auditor.address)


@pytest.fixture
def cli() -> typer.Typer:
    from api.cli import app

    return app


class Recording(httpx.BaseTransport):
    """The TestClient's transport (the app in process), noting each admin request."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/admin/"):
            self.sent.append((request.method, request.url.path, json.loads(request.read())))
        return self.inner.handle_request(request)


def test_admin_commands_send_the_signed_intents(
    cli: typer.Typer, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording = Recording(world.http._transport)
    made = ConsentApi.__init__

    def in_process(self: ConsentApi, base_url: str, identity: Any = None, **kw: Any) -> None:
        made(self, "http://testserver", identity, transport=recording)

    monkeypatch.setattr(ConsentApi, "__init__", in_process)
    wallet, password = tmp_path / "admin-wallet", tmp_path / "password"
    password.write_text("pw\n")
    world.admin.save(wallet, "pw", scrypt_n=FAST_SCRYPT)
    common = ["--wallet", str(wallet), "--password-file", str(password)]
    fresh = Identity.create()
    dept, issuer, auditor = world.dept.address, world.issuer.address, world.auditor.address
    commands = [
        ["admin", "department", "suspend", dept],
        ["admin", "department", "resume", dept],
        ["admin", "department", "rotate-key", dept, "--encryption-key", fresh_key(fresh)],
        ["admin", "issuer", "distrust", issuer, "--field", "name"],
        ["admin", "role", "revoke", "auditor", auditor],
    ]
    runner = CliRunner()
    for args in commands:
        result = runner.invoke(cli, [*args, *common])
        assert result.exit_code == 0, (args, result.output)

    assert [(method, path) for method, path, _ in recording.sent] == [
        ("POST", f"/admin/departments/{dept}/active"),
        ("POST", f"/admin/departments/{dept}/active"),
        ("PUT", f"/admin/departments/{dept}/encryption-key"),
        ("POST", f"/admin/issuers/{issuer}/distrust"),
        ("POST", "/admin/roles/revoke"),
    ]
    assert [body["message"]["active"] for _, _, body in recording.sent[:2]] == [False, True]
    assert listed(world, dept)["encryption_key"] == fresh_key(fresh)
    assert listed(world, dept)["status"] == "active"
    assert not world.node.client.has_role("auditor", auditor)
    assert not world.node.client.is_trusted_issuer(issuer, name_to_bytes32("name"), world.now())


def test_the_old_admin_commands_still_register_and_grant(
    cli: typer.Typer, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = ConsentApi.__init__

    def in_process(self: ConsentApi, base_url: str, identity: Any = None, **kw: Any) -> None:
        made(self, "http://testserver", identity, transport=world.http._transport)

    monkeypatch.setattr(ConsentApi, "__init__", in_process)
    wallet, password = tmp_path / "admin-wallet", tmp_path / "password"
    password.write_text("pw\n")
    world.admin.save(wallet, "pw", scrypt_n=FAST_SCRYPT)
    common = ["--wallet", str(wallet), "--password-file", str(password)]
    new_dept, new_auditor = Identity.create(), Identity.create()
    register = ["admin", "department", new_dept.address, "--name", "Water Board", "--code", "WB"]
    runner = CliRunner()
    result = runner.invoke(cli, [*register, "--encryption-key", fresh_key(new_dept), *common])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["admin", "role", "auditor", new_auditor.address, *common])
    assert result.exit_code == 0, result.output
    assert listed(world, new_dept.address)["name"] == "Water Board"
    assert world.node.client.has_role("auditor", new_auditor.address)


def fresh_key(identity: Identity) -> str:
    return "0x" + identity.encryption_public_key.hex()

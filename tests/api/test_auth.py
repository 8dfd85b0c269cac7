"""Sign-in, bearer tokens and chain-read roles over a real node on the embedded chain.

One node serves the whole module (deploying takes seconds); every test signs in with
its own fresh accounts, and time moves only through ``api.auth.now``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from api import auth, http_tokens
from api.challenges import challenges
from api.deps import Actor, CurrentActor, ensure_self_or_role, require_roles
from api.main import create_app
from api.node import Node, open_node
from api.routers import auth as auth_router
from api.settings import Settings
from api.tables import revoked_tokens
from ledger.chain import TransactionSigner
from ledger.eip712 import SECP256K1_N
from ledger.types import SignedIntent
from wallets.identity import Identity
from wallets.signing import sign_intent

PROBLEM = "application/problem+json"
PUBLIC_URL = "https://consent.example.gov"


@dataclass
class Served:
    http: TestClient
    node: Node
    app: FastAPI
    admin: LocalAccount


def _mount_probes(app: FastAPI) -> None:
    """Small protected routes standing in for the real routers."""

    @app.get("/_whoami")
    def whoami(actor: CurrentActor) -> dict[str, Any]:
        return {"address": actor.address, "roles": sorted(actor.roles)}

    @app.get("/_admin-only")
    def admin_only(actor: Annotated[Actor, Depends(require_roles("admin"))]) -> dict[str, str]:
        return {"address": actor.address}

    @app.get("/_records/{address}")
    def records(address: str, actor: CurrentActor) -> dict[str, str]:
        ensure_self_or_role(actor, address, "auditor")
        return {"address": address}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp_path: Path = tmp_path_factory.mktemp("auth")
    node = open_node(Settings(data_dir=tmp_path, block_period=0, public_url=PUBLIC_URL))
    admin = Identity.load(tmp_path / "admin", (tmp_path / "admin.password").read_text().strip())
    app = create_app(node=node)
    if not any(getattr(r, "path", None) == "/auth/token" for r in app.routes):
        app.include_router(auth_router.router)
    auth.install(app)
    _mount_probes(app)
    try:
        with TestClient(app) as http:
            yield Served(http, node, app, admin.account)
    finally:
        node.close()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """``auth.now`` frozen at ``clock[0]``; assign to move time."""
    moment = [auth.now()]
    monkeypatch.setattr(auth, "now", lambda: moment[0])
    return moment


def sign(account: LocalAccount, message: str) -> str:
    return (
        "0x"
        + bytes(Account.sign_message(encode_defunct(text=message), account.key).signature).hex()
    )


def challenge(http: TestClient, address: str) -> dict[str, Any]:
    response = http.post("/auth/challenge", json={"address": address})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def exchange(
    http: TestClient,
    account: LocalAccount,
    message: str,
    *,
    address: str | None = None,
    signature: str | None = None,
) -> Response:
    return http.post(
        "/auth/token",
        json={
            "address": address or account.address,
            "message": message,
            "signature": signature or sign(account, message),
        },
    )


def sign_in(http: TestClient, account: LocalAccount) -> dict[str, Any]:
    response = exchange(http, account, challenge(http, account.address)["message"])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: Response, status: int, detail: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    assert re.search(detail, body["detail"]), body["detail"]
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


def challenge_row(node: Node, nonce: str) -> Any:
    with node.store.connect() as c:
        return c.execute(challenges.select().where(challenges.c.nonce == nonce)).first()


# ------------------------------------------------------------------ challenge


def test_challenge_is_an_eip4361_text_stored_with_its_nonce_and_expiry(
    served: Served, clock: list[int]
) -> None:
    clock[0] = 1_767_225_600  # 2026-01-01T00:00:00Z
    account = Account.create()
    body = challenge(served.http, account.address.lower())
    nonce = body["nonce"]
    assert re.fullmatch(r"[A-Za-z0-9]{16,}", nonce)
    assert body["expires_at"] == clock[0] + served.node.settings.challenge_ttl
    assert body["message"] == (
        "consent.example.gov wants you to sign in with your Ethereum account:\n"
        f"{account.address}\n"
        "\n"
        "Sign in to the Resident Consent Ledger.\n"
        "\n"
        "URI: https://consent.example.gov/\n"
        "Version: 1\n"
        f"Chain ID: {served.node.chain.chain_id}\n"
        f"Nonce: {nonce}\n"
        "Issued At: 2026-01-01T00:00:00Z\n"
        "Expiration Time: 2026-01-01T00:05:00Z"
    )
    row = challenge_row(served.node, nonce)
    assert (row.address, row.message, row.expires_at, row.used) == (
        account.address,
        body["message"],
        body["expires_at"],
        False,
    )
    assert challenge(served.http, account.address)["nonce"] != nonce


@pytest.mark.parametrize(
    "address",
    [
        "0x1234",
        "1234567890123456789012345678901234567890",
        "0x" + "g" * 40,
        "0xAbCdEf0000000000000000000000000000000000",  # mixed case, wrong checksum
        42,
    ],
)
def test_challenge_refuses_a_malformed_address_with_422_problem(
    served: Served, address: object
) -> None:
    response = served.http.post("/auth/challenge", json={"address": address})
    assert_problem(response, 422, "does not validate")
    assert response.json()["errors"][0]["loc"] == ["body", "address"]


# ------------------------------------------------------------------ token


def test_admin_signs_in_and_the_token_names_admin_and_opens_a_protected_route(
    served: Served,
) -> None:
    body = sign_in(served.http, served.admin)
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == served.node.settings.token_ttl
    assert body["roles"] == ["admin"]
    who = served.http.get("/_whoami", headers=bearer(body["access_token"]))
    assert who.status_code == 200, who.text
    assert who.json() == {"address": served.admin.address, "roles": ["admin"]}
    assert served.http.get("/_admin-only", headers=bearer(body["access_token"])).status_code == 200


def test_roles_of_reads_each_role_from_the_chain(served: Served) -> None:
    node = served.node
    assert auth.roles_of(node, served.admin.address) == ["admin"]
    assert auth.roles_of(node, node.relayer_key.address) == ["relayer"]
    assert auth.roles_of(node, Account.create().address) == []


def test_a_stranger_signs_in_with_no_roles_and_require_roles_answers_403(
    served: Served,
) -> None:
    stranger = Account.create()
    body = sign_in(served.http, stranger)
    assert body["roles"] == []
    response = served.http.get("/_admin-only", headers=bearer(body["access_token"]))
    assert_problem(response, 403, "needs the role admin")


def test_ensure_self_or_role_lets_only_the_owner_through(served: Served) -> None:
    owner, other = Account.create(), Account.create()
    token = sign_in(served.http, owner)["access_token"]
    own = served.http.get(f"/_records/{owner.address.lower()}", headers=bearer(token))
    assert own.status_code == 200, own.text
    # The admin is not an auditor: someone else's records stay closed.
    admin_token = sign_in(served.http, served.admin)["access_token"]
    for headers in (bearer(token), bearer(admin_token)):
        response = served.http.get(f"/_records/{other.address}", headers=headers)
        assert_problem(response, 403, "itself or the role auditor")


def test_a_challenge_is_spent_by_its_first_exchange(served: Served) -> None:
    account = Account.create()
    issued = challenge(served.http, account.address)
    assert exchange(served.http, account, issued["message"]).status_code == 200
    assert challenge_row(served.node, issued["nonce"]).used is True
    assert_problem(exchange(served.http, account, issued["message"]), 401, "already used")


def test_two_concurrent_exchanges_of_one_challenge_exactly_one_wins(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both requests pass every check before either spends the challenge; the
    conditional UPDATE alone decides."""
    account = Account.create()
    message = challenge(served.http, account.address)["message"]
    both_verified = threading.Barrier(2, timeout=20)
    spend = auth.mark_used

    def mark_used_after_both_verified(node: Node, nonce: str) -> bool:
        both_verified.wait()
        return spend(node, nonce)

    monkeypatch.setattr(auth, "mark_used", mark_used_after_both_verified)
    statuses: list[int] = []

    def run() -> None:
        statuses.append(exchange(served.http, account, message).status_code)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [200, 401]


def test_an_expired_challenge_is_refused_and_stays_unused(served: Served, clock: list[int]) -> None:
    account = Account.create()
    issued = challenge(served.http, account.address)
    clock[0] = issued["expires_at"]
    assert_problem(exchange(served.http, account, issued["message"]), 401, "expired")
    assert challenge_row(served.node, issued["nonce"]).used is False
    clock[0] = issued["expires_at"] - 1
    assert exchange(served.http, account, issued["message"]).status_code == 200


def test_an_expired_token_is_refused(served: Served, clock: list[int]) -> None:
    body = sign_in(served.http, Account.create())
    clock[0] += body["expires_in"] - 1
    assert served.http.get("/_whoami", headers=bearer(body["access_token"])).status_code == 200
    clock[0] += 1
    response = served.http.get("/_whoami", headers=bearer(body["access_token"]))
    assert_problem(response, 401, "expired")
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def _signature_cases() -> list[tuple[str, Any, str]]:
    def wrong_signer(account: LocalAccount, message: str) -> dict[str, str]:
        return {"signature": sign(Account.create(), message)}

    def tampered_message(account: LocalAccount, message: str) -> dict[str, str]:
        altered = message.replace("Sign in to", "Sign in to and pay")
        return {"message": altered, "signature": sign(account, altered)}

    def signed_then_tampered(account: LocalAccount, message: str) -> dict[str, str]:
        return {"message": message + " ", "signature": sign(account, message)}

    def other_address(account: LocalAccount, message: str) -> dict[str, str]:
        impostor = Account.create()
        return {"address": impostor.address, "signature": sign(impostor, message)}

    def unknown_nonce(account: LocalAccount, message: str) -> dict[str, str]:
        forged = re.sub(r"Nonce: \w+", "Nonce: " + "A" * 22, message)
        return {"message": forged, "signature": sign(account, forged)}

    def short_signature(account: LocalAccount, message: str) -> dict[str, str]:
        return {"signature": sign(account, message)[:-2]}

    def v_zero(account: LocalAccount, message: str) -> dict[str, str]:
        signature = bytes.fromhex(sign(account, message)[2:])
        return {"signature": "0x" + (signature[:64] + bytes([signature[64] - 27])).hex()}

    return [
        ("signed by someone else", wrong_signer, "not by"),
        ("message altered and re-signed", tampered_message, "not the challenge"),
        ("message altered after signing", signed_then_tampered, "not the challenge"),
        ("address not the challenge's", other_address, "not the challenge"),
        ("nonce never issued", unknown_nonce, "unknown challenge"),
        ("64-byte signature", short_signature, "65 bytes"),
        ("v of 0/1", v_zero, "v must be 27 or 28"),
    ]


@pytest.mark.parametrize(
    ("tamper", "detail"),
    [(case[1], case[2]) for case in _signature_cases()],
    ids=[case[0] for case in _signature_cases()],
)
def test_a_bad_exchange_is_a_401_problem_and_spends_nothing(
    served: Served, tamper: Any, detail: str
) -> None:
    account = Account.create()
    issued = challenge(served.http, account.address)
    body = {
        "address": account.address,
        "message": issued["message"],
        "signature": sign(account, issued["message"]),
        **tamper(account, issued["message"]),
    }
    assert_problem(served.http.post("/auth/token", json=body), 401, detail)
    assert challenge_row(served.node, issued["nonce"]).used is False
    assert exchange(served.http, account, issued["message"]).status_code == 200


def test_a_high_s_signature_is_refused_though_it_recovers_to_the_signer(served: Served) -> None:
    account = Account.create()
    message = challenge(served.http, account.address)["message"]
    low = bytes.fromhex(sign(account, message)[2:])
    s = int.from_bytes(low[32:64], "big")
    high = low[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - low[64]])
    assert Account.recover_message(encode_defunct(text=message), signature=high) == (
        account.address
    )
    response = exchange(served.http, account, message, signature="0x" + high.hex())
    assert_problem(response, 401, "lower half")
    assert exchange(served.http, account, message, signature="0x" + low.hex()).status_code == 200


def test_a_signature_that_is_not_hex_is_malformed_input(served: Served) -> None:
    account = Account.create()
    message = challenge(served.http, account.address)["message"]
    response = exchange(served.http, account, message, signature="0xzz")
    assert_problem(response, 422, "does not validate")


# ------------------------------------------------------------------ bearer tokens


def _token_cases(secret: bytes, token: str, victim: str) -> list[tuple[str, dict[str, str]]]:
    payload, mac = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = base64.urlsafe_b64encode(
        json.dumps({**claims, "sub": victim}, separators=(",", ":")).encode()
    ).rstrip(b"=")
    flipped = mac[:5] + ("A" if mac[5] != "A" else "B") + mac[6:]
    wrong_key = auth.issue_token(secrets.token_bytes(32), claims["sub"], ttl=600)
    return [
        ("missing header", {}),
        ("other scheme", {"Authorization": f"Basic {token}"}),
        ("garbled", bearer("not-a-token")),
        ("flipped MAC", bearer(f"{payload}.{flipped}")),
        ("subject swapped", bearer(f"{forged.decode()}.{mac}")),
        ("foreign key", bearer(wrong_key)),
        ("padded MAC", bearer(f"{token}=")),
        ("extra segment", bearer(f"{token}.x")),
    ]


def test_a_missing_or_tampered_bearer_token_is_a_401_problem(served: Served) -> None:
    account = Account.create()
    token = sign_in(served.http, account)["access_token"]
    assert served.http.get("/_whoami", headers=bearer(token)).status_code == 200
    for name, headers in _token_cases(served.node.token_secret, token, served.admin.address):
        response = served.http.get("/_whoami", headers=headers)
        assert response.status_code == 401, name
        assert_problem(response, 401, "Authorization: Bearer|bearer token")
    missing = served.http.get("/_whoami")
    assert missing.headers["www-authenticate"] == "Bearer"


def test_a_non_canonical_encoding_of_a_valid_mac_is_refused(served: Served) -> None:
    secret = served.node.token_secret
    address = Account.create().address
    token = auth.issue_token(secret, address, ttl=600)
    assert auth.verify_token(secret, token) == address
    payload, mac = token.split(".")
    # 32 bytes in 43 characters leave 2 spare bits in the last one; setting them
    # decodes to the same MAC but is not the token that was issued.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = mac[:-1] + alphabet[alphabet.index(mac[-1]) | 1]
    assert base64.urlsafe_b64decode(twin + "=") == base64.urlsafe_b64decode(mac + "=")
    with pytest.raises(auth.AuthenticationFailed, match="malformed"):
        auth.verify_token(secret, f"{payload}.{twin}")


# ------------------------------------------------------------------ roles from the chain


def test_roles_are_cached_per_address_and_head_block(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = Account.create()
    token = sign_in(served.http, account)["access_token"]
    reads: list[tuple[str, int | str]] = []
    read = auth.roles_of

    def counting(node: Node, address: str, block: int | str = "latest") -> list[str]:
        reads.append((address, block))
        return read(node, address, block)

    monkeypatch.setattr(auth, "roles_of", counting)
    head = served.node.chain.w3.eth.block_number
    for _ in range(5):
        assert served.http.get("/_whoami", headers=bearer(token)).status_code == 200
    assert served.node.chain.w3.eth.block_number == head
    assert reads == []  # the sign-in read them at this head already
    served.node.chain.fund(Account.create().address, 1)  # a new block
    for _ in range(5):
        assert served.http.get("/_whoami", headers=bearer(token)).status_code == 200
    assert reads == [(account.address, head + 1)]


def test_a_suspended_department_loses_the_role_at_the_next_request(served: Served) -> None:
    node, admin = served.node, served.admin
    department = Account.create()
    message = {
        "department": department.address,
        "name": "Civil Affairs",
        "code": "CA-" + secrets.token_hex(2),
        "encryptionKey": secrets.token_bytes(32),
        "nonce": secrets.randbits(64),
        "deadline": node.chain.latest_timestamp() + 600,
    }
    signature = sign_intent(
        admin.key,
        "RegisterDepartment",
        message,
        chain_id=node.chain.chain_id,
        verifying_contract=node.client.verifying_contract("RegisterDepartment"),
    )
    node.client.submit_one(SignedIntent("RegisterDepartment", message, signature))

    body = sign_in(served.http, department)
    assert body["roles"] == ["department"]
    token = body["access_token"]
    assert served.http.get("/_whoami", headers=bearer(token)).json()["roles"] == ["department"]

    node.chain.fund(admin.address, 10**18)
    node.client.set_department_active(TransactionSigner(admin), department.address, False)
    assert served.http.get("/_whoami", headers=bearer(token)).json()["roles"] == []
    assert sign_in(served.http, department)["roles"] == []

    node.client.set_department_active(TransactionSigner(admin), department.address, True)
    assert served.http.get("/_whoami", headers=bearer(token)).json()["roles"] == ["department"]


# ------------------------------------------------------------------ the sign-in's origin


def app_over(served: Served, **settings: Any) -> TestClient:
    """Another app (another serving process, in effect) over the module's node and
    database, with other settings."""
    app = create_app(served.node.settings.model_copy(update=settings), node=served.node)
    app.state.node = served.node
    return TestClient(app)


def test_a_challenge_names_the_public_url_whatever_the_host_header(served: Served) -> None:
    account = Account.create()
    for host in ("evil-phish.example", "evil-phish.example:443", "consent.example.gov.evil"):
        response = served.http.post(
            "/auth/challenge", json={"address": account.address}, headers={"Host": host}
        )
        assert response.status_code == 200, response.text
        message = response.json()["message"]
        assert message.startswith("consent.example.gov wants you to sign in"), message
        assert "\nURI: https://consent.example.gov/\n" in message
        assert "evil" not in message
    assert exchange(served.http, account, message).status_code == 200


def test_a_token_is_refused_for_a_text_naming_another_domain_and_spends_nothing(
    served: Served,
) -> None:
    # A challenge stored under another origin: what a phishing page relaying the Host
    # header used to get, or what an earlier public_url issued.
    phish = app_over(served, public_url="https://evil-phish.example")
    account = Account.create()
    issued = challenge(phish, account.address)
    assert issued["message"].startswith("evil-phish.example wants you")
    response = exchange(served.http, account, issued["message"])
    assert_problem(response, 401, r"does not name this service \(consent\.example\.gov")
    assert challenge_row(served.node, issued["nonce"]).used is False
    # Same domain, other URI: refused too.
    other_path = app_over(served, public_url="https://consent.example.gov/elsewhere")
    issued = challenge(other_path, account.address)
    assert_problem(exchange(served.http, account, issued["message"]), 401, "does not name")
    assert challenge_row(served.node, issued["nonce"]).used is False
    assert served.http.get("/health").status_code == 200


def test_the_default_public_url_is_the_serve_host_and_port(served: Served) -> None:
    local = app_over(served, public_url=None, host="127.0.0.1", port=8123)
    message = challenge(local, Account.create().address)["message"]
    assert message.startswith("127.0.0.1:8123 wants you to sign in")
    assert "\nURI: http://127.0.0.1:8123/\n" in message


@pytest.mark.parametrize(
    "url", ["ftp://consent.example.gov", "https://", "https://a.example/?x=1", "consent.example"]
)
def test_a_public_url_that_cannot_be_an_origin_is_refused_at_start(url: str) -> None:
    with pytest.raises(ValueError, match="public_url"):
        Settings(public_url=url)


# ------------------------------------------------------------------ logout and revocation


def test_logout_revokes_the_presented_token_for_every_process(served: Served) -> None:
    account = Account.create()
    token = sign_in(served.http, account)["access_token"]
    other = sign_in(served.http, account)["access_token"]
    assert token != other  # two sign-ins in one second are two tokens
    assert served.http.get("/_whoami", headers=bearer(token)).status_code == 200

    response = served.http.post("/auth/logout", headers=bearer(token))
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert response.headers["cache-control"] == "no-store"
    elsewhere = app_over(served)  # another process on the same database
    own = f"/residents/{account.address}/consents"
    for http, path in ((served.http, "/_whoami"), (elsewhere, own)):
        refused = http.get(path, headers=bearer(token))
        assert_problem(refused, 401, "revoked")
        assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert_problem(served.http.post("/auth/logout", headers=bearer(token)), 401, "revoked")
    # The address's other token, and signing in again, still work.
    assert served.http.get("/_whoami", headers=bearer(other)).status_code == 200
    again = sign_in(served.http, account)["access_token"]
    assert served.http.get("/_whoami", headers=bearer(again)).status_code == 200


def test_logout_needs_a_valid_token_and_changes_nothing_without_one(served: Served) -> None:
    with served.node.store.connect() as c:
        before = c.execute(select(func.count()).select_from(revoked_tokens)).scalar_one()
    for headers in (
        {},
        bearer("not.a-token"),
        bearer(auth.issue_token(b"k" * 32, served.admin.address, ttl=60)),
    ):
        assert_problem(served.http.post("/auth/logout", headers=headers), 401, "")
    with served.node.store.connect() as c:
        assert c.execute(select(func.count()).select_from(revoked_tokens)).scalar_one() == before
    assert served.http.get("/health").status_code == 200


def test_revocations_are_forgotten_once_their_tokens_expire(
    served: Served, clock: list[int]
) -> None:
    account = Account.create()
    token = sign_in(served.http, account)["access_token"]
    assert served.http.post("/auth/logout", headers=bearer(token)).status_code == 204
    digest = http_tokens.digest(token)
    clock[0] += served.node.settings.token_ttl
    fresh = sign_in(served.http, account)["access_token"]
    assert served.http.post("/auth/logout", headers=bearer(fresh)).status_code == 204
    with served.node.store.connect() as c:
        kept = set(c.execute(select(revoked_tokens.c.digest)).scalars())
    assert digest not in kept  # purged: the token is refused as expired anyway
    assert http_tokens.digest(fresh) in kept
    assert_problem(served.http.get("/_whoami", headers=bearer(token)), 401, "expired")

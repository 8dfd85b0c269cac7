"""The API client and the client commands, without a server: canned answers over
``httpx.MockTransport``, problem parsing, CLI argument errors and the wallet round trip."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from typer.testing import CliRunner

from api.client import ConsentApi
from api.client_errors import ApiProblem, ApiUnreachable, ClientRefusal, RotationFailed
from api.client_queries import AccessQuery
from api.client_signing import DEADLINE_SECONDS
from api.commands import register
from ledger.codec import to_hex
from ledger.eip712 import domain
from ledger.intents import INTENTS, eip712_types
from ledger.vocabulary import ROLE_NAMES, SEED_FIELDS, SEED_PURPOSES, name_to_bytes32, role_id
from wallets.attestation import attest
from wallets.grants import wrap_keys_for_department
from wallets.identity import Identity
from wallets.record import RecordVersion
from wallets.signing import recover_intent_signer, signed_intent_body

CHAIN_ID = 31_337
DIRECTORY = "0x" + "d1" * 20
LEDGER = "0x" + "1e" * 20
NOW = 1_800_000_000
FAST_SCRYPT = 2**10
Handler = Callable[[httpx.Request], httpx.Response]


def canned_eip712() -> dict[str, Any]:
    return {
        "intents": {
            name: {
                "domain": domain(
                    CHAIN_ID, DIRECTORY if intent.contract == "ConsentDirectory" else LEDGER
                ),
                "types": eip712_types(name),
                "primaryType": name,
            }
            for name, intent in INTENTS.items()
        }
    }


def canned_schema() -> dict[str, Any]:
    return {
        "fields": {n: to_hex(name_to_bytes32(n)) for n in SEED_FIELDS},
        "purposes": {n: to_hex(name_to_bytes32(n)) for n in SEED_PURPOSES},
        "roles": {n: to_hex(role_id(n)) for n in ROLE_NAMES},
    }


class FakeApi:
    """The public endpoints and sign-in, answered as DESIGN and the brief fix them;
    ``routes[(method, path)]`` adds more. Records every request."""

    def __init__(self, *, ledger_nonce: int = 5) -> None:
        self.requests: list[httpx.Request] = []
        self.tokens_issued = 0
        self.valid_tokens: set[str] = set()
        self.ledger_nonce = ledger_nonce
        self.eip712 = canned_eip712()
        self.departments: list[dict[str, Any]] = []
        self.routes: dict[tuple[str, str], Handler] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        if (method, path) in self.routes:
            if not self._authorized(request):
                return problem(401, "Unauthorized", "no or bad token")
            return self.routes[(method, path)](request)
        if path == "/health":
            return httpx.Response(
                200,
                json={"status": "ok", "block_timestamp": NOW - 120, "next_block_timestamp": NOW},
            )
        if path == "/eip712":
            return httpx.Response(200, json=self.eip712)
        if path == "/schema":
            return httpx.Response(200, json=canned_schema())
        if path == "/departments":
            return httpx.Response(200, json={"data": self.departments, "next_cursor": None})
        if path.startswith("/nonces/"):
            return httpx.Response(
                200, json={"ConsentDirectory": 0, "ConsentLedger": self.ledger_nonce}
            )
        if path == "/auth/challenge":
            address = json.loads(request.content)["address"]
            return httpx.Response(
                200,
                json={"message": f"sign in as {address}", "nonce": "n", "expires_at": NOW + 300},
            )
        if path == "/auth/token":
            body = json.loads(request.content)
            signer = Account.recover_message(
                encode_defunct(text=body["message"]), signature=body["signature"]
            )
            if signer != body["address"]:
                return problem(401, "Unauthorized", "signature is not the address's")
            self.tokens_issued += 1
            token = f"token-{self.tokens_issued}"
            self.valid_tokens.add(token)
            return httpx.Response(
                200,
                json={
                    "access_token": token,
                    "token_type": "bearer",
                    "expires_in": 900,
                    "roles": ["resident"],
                },
            )
        return problem(404, "Not found", f"{method} {path}")

    def _authorized(self, request: httpx.Request) -> bool:
        header = request.headers.get("authorization", "")
        return header.removeprefix("Bearer ") in self.valid_tokens

    def bodies(self, method: str, path: str) -> list[dict[str, Any]]:
        return [
            json.loads(r.content)
            for r in self.requests
            if r.method == method and r.url.path == path and r.content
        ]


def problem(status: int, title: str, detail: str, **extra: Any) -> httpx.Response:
    body = {"type": "https://x/" + title.lower(), "title": title, "status": status}
    body.update(detail=detail, **extra)
    return httpx.Response(
        status, content=json.dumps(body), headers={"content-type": "application/problem+json"}
    )


@pytest.fixture
def fake() -> FakeApi:
    return FakeApi()


@pytest.fixture
def resident() -> Identity:
    return Identity.create()


@pytest.fixture
def client(fake: FakeApi, resident: Identity) -> Iterator[ConsentApi]:
    with ConsentApi("http://api.test", resident, transport=httpx.MockTransport(fake)) as api:
        yield api


def echo(status: int = 200, /, **body: Any) -> Handler:
    """A handler answering ``body`` as JSON."""
    return lambda request: httpx.Response(status, json=body)


# ---------------------------------------------------------------------------- signing


def test_sign_fills_nonce_and_deadline_and_signs_for_the_intents_own_domain(
    client: ConsentApi, fake: FakeApi, resident: Identity
) -> None:
    body = client.sign("Revoke", {"resident": resident.address, "consentId": 7})
    message = body["message"]
    assert message["nonce"] == fake.ledger_nonce
    assert message["deadline"] == NOW + DEADLINE_SECONDS
    signer = recover_intent_signer(
        "Revoke", message, body["signature"], chain_id=CHAIN_ID, verifying_contract=LEDGER
    )
    assert signer == resident.address


def test_signed_body_verifies_with_plain_eth_account_and_the_published_document(
    client: ConsentApi, resident: Identity
) -> None:
    """What the server gets is usable as-is with ``/eip712``'s entry (ethers, MetaMask)."""
    body = client.sign(
        "GrantRole",
        {"role": role_id("issuer"), "account": resident.address, "fields": []},
    )
    spec = canned_eip712()["intents"]["GrantRole"]
    signable = encode_typed_data(full_message={**spec, "message": body["message"]})
    assert Account.recover_message(signable, signature=body["signature"]) == resident.address
    assert spec["domain"]["verifyingContract"].lower() == DIRECTORY


def test_message_json_uses_hex_bytes32_checksummed_addresses_and_ascending_fields(
    client: ConsentApi, fake: FakeApi, resident: Identity
) -> None:
    fake.routes[("POST", "/queries")] = echo(200, consent_id=3)
    department = Account.create()
    client.identity = Identity(bytes(department.key), resident.encryption_keys)
    client.access(3, resident.address.lower(), ["name", "income", "address", "income"])
    [body] = fake.bodies("POST", "/queries")
    message = body["message"]
    assert message["resident"] == resident.address
    assert message["department"] == department.address
    ids = [name_to_bytes32(n) for n in ("address", "income", "name")]
    assert message["fields"] == [to_hex(i) for i in sorted(ids)]
    assert message["consentId"] == 3 and isinstance(message["nonce"], int)


def test_nonces_never_repeat_while_intents_are_in_flight(
    client: ConsentApi, resident: Identity
) -> None:
    first = client.sign("Revoke", {"resident": resident.address, "consentId": 1})
    second = client.sign("Revoke", {"resident": resident.address, "consentId": 2})
    assert second["message"]["nonce"] == first["message"]["nonce"] + 1


def test_sign_many_numbers_consecutive_nonces_from_one_read_and_one_deadline(
    client: ConsentApi, fake: FakeApi, resident: Identity
) -> None:
    before = client.sign("Revoke", {"resident": resident.address, "consentId": 1})
    reads = len(fake.requests)
    bodies = client.sign_many(
        "Revoke", [{"resident": resident.address, "consentId": i} for i in range(2, 6)]
    )
    after = client.sign("Revoke", {"resident": resident.address, "consentId": 6})
    first = before["message"]["nonce"] + 1
    assert [b["message"]["nonce"] for b in bodies] == list(range(first, first + 4))
    assert after["message"]["nonce"] == first + 4
    assert {b["message"]["deadline"] for b in bodies} == {NOW + DEADLINE_SECONDS}
    paths = [r.url.path for r in fake.requests[reads:]]
    assert paths.count(f"/nonces/{resident.address}") == 2  # the batch's one, and after's
    for body in bodies:
        signer = recover_intent_signer(
            "Revoke",
            body["message"],
            body["signature"],
            chain_id=CHAIN_ID,
            verifying_contract=LEDGER,
        )
        assert signer == resident.address


def test_a_batch_over_the_rate_limit_waits_and_a_refused_request_answers_each_of_its_queries(
    client: ConsentApi, fake: FakeApi, resident: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests of 2 queries: the first is refused 429 once (waited out, sent again), the
    second 503 (each of its queries answers that problem), the third is served."""
    answers = iter(
        [
            problem(429, "Too many requests", "slow down", retry_after=3),
            httpx.Response(
                200, json={"answers": [{"status": 200, "n": 1}, {"status": 200, "n": 2}]}
            ),
            problem(503, "Service unavailable", "the relayer is busy", retry_after=1),
            httpx.Response(200, json={"answers": [{"status": 200, "n": 5}]}),
        ]
    )
    fake.routes[("POST", "/queries/batch")] = lambda request: next(answers)
    waited: list[float] = []
    monkeypatch.setattr("api.client_queries.time.sleep", waited.append)
    queries = [AccessQuery(resident.address, i, ("income",)) for i in range(1, 6)]

    got = client.access_many(queries, per_request=2)

    assert waited == [3]
    assert [a["status"] for a in got] == [200, 200, 503, 503, 200]
    assert [a.get("n") for a in got] == [1, 2, None, None, 5]
    sent = fake.bodies("POST", "/queries/batch")
    assert [len(b["queries"]) for b in sent] == [2, 2, 2, 1]
    assert sent[0] == sent[1]  # the refused request again, as it was
    nonces = [q["message"]["nonce"] for b in sent[1:] for q in b["queries"]]
    assert nonces == list(range(nonces[0], nonces[0] + 5))


def test_sign_refuses_when_the_servers_types_differ_from_the_wallets(
    client: ConsentApi, fake: FakeApi, resident: Identity
) -> None:
    fake.eip712["intents"]["Revoke"]["types"]["Revoke"] = [{"name": "resident", "type": "address"}]
    with pytest.raises(ClientRefusal, match="differs"):
        client.sign("Revoke", {"resident": resident.address, "consentId": 1})


def test_unknown_field_name_is_refused_before_anything_is_signed(
    client: ConsentApi, fake: FakeApi, resident: Identity
) -> None:
    with pytest.raises(ClientRefusal, match="not a field on chain"):
        client.access(1, resident.address, ["shoe_size"])
    assert not fake.bodies("POST", "/queries")


# ---------------------------------------------------------------------------- sign-in


def test_signs_in_once_and_sends_the_bearer_token(client: ConsentApi, fake: FakeApi) -> None:
    fake.routes[("GET", "/consents/1")] = echo(consent_id=1)
    fake.routes[("GET", "/consents/2")] = echo(consent_id=2)
    assert client.consent(1)["consent_id"] == 1
    assert client.consent(2)["consent_id"] == 2
    assert fake.tokens_issued == 1
    authed = [r for r in fake.requests if r.url.path.startswith("/consents/")]
    assert {r.headers["authorization"] for r in authed} == {"Bearer token-1"}


def test_a_401_signs_in_again_and_retries_once(client: ConsentApi, fake: FakeApi) -> None:
    fake.routes[("GET", "/consents/1")] = echo(consent_id=1)
    client.consent(1)
    fake.valid_tokens.clear()  # the server forgot (restart, expiry)
    assert client.consent(1) == {"consent_id": 1}
    assert fake.tokens_issued == 2


def test_public_reads_need_no_wallet(fake: FakeApi) -> None:
    with ConsentApi("http://api.test", transport=httpx.MockTransport(fake)) as anonymous:
        assert anonymous.now() == NOW
        assert "income" in anonymous.schema()["fields"]
        with pytest.raises(ClientRefusal, match="wallet"):
            anonymous.sign("Revoke", {"resident": "0x" + "11" * 20, "consentId": 1})
    assert fake.tokens_issued == 0


# ---------------------------------------------------------------------------- problems


def test_refused_access_problem_carries_reason_and_receipt(
    client: ConsentApi, fake: FakeApi, resident: Identity
) -> None:
    receipt = {"tx_hash": "0xab", "block_number": 9, "log_index": 0, "block_timestamp": NOW}
    fake.routes[("POST", "/queries")] = lambda _: problem(
        403, "Access refused", "consent 4 expired", reason="expired", receipt=receipt
    )
    with pytest.raises(ApiProblem) as caught:
        client.access(4, resident.address, ["income"])
    refused = caught.value
    assert (refused.status, refused.reason, refused.receipt) == (403, "expired", receipt)
    assert refused.title == "Access refused" and refused.detail == "consent 4 expired"
    assert refused.summary() == "403 Access refused: consent 4 expired (reason: expired)"


def test_contract_refusal_problem_carries_error_and_arguments() -> None:
    response = problem(
        409,
        "Refused by the contract",
        "nonce 3 already used",
        error="SignedIntentNonceUsed",
        arguments={"signer": "0x" + "11" * 20, "nonce": 3},
    )
    parsed = ApiProblem.from_response(response)
    assert parsed.status == 409
    assert parsed.error == "SignedIntentNonceUsed"
    assert parsed.arguments == {"signer": "0x" + "11" * 20, "nonce": 3}
    assert parsed.type == "https://x/refused by the contract"
    assert "contract error: SignedIntentNonceUsed" in str(parsed)


def test_non_json_error_body_still_gives_a_readable_problem() -> None:
    response = httpx.Response(502, text="<html>Bad Gateway</html>")
    parsed = ApiProblem.from_response(response)
    assert parsed.status == 502
    assert parsed.title == "Bad Gateway"
    assert parsed.detail == "<html>Bad Gateway</html>"
    assert parsed.reason is None and parsed.error is None


def test_unreachable_api_is_one_clear_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with (
        ConsentApi("http://api.test", transport=httpx.MockTransport(refuse)) as api,
        pytest.raises(ApiUnreachable, match=r"cannot reach the API at http://api\.test"),
    ):
        api.health()


# ---------------------------------------------------------------------------- wallet helpers


def signed_as_served(
    who: Identity, name: str, message: dict[str, Any], contract: str
) -> dict[str, Any]:
    """An intent as ``api.provenance`` serves it beside what it set (wallets check it)."""
    full = {"nonce": 1, "deadline": NOW + 600, **message}
    body = signed_intent_body(
        who.account.key, name, full, chain_id=CHAIN_ID, verifying_contract=contract
    )
    return {"type": name, **body, "receipt": {}}


def test_grant_wraps_exactly_the_granted_fields_for_the_departments_key(
    client: ConsentApi, fake: FakeApi, resident: Identity
) -> None:
    department, admin = Identity.create(), Identity.create()
    registration = {
        "department": department.address,
        "name": "Housing Bureau",
        "code": "HB",
        "encryptionKey": department.encryption_public_key,
    }
    fake.departments = [
        {
            "address": department.address,
            "name": "Housing Bureau",
            "code": "HB",
            "encryption_key": to_hex(department.encryption_public_key),
            "active": True,
            "key_intent": signed_as_served(admin, "RegisterDepartment", registration, DIRECTORY),
        }
    ]
    record = RecordVersion.build(
        {"name": "Li Wei", "income": "52000", "phone": "138"},
        resident=resident.address,
        version=2,
        owner_public_key=resident.encryption_public_key,
    )
    commit = {"resident": resident.address, "version": 2, "root": record.root}
    stored: dict[str, Any] = {
        "resident": resident.address,
        "version": 2,
        "root": to_hex(record.root),
        "fields": record.envelopes(),
        "commit": signed_as_served(resident, "CommitRecord", commit, LEDGER),
    }
    fake.routes[("GET", f"/residents/{resident.address}/record")] = echo(**stored)
    fake.routes[("POST", "/consents")] = echo(201, consent_id=11)
    assert client.grant("hb", ["name", "income"], "HOUSING", 30, max_uses=2)["consent_id"] == 11
    [body] = fake.bodies("POST", "/consents")
    assert body["version"] == 2 and sorted(body["wrapped_keys"]) == ["income", "name"]
    message = body["message"]
    assert message["department"] == department.address
    assert (message["validFrom"], message["validUntil"]) == (NOW, NOW + 30 * 86_400)
    assert message["maxUses"] == 2 and message["requestId"] == "0x" + "00" * 32
    key = department.unwrap_key(
        bytes.fromhex(body["wrapped_keys"]["income"][2:]), field="income", version=2
    )
    assert key == record.field_key("income")


def test_revoke_that_cannot_rotate_says_the_revocation_stands(
    client: ConsentApi, fake: FakeApi, resident: Identity
) -> None:
    receipt = {"tx_hash": "0xab", "block_number": 9, "log_index": 0, "block_timestamp": NOW}
    department = Identity.create().address
    terms = {
        "resident": resident.address,
        "department": department,
        "fields": [name_to_bytes32("income")],
        "purpose": name_to_bytes32("HOUSING"),
        "validFrom": NOW,
        "validUntil": NOW + 86_400,
        "maxUses": 0,
        "requestId": bytes(32),
    }
    fake.routes[("GET", "/consents/5")] = echo(
        consent_id=5,
        resident=resident.address,
        department=department,
        fields=["income"],
        purpose="HOUSING",
        valid_from=NOW,
        valid_until=NOW + 86_400,
        max_uses=0,
        request_id=None,
        status="active",
        grant=signed_as_served(resident, "Grant", terms, LEDGER),
    )
    fake.routes[("POST", "/consents/5/revoke")] = echo(
        consent_id=5, status="revoked", receipt=receipt
    )
    # no GET /residents/{a}/record route: the canned API answers 404
    with pytest.raises(RotationFailed) as caught:
        client.revoke(5, rotate=True)
    assert caught.value.revoked["status"] == "revoked"
    assert "consent 5 is revoked, but rotating" in str(caught.value)
    assert isinstance(caught.value.__cause__, ApiProblem)


@pytest.fixture
def canned_query(fake: FakeApi, resident: Identity) -> tuple[Identity, Identity, RecordVersion]:
    """A department, an issuer and the record behind a canned ``POST /queries`` answer."""
    department, issuer = Identity.create(), Identity.create()
    record = RecordVersion.build(
        {"name": "Li Wei", "income": "52000", "id_number": "330106199003074512"},
        resident=resident.address,
        version=1,
        owner_public_key=resident.encryption_public_key,
    )
    wrapped = wrap_keys_for_department(
        record,
        ["income", "id_number"],
        department=department.address,
        department_public_key=department.encryption_public_key,
    )
    id_number = record.field("id_number").value
    attestation = attest(
        issuer,
        resident=resident.address,
        field="id_number",
        value=id_number.value,
        salt=id_number.salt,
        issued_at=NOW - 100,
        expires_at=NOW + 100,
        chain_id=CHAIN_ID,
        directory=DIRECTORY,
    ).to_json()

    def entry(name: str) -> dict[str, Any]:
        envelope = record.field(name).envelope
        return {
            "ciphertext": to_hex(envelope.ciphertext),
            "nonce": to_hex(envelope.nonce),
            "wrapped_key": wrapped[name],
            "version": 1,
            "attestation": attestation if name == "id_number" else None,
            "proof": [to_hex(p) for p in record.proof(name)],
        }

    answer: dict[str, Any] = {
        "consent_id": 4,
        "receipt": {"tx_hash": "0xab", "block_number": 9, "log_index": 0, "block_timestamp": NOW},
        "record": {"version": 1, "root": to_hex(record.root)},
        "fields": {"income": entry("income"), "id_number": entry("id_number")},
    }
    fake.routes[("POST", "/queries")] = echo(**answer)
    return department, issuer, record


def test_query_opens_fields_and_verifies_attestations_against_the_trust_list(
    fake: FakeApi, resident: Identity, canned_query: tuple[Identity, Identity, RecordVersion]
) -> None:
    department, issuer, record = canned_query
    asked: list[tuple[str, bytes, int]] = []

    def trusted(who: str, field_id: bytes, at: int) -> bool:
        asked.append((who, field_id, at))
        return True

    def recorded(_digest: bytes) -> int:  # the chain's record: 10 s after issuance
        return NOW - 90

    with ConsentApi("http://api.test", department, transport=httpx.MockTransport(fake)) as api:
        result = api.query(
            4,
            resident.address,
            ["income", "id_number"],
            is_trusted=trusted,
            recorded_at=recorded,
            record_root=lambda _: (1, record.root),
        )
        assert result.values == {"income": "52000", "id_number": "330106199003074512"}
        assert result.root_on_chain
        assert result.fields["id_number"].attestation == "verified"
        assert result.fields["id_number"].issuer == issuer.address
        assert result.fields["income"].attestation == "absent"
        assert {a for _, _, a in asked} == {NOW - 90, NOW}  # the chain's time, not issuedAt

        unchecked = api.query(4, resident.address, ["income", "id_number"], is_trusted=None)
        assert unchecked.fields["id_number"].attestation == "unverified"
        assert not unchecked.root_on_chain

        distrusted = api.query(
            4, resident.address, ["id_number"], is_trusted=lambda *_: False, recorded_at=recorded
        )
        assert distrusted.fields["id_number"].attestation == "invalid"
        assert "untrusted_issuer" in (distrusted.fields["id_number"].problem or "")

        never_recorded = api.query(
            4, resident.address, ["id_number"], is_trusted=trusted, recorded_at=lambda _: 0
        )
        assert never_recorded.fields["id_number"].attestation == "invalid"
        assert "not_recorded" in (never_recorded.fields["id_number"].problem or "")


def test_query_refuses_fields_that_do_not_hash_into_the_chains_root(
    fake: FakeApi, resident: Identity, canned_query: tuple[Identity, Identity, RecordVersion]
) -> None:
    from wallets.errors import InvalidRecord

    department, _, _ = canned_query
    with (
        ConsentApi("http://api.test", department, transport=httpx.MockTransport(fake)) as api,
        pytest.raises(InvalidRecord),
    ):
        api.query(
            4,
            resident.address,
            ["income"],
            is_trusted=None,
            record_root=lambda _: (1, secrets.token_bytes(32)),
        )


# ---------------------------------------------------------------------------- CLI


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """consent (test)"""

    register(app)
    return app


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ("CONSENT_API", "CONSENT_WALLET", "CONSENT_PASSWORD", "CONSENT_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password"
    path.write_text("correct horse battery staple\n")
    return path


def make_wallet(cli: typer.Typer, runner: CliRunner, folder: Path, password_file: Path) -> str:
    result = runner.invoke(
        cli,
        [
            "wallet",
            "create",
            "--wallet",
            str(folder),
            "--password-file",
            str(password_file),
            "--scrypt-n",
            str(FAST_SCRYPT),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["address"])


def test_wallet_create_show_export_import_round_trip(
    cli: typer.Typer, runner: CliRunner, tmp_path: Path, password_file: Path
) -> None:
    address = make_wallet(cli, runner, tmp_path / "w", password_file)
    common = ["--password-file", str(password_file)]

    shown = runner.invoke(cli, ["wallet", "show", "--wallet", str(tmp_path / "w"), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["address"] == address

    checked = runner.invoke(
        cli, ["wallet", "show", "--wallet", str(tmp_path / "w"), "--check", "--json", *common]
    )
    assert checked.exit_code == 0, checked.output
    assert (
        json.loads(checked.stdout)["encryption_key"] == json.loads(shown.stdout)["encryption_key"]
    )

    exported = tmp_path / "keystore.json"
    result = runner.invoke(
        cli,
        [
            "wallet",
            "export",
            str(exported),
            "--wallet",
            str(tmp_path / "w"),
            "--scrypt-n",
            str(FAST_SCRYPT),
            *common,
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(exported.read_text())
    assert document["version"] == 3
    key = Account.decrypt(document, "correct horse battery staple")
    assert Account.from_key(key).address == address  # what geth and MetaMask do

    imported = runner.invoke(
        cli,
        [
            "wallet",
            "import",
            str(exported),
            "--wallet",
            str(tmp_path / "w2"),
            "--scrypt-n",
            str(FAST_SCRYPT),
            "--json",
            *common,
        ],
    )
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["address"] == address
    again = Identity.load(tmp_path / "w2", "correct horse battery staple")
    assert again.address == address


def test_wallet_create_refuses_to_overwrite(
    cli: typer.Typer, runner: CliRunner, tmp_path: Path, password_file: Path
) -> None:
    make_wallet(cli, runner, tmp_path / "w", password_file)
    result = runner.invoke(
        cli,
        [
            "wallet",
            "create",
            "--wallet",
            str(tmp_path / "w"),
            "--password-file",
            str(password_file),
        ],
    )
    assert result.exit_code == 1
    assert "already exists" in result.stderr
    assert "Traceback" not in result.output


def test_wrong_password_is_one_line_and_exit_1(
    cli: typer.Typer, runner: CliRunner, tmp_path: Path, password_file: Path
) -> None:
    make_wallet(cli, runner, tmp_path / "w", password_file)
    result = runner.invoke(
        cli,
        ["wallet", "show", "--check", "--wallet", str(tmp_path / "w")],
        env={"CONSENT_PASSWORD": "wrong"},
    )
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: wrong password for this wallet (or the keystore was altered)"
    )


def test_missing_wallet_is_a_clear_error(
    cli: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(
        cli, ["consents", "--wallet", str(tmp_path / "nowhere")], env={"CONSENT_PASSWORD": "x"}
    )
    assert result.exit_code == 1
    assert "no wallet in" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["grant", "HB", "--purpose", "HOUSING"], "at least one --field"),
        (["request", "create", "0x" + "11" * 20, "--field", "income"], "a --purpose"),
        (["audit", "export", "--format", "xml"], "csv or jsonl"),
        (["admin", "role", "issuer", "0x" + "11" * 20], "an issuer needs --field"),
    ],
)
def test_commands_refuse_incomplete_arguments_with_one_line(
    cli: typer.Typer,
    runner: CliRunner,
    tmp_path: Path,
    password_file: Path,
    args: list[str],
    message: str,
) -> None:
    make_wallet(cli, runner, tmp_path / "w", password_file)
    result = runner.invoke(
        cli,
        [
            *args,
            "--wallet",
            str(tmp_path / "w"),
            "--password-file",
            str(password_file),
            "--api",
            "http://127.0.0.1:9",
        ],
    )
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["query", "0x" + "11" * 20, "0"],
        ["query", "0x" + "11" * 20, "not-a-number"],
        ["revoke"],
        ["record", "put", "does-not-exist.json"],
        ["grant", "HB", "--max-uses", "-1"],
    ],
)
def test_malformed_arguments_are_usage_errors(
    cli: typer.Typer, runner: CliRunner, args: list[str]
) -> None:
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_unreachable_api_exits_1_with_the_reason(
    cli: typer.Typer, runner: CliRunner, tmp_path: Path, password_file: Path
) -> None:
    make_wallet(cli, runner, tmp_path / "w", password_file)
    result = runner.invoke(
        cli,
        [
            "access-log",
            "--wallet",
            str(tmp_path / "w"),
            "--password-file",
            str(password_file),
            "--api",
            "http://127.0.0.1:9",
        ],
    )
    assert result.exit_code == 1
    assert "cannot reach the API at http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.output


def test_record_put_refuses_a_file_that_is_not_an_object_of_strings(
    cli: typer.Typer, runner: CliRunner, tmp_path: Path, password_file: Path
) -> None:
    make_wallet(cli, runner, tmp_path / "w", password_file)
    values = tmp_path / "record.json"
    values.write_text(json.dumps({"name": ["not", "a", "string"]}))
    result = runner.invoke(
        cli,
        [
            "record",
            "put",
            str(values),
            "--wallet",
            str(tmp_path / "w"),
            "--password-file",
            str(password_file),
        ],
    )
    assert result.exit_code == 1
    assert "must be a string" in result.stderr

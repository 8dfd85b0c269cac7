"""A wallet that knows only DESIGN: it signs every intent with plain eth-account from the
``GET /eip712`` answer, builds messages from ``GET /schema`` and ``GET /nonces``, and
gets the same results as the project's own wallet. (Record envelopes and wrapped keys
are data, not signatures; the project's wallet builds those, as any HPKE library could.)
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_account.signers.local import LocalAccount

from tests.api.conftest import World


class OutsideWallet:
    """eth-account and HTTP, nothing else."""

    def __init__(self, http: httpx.Client, account: LocalAccount) -> None:
        self.http = http
        self.account = account
        self.token: str | None = None
        self.intents = http.get("/eip712").json()["intents"]
        self.schema = http.get("/schema").json()

    def headers(self) -> dict[str, str]:
        if self.token is None:
            challenge = self.http.post(
                "/auth/challenge", json={"address": self.account.address}
            ).json()
            signed = self.account.sign_message(encode_defunct(text=challenge["message"]))
            answer = self.http.post(
                "/auth/token",
                json={
                    "address": self.account.address,
                    "message": challenge["message"],
                    "signature": "0x" + bytes(signed.signature).hex(),
                },
            ).json()
            self.token = answer["access_token"]
        return {"Authorization": f"Bearer {self.token}"}

    def field_ids(self, *names: str) -> list[str]:
        return sorted(self.schema["fields"][n] for n in names)

    def signed(self, name: str, message: dict[str, Any]) -> dict[str, Any]:
        spec = self.intents[name]
        contracts = self.http.get("/health").json()["contracts"]
        which = (
            "ConsentDirectory"
            if spec["domain"]["verifyingContract"] == contracts["ConsentDirectory"]
            else "ConsentLedger"
        )
        nonce = self.http.get(f"/nonces/{self.account.address}").json()[which]
        deadline = self.http.get("/health").json()["block_timestamp"] + 600
        full = {**message, "nonce": nonce, "deadline": deadline}
        signable = encode_typed_data(full_message={**spec, "message": full})
        signature = self.account.sign_message(signable).signature
        return {"message": full, "signature": "0x" + bytes(signature).hex()}

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(path, json=body, headers=self.headers())


def test_plain_eth_account_wallet_requests_and_queries_like_ours(world: World) -> None:
    department = OutsideWallet(world.http, Account.create())
    admin = OutsideWallet(world.http, world.admin.account)
    key = "0x" + secrets.token_hex(32)
    registered = admin.post(
        "/admin/departments",
        admin.signed(
            "RegisterDepartment",
            {
                "department": department.account.address,
                "name": "Civil Affairs",
                "code": "CA",
                "encryptionKey": key,
            },
        ),
    )
    assert registered.status_code == 201, registered.text

    resident = world.resident
    request = department.post(
        "/access-requests",
        department.signed(
            "AccessRequest",
            {
                "department": department.account.address,
                "resident": resident.address,
                "fields": department.field_ids("income"),
                "purpose": department.schema["purposes"]["SOCIAL_ASSISTANCE"],
                "duration": 86400,
            },
        ),
    )
    assert request.status_code == 201, request.text
    pending = world.get(f"/residents/{resident.address}/access-requests", resident).json()["data"]
    assert [(r["department_name"], r["status"]) for r in pending] == [("Civil Affairs", "pending")]

    # The outside department asks under a consent it was never given: refused on chain,
    # exactly as for a department using the project's wallet.
    query = department.post(
        "/queries",
        department.signed(
            "Access",
            {
                "department": department.account.address,
                "resident": resident.address,
                "consentId": 1,
                "fields": department.field_ids("income"),
            },
        ),
    )
    assert query.status_code == 403
    assert query.json()["reason"] == "unknown_consent"


def test_plain_eth_account_resident_grants_and_revokes(world: World) -> None:
    from wallets.grants import wrap_keys_for_department

    resident = OutsideWallet(world.http, world.resident.account)
    dept = world.dept
    now = world.now()
    grant = resident.signed(
        "Grant",
        {
            "resident": resident.account.address,
            "department": dept.address,
            "fields": resident.field_ids("income", "name"),
            "purpose": resident.schema["purposes"]["HOUSING"],
            "validFrom": now,
            "validUntil": now + 86400,
            "maxUses": 1,
            "requestId": "0x" + "00" * 32,
        },
    )
    grant["wrapped_keys"] = wrap_keys_for_department(
        world.records[world.resident.address],
        ["income", "name"],
        department=dept.address,
        department_public_key=dept.encryption_public_key,
    )
    granted = resident.post("/consents", grant)
    assert granted.status_code == 201, granted.text
    consent_id = granted.json()["consent_id"]
    assert world.query(world.dept, world.resident, consent_id, ["name"]).status_code == 200
    exhausted = world.query(world.dept, world.resident, consent_id, ["name"])
    assert exhausted.json()["reason"] == "uses_exhausted"
    revoked = resident.post(
        f"/consents/{consent_id}/revoke",
        resident.signed("Revoke", {"resident": resident.account.address, "consentId": consent_id}),
    )
    assert revoked.status_code == 200, revoked.text
    assert world.get(f"/consents/{consent_id}", world.resident).json()["status"] == "revoked"

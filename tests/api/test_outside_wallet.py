"""A wallet that knows only DESIGN: it signs every intent with plain eth-account from the
``GET /eip712`` answer, builds messages from ``GET /schema`` and ``GET /nonces``, and
gets the same results as the project's own wallet. (Record envelopes and wrapped keys
are data, not signatures; the project's wallet builds those, as any HPKE library could.)
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from pathlib import Path
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


#: ethers 6 (contracts/node_modules) signing a typed-data document read from stdin:
#: ``{"key", "document"}`` → the signature. The document is ``/eip712``'s as served.
_ETHERS_SIGN = """
const { createRequire } = require("node:module");
const path = require("node:path");
const ethers = createRequire(path.resolve("contracts/package.json"))("ethers");
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", async () => {
  const { key, document } = JSON.parse(input);
  const { EIP712Domain, ...types } = document.types;
  const wallet = new ethers.Wallet(key);
  const signature = await wallet.signTypedData(document.domain, types, document.message);
  process.stdout.write(signature);
});
"""


def ethers_sign(key: bytes, document: dict[str, Any]) -> str:
    node = shutil.which("node")
    assert node is not None, "node is needed for the ethers signer"
    result = subprocess.run(
        [node, "-e", _ETHERS_SIGN],
        input=json.dumps({"key": "0x" + bytes(key).hex(), "document": document}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_bundle_signed_by_ethers_from_eip712_as_served_is_granted(world: World) -> None:
    """The nested types (``DefineService``'s ``ServiceItem[]``, ``GrantBundle``'s
    ``BundleItem[]``) as ``/eip712`` serves them: eth-account signs the service, ethers the
    bundle, and both are taken as signed."""
    from tests.api.bundles import bundle_items, service_items
    from wallets.grants import wrap_keys_for_department

    admin = OutsideWallet(world.http, world.admin.account)
    items = [
        {**item, "fields": ["0x" + bytes(f).hex() for f in item["fields"]],
         "purpose": "0x" + bytes(item["purpose"]).hex()}
        for item in service_items(world)
    ]  # fmt: skip
    service = "0x" + b"NEWBORN_REGISTRATION".ljust(32, b"\0").hex()
    defined = admin.post(
        "/admin/services",
        admin.signed("DefineService", {"service": service, "name": "Newborn", "items": items}),
    )
    assert defined.status_code == 200, defined.text

    resident = OutsideWallet(world.http, world.resident.account)
    wanted = [
        {**item, "fields": ["0x" + bytes(f).hex() for f in item["fields"]],
         "purpose": "0x" + bytes(item["purpose"]).hex()}
        for item in bundle_items(world)
    ]  # fmt: skip
    spec = resident.intents["GrantBundle"]
    contracts = world.http.get("/health").json()["contracts"]
    assert spec["domain"]["verifyingContract"] == contracts["ConsentLedger"]
    message = {
        "resident": resident.account.address,
        "service": service,
        "items": wanted,
        "validFrom": world.now(),
        "nonce": world.http.get(f"/nonces/{resident.account.address}").json()["ConsentLedger"],
        "deadline": world.now() + 600,
    }
    signature = ethers_sign(resident.account.key, {**spec, "message": message})
    record = world.records[world.resident.address]
    departments = {d.address: d for d in (world.dept, world.dept2, world.actors["dept3"])}
    keys = {
        item["department"]: wrap_keys_for_department(
            record,
            [bytes.fromhex(f[2:]).rstrip(b"\0").decode() for f in item["fields"]],
            department=item["department"],
            department_public_key=departments[item["department"]].encryption_public_key,
        )
        for item in wanted
    }
    answer = resident.post(
        "/bundles",
        {"message": message, "signature": signature, "wrapped_keys": keys,
         "version": record.version},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    assert len(answer.json()["consent_ids"]) == 3

"""Public endpoints over a real node on the embedded chain."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from fastapi.testclient import TestClient

from api.main import create_app
from api.node import open_node
from api.settings import Settings
from ledger.types import SignedIntent
from ledger.vocabulary import SEED_FIELDS, SEED_PURPOSES


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, object]]:
    node = open_node(Settings(data_dir=tmp_path, block_period=0))
    try:
        with TestClient(create_app(node=node)) as http:
            yield http, node
    finally:
        node.close()


def test_health_names_chain_head_and_contracts(served) -> None:  # type: ignore[no-untyped-def]
    http, node = served
    body = http.get("/health").json()
    assert body["status"] == "ok"
    assert body["chain_id"] == node.chain.chain_id
    assert body["block_number"] == node.chain.w3.eth.block_number
    assert body["contracts"] == node.deployment.contracts


def test_schema_lists_seeded_fields_purposes_and_roles(served) -> None:  # type: ignore[no-untyped-def]
    http, _ = served
    body = http.get("/schema").json()
    assert list(body["fields"]) == list(SEED_FIELDS)
    assert list(body["purposes"]) == list(SEED_PURPOSES)
    assert body["fields"]["income"] == "0x" + b"income".ljust(32, b"\0").hex()
    assert body["roles"]["admin"] == "0x" + "00" * 32


def test_eip712_answer_signs_with_plain_eth_account_and_the_chain_accepts(  # type: ignore[no-untyped-def]
    served, tmp_path: Path
) -> None:
    """An outside wallet needs nothing but eth-account and GET /eip712."""
    http, node = served
    admin_password = (tmp_path / "admin.password").read_text().strip()
    from wallets.identity import Identity

    admin = Identity.load(tmp_path / "admin", admin_password)
    spec = http.get("/eip712").json()["intents"]["RegisterDepartment"]
    department = Account.create()
    message = {
        "department": department.address,
        "name": "Civil Affairs",
        "code": "CA",
        "encryptionKey": "0x" + secrets.token_hex(32),
        "nonce": 7,
        "deadline": node.chain.latest_timestamp() + 600,
    }
    signable = encode_typed_data(full_message={**spec, "message": message})
    signature = Account.sign_message(signable, admin.account.key).signature
    node.client.submit_one(SignedIntent("RegisterDepartment", message, bytes(signature)))
    listed = http.get("/departments").json()
    assert listed["next_cursor"] is None
    assert [(d["address"], d["code"], d["active"]) for d in listed["data"]] == [
        (department.address, "CA", True)
    ]

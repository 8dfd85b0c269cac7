"""Deployment happens once per chain and is found again after a restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from ledger.chain import TransactionSigner
from ledger.chain.embedded import EmbeddedChain
from ledger.client import LedgerClient
from ledger.deployment import DEPLOYMENT_FILE, load_or_deploy
from ledger.errors import DeploymentError
from ledger.vocabulary import SEED_FIELDS, bytes32_to_name


def open_embedded(path: Path) -> EmbeddedChain:
    return EmbeddedChain(path / "chain.sqlite3", block_period=0)


def test_second_start_reuses_the_recorded_deployment(tmp_path: Path) -> None:
    relayer = TransactionSigner(Account.create())
    admin = Account.create().address
    with open_embedded(tmp_path) as chain:
        chain.fund(relayer.address, 10**21)
        first, deployed = load_or_deploy(chain, relayer, data_dir=tmp_path, admin=admin)
        assert deployed
        head = chain.w3.eth.block_number
    with open_embedded(tmp_path) as chain:
        again, deployed = load_or_deploy(chain, relayer, data_dir=tmp_path, admin=admin)
        assert not deployed
        assert again == first
        assert chain.w3.eth.block_number == head
        client = LedgerClient(chain, again, relayer)
        assert [bytes32_to_name(f) for f in client.fields()] == list(SEED_FIELDS)
        assert client.has_role("admin", admin)
        assert client.has_role("relayer", relayer.address)


def test_a_new_chain_gets_a_new_deployment(tmp_path: Path) -> None:
    relayer = TransactionSigner(Account.create())
    admin = Account.create().address
    with open_embedded(tmp_path / "one") as chain:
        chain.fund(relayer.address, 10**21)
        first, _ = load_or_deploy(chain, relayer, data_dir=tmp_path, admin=admin)
    relayer.resync()
    with open_embedded(tmp_path / "two") as chain:
        chain.fund(relayer.address, 10**21)
        second, deployed = load_or_deploy(chain, relayer, data_dir=tmp_path, admin=admin)
    assert deployed and second.genesis_hash != first.genesis_hash


def test_recorded_code_that_is_not_on_chain_is_refused(tmp_path: Path) -> None:
    relayer = TransactionSigner(Account.create())
    with open_embedded(tmp_path) as chain:
        chain.fund(relayer.address, 10**21)
        load_or_deploy(chain, relayer, data_dir=tmp_path, admin=Account.create().address)
        record = json.loads((tmp_path / DEPLOYMENT_FILE).read_text())
        record["ledger"] = Account.create().address
        (tmp_path / DEPLOYMENT_FILE).write_text(json.dumps(record))
        with pytest.raises(DeploymentError, match="ConsentLedger"):
            load_or_deploy(chain, relayer, data_dir=tmp_path, admin=Account.create().address)


def test_a_garbled_deployment_record_is_a_clear_error(tmp_path: Path) -> None:
    relayer = TransactionSigner(Account.create())
    (tmp_path / DEPLOYMENT_FILE).write_text("{not json")
    with open_embedded(tmp_path) as chain, pytest.raises(DeploymentError, match="not a deployment"):
        load_or_deploy(chain, relayer, data_dir=tmp_path, admin=Account.create().address)

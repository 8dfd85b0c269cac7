"""The relayer's signed acceptance in every answer to a mined intent, and ``/audit/verify``
reporting intents the relayer took on that the chain does not hold (issue 10, item 7).

Faults are real: a SQLite trigger refuses the vault's writes (a round mined but not
settled: 503), an anvil with mining switched off holds a batch forever and then drops it,
a served process is SIGKILLed while its batch waits for a block, a journal row is made
to name a transaction the chain never mined.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from sqlalchemy import select, update
from typer.testing import CliRunner

from api.client import ConsentApi
from ledger.acceptance import Acceptance
from ledger.audit import verify
from ledger.chain.anvil import AnvilNode
from ledger.journal_audit import STALE_AFTER
from ledger.store import journal
from tests.api import cli_helpers
from tests.api.cli_helpers import Served
from tests.api.conftest import World, make_world, populate
from tests.api.test_served import Served as ServedProcess
from wallets.acceptance import verify_acceptance
from wallets.signing import intent_digest

served, cli, runner = cli_helpers.served, cli_helpers.cli, cli_helpers.runner


def digest_of(world: World, name: str, body: dict[str, Any]) -> bytes:
    domain = world.http.get("/eip712").json()["intents"][name]["domain"]
    return intent_digest(
        name,
        body["message"],
        chain_id=domain["chainId"],
        verifying_contract=domain["verifyingContract"],
    )


def journal_rows(world: World) -> dict[int, Any]:
    assert world.node is not None
    with world.node.store.connect() as c:
        return {r["id"]: r for r in c.execute(select(journal)).mappings().all()}


def checked(world: World, name: str, body: dict[str, Any], answer: dict[str, Any]) -> Acceptance:
    """The answer's acceptance, once it verifies offline for the intent sent, is by the
    relayer ``/health`` names, and matches the journal entry it names."""
    health = world.http.get("/health").json()
    acceptance = verify_acceptance(
        answer["acceptance"],
        intent=digest_of(world, name, body),
        chain_id=health["chain_id"],
        relayer=health["relayer"],
    )
    row = journal_rows(world)[acceptance.journal_id]
    assert json.loads(row["body"])["signature"] == body["signature"]
    assert row["created_at"] == acceptance.accepted_at
    return acceptance


def test_every_answer_to_a_mined_intent_carries_an_acceptance_that_verifies(
    world: World,
) -> None:
    resident, dept = world.resident, world.dept
    grant = world.grant_body(resident, dept, ["income"])
    granted = world.post("/consents", resident, grant)
    assert granted.status_code == 201, granted.text
    checked(world, "Grant", grant, granted.json())
    consent_id = granted.json()["consent_id"]

    query = world.query_body(dept, resident, consent_id, ["income"])
    answered = world.post("/queries", dept, query)
    assert answered.status_code == 200, answered.text
    checked(world, "Access", query, answered.json())

    revoke = world.body(resident, "Revoke", {"resident": resident.address, "consentId": consent_id})
    revoked = world.post(f"/consents/{consent_id}/revoke", resident, revoke)
    assert revoked.status_code == 200, revoked.text
    checked(world, "Revoke", revoke, revoked.json())

    # refused on chain (a problem answer): the intent reached the chain, so it is accepted
    late = world.query_body(dept, resident, consent_id, ["income"])
    refused = world.post("/queries", dept, late)
    assert refused.status_code == 403 and refused.json()["reason"] == "revoked"
    checked(world, "Access", late, refused.json())

    # refused before relaying: nothing was taken on, nothing is acknowledged
    replayed = world.post("/consents", resident, grant)
    assert replayed.status_code == 409
    assert "acceptance" not in replayed.json()
    # reads carry none
    assert "acceptance" not in world.get(f"/consents/{consent_id}", resident).json()


def test_a_round_mined_but_not_settled_answers_503_with_its_acceptance(world: World) -> None:
    assert world.node is not None
    with world.node.store.begin() as c:
        c.exec_driver_sql(
            "CREATE TRIGGER refuse_keys BEFORE INSERT ON wrapped_keys"
            " BEGIN SELECT RAISE(ABORT, 'wrapped_keys is read-only'); END"
        )
    grant = world.grant_body(world.resident, world.dept, ["income"])
    answer = world.post("/consents", world.resident, grant)
    assert answer.status_code == 503, answer.text
    acceptance = checked(world, "Grant", grant, answer.json())
    assert journal_rows(world)[acceptance.journal_id]["state"] == "submitted"

    with world.node.store.begin() as c:
        c.exec_driver_sql("DROP TRIGGER refuse_keys")
    assert world.node.relayer.wait_settled(30)
    assert journal_rows(world)[acceptance.journal_id]["state"] == "done"
    report = world.get("/audit/verify", world.auditor).json()
    assert report["ok"], report["problems"]


def test_a_forged_acceptance_is_not_kept_and_the_wallet_says_so(world: World) -> None:
    """A man in the middle (or the server) alters the acceptance: the client notices."""

    def forwarded(request: httpx.Request) -> httpx.Response:
        answer = world.http.request(
            request.method, request.url.path, content=request.content, headers=request.headers
        )
        document = answer.json() if answer.content else None
        if isinstance(document, dict) and "acceptance" in document:
            document["acceptance"]["accepted_at"] += 3600  # "accepted an hour later"
        return httpx.Response(answer.status_code, json=document)

    told: list[str] = []
    with ConsentApi(
        "http://api.test",
        world.resident,
        transport=httpx.MockTransport(forwarded),
        notice=told.append,
    ) as client:
        client.upload_record({"name": "Li Wei", "income": "52000"}, version=2)
        assert client.acceptances == []
    assert any("does not hold" in line and "names relayer" in line for line in told)


def test_the_cli_keeps_each_acceptance_in_the_wallet(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    wallet = served.wallet(w.resident, "r")
    result = runner.invoke(cli, ["grant", "HB", "-f", "income", "-p", "HOUSING", "--yes", *wallet])
    assert result.exit_code == 0, result.output
    assert "accepted this Grant" in result.stderr
    [line] = (Path(wallet[1]) / "acceptances.jsonl").read_text().splitlines()
    kept = json.loads(line)
    assert kept["type"] == "Grant"
    acceptance = verify_acceptance(kept, relayer=w.http.get("/health").json()["relayer"])
    assert journal_rows(w)[acceptance.journal_id]["state"] == "done"


# ---------------------------------------------------------------------------- verify


def test_verify_reports_an_intent_answered_as_recorded_whose_transaction_the_chain_lacks(
    world: World,
) -> None:
    grant = world.grant_body(world.resident, world.dept, ["income"])
    answer = world.post("/consents", world.resident, grant)
    acceptance = checked(world, "Grant", grant, answer.json())
    assert world.get("/audit/verify", world.auditor).json()["ok"]

    never_mined = "0x" + "ab" * 32
    assert world.node is not None
    with world.node.store.begin() as c:
        c.execute(
            update(journal)
            .where(journal.c.id == acceptance.journal_id)
            .values(tx_hash=f"{never_mined}:0")
        )
    report = world.get("/audit/verify", world.auditor).json()
    assert not report["ok"]
    [problem] = [p for p in report["problems"] if p["kind"] == "accepted_intent_not_on_chain"]
    assert never_mined in problem["detail"] and "does not hold" in problem["detail"]
    held = problem["acceptance"]
    assert held["journal_id"] == acceptance.journal_id
    assert held["intent"] == acceptance.to_json()["intent"]
    assert held["accepted_at"] == acceptance.accepted_at
    assert (held["chain_id"], held["relayer"]) == (acceptance.chain_id, acceptance.relayer)
    assert (held["state"], held["type"]) == ("done", "Grant")


@pytest.fixture
def unmining_anvil() -> Iterator[AnvilNode]:
    """An anvil of the test's own, so switching its mining off touches no other test."""
    with AnvilNode(extra_args=["--preserve-historical-states"]) as node:
        yield node


def rpc(url: str, method: str, *params: Any) -> Any:
    answer = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    body = answer.json()
    assert "error" not in body, body
    return body["result"]


def test_verify_reports_an_intent_held_back_and_lists_it_once_the_node_drops_it(
    tmp_path: Path, unmining_anvil: AnvilNode
) -> None:
    for world in make_world(tmp_path, chain_url=unmining_anvil.url):
        node = world.node
        assert node is not None
        node.chain.timeout = 3  # type: ignore[attr-defined]  # the node's receipt wait
        rpc(unmining_anvil.url, "evm_setAutomine", False)
        grant = world.grant_body(world.resident, world.dept, ["income"])
        answer = world.post("/consents", world.resident, grant)
        # the chain failed mid-round: the answer cannot say it is recorded, so no receipt
        assert answer.status_code == 503, answer.text
        assert "acceptance" not in answer.json()
        [entry] = [r for r in journal_rows(world).values() if r["state"] == "submitted"]
        tx_hash = entry["tx_hash"].split(":")[0]

        # still submitted long after it was accepted: the relayer is holding it back
        report = verify(
            node.client,
            node.store,
            to_block=node.indexer.last_block(),
            now=entry["created_at"] + STALE_AFTER + 1,
        )
        [problem] = [p for p in report.problems if p.kind == "accepted_intent_not_on_chain"]
        assert "is still submitted" in problem.detail
        assert problem.acceptance is not None
        assert problem.acceptance["journal_id"] == entry["id"]
        assert problem.acceptance["intent"] == "0x" + digest_of(world, "Grant", grant).hex()
        # within the time a round may take, it is in flight, not a problem
        fresh = verify(node.client, node.store, to_block=node.indexer.last_block())
        assert fresh.ok, fresh.problems

        # the node drops it: the relayer gives it up as lost, never acknowledged
        rpc(unmining_anvil.url, "anvil_dropTransaction", tx_hash)
        rpc(unmining_anvil.url, "evm_setAutomine", True)
        deadline = time.monotonic() + 30
        while journal_rows(world)[entry["id"]]["state"] != "lost":
            assert time.monotonic() < deadline, journal_rows(world)[entry["id"]]
            time.sleep(0.2)  # the relayer's own retry interval, not chain time
        listed = world.get("/audit/verify", world.auditor).json()
        assert listed["ok"], listed["problems"]
        [lost] = listed["unacknowledged"]
        assert (lost["journal_id"], lost["state"], lost["tx_hash"]) == (
            entry["id"],
            "lost",
            tx_hash,
        )


@pytest.mark.slow
def test_an_intent_journalled_when_the_process_was_killed_is_listed_by_verify(
    tmp_path: Path, unmining_anvil: AnvilNode
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    server = ServedProcess(data, "--chain-url", unmining_anvil.url).start()
    http = httpx.Client(base_url=server.url, timeout=60)
    world = populate(World(node=None, http=http, admin=server.admin()))
    grant = world.grant_body(world.resident, world.dept, ["income"])
    digest = digest_of(world, "Grant", grant)
    headers = world.headers(world.resident)
    rpc(unmining_anvil.url, "evm_setAutomine", False)

    def send() -> None:
        with contextlib.suppress(httpx.TransportError):  # killed before answering
            httpx.post(server.url + "/consents", json=grant, headers=headers, timeout=60)

    sender = threading.Thread(target=send)
    sender.start()
    entry = None
    deadline = time.monotonic() + 30
    while entry is None:  # the batch is sent and waits for a block that does not come
        assert time.monotonic() < deadline, "the grant was never journalled as submitted"
        with sqlite3.connect(data / "consent.sqlite3") as db:
            entry = db.execute(
                "select id, tx_hash from journal where state = 'submitted'"
            ).fetchone()
        time.sleep(0.05)  # watching another process's database
    server.kill()
    sender.join()
    http.close()
    journal_id, where = entry
    rpc(unmining_anvil.url, "anvil_dropTransaction", where.split(":")[0])
    rpc(unmining_anvil.url, "evm_setAutomine", True)

    restarted = ServedProcess(data, "--chain-url", unmining_anvil.url).start()
    try:
        with httpx.Client(base_url=restarted.url, timeout=60) as again:
            world.http, world.tokens = again, {}
            report = world.get("/audit/verify", world.auditor).json()
    finally:
        restarted.stop()
    # never answered, so never acknowledged: listed, not a fault of the log (no client
    # holds a receipt for it; the kill tests' "verify ok" stays true)
    assert report["ok"], report["problems"]
    [listed] = report["unacknowledged"]
    assert (listed["journal_id"], listed["state"]) == (journal_id, "lost")
    assert listed["intent"] == "0x" + digest.hex()


def test_the_auditors_cli_names_the_acceptance_of_what_the_chain_lacks(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    assert w.node is not None
    grant = w.grant_body(w.resident, w.dept, ["income"])
    acceptance = checked(w, "Grant", grant, w.post("/consents", w.resident, grant).json())
    with w.node.store.begin() as c:
        c.execute(
            update(journal)
            .where(journal.c.id == acceptance.journal_id)
            .values(tx_hash="0x" + "ab" * 32 + ":0")
        )
    result = runner.invoke(cli, ["audit", "verify", *served.wallet(w.auditor, "auditor")])
    assert result.exit_code == 1
    said = result.stdout.replace("\n", " ")
    assert "accepted_intent_not_on_chain" in said
    assert f"Grant journal {acceptance.journal_id}, intent {acceptance.to_json()['intent']}" in said

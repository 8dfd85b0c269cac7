"""A compromised server against the wallet (issue 10, item 7): a served node answers with
an attacker's department key, altered envelopes or altered consent terms, and the CLI
refuses to wrap, open or show them as signed; with the genuine data it proceeds.

The node is real (the embedded chain, or anvil for ``--chain-url``) behind uvicorn on a
socket. The attacks are what a compromised server can do: rewrite its database rows
(envelopes, record roots, consent terms), or, for a department's key (which the API
reads from the chain, not from a row), answer with another key from its own code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import select, update
from typer.testing import CliRunner

from api.node import Node
from ledger.store import consents, envelopes, events, record_versions, residents, wrapped_keys
from tests.api import cli_helpers
from tests.api.cli_helpers import Served
from wallets.identity import Identity
from wallets.record import RecordVersion

served, served_anvil, cli, runner = (
    cli_helpers.served,
    cli_helpers.served_anvil,
    cli_helpers.cli,
    cli_helpers.runner,
)
GRANT = ["grant", "HB", "-f", "income", "-p", "HOUSING", "--yes"]


@contextmanager
def serving_attackers_key(node: Node, department: str, key: bytes) -> Iterator[None]:
    """The server's code changed by an attacker: ``GET /departments`` (and everything else
    that reads the directory) gives ``key`` as ``department``'s."""
    genuine = node.client.department

    def lying(address: str) -> Any:
        info = genuine(address)
        return replace(info, encryption_key=key) if info.address == department else info

    node.client.department = lying  # type: ignore[method-assign]
    try:
        yield
    finally:
        del node.client.department


def consents_of(s: Served) -> list[dict[str, Any]]:
    w = s.world
    return list(w.get(f"/residents/{w.resident.address}/consents", w.resident).json()["data"])


def wrapped_rows(s: Served) -> list[Any]:
    assert s.world.node is not None
    with s.world.node.store.connect() as c:
        return list(c.execute(select(wrapped_keys)).mappings().all())


def opens_for(s: Served, department: Identity) -> bool:
    """Whether the grant's wrapped key opens with ``department``'s own key."""
    [row] = wrapped_rows(s)
    record = s.world.records[s.world.resident.address]
    key = department.unwrap_key(bytes(row["wrapped_key"]), field=row["field"], version=1)
    return bool(key == record.field_key(row["field"]))


# ---------------------------------------------------------------------------- keys


def test_a_server_answering_with_its_own_department_key_gets_no_grant(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    assert w.node is not None
    wallet = served.wallet(w.resident, "r")
    attacker = Identity.create()
    with serving_attackers_key(w.node, w.dept.address, attacker.encryption_public_key):
        served_key = w.http.get("/departments").json()["data"][0]["encryption_key"]
        assert served_key == "0x" + attacker.encryption_public_key.hex()  # the attack is on
        refused = runner.invoke(cli, [*GRANT, *wallet])
    assert refused.exit_code == 1
    assert "the server may be substituting a key of its own" in refused.stderr
    assert "Housing Bureau" in refused.stderr
    assert consents_of(served) == [] and wrapped_rows(served) == []

    granted = runner.invoke(cli, [*GRANT, *wallet])
    assert granted.exit_code == 0, granted.output
    assert f"first use: pinned admin {w.admin.address}" in granted.stderr
    assert len(consents_of(served)) == 1 and opens_for(served, w.dept)


def test_a_wallet_pinned_to_another_admin_wraps_for_no_key_until_the_pin_is_replaced(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    wallet = served.wallet(w.resident, "r")
    other = Identity.create().address
    pinned = runner.invoke(cli, ["wallet", "pin", "--admin", other, *wallet[:2]])
    assert pinned.exit_code == 0, pinned.output
    assert other in pinned.stdout

    refused = runner.invoke(cli, [*GRANT, *wallet])
    assert refused.exit_code == 1
    assert f"signed by {w.admin.address}, not by the admin pinned in this wallet" in (
        refused.stderr.replace("\n", " ")
    )
    assert consents_of(served) == []

    silent = runner.invoke(cli, ["wallet", "pin", "--admin", w.admin.address, *wallet[:2]])
    assert silent.exit_code == 1 and "pass --replace" in silent.stderr
    replaced = runner.invoke(
        cli, ["wallet", "pin", "--admin", w.admin.address, "--replace", *wallet[:2]]
    )
    assert replaced.exit_code == 0, replaced.output
    granted = runner.invoke(cli, [*GRANT, *wallet])
    assert granted.exit_code == 0, granted.output
    assert opens_for(served, w.dept)


def test_a_rewritten_database_row_of_a_departments_key_is_not_what_is_served(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    assert w.node is not None
    attacker = Identity.create()
    with w.node.store.begin() as c:
        row = c.execute(
            select(events.c.block_number, events.c.log_index, events.c.args).where(
                (events.c.name == "DepartmentRegistered") & (events.c.department == w.dept.address)
            )
        ).one()
        args = {
            **json.loads(row.args),
            "encryptionKey": "0x" + attacker.encryption_public_key.hex(),
        }
        c.execute(
            update(events)
            .where(
                (events.c.block_number == row.block_number) & (events.c.log_index == row.log_index)
            )
            .values(args=json.dumps(args))
        )
    # the directory's key is the chain's: the rewritten row changes nothing a wallet uses
    granted = runner.invoke(cli, [*GRANT, *served.wallet(w.resident, "r")])
    assert granted.exit_code == 0, granted.output
    assert opens_for(served, w.dept)


def test_with_a_chain_url_the_key_is_compared_with_the_directory_contract(
    served_anvil: Served, cli: typer.Typer, runner: CliRunner, anvil_node_url: str
) -> None:
    w = served_anvil.world
    assert w.node is not None
    wallet = [*served_anvil.wallet(w.resident, "r"), "--chain-url", anvil_node_url]
    attacker = Identity.create()
    with serving_attackers_key(w.node, w.dept.address, attacker.encryption_public_key):
        refused = runner.invoke(cli, [*GRANT, *wallet])
    assert refused.exit_code == 1
    assert "the chain's directory holds" in refused.stderr.replace("\n", " ")
    assert consents_of(served_anvil) == []
    granted = runner.invoke(cli, [*GRANT, *wallet])
    assert granted.exit_code == 0, granted.output
    assert opens_for(served_anvil, w.dept)


# ---------------------------------------------------------------------------- records


def swap_record(s: Served, values: dict[str, str]) -> RecordVersion:
    """The server replaces the resident's version 1 by envelopes of its own, consistently:
    envelopes and the roots it reports all match each other."""
    w = s.world
    assert w.node is not None
    forged = RecordVersion.build(
        values,
        resident=w.resident.address,
        version=1,
        owner_public_key=w.resident.encryption_public_key,
    )
    resident = w.resident.address
    with w.node.store.begin() as c:
        c.execute(envelopes.delete().where(envelopes.c.resident == resident))
        for name, envelope in forged.envelopes().items():
            c.execute(
                envelopes.insert().values(
                    resident=resident,
                    version=1,
                    field=name,
                    ciphertext=bytes.fromhex(envelope["ciphertext"][2:]),
                    nonce=bytes.fromhex(envelope["nonce"][2:]),
                    owner_wrapped_key=bytes.fromhex(envelope["owner_wrapped_key"][2:]),
                )
            )
        root = "0x" + forged.root.hex()
        c.execute(
            update(record_versions).where(record_versions.c.resident == resident).values(root=root)
        )
        c.execute(update(residents).where(residents.c.address == resident).values(root=root))
    return forged


def test_a_record_the_server_swapped_is_not_restored(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    wallet = served.wallet(served.world.resident, "r")
    genuine = runner.invoke(cli, ["record", "restore", "--json", *wallet])
    assert genuine.exit_code == 0, genuine.output
    assert json.loads(genuine.stdout)["income"] == "52000"

    swap_record(served, {"name": "Li Wei", "income": "1"})
    refused = runner.invoke(cli, ["record", "restore", "--json", *wallet])
    assert refused.exit_code == 1
    assert "is not the one you committed" in refused.stderr.replace("\n", " ")
    assert refused.stdout == ""


def test_an_envelope_altered_in_the_database_is_named_as_altered(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    assert w.node is not None
    with w.node.store.begin() as c:
        (ciphertext,) = c.execute(
            select(envelopes.c.ciphertext).where(
                (envelopes.c.resident == w.resident.address) & (envelopes.c.field == "income")
            )
        ).one()
        flipped = bytes(ciphertext)[:-1] + bytes([bytes(ciphertext)[-1] ^ 1])
        c.execute(
            update(envelopes)
            .where((envelopes.c.resident == w.resident.address) & (envelopes.c.field == "income"))
            .values(ciphertext=flipped)
        )
    refused = runner.invoke(cli, ["record", "restore", *served.wallet(w.resident, "r")])
    assert refused.exit_code == 1
    assert "the record was altered" in refused.stderr.replace("\n", " ")
    # and nothing is granted from it either
    granted = runner.invoke(cli, [*GRANT, *served.wallet(w.resident, "r")])
    assert granted.exit_code == 1 and consents_of(served) == []


def test_with_a_chain_url_a_swapped_record_is_compared_with_the_chains_root(
    served_anvil: Served, cli: typer.Typer, runner: CliRunner, anvil_node_url: str
) -> None:
    wallet = [*served_anvil.wallet(served_anvil.world.resident, "r"), "--chain-url", anvil_node_url]
    assert runner.invoke(cli, ["record", "restore", *wallet]).exit_code == 0
    swap_record(served_anvil, {"name": "Li Wei", "income": "1"})
    refused = runner.invoke(cli, ["record", "restore", *wallet])
    assert refused.exit_code == 1
    assert "but the chain holds root" in refused.stderr.replace("\n", " ")


# ---------------------------------------------------------------------------- consents


def test_consent_terms_altered_in_the_database_are_named(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    assert w.node is not None
    wallet = served.wallet(w.resident, "r")
    consent_id = w.grant(w.resident, w.dept, ["income"], days=7)
    shown = runner.invoke(cli, ["consents", *wallet])
    assert shown.exit_code == 0, shown.output

    with w.node.store.begin() as c:
        (valid_until,) = c.execute(
            select(consents.c.valid_until).where(consents.c.consent_id == consent_id)
        ).one()
        c.execute(
            update(consents)
            .where(consents.c.consent_id == consent_id)
            .values(valid_until=valid_until + 365 * 86_400, fields=json.dumps(["income", "phone"]))
        )
    altered = runner.invoke(cli, ["consents", *wallet])
    assert altered.exit_code == 1
    said = altered.stderr.replace("\n", " ")
    assert f"consent {consent_id}: the API says fields is [income, phone]" in said
    assert "but the Grant its resident signed says [income]" in said
    assert "(also valid_until differ)" in said


def test_a_server_serving_an_older_record_as_the_latest_is_caught_rolling_back(
    served: Served, cli: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    w = served.world
    assert w.node is not None
    wallet = served.wallet(w.resident, "r")
    values = tmp_path / "v2.json"
    values.write_text(json.dumps({"name": "Li Wei", "income": "61000"}))
    put = runner.invoke(cli, ["record", "put", str(values), *wallet])
    assert put.exit_code == 0, put.output
    assert runner.invoke(cli, ["record", "restore", *wallet]).exit_code == 0

    # the server forgets version 2: version 1, genuinely signed, is now its "latest"
    resident = w.resident.address
    with w.node.store.begin() as c:
        c.execute(
            envelopes.delete().where(
                (envelopes.c.resident == resident) & (envelopes.c.version == 2)
            )
        )
        c.execute(
            record_versions.delete().where(
                (record_versions.c.resident == resident) & (record_versions.c.version == 2)
            )
        )
    refused = runner.invoke(cli, ["record", "restore", *wallet])
    assert refused.exit_code == 1
    said = refused.stderr.replace("\n", " ")
    assert "serves version 1 as your latest record, but this wallet committed version 2" in said

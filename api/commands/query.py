"""``consent query``: a department reads fields under a consent, decrypts and verifies them.

The access is recorded on chain before the API releases anything; the values are
decrypted here. Each field is checked against the record root, and attestations against
the issuer trust list: on chain when ``--chain-url`` names a node (trust the chain, not
the API), else against what the API reports, and the output says which and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer
from rich.table import Table

from api.chain_view import ChainView
from api.client_emergency import EmergencyResult
from api.client_errors import ApiProblem
from api.client_queries import FieldAnswer, QueryResult
from api.commands.common import (
    DEFAULT_API_URL,
    DEFAULT_WALLET,
    ApiOption,
    JsonOption,
    PasswordFileOption,
    WalletOption,
    api_session,
    describe_receipt,
    err,
    escape,
    fail_problem,
    handled,
    out,
    print_json,
    short,
    split_names,
)
from api.commands.sharing import FieldsOption

#: What to do when the chain could not be asked: said once under the table.
CHAIN_HINT = (
    "to check against the chain itself, pass --chain-url URL (or set CONSENT_CHAIN_URL) with"
    " the JSON-RPC address of a node of this ledger's chain (the operator's, or your own)"
)


@handled
def query(
    resident: Annotated[str, typer.Argument(help="The resident's address.")],
    consent_id: Annotated[int, typer.Argument(min=1, help="As `consent consents` lists it.")],
    fields: FieldsOption = None,
    chain_url: Annotated[
        str | None,
        typer.Option(
            envvar="CONSENT_CHAIN_URL",
            help="JSON-RPC URL to check attestations and the root on chain.",
        ),
    ] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """(department) Read fields under a consent: recorded on chain, then decrypted here."""
    with api_session(api, wallet, password_file) as client:
        names = split_names(fields)
        if names:
            names = client.field_names(names)
        else:
            with err.status("reading the consent…"):
                names = list(client.checked_consent(consent_id)["fields"])
        chain: ChainView | None = None
        if chain_url:
            chain = client.connect_chain(chain_url)
        try:
            with err.status("recording the access on chain and decrypting…"):
                result = client.query(
                    consent_id,
                    resident,
                    names,
                    is_trusted=chain.is_trusted if chain else None,
                    recorded_at=chain.attestation_recorded_at if chain else None,
                    record_root=chain.record if chain else None,
                )
        except ApiProblem as problem:
            if problem.reason:
                context = {"consent_id": consent_id, "department": client.address}
                fail_problem(problem, context)
            raise
    if as_json:
        print_json(query_json(result))
        return
    print_query(result, chain_checked=chain is not None)


def query_json(result: QueryResult) -> dict[str, Any]:
    return {
        "consent_id": result.consent_id,
        "receipt": result.receipt,
        "version": result.version,
        "root": result.root,
        "root_on_chain": result.root_on_chain,
        "fields": {
            name: {
                "value": a.value.value,
                "version": a.version,
                "attestation": a.attestation,
                "issuer": a.issuer,
                "problem": a.problem,
            }
            for name, a in result.fields.items()
        },
    }


def print_query(result: QueryResult, *, chain_checked: bool) -> None:
    out.print(
        f"access under consent {result.consent_id} recorded: {describe_receipt(result.receipt)}"
    )
    out.print(fields_table(result.fields, chain_checked=chain_checked))
    for line in root_notes(result, chain_checked=chain_checked):
        out.print(f"[yellow]{escape(line)}[/yellow]")


def fields_table(fields: Mapping[str, FieldAnswer], *, chain_checked: bool) -> Table:
    """What a department read (a query's, an emergency access's): value, version and
    how far its attestation was checked."""
    table = Table("field", "value", "version", "attestation")
    for name, a in sorted(fields.items()):
        status = {
            "verified": f"[green]verified[/green] ({short(a.issuer)})",
            "invalid": f"[red]invalid[/red]: {escape(a.problem or '')}",
            "absent": "-",
        }.get(a.attestation, "[yellow]unverified against chain[/yellow]")
        if a.attestation == "unverified" and chain_checked and a.problem:
            status = f"[yellow]unverified[/yellow]: {escape(a.problem)}"
        table.add_row(name, escape(a.value.value), str(a.version), status)
    return table


def root_notes(
    result: QueryResult | EmergencyResult, *, chain_checked: bool, shared: str = "this consent"
) -> list[str]:
    """What the root check could not establish, and what to do about it (``shared``:
    what the fields were read under)."""
    if result.root_on_chain:
        return []
    if not chain_checked:
        return [
            "the values match the record root the API reported, not one read from the chain;",
            CHAIN_HINT,
        ]
    versions = sorted({a.version for a in result.fields.values()})
    return [
        f"the fields come from record version {', '.join(map(str, versions))}, not the"
        " latest one committed on chain, so they were checked against the API's root;",
        f"the resident's newer version is not shared under {shared} yet: ask them to"
        " re-wrap it (`consent record rotate` re-wraps for every live consent and the"
        " emergency directive), then read again",
    ]

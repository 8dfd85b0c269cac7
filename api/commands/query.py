"""``consent query``: a department reads fields under a consent, decrypts and verifies them.

The access is recorded on chain before the API releases anything; the values are
decrypted here. Each field is checked against the record root, and attestations against
the issuer trust list: on chain when ``--chain-url`` names a node (trust the chain, not
the API), else against what the API reports, and the output says which and what to do.

``consent query --batch FILE`` reads under many consents through ``POST /queries/batch``
(FILE: a JSON list or JSON Lines of ``{"resident", "consent_id", "fields"}``), decrypts
and checks each served answer as a single query's, prints one answer a line in order
(``--json``: one JSON object a line) and a summary, and exits 1 if any was refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.chain_view import ChainView
from api.client_emergency import EmergencyResult
from api.client_errors import ApiProblem
from api.client_queries import AccessQuery, FieldAnswer, QueryResult
from api.commands.common import (
    ACCEPTANCES_FILE,
    DEFAULT_API_URL,
    DEFAULT_WALLET,
    ApiOption,
    CommandFailed,
    JsonOption,
    PasswordFileOption,
    WalletOption,
    api_session,
    describe_receipt,
    err,
    escape,
    fail_problem,
    handled,
    keep_acceptance,
    out,
    print_json,
    short,
    split_names,
)
from api.commands.sharing import FieldsOption
from api.messages import Names, explain
from ledger.acceptance import Acceptance
from wallets.errors import InvalidRecord

#: What to do when the chain could not be asked: said once under the table.
CHAIN_HINT = (
    "to check against the chain itself, pass --chain-url URL (or set CONSENT_CHAIN_URL) with"
    " the JSON-RPC address of a node of this ledger's chain (the operator's, or your own)"
)


BatchOption = Annotated[
    Path | None,
    typer.Option(
        "--batch",
        help="Read many at once. FILE holds a JSON list of queries, or one a line (JSON"
        ' Lines), each {"resident": "0x…", "consent_id": 7, "fields": ["income", "name"]}'
        ' ("fields" may be "income,name", or left out for --field\'s, else the consent\'s).'
        " Up to 500 go in one request (more in several), each recorded on chain as if"
        " alone; prints one answer a line, in order, then a summary; exits 1 if any was"
        " refused.",
        dir_okay=False,
        exists=True,
        show_default=False,
    ),
]


@handled
def query(
    resident: Annotated[
        str | None, typer.Argument(help="The resident's address (not with --batch).")
    ] = None,
    consent_id: Annotated[
        int | None,
        typer.Argument(min=1, help="As `consent consents` lists it (not with --batch)."),
    ] = None,
    fields: FieldsOption = None,
    batch: BatchOption = None,
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
    """(department) Read fields under a consent: recorded on chain, then decrypted here.

    With --batch FILE, read under many consents in one request (`POST /queries/batch`)."""
    if batch is not None:
        if resident is not None or consent_id is not None:
            raise CommandFailed("--batch reads its queries from FILE: name no resident or consent")
        queries = read_batch(batch)
        query_batch(queries, fields, chain_url, api, wallet, password_file, as_json=as_json)
        return
    if resident is None or consent_id is None:
        raise CommandFailed("name the resident and the consent id (or --batch FILE)")
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


@dataclass(frozen=True)
class BatchLine:
    """A query of a batch file as written: ``fields`` empty for "the consent's"."""

    resident: str
    consent_id: int
    fields: tuple[str, ...]


def read_batch(path: Path) -> list[BatchLine]:
    """The queries of a ``--batch`` file: a JSON list of objects, or JSON Lines (blank
    lines skipped); each wrong entry is refused naming its place."""
    text = path.read_text(encoding="utf-8")
    entries: list[tuple[str, Any]]
    if text.lstrip().startswith("["):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandFailed(f"{path} is not JSON: {exc}") from None
        if not isinstance(document, list):
            raise CommandFailed(f"{path} must hold a list of queries")
        entries = [(f"entry {i + 1}", entry) for i, entry in enumerate(document)]
    else:
        entries = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entries.append((f"line {number}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise CommandFailed(f"{path}, line {number}: not JSON: {exc}") from None
    if not entries:
        raise CommandFailed(f"{path} holds no queries")
    return [_batch_line(path, where, entry) for where, entry in entries]


def _batch_line(path: Path, where: str, entry: Any) -> BatchLine:
    def refuse(why: str) -> CommandFailed:
        return CommandFailed(f"{path}, {where}: {why}")

    if not isinstance(entry, dict):
        raise refuse('a query is an object {"resident", "consent_id", "fields"}')
    unknown = sorted(set(entry) - {"resident", "consent_id", "fields"})
    if unknown:
        raise refuse(f"unknown member {', '.join(map(repr, unknown))}")
    resident, consent_id, names = (
        entry.get("resident"),
        entry.get("consent_id"),
        entry.get("fields"),
    )
    if not isinstance(resident, str) or not resident:
        raise refuse("needs the resident's address as a string")
    if isinstance(consent_id, bool) or not isinstance(consent_id, int) or consent_id < 1:
        raise refuse("needs consent_id, a whole number from 1")
    if names is None:
        names = []
    elif isinstance(names, str):
        names = split_names([names])
    elif not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise refuse('fields is a list of names or "a,b"')
    return BatchLine(resident, consent_id, tuple(split_names(names)))


def query_batch(
    lines: list[BatchLine],
    fields: list[str] | None,
    chain_url: str | None,
    api: str,
    wallet: Path,
    password_file: Path | None,
    *,
    as_json: bool,
) -> None:
    """Sign and send the batch, print one answer a line in order, then a summary; exit 1
    if any query was refused or did not open."""
    kept: list[Acceptance] = []

    def keep(name: str, acceptance: Acceptance) -> None:  # said once for all, below
        keep_acceptance(wallet, name, acceptance, say=False)
        kept.append(acceptance)

    with api_session(api, wallet, password_file) as client:
        client.keep_acceptance = keep
        default = client.field_names(split_names(fields)) if fields else None
        queries: list[AccessQuery] = []
        consents: dict[int, list[str]] = {}
        with err.status(f"reading the {len(lines)} queries…"):
            for line in lines:
                names = client.field_names(line.fields) if line.fields else default
                if names is None:  # the consent's fields, as a single query reads them
                    if line.consent_id not in consents:
                        consent = client.checked_consent(line.consent_id)
                        consents[line.consent_id] = list(consent["fields"])
                    names = consents[line.consent_id]
                queries.append(AccessQuery(line.resident, line.consent_id, tuple(names)))
        chain: ChainView | None = None
        if chain_url:
            chain = client.connect_chain(chain_url)
        with err.status(f"recording {len(queries)} accesses on chain and decrypting…"):
            results = client.query_many(
                queries,
                is_trusted=chain.is_trusted if chain else None,
                recorded_at=chain.attestation_recorded_at if chain else None,
                record_root=chain.record if chain else None,
            )
        names_of = Names(departments={d["address"]: d["name"] for d in client.departments()})
        department = client.address
    failed: dict[str, int] = {}
    unchecked = False
    for number, (query, result) in enumerate(zip(queries, results, strict=True), start=1):
        if isinstance(result, QueryResult):
            unchecked = unchecked or not result.root_on_chain
            text = (
                json.dumps({"query": number, "status": 200, **query_json(result)})
                if as_json
                else served_line(number, query, result, chain_checked=chain is not None)
            )
            out.print(text, markup=not as_json)
            continue
        why = refusal(result)
        failed[why] = failed.get(why, 0) + 1
        if isinstance(result, ApiProblem):
            context = {"consent_id": query.consent_id, "department": department}
            sentence = explain(
                result.document, status=result.status, names=names_of, context=context
            )
            document: dict[str, Any] = {"problem": result.document, "sentence": sentence}
            what, status = f"[red]refused[/red]: {escape(sentence)}", result.status
        else:
            document = {"invalid": str(result)}
            what, status = f"[red]served but does not open[/red]: {escape(str(result))}", 200
        if as_json:
            text = json.dumps({"query": number, "status": status, **document}, default=str)
            out.print(text, markup=False)
        else:
            out.print(f"{number}. consent {query.consent_id} of {short(query.resident)}: {what}")
    if kept:
        err.print(
            f"[dim]the relayer's signed acceptances of {len(kept)} queries are kept in"
            f" {wallet / ACCEPTANCES_FILE}[/dim]"
        )
    if unchecked and not as_json:
        err.print(f"[yellow]{escape(batch_root_note(chain_checked=chain is not None))}[/yellow]")
    refused = sum(failed.values())
    summary = f"{len(queries)} queries: {len(queries) - refused} served, {refused} refused"
    if failed:
        detail = ", ".join(f"{why} {n}" for why, n in sorted(failed.items()))
        err.print(f"[red]{escape(summary)}[/red] ({escape(detail)})")
        raise typer.Exit(1)
    err.print(escape(summary))


def refusal(result: ApiProblem | InvalidRecord) -> str:
    """What a summary counts a failed query as: its denial reason, contract error or
    status; ``does_not_open`` for a served answer that did not verify."""
    if isinstance(result, InvalidRecord):
        return "does_not_open"
    return result.reason or result.error or str(result.status)


def served_line(
    number: int, query: AccessQuery, result: QueryResult, *, chain_checked: bool
) -> str:
    """One served query on one line: its consent and resident, each value with how far its
    attestation was checked, and the block that recorded it."""
    values = []
    for name, a in sorted(result.fields.items()):
        mark = {
            "verified": "verified",
            "invalid": "[red]attestation invalid[/red]",
            "absent": "",
        }.get(a.attestation, "unverified" if chain_checked else "unverified against chain")
        values.append(f"{name}={escape(a.value.value)}" + (f" ({mark})" if mark else ""))
    return (
        f"{number}. consent {result.consent_id} of {short(query.resident)}:"
        f" {'; '.join(values)}  [dim]block {result.receipt.get('block_number')}[/dim]"
    )


def batch_root_note(*, chain_checked: bool) -> str:
    """Said once under a batch whose fields were not all checked against the chain's root."""
    if not chain_checked:
        return (
            "the values match the record roots the API reported, not ones read from the chain; "
            + CHAIN_HINT
        )
    return (
        "some fields come from a record version older than the latest on chain, so they were"
        " checked against the API's root: ask the resident to re-wrap (`consent record rotate`)"
    )


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

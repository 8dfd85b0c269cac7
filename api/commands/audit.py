"""``consent audit events|export|verify`` (auditor wallet)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer
from rich.table import Table

from api.client_errors import ClientError
from api.commands.audit_view import Namer, named_lines
from api.commands.common import (
    DEFAULT_API_URL,
    DEFAULT_WALLET,
    ApiOption,
    CommandFailed,
    JsonOption,
    PasswordFileOption,
    WalletOption,
    api_session,
    err,
    handled,
    out,
    parse_time,
    print_json,
    short,
    time_column,
    when,
)
from api.export_marker import ExportChecker, ExportIncomplete

app = typer.Typer(help="Read, export and verify the consent and access log (auditors).")

ResidentFilter = Annotated[str | None, typer.Option(help="Only events of this resident.")]
DepartmentFilter = Annotated[str | None, typer.Option(help="Only events of this department.")]
TypeFilter = Annotated[str | None, typer.Option("--type", help="Event name, e.g. AccessDenied.")]
SinceFilter = Annotated[
    str | None,
    typer.Option(help="From this time on: an ISO 8601 date or time (UTC), or Unix seconds."),
]
UntilFilter = Annotated[
    str | None,
    typer.Option(help="Before this time: an ISO 8601 date or time (UTC), or Unix seconds."),
]


@app.command()
@handled
def events(
    resident: ResidentFilter = None,
    department: DepartmentFilter = None,
    type_: TypeFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Events per page.")] = 100,
    cursor: Annotated[str | None, typer.Option(help="Continue from this cursor.")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow every page.")] = False,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """List events, filtered, with names beside addresses and ids; one page unless --all."""
    rows: list[dict[str, Any]] = []
    next_cursor = cursor
    start, end = parse_time(since, "--since"), parse_time(until, "--until")
    with api_session(api, wallet, password_file) as client, err.status("fetching events…"):
        while True:
            page = client.audit_events(
                resident=resident,
                department=department,
                type=type_,
                since=start,
                until=end,
                cursor=next_cursor,
                limit=limit,
            )
            rows.extend(page["data"])
            next_cursor = page.get("next_cursor")
            if not all_pages or not next_cursor:
                break
        namer = Namer.for_client(client)
        for e in rows:
            e["names"] = namer.names(e)
    if as_json:
        print_json({"data": rows, "next_cursor": next_cursor})
        return
    table = Table(
        "block",
        time_column(),
        "event",
        "resident",
        "department",
        "consent",
        "fields",
        "purpose",
        "reason",
        "tx",
    )
    for e in rows:
        names = e["names"]
        department_name = names["department"]
        table.add_row(
            f"{e['block_number']}:{e['log_index']}",
            when(e.get("block_timestamp"), zone=False),
            e["type"],
            short(e.get("resident")),
            f"{department_name} ({short(e.get('department'), 6)})"
            if department_name
            else short(e.get("department")),
            str(e.get("consent_id") or "-"),
            ", ".join(names["fields"] or []) or "-",
            names["purpose"] or "-",
            names["reason"] or "-",
            short(e.get("tx_hash")),
        )
    out.print(table if rows else "no events")
    if next_cursor:
        err.print(f"more: --cursor {next_cursor}")


@app.command()
@handled
def export(
    format_: Annotated[
        str, typer.Option("--format", help="csv or jsonl.", case_sensitive=False)
    ] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    resident: ResidentFilter = None,
    department: DepartmentFilter = None,
    type_: TypeFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    raw: Annotated[
        bool, typer.Option("--raw", help="Exactly as the API sends it, without names.")
    ] = False,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """Stream the whole log as CSV or JSON lines, with names beside addresses and ids.

    Each JSON line gains "names" (department, fields, purpose, reason); each CSV row the
    columns department_name, field_names, purpose_name, reason_name. --raw writes the
    API's bytes as they are.

    The export ends with the API's end marker (JSON lines: {"end":true,"events":N}; CSV:
    a last row "end,N,…"), kept in what is written so the file shows it is whole. A
    stream without it, or with another count, fails (exit 1); with --output, what did
    arrive stays in OUTPUT.partial and OUTPUT is not written."""
    fmt = format_.lower()
    if fmt not in ("csv", "jsonl"):
        raise CommandFailed(f"--format must be csv or jsonl, not {format_!r}")
    filters = {
        "resident": resident,
        "department": department,
        "type": type_,
        "since": parse_time(since, "--since"),
        "until": parse_time(until, "--until"),
    }
    checker = ExportChecker(fmt)
    with api_session(api, wallet, password_file) as client:
        chunks = _checked(client.audit_export(fmt, **filters), checker)
        if not raw:
            chunks = named_lines(fmt, chunks, Namer.for_client(client))
        if output is None:
            written = _copy(chunks, sys.stdout.buffer, "stdout")
            sys.stdout.flush()
            count = _whole(checker, written, "stdout")
        else:
            partial = output.with_name(output.name + ".partial")
            with err.status(f"exporting to {output}…"), partial.open("wb") as handle:
                written = _copy(chunks, handle, str(partial))
            count = _whole(checker, written, str(partial))
            partial.replace(output)
            err.print(f"[green]exported[/green] {count} events ({written} bytes) to {output}")


def _copy(chunks: Iterator[bytes], sink: BinaryIO, where: str) -> int:
    written = 0
    try:
        for chunk in chunks:
            sink.write(chunk)
            written += len(chunk)
    except ClientError as exc:
        if not written:
            raise
        raise CommandFailed(
            f"the export broke off after {written} bytes ({exc}); {where} holds what arrived"
        ) from exc
    return written


def _checked(chunks: Iterator[bytes], checker: ExportChecker) -> Iterator[bytes]:
    """The API's bytes, each fed to the end-marker check before anything rewrites them."""
    for chunk in chunks:
        checker.feed(chunk)
        yield chunk


def _whole(checker: ExportChecker, written: int, where: str) -> int:
    try:
        return checker.events()
    except ExportIncomplete as exc:
        raise CommandFailed(f"{exc}; {where} holds the {written} bytes that arrived") from exc


@app.command()
@handled
def verify(
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-derive every event from the chain and check every signature (exit 1 if not ok)."""
    with (
        api_session(api, wallet, password_file) as client,
        err.status("re-deriving the log from the chain and checking signatures…"),
    ):
        report = client.audit_verify()
    if as_json:
        print_json(report)
    else:
        verdict = "[green]ok[/green]" if report.get("ok") else "[red]NOT ok[/red]"
        out.print(
            f"audit {verdict}: {report.get('events')} events,"
            f" {report.get('signatures_verified')} signatures verified"
        )
        for problem in report.get("problems") or []:
            out.print(f"  [red]•[/red] {problem}")
            accepted = problem.get("acceptance") if isinstance(problem, dict) else None
            if accepted:
                out.print(f"    {_acceptance_line(accepted)}")
        unacknowledged = report.get("unacknowledged") or []
        if unacknowledged:
            out.print(
                f"{len(unacknowledged)} intents the relayer took on never reached the chain"
                " and were never acknowledged (a crash cut them off, or they were refused"
                " with a 503 before being sent):"
            )
            for entry in unacknowledged:
                out.print(f"  • {_acceptance_line(entry)}")
    if not report.get("ok"):
        raise typer.Exit(1)


def _acceptance_line(entry: dict[str, Any]) -> str:
    """A journal entry as an acceptance names it, for matching a kept receipt."""
    return (
        f"{entry.get('type')} journal {entry.get('journal_id')}, intent {entry.get('intent')},"
        f" accepted {when(entry.get('accepted_at'))} by {entry.get('relayer')}:"
        f" {entry.get('state')}" + (f" in {entry['tx_hash']}" if entry.get("tx_hash") else "")
    )

"""``consent consents`` and ``consent access-log``: what was granted, and who read what.

A resident sees its own consents; a department the consents given to it, with the
resident, the fields and the time left: that is how a clerk learns the consent id it
queries under. Time left is measured from the chain's time now (the next block's).
``--fhir ID`` prints one consent as the FHIR R5 ``Consent`` the API answers.
A resident's consents are shown as its own signed ``Grant`` states them: a term the
server altered is named, and the command fails.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from api.commands.common import (
    DEFAULT_API_URL,
    DEFAULT_WALLET,
    ApiOption,
    JsonOption,
    PasswordFileOption,
    WalletOption,
    api_session,
    err,
    escape,
    handled,
    out,
    print_json,
    short,
    time_column,
    when,
)
from api.commands.sharing import duration_words
from wallets.trust import Untrusted, check_consent


def time_left(consent: dict[str, Any], now: int) -> str:
    """``29 days 23 hours``, ``starts in 2 hours``, ``over`` (from ``now``)."""
    if consent["status"] == "revoked":
        return "-"
    if now >= consent["valid_until"]:
        return "over"
    if now < consent["valid_from"]:
        return f"starts in {duration_words(consent['valid_from'] - now)}"
    return duration_words(consent["valid_until"] - now)


@handled
def consents(
    resident: Annotated[
        str | None, typer.Option(help="A resident's consents (yours, or any for an auditor).")
    ] = None,
    fhir: Annotated[
        int | None,
        typer.Option(
            "--fhir",
            metavar="ID",
            help="Print consent ID as an HL7 FHIR R5 Consent resource (JSON).",
        ),
    ] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Consents with their status: a resident's own, or those given to a department."""
    if fhir is not None:
        with api_session(api, wallet, password_file) as client, err.status("fetching…"):
            resource = client.consent_fhir(fhir)
        print_json(resource)
        return
    with api_session(api, wallet, password_file) as client, err.status("fetching…"):
        as_department = resident is None and client.is_department
        rows = client.department_consents() if as_department else client.consents(resident)
        now = client.now()
        if not as_department:
            client.check_domain()
        signers = set() if as_department else client.consent_signers(resident or client.principal)
        altered = {} if as_department else _altered(rows, client.pins, signers)
    if as_json:
        print_json([{**r, "altered": altered.get(r["consent_id"])} for r in rows])
        if altered:
            raise typer.Exit(1)
        return
    who = "resident" if as_department else "department"
    table = Table(
        "id", who, "fields", "purpose", "status", "time left", time_column("until (UTC)"), "uses"
    )
    for c in rows:
        if as_department:
            party = short(c["resident"], 12)
        else:
            party = c.get("department_name") or c["department"]
        table.add_row(
            str(c["consent_id"]),
            party,
            ", ".join(c["fields"]),
            c["purpose"],
            c["status"],
            time_left(c, now),
            when(c["valid_until"], zone=False),
            f"{c['uses']}/{c['max_uses'] or '∞'}",
            style="red" if c["consent_id"] in altered else None,
        )
    if rows:
        out.print(table)
        if as_department:
            err.print("read under one: `consent query RESIDENT CONSENT_ID`")
    else:
        out.print("no consents given to you yet" if as_department else "no consents")
    for problem in altered.values():
        err.print(f"[red]not as you signed it:[/red] {escape(problem)}")
    if altered:
        raise typer.Exit(1)


def _altered(rows: list[dict[str, Any]], pins: Any, signers: set[str]) -> dict[int, str]:
    """Per consent whose shown terms are not what its ``Grant`` signs (by its resident or
    a delegate of it in ``signers``), why."""
    found = {}
    for row in rows:
        try:
            check_consent(row, pins=pins, signers=signers)
        except Untrusted as exc:
            found[row["consent_id"]] = str(exc)
    return found


def access_log_table(rows: list[dict[str, Any]], title: str | None = None) -> Table:
    table = Table(
        time_column(), "event", "department", "fields", "purpose", "consent", "block", title=title
    )
    for e in rows:
        refused = e["type"] == "AccessDenied"
        event = f"[red]✗ {e.get('reason')}[/red]" if refused else "[green]✓ read[/green]"
        table.add_row(
            when(e["block_timestamp"], zone=False),
            event,
            e.get("department_name") or short(e.get("department")),
            ", ".join(e.get("fields") or []),
            e.get("purpose") or "-",
            str(e.get("consent_id") or "-"),
            str(e["receipt"]["block_number"]),
        )
    return table


@handled
def access_log(
    resident: Annotated[str | None, typer.Option(help="Default: yours.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many entries.")] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """(resident) Every access and refusal touching your data, newest first."""
    with api_session(api, wallet, password_file) as client, err.status("fetching…"):
        rows = client.access_log(resident)
    rows = rows[:limit] if limit else rows
    if as_json:
        print_json(rows)
        return
    out.print(access_log_table(rows) if rows else "nobody has asked for your data")

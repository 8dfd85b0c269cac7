"""Requests, grants, revocations, queries and the access log.

``consent request create|list``, ``consent grant``, ``consent revoke``, ``consent
consents``, ``consent access-log`` (resident side) and ``consent query`` (department
side: decrypts and verifies what it receives, trusting the chain, not the API).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from api.client import ApiProblem, ChainView, ConsentApi, QueryResult
from api.commands.common import (
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
    fail,
    handled,
    out,
    print_json,
    short,
    split_names,
    time_column,
    when,
)

request_app = typer.Typer(help="Access requests: departments file them, residents answer them.")

FieldsOption = Annotated[
    list[str] | None,
    typer.Option("--field", "-f", help="A schema field (repeat, or comma-separate)."),
]
PurposeOption = Annotated[str | None, typer.Option("--purpose", "-p", help="A purpose code.")]
DAY = 86_400


@request_app.command("create")
@handled
def request_create(
    resident: Annotated[str, typer.Argument(help="The resident's address.")],
    fields: FieldsOption = None,
    purpose: PurposeOption = None,
    days: Annotated[float, typer.Option(min=0.001, help="Requested duration in days.")] = 30,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """(department) Ask RESIDENT for FIELDs for PURPOSE during DAYS."""
    names = split_names(fields)
    if not names or not purpose:
        raise CommandFailed("name at least one --field and a --purpose")
    with (
        api_session(api, wallet, password_file) as client,
        err.status("filing the request on chain…"),
    ):
        answer = client.request_access(resident, names, purpose, round(days * DAY))
    out.print(f"request [bold]{answer['request_id']}[/bold] filed")
    out.print(f"  {describe_receipt(answer['receipt'])}")


@request_app.command("list")
@handled
def request_list(
    show_all: Annotated[bool, typer.Option("--all", help="Include answered requests.")] = False,
    resident: Annotated[str | None, typer.Option(help="Default: yours.")] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """(resident) The requests filed for your data (pending unless --all)."""
    with api_session(api, wallet, password_file) as client, err.status("fetching…"):
        rows = client.access_requests(resident)
    rows = [r for r in rows if show_all or r["status"] == "pending"]
    if as_json:
        print_json(rows)
        return
    table = Table(
        "request", "department", "fields", "purpose", "days", time_column("asked (UTC)"), "status"
    )
    for r in rows:
        table.add_row(
            short(r["request_id"]),
            r.get("department_name") or r["department"],
            ", ".join(r["fields"]),
            r["purpose"],
            f"{r['duration'] / DAY:g}",
            when(r["requested_at"], zone=False),
            r["status"] + (f" → consent {r['consent_id']}" if r.get("consent_id") else ""),
        )
    out.print(table if rows else "no requests")


def _find_request(client: ConsentApi, request_id: str) -> dict[str, Any]:
    """A request of yours by its id or an unambiguous prefix of it."""
    wanted = request_id.lower().rstrip("…")
    found = [e for e in client.access_requests() if str(e["request_id"]).lower().startswith(wanted)]
    if len(found) != 1:
        problem = "no" if not found else "more than one"
        raise CommandFailed(f"{problem} request {request_id} for your data")
    return found[0]


@handled
def grant(
    department: Annotated[
        str | None, typer.Argument(help="Department address, code or name.")
    ] = None,
    fields: FieldsOption = None,
    purpose: PurposeOption = None,
    days: Annotated[
        float | None, typer.Option(min=0.001, help="Days from now (default: as requested, or 30).")
    ] = None,
    max_uses: Annotated[int, typer.Option(min=0, help="0 = unlimited.")] = 0,
    request: Annotated[
        str | None, typer.Option("--request", help="Answer this request (fills the rest).")
    ] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """(resident) Grant a department time-limited access to some of your fields."""
    names = split_names(fields)
    with api_session(api, wallet, password_file) as client:
        if request is not None:
            asked = _find_request(client, request)
            department = department or asked["department"]
            names = names or list(asked["fields"])
            purpose = purpose or asked["purpose"]
            days = days if days is not None else asked["duration"] / DAY
            request = asked["request_id"]
        if not department or not names or not purpose:
            raise CommandFailed("name a DEPARTMENT, at least one --field and a --purpose")
        with err.status("wrapping the field keys for the department and granting on chain…"):
            answer = client.grant(
                department,
                names,
                purpose,
                30 if days is None else days,
                max_uses=max_uses,
                request_id=request,
            )
    out.print(f"consent [bold]{answer['consent_id']}[/bold] granted")
    if answer.get("receipt"):
        out.print(f"  {describe_receipt(answer['receipt'])}")


@handled
def revoke(
    consent_id: Annotated[int, typer.Argument(min=1)],
    rotate: Annotated[
        bool,
        typer.Option(
            "--rotate/--no-rotate",
            help="Then re-encrypt the exposed fields under fresh keys (a new version).",
        ),
    ] = True,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """(resident) Revoke a consent; later accesses are refused on chain."""
    with (
        api_session(api, wallet, password_file) as client,
        err.status("revoking on chain" + (" and rotating keys…" if rotate else "…")),
    ):
        result = client.revoke(consent_id, rotate=rotate)
    out.print(f"consent [bold]{consent_id}[/bold] revoked")
    if result.revoked.get("receipt"):
        out.print(f"  {describe_receipt(result.revoked['receipt'])}")
    if result.rotated_version is not None:
        out.print(
            f"record version {result.rotated_version}: fresh keys for every field, fresh salts"
            f" for {', '.join(sorted(result.fresh_salt_fields)) or 'none'}"
        )
        for other in sorted(result.rewrapped):
            out.print(f"  re-wrapped the new keys for consent {other}")


@handled
def consents(
    resident: Annotated[str | None, typer.Option(help="Default: yours.")] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """(resident) Your consents with their current status."""
    with api_session(api, wallet, password_file) as client, err.status("fetching…"):
        rows = client.consents(resident)
        names = {d["address"]: d["name"] for d in client.departments()}
    if as_json:
        print_json(rows)
        return
    table = Table(
        "id", "department", "fields", "purpose", time_column("until (UTC)"), "uses", "status"
    )
    for c in rows:
        uses = f"{c['uses']}/{c['max_uses'] or '∞'}"
        table.add_row(
            str(c["consent_id"]),
            names.get(c["department"], c["department"]),
            ", ".join(c["fields"]),
            c["purpose"],
            when(c["valid_until"], zone=False),
            uses,
            c["status"],
        )
    out.print(table if rows else "no consents")


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


@handled
def query(
    resident: Annotated[str, typer.Argument(help="The resident's address.")],
    consent_id: Annotated[int, typer.Argument(min=1)],
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
        if not names:
            with err.status("reading the consent…"):
                names = list(client.consent(consent_id)["fields"])
        chain = None
        if chain_url:
            chain = ChainView.connect(chain_url, client.health()["contracts"])
        try:
            with err.status("recording the access on chain and decrypting…"):
                result = client.query(
                    consent_id,
                    resident,
                    names,
                    is_trusted=chain.is_trusted if chain else None,
                    record_root=chain.record if chain else None,
                )
        except ApiProblem as problem:
            if problem.reason:
                fail(f"access refused on chain: {problem.reason}", receipt=problem.receipt)
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
    if not result.root_on_chain:
        out.print("[yellow]root checked against the API's report, not the chain[/yellow]")
    table = Table("field", "value", "version", "attestation")
    for name, a in sorted(result.fields.items()):
        status = {
            "verified": f"[green]verified[/green] ({short(a.issuer)})",
            "invalid": f"[red]invalid[/red]: {escape(a.problem or '')}",
            "absent": "-",
        }.get(a.attestation, "[yellow]unverified against chain[/yellow]")
        if a.attestation == "unverified" and chain_checked and a.problem:
            status = f"[yellow]unverified[/yellow]: {escape(a.problem)}"
        table.add_row(name, escape(a.value.value), str(a.version), status)
    out.print(table)

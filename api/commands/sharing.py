"""Requests, grants and revocations.

``consent request create|list``, ``consent grant``, ``consent revoke``. The lists are
the caller's own: a resident sees the requests filed for its data, a department the
requests it filed (each with its status and, once answered, the consent id).

A grant restates its terms in words (department by name, fields, purpose, window, uses)
and asks before signing; ``--yes`` answers for scripts, and without a terminal and
without ``--yes`` it refuses rather than sign unseen terms.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from api.commands.common import (
    DEFAULT_API_URL,
    DEFAULT_WALLET,
    ApiOption,
    ChainUrlOption,
    CommandFailed,
    JsonOption,
    PasswordFileOption,
    RotateOption,
    WalletOption,
    api_session,
    describe_receipt,
    err,
    escape,
    handled,
    interactive,
    out,
    print_json,
    short,
    split_names,
    time_column,
    when,
)
from ledger.vocabulary import DECLINE_REASONS, describe, match

request_app = typer.Typer(help="Access requests: departments file them, residents answer them.")

FieldsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--field",
        "-f",
        help="A schema field, any case (repeat, or comma-separate).",
        show_default=False,
    ),
]
PurposeOption = Annotated[
    str | None, typer.Option("--purpose", "-p", help="A purpose code, any case (consent schema).")
]
YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask: the terms were checked already.")
]
DAY = 86_400
#: How much of a request id the tables show: a prefix that can be pasted back.
ID_SHOWN = 12


def request_label(request_id: str) -> str:
    """What a table shows of a request id: a prefix that ``--request`` takes back."""
    return str(request_id)[:ID_SHOWN]


def find_request(rows: list[dict[str, Any]], wanted: str) -> dict[str, Any]:
    """A request by its full id or a unique prefix (also an elided ``0x1234…abcd``)."""
    text = wanted.strip().lower()
    head, _, tail = text.partition("…")
    if not head.startswith("0x"):
        head = "0x" + head
    found = [
        r
        for r in rows
        if str(r["request_id"]).lower().startswith(head)
        and str(r["request_id"]).lower().endswith(tail)
    ]
    if not found:
        raise CommandFailed(
            f"no request {wanted} (`consent request list --all` shows the ids; give the whole"
            " id or its first characters)"
        )
    if len(found) > 1:
        raise CommandFailed(f"{wanted} starts {len(found)} request ids: give more characters")
    return found[0]


def duration_words(seconds: float) -> str:
    """``30 days``, ``2 days 4 hours``, ``86 seconds``."""
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    days, rest = divmod(seconds, DAY)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [(days, "day"), (hours, "hour"), (minutes if not days else 0, "minute")]
    words = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n]
    return " ".join(words[:2])


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
    with api_session(api, wallet, password_file) as client:
        names = client.field_names(names)
        purpose = client.schema_name("purposes", purpose)
        with err.status("filing the request on chain…"):
            answer = client.request_access(resident, names, purpose, round(days * DAY))
    out.print(
        f"request [bold]{request_label(answer['request_id'])}[/bold] filed: {', '.join(names)}"
        f" for {purpose}, {duration_words(days * DAY)}"
    )
    out.print(f"  full id {answer['request_id']}")
    out.print(f"  {describe_receipt(answer['receipt'])}")
    out.print("  the resident sees it with `consent request list` and answers with `consent grant`")


@request_app.command("list")
@handled
def request_list(
    show_all: Annotated[
        bool, typer.Option("--all", help="Residents: include answered requests.")
    ] = False,
    resident: Annotated[
        str | None, typer.Option(help="A resident's requests (yours, or any for an auditor).")
    ] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Requests: a resident's (pending unless --all), or a department's own with status.

    The request column is an id prefix that `consent grant --request` takes back."""
    with api_session(api, wallet, password_file) as client, err.status("fetching…"):
        as_department = resident is None and client.is_department
        rows = client.department_requests() if as_department else client.access_requests(resident)
    if not as_department:
        rows = [r for r in rows if show_all or r["status"] == "pending"]
    if as_json:
        print_json(rows)
        return
    who = "resident" if as_department else "department"
    table = Table("request", who, "fields", "purpose", "days", time_column("asked (UTC)"), "status")
    for r in rows:
        party = short(r["resident"], 12) if as_department else r.get("department_name")
        table.add_row(
            request_label(r["request_id"]),
            party or r["department"],
            ", ".join(r["fields"]),
            r["purpose"],
            f"{r['duration'] / DAY:g}",
            when(r["requested_at"], zone=False),
            r["status"]
            + (f" → consent {r['consent_id']}" if r.get("consent_id") else "")
            + (f" ({r['reason']})" if r.get("reason") else ""),
        )
    if rows:
        out.print(table)
    elif as_department:
        out.print("you have filed no requests (`consent request create` files one)")
    else:
        out.print("no pending requests" + ("" if show_all else " (--all shows answered ones)"))


ReasonOption = Annotated[
    str,
    typer.Option(
        "--reason",
        "-r",
        help="Why: " + ", ".join(f"{code} ({words})" for code, words in DECLINE_REASONS.items()),
    ),
]


@request_app.command("decline")
@handled
def request_decline(
    request: Annotated[str, typer.Argument(help="The request id, or its first characters.")],
    reason: ReasonOption = "NOT_NEEDED",
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """(resident) Decline REQUEST with a --reason code; no grant can name it afterwards."""
    code = match(reason, DECLINE_REASONS)
    if code is None:
        raise CommandFailed(
            f"{reason!r} is not a reason code: use one of {', '.join(DECLINE_REASONS)}"
        )
    with api_session(api, wallet, password_file) as client:
        with err.status("fetching…"):
            found = find_request(client.access_requests(), request)
        with err.status("declining on chain…"):
            answer = client.decline_request(found["request_id"], code)
    out.print(
        f"request [bold]{request_label(answer['request_id'])}[/bold] declined ({code}):"
        f" {found.get('department_name') or found['department']} is told"
    )
    out.print(f"  {describe_receipt(answer['receipt'])}")


@request_app.command("withdraw")
@handled
def request_withdraw(
    request: Annotated[str, typer.Argument(help="The request id, or its first characters.")],
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """(department) Withdraw a pending REQUEST you filed; no grant can name it afterwards."""
    with api_session(api, wallet, password_file) as client:
        with err.status("fetching…"):
            found = find_request(client.department_requests(), request)
        with err.status("withdrawing on chain…"):
            answer = client.withdraw_request(found["request_id"])
    out.print(f"request [bold]{request_label(answer['request_id'])}[/bold] withdrawn")
    out.print(f"  {describe_receipt(answer['receipt'])}")


def grant_terms(
    entry: dict[str, Any],
    names: list[str],
    purpose: str,
    days: float,
    max_uses: int,
    request_id: str | None,
    now: int,
) -> list[tuple[str, str]]:
    """The terms as a person checks them before signing."""
    meaning = describe("purpose", purpose)
    fields = [f"{n} ({describe('field', n)})" if describe("field", n) else n for n in names]
    seconds = round(days * DAY)
    rows = [
        ("department", f"{entry['name']} ({entry.get('code')}, {entry['address']})"),
        ("fields", ", ".join(fields)),
        ("purpose", f"{purpose}: {meaning}" if meaning else purpose),
        (
            "window",
            f"{duration_words(seconds)} from when it is recorded: about {when(now)}"
            f" until {when(now + seconds)}",
        ),
        ("uses", "unlimited" if not max_uses else f"at most {max_uses} reads"),
    ]
    if request_id:
        rows.append(("answers", f"request {request_label(request_id)}"))
    return rows


def confirm_or_refuse(terms: list[tuple[str, str]], yes: bool) -> None:
    err.print("[bold]You are about to sign this consent:[/bold]")
    for label, text in terms:
        err.print(f"  {label:<10} {escape(text)}")
    if yes:
        return
    if not interactive():
        raise CommandFailed(
            "not signed: a grant needs your confirmation and there is no terminal to ask in;"
            " check the terms above and run it again with --yes"
        )
    if not typer.confirm("Sign and grant?", default=False, err=True):
        raise CommandFailed("not signed: nothing was granted")


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
        str | None,
        typer.Option(
            "--request",
            help="Answer this request (fills the rest): its id as `consent request list`"
            " shows it, the full id or a unique prefix.",
        ),
    ] = None,
    yes: YesOption = False,
    chain_url: ChainUrlOption = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """(resident) Grant a department time-limited access to some of your fields.

    Shows the terms in words and asks before signing (--yes: do not ask). The
    department's key is wrapped for only once the admin pinned in your wallet signed it
    (or, with --chain-url, once the chain's directory holds it)."""
    names = split_names(fields)
    with api_session(api, wallet, password_file, chain_url=chain_url) as client:
        if request is not None:
            asked = find_request(client.access_requests(), request)
            department = department or asked["department"]
            names = names or list(asked["fields"])
            purpose = purpose or asked["purpose"]
            days = days if days is not None else asked["duration"] / DAY
            request = asked["request_id"]
        if not department or not names or not purpose:
            raise CommandFailed("name a DEPARTMENT, at least one --field and a --purpose")
        days = 30 if days is None else days
        entry = client.department(department)
        client.department_key(entry)  # refused before the question, not after it
        names = client.field_names(names)
        purpose = client.schema_name("purposes", purpose)
        terms = grant_terms(entry, names, purpose, days, max_uses, request, client.now())
        confirm_or_refuse(terms, yes)
        with err.status("wrapping the field keys for the department and granting on chain…"):
            answer = client.grant(
                entry["address"], names, purpose, days, max_uses=max_uses, request_id=request
            )
        consent = client.checked_consent(int(answer["consent_id"]))
    out.print(
        f"consent [bold]{answer['consent_id']}[/bold] granted: {entry['name']} may read"
        f" {', '.join(names)} for {purpose} from {when(consent['valid_from'])}"
        f" until {when(consent['valid_until'])}"
        + (f", at most {max_uses} times" if max_uses else "")
    )
    if answer.get("receipt"):
        out.print(f"  receipt: {describe_receipt(answer['receipt'])}")
    out.print(
        f"  revoke it any time with `consent revoke {answer['consent_id']}`;"
        " `consent access-log` shows every read"
    )


@handled
def revoke(
    consent_id: Annotated[int, typer.Argument(min=1)],
    rotate: RotateOption = True,
    chain_url: ChainUrlOption = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """(resident) Revoke a consent; later accesses are refused on chain."""
    with (
        api_session(api, wallet, password_file, chain_url=chain_url) as client,
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
        if result.rewrapped_directive is not None:
            out.print("  re-wrapped the new keys for your emergency directive")

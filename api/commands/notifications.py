"""``consent notifications [--follow]``: what concerns you, as the chain recorded it;
``consent webhook add|list|remove``: the same feed POSTed to a URL, signed.

Without ``--follow`` the whole feed so far (a resident: requests filed and every access
to its record, served or refused; a department: consents granted or revoked, requests
declined). With it, each new notification printed as the server indexes it (the SSE
stream), until Ctrl-C; a dropped connection is resumed where it stopped::

    consent notifications
    consent notifications --follow --json      one JSON object per line
"""

from __future__ import annotations

import json
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

#: How each kind reads in a sentence.
WORDS = {
    "access_requested": "asked for your data",
    "access_logged": "read your data",
    "access_denied": "was refused your data",
    "consent_granted": "consent granted",
    "consent_revoked": "consent revoked",
    "request_declined": "request declined",
    "consent_expiring": "consent expiring",
    "delegate_appointed": "appointed a delegate",
    "delegate_removed": "removed a delegate",
    "emergency_access": "read your data in an emergency",
    "emergency_reviewed": "emergency access reviewed",
    "anomaly": "anomaly",
}

#: Kinds whose actor is the department (the others name the resident).
_BY_DEPARTMENT = frozenset(
    {"access_requested", "access_logged", "access_denied", "emergency_access", "anomaly"}
)


def line(n: dict[str, Any]) -> str:
    """One notification as a line: time, who, what, which fields, the consent."""
    who = short(n.get("department") if n["kind"] in _BY_DEPARTMENT else n.get("resident"))
    what = WORDS.get(n["kind"], n["kind"])
    fields = ", ".join(n.get("fields") or [])
    reason = f" ({n['reason']})" if n.get("reason") else ""
    consent = f" · consent {n['consent_id']}" if n.get("consent_id") is not None else ""
    if n.get("delegate"):
        consent += f" · delegate {short(n['delegate'])}"
    if n.get("access_id") is not None:
        consent += f" · emergency access {n['access_id']}"
    if n.get("expires_in"):
        consent += f" · ends in {n['expires_in']}"
    return escape(f"{when(n['created_at'], zone=False)}  {who} {what}{reason}: {fields}{consent}")


def table(rows: list[dict[str, Any]]) -> Table:
    grid = Table(time_column(), "what", "resident", "department", "fields", "consent", "id")
    for n in rows:
        grid.add_row(
            when(n["created_at"], zone=False),
            WORDS.get(n["kind"], n["kind"]) + (f" ({n['reason']})" if n.get("reason") else ""),
            short(n.get("resident")),
            short(n.get("department")),
            ", ".join(n.get("fields") or []),
            str(n["consent_id"]) if n.get("consent_id") is not None else "-",
            n["id"],
        )
    return grid


@handled
def notifications(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Print new ones as they come, until Ctrl-C.")
    ] = False,
    after: Annotated[
        str | None,
        typer.Option(metavar="ID", help="With --follow: start after notification ID."),
    ] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """What concerns you: accesses to your data, consents given to you, requests."""
    with api_session(api, wallet, password_file) as client:
        if not follow:
            with err.status("fetching…"):
                rows = client.notifications()
            if as_json:
                print_json(rows)
            else:
                out.print(table(rows) if rows else "nothing yet")
            return
        err.print("following your notifications (Ctrl-C to stop)…")
        try:
            for n in client.follow_notifications(after):
                if as_json:
                    out.print(json.dumps(n, ensure_ascii=False), markup=False, highlight=False)
                else:
                    out.print(line(n))
        except KeyboardInterrupt:
            return


webhook_app = typer.Typer(
    help="(department, auditor) Your notifications POSTed to a URL, signed per Standard Webhooks."
)


@webhook_app.command("add")
@handled
def webhook_add(
    url: Annotated[str, typer.Argument(help="Where to POST (http or https).")],
    event: Annotated[
        list[str] | None,
        typer.Option("--event", "-e", help="A kind to send (repeat); default: every kind."),
    ] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Subscribe URL to your notifications from now on; prints the signing secret once."""
    with api_session(api, wallet, password_file) as client, err.status("subscribing…"):
        hook = client.add_webhook(url, sorted(set(event or [])))
    if as_json:
        print_json(hook)
        return
    kinds = ", ".join(hook["events"]) or "every kind"
    out.print(escape(f"webhook {hook['id']} → {hook['url']} ({kinds})"))
    out.print(escape(f"signing secret (shown only now): {hook['secret']}"))
    out.print("each delivery carries webhook-id, webhook-timestamp and webhook-signature")


@webhook_app.command("list")
@handled
def webhook_list(
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Your webhooks with their deliveries and last attempt."""
    with api_session(api, wallet, password_file) as client, err.status("fetching…"):
        hooks = client.webhooks()
    if as_json:
        print_json(hooks)
        return
    if not hooks:
        out.print("no webhooks")
        return
    grid = Table("id", "url", "kinds", "delivered", "failed", "last attempt")
    for h in hooks:
        last = h["last_delivery"]
        said = "-"
        if last is not None:
            code = last["last_status_code"]
            said = f"{last['status']} ({code or last['last_error']}) x{last['attempts']}"
        grid.add_row(
            h["id"],
            h["url"],
            ", ".join(h["events"]) or "all",
            str(h["delivered"]),
            str(h["failed"]),
            said,
        )
    out.print(grid)


@webhook_app.command("remove")
@handled
def webhook_remove(
    webhook_id: Annotated[str, typer.Argument(metavar="ID")],
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """End a subscription: nothing more is sent to it."""
    with api_session(api, wallet, password_file) as client, err.status("removing…"):
        client.remove_webhook(webhook_id)
    out.print(f"webhook {webhook_id} removed")

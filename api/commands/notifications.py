"""``consent notifications [--follow]``: what concerns you, as the chain recorded it.

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
}


def line(n: dict[str, Any]) -> str:
    """One notification as a line: time, who, what, which fields, the consent."""
    who = short(n.get("department") if n["kind"].startswith("access_") else n.get("resident"))
    what = WORDS.get(n["kind"], n["kind"])
    fields = ", ".join(n.get("fields") or [])
    reason = f" ({n['reason']})" if n.get("reason") else ""
    consent = f" · consent {n['consent_id']}" if n.get("consent_id") is not None else ""
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

"""``consent emergency directive|show|access|review|queue``: break the glass, with follow-up.

``directive`` (resident) leaves, replaces or withdraws the emergency directive: the
fields an emergency department (one holding the emergency role) may read, their keys
wrapped here for its key. ``access`` (that department) reads them in an emergency,
stating a reason code and a justification: only a salted hash of the text goes on chain;
text and salt are printed and kept in the wallet (``emergency-justifications.jsonl``,
written before anything is sent) to show the auditor who reviews it. ``review``
(auditor) judges an access justified or unjustified, notes salted and kept likewise
(``emergency-review-notes.jsonl``); ``queue`` lists the accesses waiting, overdue or
reviewed, in chain time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.chain_view import ChainView
from api.client_emergency import EmergencyResult
from api.client_errors import ApiProblem
from api.commands.common import (
    DEFAULT_API_URL,
    DEFAULT_WALLET,
    ApiOption,
    ChainUrlOption,
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
    out,
    print_json,
    short,
    split_names,
    time_column,
    when,
)
from api.commands.query import fields_table, root_notes
from api.commands.sharing import duration_words
from ledger.codec import to_hex
from ledger.vocabulary import EMERGENCY_REASONS, REVIEW_OUTCOMES
from wallets.emergency import JUSTIFICATION, REVIEW_NOTES, SaltedText

app = typer.Typer(help="Emergency access: a resident's directive, an emergency read, its review.")

JUSTIFICATIONS_FILE = "emergency-justifications.jsonl"
REVIEW_NOTES_FILE = "emergency-review-notes.jsonl"
STATUSES = ("pending", "overdue", "reviewed")

EmergencyFieldsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--fields",
        "--field",
        "-f",
        help="Schema fields, comma-separated or repeated (health_summary,phone).",
        show_default=False,
    ),
]


@app.command()
@handled
def directive(
    department: Annotated[
        str | None,
        typer.Option(help="The emergency department: address, code or name."),
    ] = None,
    fields: EmergencyFieldsOption = None,
    days: Annotated[
        float, typer.Option(min=0.0, help="How long the directive stands, in days.")
    ] = 365,
    withdraw: Annotated[
        bool, typer.Option("--withdraw", help="End your directive and delete its keys.")
    ] = False,
    chain_url: ChainUrlOption = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """(resident) Leave or replace your emergency directive, or --withdraw it."""
    names = split_names(fields)
    if withdraw and (department or names):
        raise CommandFailed("--withdraw takes no --department or --fields")
    if not withdraw and (not department or not names):
        raise CommandFailed("name the emergency --department and the --fields it may read")
    with (
        api_session(api, wallet, password_file, chain_url=chain_url) as client,
        err.status("recording the directive on chain…"),
    ):
        if withdraw:
            answer = client.withdraw_directive()
        else:
            assert department is not None
            answer = client.leave_directive(department, names, days=days)
    if as_json:
        print_json(answer)
        return
    print_directive(answer)


@app.command()
@handled
def show(
    resident: Annotated[
        str | None, typer.Argument(help="Whose directive (default: yours).", show_default=False)
    ] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """(resident, its delegates, the directive's department, auditor) A directive as it stands."""
    with api_session(api, wallet, password_file) as client:
        answer = client.emergency_directive(resident)
    if as_json:
        print_json(answer)
        return
    print_directive(answer)


def print_directive(answer: dict[str, Any]) -> None:
    if answer["status"] == "withdrawn":
        out.print(f"emergency directive of {answer['resident']} [bold]withdrawn[/bold]")
    else:
        name = answer.get("department_name") or answer["department"]
        out.print(
            f"emergency directive of {answer['resident']}: [bold]{escape(name)}[/bold]"
            f" ({short(answer['department'])}) may read {', '.join(answer['fields'])} in an"
            f" emergency, until {when(answer['valid_until'])} ({answer['status']})"
        )
        held = answer.get("key_versions") or {}
        versions = sorted({v for vs in held.values() for v in vs})
        if versions:
            out.print(f"  keys held for record version {', '.join(map(str, versions))}")
        out.print(
            "  each emergency access is recorded on chain, shown in your access log and"
            " reviewed by an auditor"
        )
    out.print(f"  {describe_receipt(answer['receipt'])}")


@app.command()
@handled
def access(
    resident: Annotated[str, typer.Argument(help="The resident's address.")],
    fields: EmergencyFieldsOption = None,
    reason: Annotated[
        str,
        typer.Option(
            help="A reason code: " + ", ".join(EMERGENCY_REASONS) + " (any code is recorded).",
        ),
    ] = "UNCONSCIOUS",
    justification: Annotated[
        str | None,
        typer.Option(help="Why, in words: kept here; only its salted hash goes on chain."),
    ] = None,
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
    """(emergency department) Read a resident's directive fields in an emergency."""
    names = split_names(fields)
    if not names:
        raise CommandFailed("name the --fields to read (those of the resident's directive)")
    if not justification:
        raise CommandFailed("say why with --justification TEXT (an auditor reviews it)")
    salted = SaltedText.new(JUSTIFICATION, justification)
    with api_session(api, wallet, password_file) as client:
        names = client.field_names(names)
        kept = keep_text(
            wallet,
            JUSTIFICATIONS_FILE,
            salted,
            {"resident": resident, "fields": names, "reason": reason.strip().upper()},
        )
        chain: ChainView | None = client.connect_chain(chain_url) if chain_url else None
        try:
            with err.status("recording the emergency access on chain and decrypting…"):
                result = client.read_in_emergency(
                    resident,
                    names,
                    reason,
                    salted,
                    is_trusted=chain.is_trusted if chain else None,
                    recorded_at=chain.attestation_recorded_at if chain else None,
                    record_root=chain.record if chain else None,
                )
        except ApiProblem as problem:
            if problem.reason:
                fail_problem(problem, {"department": client.address})
            raise
    if as_json:
        print_json(access_json(result))
        return
    out.print(
        f"emergency access [bold]{result.access_id}[/bold] recorded:"
        f" {describe_receipt(result.receipt)}"
    )
    out.print(f"  an auditor must review it by {when(result.review_due)}")
    out.print(fields_table(result.fields, chain_checked=chain is not None))
    for line in root_notes(result, chain_checked=chain is not None, shared="the directive"):
        out.print(f"[yellow]{escape(line)}[/yellow]")
    out.print(
        f"justification hash on chain {to_hex(salted.hash)}; its text and salt"
        f" (show them to the auditor) are kept in {kept}:"
    )
    out.print(f"  text: {escape(salted.text)}")
    out.print(f"  salt: {to_hex(salted.salt)}")


def access_json(result: EmergencyResult) -> dict[str, Any]:
    return {
        "access_id": result.access_id,
        "review_due": result.review_due,
        "reason": result.reason,
        "receipt": result.receipt,
        "version": result.version,
        "root": result.root,
        "root_on_chain": result.root_on_chain,
        "justification": result.justification.to_json(),
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


@app.command()
@handled
def review(
    access_id: Annotated[int, typer.Argument(min=1, help="As `consent emergency queue` lists it.")],
    outcome: Annotated[str, typer.Argument(help="justified or unjustified.")],
    notes: Annotated[
        str | None,
        typer.Option(help="Your reasons: kept here; only their salted hash goes on chain."),
    ] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """(auditor) Judge an emergency access justified or unjustified, once."""
    verdict = outcome.strip().lower()
    if verdict not in REVIEW_OUTCOMES:
        raise CommandFailed(f"the outcome is {' or '.join(REVIEW_OUTCOMES)}, not {outcome!r}")
    salted = SaltedText.new(REVIEW_NOTES, notes) if notes else None
    with api_session(api, wallet, password_file) as client:
        kept = (
            keep_text(wallet, REVIEW_NOTES_FILE, salted, {"access_id": access_id})
            if salted is not None
            else None
        )
        with err.status("recording the review on chain…"):
            answer, _ = client.review_emergency(access_id, verdict, salted)
    if as_json:
        print_json({**answer, "notes": salted.to_json() if salted else None})
        return
    late = " [red]late[/red] (after its deadline)" if answer["late"] else " in time"
    out.print(f"emergency access {access_id} reviewed [bold]{answer['outcome']}[/bold]{late}")
    out.print(f"  {describe_receipt(answer['receipt'])}")
    if salted is not None:
        out.print(f"  notes hash on chain {to_hex(salted.hash)}; text and salt kept in {kept}")


@app.command()
@handled
def queue(
    status: Annotated[
        str | None,
        typer.Option(help="pending, overdue or reviewed (default: all).", show_default=False),
    ] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """(auditor) The emergency accesses to review, oldest first, in chain time."""
    wanted = status.strip().lower() if status else None
    if wanted is not None and wanted not in STATUSES:
        raise CommandFailed(f"--status is one of {', '.join(STATUSES)}, not {status!r}")
    with api_session(api, wallet, password_file) as client:
        rows, now = client.emergency_queue(wanted)
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print(f"no {wanted or ''} emergency accesses".replace("  ", " "))
        return
    table = Table(
        "id",
        "status",
        "resident",
        "department",
        "fields",
        "reason",
        time_column("accessed (UTC)"),
        "review",
    )
    for row in rows:
        table.add_row(
            str(row["access_id"]),
            _status_cell(row["status"]),
            short(row["resident"]),
            escape(row.get("department_name") or short(row["department"])),
            ", ".join(row["fields"]),
            escape(row["reason"]),
            when(row["accessed_at"], zone=False),
            _review_cell(row, now),
        )
    out.print(table)


def _status_cell(status: str) -> str:
    colour = {"pending": "yellow", "overdue": "red", "reviewed": "green"}.get(status, "white")
    return f"[{colour}]{status}[/{colour}]"


def _review_cell(row: dict[str, Any], now: int) -> str:
    if row.get("outcome"):
        late = ", late" if row.get("late") else ""
        return f"{row['outcome']} by {short(row['reviewer'])}{late}"
    due = int(row["review_due"])
    if now > due:
        return f"due {when(due, zone=False)} (overdue by {duration_words(now - due)})"
    return f"due {when(due, zone=False)} (in {duration_words(due - now)})"


def keep_text(wallet: Path, name: str, salted: SaltedText, about: dict[str, Any]) -> Path:
    """Append the text, its salt and hash (and what it is about) to ``name`` in the
    wallet, before anything is sent: the hash on chain is worthless without them."""
    path = wallet / name
    line = {"kept_at": int(datetime.now(UTC).timestamp()), **about, **salted.to_json()}
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    return path

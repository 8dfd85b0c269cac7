"""``consent delegate appoint|list|remove``: delegates and guardians.

``appoint ADDRESS --powers grant,read --days N`` restates the appointment in words (who,
each power and what it lets the delegate do in your name, until when, which of your
record's keys it receives) and asks before signing, as ``consent grant`` does (``--yes``
answers for scripts). ``--for RESIDENT`` is a registrar appointing a guardian for a
minor or a person who cannot act. ``list [RESIDENT]`` shows current and past
delegates; ``remove ADDRESS`` ends an appointment and then, as a revocation does,
re-encrypts your record under fresh keys so what the delegate held opens nothing new.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from api.client_delegates import KEYED_POWERS, parse_powers, power_names
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
    time_column,
    when,
)
from api.commands.sharing import YesOption, duration_words
from ledger.codec import checksum_address
from ledger.intents import POWERS

app = typer.Typer(help="Delegates and guardians: who may act in a resident's name, and how.")

#: What each power lets a delegate do in the resident's name, in words.
POWER_WORDS = {
    "grant": "grant consents and bundles, decline requests",
    "revoke": "revoke consents and bundles",
    "commit": "commit new versions of the record",
    "read": "read the record, consents, requests and access log",
}
DAY = 86_400

Address = Annotated[str, typer.Argument(help="The delegate's address (an enrolled resident).")]
ForOption = Annotated[
    str | None,
    typer.Option(
        "--for",
        metavar="RESIDENT",
        help="(registrar) The resident a guardian acts for: a minor or a person who cannot"
        " act. Default: yourself.",
    ),
]


def _address(text: str, what: str) -> str:
    try:
        return checksum_address(text.strip())
    except ValueError:
        raise CommandFailed(
            f"{what} must be an address (0x and 40 hex digits), not {text!r}"
        ) from None


def _powers_text(names: list[str]) -> list[str]:
    return [f"{name}: {POWER_WORDS[name]}" for name in names]


@app.command("appoint")
@handled
def appoint(
    address: Address,
    powers: Annotated[
        str,
        typer.Option(
            "--powers",
            "-p",
            help="Comma-separated: grant, revoke, commit, read (or all).",
            show_default=False,
        ),
    ],
    days: Annotated[float, typer.Option(min=0.001, help="How long the appointment lasts.")] = 30,
    for_resident: ForOption = None,
    yes: YesOption = False,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """(resident, or registrar with --for) Let ADDRESS act in a resident's name with
    --powers for --days.

    Shows who, each power in words and until when, and asks before signing (--yes: do
    not ask). For your own record, the keys of its fields are wrapped for the delegate's
    key once its registrar's signed enrolment checks out."""
    delegate = _address(address, "ADDRESS")
    resident = None if for_resident is None else _address(for_resident, "--for")
    bits = parse_powers(powers)
    names = power_names(bits)
    with api_session(api, wallet, password_file) as client:
        owner = resident or client.address
        guardian = owner != client.address
        keyed = not guardian and bool(bits & KEYED_POWERS) and client.latest_version() > 0
        if keyed:
            client.resident_key(delegate)  # refused before the question, not after it
        now = client.now()
        seconds = round(days * DAY)
        err.print(
            f"[bold]You are about to appoint {delegate} as "
            f"{'guardian of ' + owner if guardian else 'your delegate'}:[/bold]"
        )
        for label, text in [
            ("powers", "; ".join(_powers_text(names))),
            ("until", f"about {when(now + seconds)} ({duration_words(seconds)} from now)"),
            (
                "keys",
                "every field of your record is wrapped for its key"
                if keyed
                else "none (its powers need none, there is no record yet, or it is not"
                " yours to open)",
            ),
        ]:
            err.print(f"  {label:<7} {escape(text)}")
        if not yes:
            if not interactive():
                raise CommandFailed(
                    "not signed: an appointment needs your confirmation and there is no"
                    " terminal to ask in; check the terms above and run it again with --yes"
                )
            if not typer.confirm("Sign and appoint?", default=False, err=True):
                raise CommandFailed("not signed: nobody was appointed")
        with err.status("wrapping your record's keys for the delegate and appointing on chain…"):
            answer = client.appoint_delegate(delegate, bits, days=days, resident=resident)
    role = "guardian" if answer["guardian"] else "delegate"
    out.print(
        f"[bold]{answer['delegate']}[/bold] appointed {role} of {answer['resident']}"
        f" until {when(answer['valid_until'])}: may {', '.join(answer['powers'])}"
    )
    if answer["wrapped_fields"]:
        out.print(
            f"  holds the keys of record version {answer['version']}:"
            f" {', '.join(answer['wrapped_fields'])}"
        )
    out.print(f"  receipt: {describe_receipt(answer['receipt'])}")
    ending = f" --for {answer['resident']}" if guardian else ""
    out.print(f"  `consent delegate remove {answer['delegate']}{ending}` ends it")


def _by(entry: dict[str, Any], who: str) -> str:
    return "the resident" if who == entry["resident"] else f"registrar {short(who)}"


def _status(entry: dict[str, Any]) -> str:
    if entry["removed"]:
        ended = (entry.get("removal_receipt") or {}).get("block_timestamp")
        return f"removed by {_by(entry, entry['removed_by'])} {when(ended, zone=False)}"
    return str(entry["status"])


@app.command("list")
@handled
def list_delegates(
    resident: Annotated[
        str | None,
        typer.Argument(help="Whose delegates (default: yours; any for an auditor)."),
    ] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """A resident's delegates and guardians, current and past: powers, status, until when,
    who appointed them."""
    owner = None if resident is None else _address(resident, "RESIDENT")
    with api_session(api, wallet, password_file) as client, err.status("fetching…"):
        rows = client.delegates(owner)
        whose = owner or client.address
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print(f"{whose} has no delegates (`consent delegate appoint` appoints one)")
        return
    table = Table(
        "delegate", "powers", "status", time_column("until (UTC)"), "appointed by", "keys of"
    )
    for entry in rows:
        appointed = _by(entry, entry["appointed_by"])
        versions = entry["key_versions"]
        table.add_row(
            entry["delegate"] + (" (guardian)" if entry["guardian"] else ""),
            ", ".join(entry["powers"]),
            _status(entry),
            when(entry["valid_until"], zone=False),
            appointed,
            ", ".join(f"v{v}" for v in versions) if versions else "-",
        )
    out.print(f"delegates of {whose}:")
    out.print(table)
    for name in sorted({n for entry in rows for n in entry["powers"]}, key=list(POWERS).index):
        out.print(f"  {name}: {POWER_WORDS[name]}")


@app.command("remove")
@handled
def remove(
    address: Address,
    for_resident: ForOption = None,
    rotate: RotateOption = True,
    chain_url: ChainUrlOption = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """(resident, or registrar with --for) End ADDRESS's appointment from the block that
    records it; then re-encrypt your record under fresh keys (--no-rotate: do not)."""
    delegate = _address(address, "ADDRESS")
    resident = None if for_resident is None else _address(for_resident, "--for")
    with (
        api_session(api, wallet, password_file, chain_url=chain_url) as client,
        err.status("removing on chain" + (" and rotating keys…" if rotate else "…")),
    ):
        result = client.remove_delegate(delegate, resident=resident, rotate=rotate)
    removed = result.removed
    out.print(
        f"[bold]{removed['delegate']}[/bold] is no longer a delegate of {removed['resident']}"
    )
    out.print(f"  {describe_receipt(removed['receipt'])}")
    if result.rotated_version is not None:
        out.print(
            f"record version {result.rotated_version}: fresh keys and salts for every field"
            " (the keys the delegate held open nothing of it)"
        )
        for other in sorted(result.rewrapped):
            out.print(f"  re-wrapped the new keys for consent {other}")

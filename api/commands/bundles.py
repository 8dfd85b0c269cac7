"""``consent bundle grant|show|revoke``: a whole life event granted in one act.

``grant SERVICE`` restates every item in words (department by name, fields, purpose,
duration, uses) and asks before the one signature, as ``consent grant`` does (``--yes``
answers for scripts; without a terminal and without ``--yes`` it signs nothing). Each
item may be narrowed with ``--narrow``, never widened: a widening is refused in a
sentence before anything is signed. ``revoke ID`` ends every consent of the bundle with
one signature and then, as ``consent revoke`` does, re-encrypts the exposed fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.table import Table

from api.client_bundles import BundleItem, narrow_item
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
    parse_duration,
    print_json,
    time_column,
    when,
)
from api.commands.lists import time_left
from api.commands.sharing import YesOption, duration_words
from ledger.vocabulary import describe

app = typer.Typer(help="Bundles: grant a whole service (one life event) with one signature.")

NARROW_HELP = (
    "Narrow one item, never widen it: DEPT:fields=F1,F2 (fewer fields), DEPT:days=N or"
    " DEPT:duration=10d (a shorter window), DEPT:uses=N (fewer uses). DEPT is the item's"
    " department by code, name or address, or #N for the Nth item as listed. Repeat for"
    " more: --narrow HB:fields=name --narrow HB:days=10."
)
NarrowOption = Annotated[
    list[str] | None,
    typer.Option("--narrow", metavar="DEPT:KEY=VALUE", help=NARROW_HELP, show_default=False),
]
BundleId = Annotated[int, typer.Argument(min=1, help="The bundle's id.")]


def _find_item(items: Sequence[BundleItem], who: str, service: str) -> int:
    """The index of the item ``who`` names (a department, or ``#N``)."""
    text = who.strip()
    if text.startswith("#"):
        number = text[1:]
        if not number.isdigit() or not 1 <= int(number) <= len(items):
            raise CommandFailed(f"{service} has items #1 to #{len(items)}, not {text}")
        return int(number) - 1
    found = [
        i
        for i, item in enumerate(items)
        if text.casefold()
        in (
            str(item.department["address"]).casefold(),
            str(item.department.get("code", "")).casefold(),
            str(item.department.get("name", "")).casefold(),
        )
    ]
    if not found:
        names = ", ".join(item.department_name for item in items)
        raise CommandFailed(f"{service} has no item for {who!r} (its departments: {names})")
    if len(found) > 1:
        numbers = ", ".join(f"#{i + 1}" for i in found)
        raise CommandFailed(f"{who!r} has several items in {service}: name one as {numbers}")
    return found[0]


def apply_narrowing(
    items: list[BundleItem], narrowings: Sequence[str], service: str, field_names: Any
) -> list[BundleItem]:
    """``items`` with every ``--narrow DEPT:KEY=VALUE`` applied (see :data:`NARROW_HELP`)."""
    for text in narrowings:
        who, colon, setting = text.partition(":")
        key, equals, value = setting.partition("=")
        key = key.strip().lower()
        if not colon or not equals or not who.strip() or not value.strip():
            raise CommandFailed(
                f"--narrow takes DEPT:fields=F1,F2, DEPT:days=N, DEPT:duration=10d or"
                f" DEPT:uses=N, not {text!r}"
            )
        index = _find_item(items, who, service)
        if key == "fields":
            chosen = field_names([f for f in value.split(",") if f.strip()])
            items[index] = narrow_item(items[index], fields=chosen)
        elif key in ("days", "duration"):
            spelt = value if key == "duration" else value.strip() + "d"
            seconds = parse_duration(spelt, f"--narrow {text!r}")
            items[index] = narrow_item(items[index], duration=seconds)
        elif key == "uses":
            if not value.strip().isdigit():
                raise CommandFailed(f"uses in --narrow {text!r} is a whole number")
            items[index] = narrow_item(items[index], max_uses=int(value))
        else:
            raise CommandFailed(
                f"--narrow {text!r}: an item narrows by fields, days, duration or uses, not {key!r}"
            )
    return items


def bundle_terms(
    service: dict[str, Any], items: Sequence[BundleItem], full: Sequence[BundleItem], now: int
) -> list[tuple[str, str]]:
    """The bundle as a person checks it before signing: every item in words, and what
    was narrowed from the service's own item."""
    rows = [
        ("service", f"{service['service']}: {service['name']}"),
        ("from", f"when it is recorded: about {when(now)}"),
    ]
    for number, (item, whole) in enumerate(zip(items, full, strict=True), start=1):
        entry = item.department
        fields = [
            f"{n} ({describe('field', n)})" if describe("field", n) else n for n in item.fields
        ]
        meaning = describe("purpose", item.purpose)
        rows += [
            (f"item {number}", f"{entry['name']} ({entry.get('code')}, {entry['address']})"),
            ("  fields", ", ".join(fields)),
            ("  purpose", f"{item.purpose}: {meaning}" if meaning else item.purpose),
            (
                "  duration",
                f"{duration_words(item.duration)}: until about {when(now + item.duration)}",
            ),
            ("  uses", "unlimited" if not item.max_uses else f"at most {item.max_uses} reads"),
        ]
        if item != whole:
            rows.append(
                (
                    "  narrowed",
                    f"the service allows {', '.join(whole.fields)};"
                    f" {duration_words(whole.duration)};"
                    f" {'unlimited' if not whole.max_uses else f'{whole.max_uses} reads'}",
                )
            )
    return rows


def confirm_bundle(terms: list[tuple[str, str]], count: int, yes: bool) -> None:
    err.print(
        f"[bold]You are about to sign this bundle: one signature, {count} consent"
        f"{'s' if count != 1 else ''}:[/bold]"
    )
    for label, text in terms:
        err.print(f"  {label:<11} {escape(text)}")
    if yes:
        return
    if not interactive():
        raise CommandFailed(
            "not signed: a bundle needs your confirmation and there is no terminal to ask in;"
            " check the terms above and run it again with --yes"
        )
    if not typer.confirm("Sign and grant?", default=False, err=True):
        raise CommandFailed("not signed: nothing was granted")


@app.command("grant")
@handled
def grant(
    service: Annotated[
        str, typer.Argument(help="The service's id or name (consent admin service list).")
    ],
    narrow: NarrowOption = None,
    yes: YesOption = False,
    chain_url: ChainUrlOption = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """(resident) Grant every department of SERVICE its items with one signature.

    Shows each department, its fields, purpose, duration and uses and asks before
    signing (--yes: do not ask). Each department's key is wrapped for only once the
    admin pinned in your wallet signed it (or, with --chain-url, the chain holds it)."""
    with api_session(api, wallet, password_file, chain_url=chain_url) as client:
        entry = client.service(service)
        full = client.service_items(entry)
        items = apply_narrowing(list(full), narrow or [], entry["service"], client.field_names)
        for item in items:  # refused before the question, not after it
            client.department_key(item.department)
        terms = bundle_terms(entry, items, full, client.now())
        confirm_bundle(terms, len(items), yes)
        with err.status("wrapping each department's field keys and granting on chain…"):
            answer = client.grant_bundle(entry["service"], items)
        bundle = client.checked_bundle(int(answer["bundle_id"]))
    out.print(
        f"bundle [bold]{answer['bundle_id']}[/bold] granted with one signature:"
        f" {len(bundle['consents'])} consents for {entry['service']}"
    )
    for consent in bundle["consents"]:
        uses = consent["max_uses"]
        out.print(
            f"  consent {consent['consent_id']}: {consent.get('department_name')} may read"
            f" {', '.join(consent['fields'])} for {consent['purpose']}"
            f" until {when(consent['valid_until'])}" + (f", at most {uses} times" if uses else "")
        )
    if answer.get("receipt"):
        out.print(f"  receipt: {describe_receipt(answer['receipt'])}")
    out.print(
        f"  `consent bundle revoke {answer['bundle_id']}` ends all of them at once;"
        " `consent revoke ID` ends one"
    )


@app.command("show")
@handled
def show(
    bundle_id: BundleId,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """A bundle (yours, or any for an auditor): its service, status and consents, each
    checked against the GrantBundle its resident signed."""
    with api_session(api, wallet, password_file) as client, err.status("fetching…"):
        bundle = client.checked_bundle(bundle_id)
        now = client.now()
    if as_json:
        print_json(bundle)
        return
    ended = f", revoked {when(bundle['revoked_at'])}" if bundle.get("revoked_at") else ""
    out.print(
        f"bundle [bold]{bundle['bundle_id']}[/bold]: {bundle['service']}"
        f" ({bundle.get('service_name') or 'no longer defined'}), {bundle['status']};"
        f" granted {when(bundle['granted_at'])}{ended}"
    )
    table = Table(
        "consent",
        "department",
        "fields",
        "purpose",
        "status",
        "time left",
        time_column("until (UTC)"),
        "uses",
    )
    for c in bundle["consents"]:
        table.add_row(
            str(c["consent_id"]),
            c.get("department_name") or c["department"],
            ", ".join(c["fields"]),
            c["purpose"],
            c["status"],
            time_left(c, now),
            when(c["valid_until"], zone=False),
            f"{c['uses']}/{c['max_uses'] or '∞'}",
        )
    out.print(table)
    out.print(f"  {describe_receipt(bundle['receipt'])}")


@app.command("revoke")
@handled
def revoke(
    bundle_id: BundleId,
    rotate: RotateOption = True,
    chain_url: ChainUrlOption = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """(resident) Revoke a bundle: every consent of it still in force ends, in one block."""
    with (
        api_session(api, wallet, password_file, chain_url=chain_url) as client,
        err.status("revoking on chain" + (" and rotating keys…" if rotate else "…")),
    ):
        result = client.revoke_bundle(bundle_id, rotate=rotate)
    ended = [str(c) for c in result.revoked.get("revoked", [])]
    out.print(
        f"bundle [bold]{bundle_id}[/bold] revoked: consent{'s' if len(ended) != 1 else ''}"
        f" {', '.join(ended) or 'none (all had ended)'} ended"
    )
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

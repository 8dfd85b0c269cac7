"""``consent admin service define|list``: services, one life event several departments
serve, each item the most a bundle may grant one department.

Defining is the admin's signed ``DefineService``; listing reads ``GET /services`` (no
wallet), so a resident sees what ``consent bundle grant SERVICE`` will ask::

    consent admin service define NEWBORN_REGISTRATION --name "Newborn registration" \\
        --item CA:name,birth_date,address:HOUSING:30d \\
        --item HC:name,birth_date:HEALTHCARE:10d:1
    consent admin service list
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from api.client import ConsentApi
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
    handled,
    out,
    parse_duration,
    print_json,
)
from api.commands.sharing import duration_words

service_app = typer.Typer(help="Services: one life event several departments serve.")

ITEM_SYNTAX = "DEPT:FIELDS:PURPOSE:DURATION[:MAXUSES]"


def parse_item(text: str) -> dict[str, Any]:
    """``DEPT:FIELDS:PURPOSE:DURATION[:MAXUSES]`` → an item for :meth:`define_service`."""
    parts = [p.strip() for p in text.split(":")]
    if len(parts) not in (4, 5) or not all(parts):
        raise CommandFailed(
            f"--item takes {ITEM_SYNTAX} (e.g. HB:name,address:HOUSING:30d:5), not {text!r}"
        )
    fields = [f.strip() for f in parts[1].split(",") if f.strip()]
    uses = parts[4] if len(parts) == 5 else "0"
    if not uses.isdigit():
        raise CommandFailed(f"MAXUSES in --item {text!r} is a whole number (0: no cap)")
    return {
        "department": parts[0],
        "fields": fields,
        "purpose": parts[2],
        "duration": parse_duration(parts[3], f"DURATION in --item {text!r}"),
        "max_uses": int(uses),
    }


def items_table(service: dict[str, Any]) -> Table:
    table = Table("department", "fields", "purpose", "at most", "uses")
    for item in service["items"]:
        table.add_row(
            item.get("department_name") or item["department"],
            ", ".join(item["fields"]),
            item["purpose"],
            duration_words(item["duration"]),
            str(item["max_uses"] or "no cap"),
        )
    return table


@service_app.command("define")
@handled
def define(
    service: Annotated[
        str, typer.Argument(help="The service's id, e.g. NEWBORN_REGISTRATION (at most 32 bytes).")
    ],
    name: Annotated[str, typer.Option(help="What residents read, e.g. 'Newborn registration'.")],
    items: Annotated[
        list[str] | None,
        typer.Option(
            "--item",
            metavar="ITEM",
            help=f"{ITEM_SYNTAX} (repeat, 1-16): DEPT by code, name or address; FIELDS"
            " comma-separated; DURATION like 30d, 12h; MAXUSES 0 or absent: no cap.",
            show_default=False,
        ),
    ] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """(admin) Define SERVICE, or replace it: bundles from now on must fit its items;
    consents granted before keep their terms."""
    parsed = [parse_item(text) for text in items or []]
    if not parsed:
        raise CommandFailed(f"a service has at least one --item {ITEM_SYNTAX}")
    if len(service.encode()) > 32:
        raise CommandFailed(f"a service id is at most 32 bytes; {service!r} is longer")
    with api_session(api, wallet, password_file) as client:
        for item in parsed:
            item["fields"] = client.field_names(item["fields"])
            item["purpose"] = client.schema_name("purposes", item["purpose"])
        with err.status("defining the service on chain…"):
            answer = client.define_service(service, name, parsed)
    out.print(
        f"service [bold]{answer['service']}[/bold] ({answer['name']}) defined,"
        f" {len(answer['items'])} item{'s' if len(answer['items']) != 1 else ''}:"
    )
    out.print(items_table(answer))
    out.print(f"  {describe_receipt(answer['receipt'])}")
    out.print(f"  residents grant it with `consent bundle grant {answer['service']}`")


@service_app.command("list")
@handled
def list_services(api: ApiOption = DEFAULT_API_URL, as_json: JsonOption = False) -> None:
    """The services defined, each with its departments, fields, purposes, durations and
    uses (a public read: no wallet)."""
    with ConsentApi(api) as client, err.status("fetching…"):
        rows = client.services()
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no services defined yet (`consent admin service define` defines one)")
    for service in rows:
        out.print(f"[bold]{service['service']}[/bold]: {service['name']}")
        out.print(items_table(service))

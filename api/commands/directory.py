"""``consent schema`` and ``consent departments``: the names in use and what they mean.

Both read public endpoints (no wallet). The schema's names come from the chain
(``GET /schema``); their meanings from :mod:`ledger.vocabulary`, so a field or purpose an
admin added later is listed too, without a description.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from api.client import ConsentApi
from api.commands.common import (
    DEFAULT_API_URL,
    ApiOption,
    JsonOption,
    err,
    handled,
    out,
    print_json,
)
from ledger.vocabulary import describe

KINDS = (("fields", "field"), ("purposes", "purpose"), ("roles", "role"))


def schema_rows(schema: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for plural, kind in KINDS:
        for name in sorted(schema.get(plural, {})):
            rows.append({"kind": kind, "name": name, "meaning": describe(kind, name) or ""})
    return rows


@handled
def schema(api: ApiOption = DEFAULT_API_URL, as_json: JsonOption = False) -> None:
    """The fields, purposes and roles on chain, with what each means.

    Field and purpose names may be typed in any case (income, INCOME)."""
    with ConsentApi(api) as client, err.status("fetching…"):
        rows = schema_rows(client.schema())
    if as_json:
        print_json(rows)
        return
    for plural, kind in KINDS:
        table = Table(kind, "meaning", title=plural, title_justify="left")
        for row in rows:
            if row["kind"] == kind:
                table.add_row(
                    row["name"], row["meaning"] or "[dim](added later; no description)[/dim]"
                )
        out.print(table)


@handled
def departments(api: ApiOption = DEFAULT_API_URL, as_json: JsonOption = False) -> None:
    """The departments in the public directory: code, name, address, whether active."""
    with ConsentApi(api) as client, err.status("fetching…"):
        rows = client.departments()
    if as_json:
        print_json(rows)
        return
    table = Table("code", "name", "address", "active")
    for d in rows:
        table.add_row(
            d.get("code", ""), d["name"], d["address"], "yes" if d.get("active") else "suspended"
        )
    out.print(table if rows else "no departments registered yet")

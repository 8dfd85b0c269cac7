"""``consent record put|get|restore``: the resident's encrypted record.

Values are encrypted here, in the wallet; the API only ever sees envelopes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

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
    WalletOption,
    api_session,
    describe_receipt,
    err,
    handled,
    out,
    print_json,
    split_names,
)
from ledger.codec import to_hex

app = typer.Typer(help="Upload, inspect and restore your encrypted record.")

VersionOption = Annotated[
    int | None, typer.Option("--version", min=1, help="Record version (default: latest).")
]


def read_values(path: Path) -> dict[str, str]:
    """``{"field": "value", ...}`` from a JSON file (values are strings)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CommandFailed(f"{path} is not JSON: {exc}") from exc
    if not isinstance(document, dict) or not document:
        raise CommandFailed(f"{path} must hold a non-empty object {{field: value}}")
    values: dict[str, str] = {}
    for name, value in document.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise CommandFailed(f"{path}: field {name!r} must be a string, not {value!r}")
        values[str(name)] = str(value)
    return values


@app.command()
@handled
def put(
    file: Annotated[
        Path, typer.Argument(help="JSON object {field: value}.", exists=True, dir_okay=False)
    ],
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Version to commit (default: next).")
    ] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """Encrypt the values in FILE and commit them as a new record version."""
    values = read_values(file)
    with (
        api_session(api, wallet, password_file) as client,
        err.status(f"encrypting {len(values)} fields and committing the root on chain…"),
    ):
        answer = client.upload_record(values, version)
    out.print(f"record version [bold]{answer['version']}[/bold] committed, root {answer['root']}")
    out.print(f"  {describe_receipt(answer['receipt'])}")


@app.command()
@handled
def get(
    version: VersionOption = None,
    resident: Annotated[
        str | None, typer.Option(help="Whose record (default: yours; auditors may ask).")
    ] = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the stored envelopes (ciphertext only, nothing is decrypted)."""
    with api_session(api, wallet, password_file) as client, err.status("fetching…"):
        record = client.record(resident, version)
    if as_json:
        print_json(record)
        return
    out.print(f"{record['resident']} version {record['version']} root {record['root']}")
    table = Table("field", "ciphertext bytes", "nonce")
    for name, envelope in sorted(record["fields"].items()):
        table.add_row(name, str((len(envelope["ciphertext"]) - 2) // 2), envelope["nonce"])
    out.print(table)


@app.command()
@handled
def restore(
    version: VersionOption = None,
    salts: Annotated[bool, typer.Option("--salts", help="Also show each field's salt.")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write {field: value} JSON here.")
    ] = None,
    chain_url: ChainUrlOption = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Decrypt your record from the stored envelopes and your keys alone (new device).

    The envelopes are opened only if they hash to the root you signed when you
    committed that version (or, with --chain-url, to the root the chain holds)."""
    with (
        api_session(api, wallet, password_file, chain_url=chain_url) as client,
        err.status("fetching and decrypting…"),
    ):
        values = client.restore_record(version)
    plain = {name: v.value for name, v in sorted(values.items())}
    if output is not None:
        output.write_text(json.dumps(plain, ensure_ascii=False, indent=2) + "\n", "utf-8")
        err.print(f"[green]restored[/green] {len(plain)} fields to {output}")
        return
    if as_json:
        print_json(
            {n: {"value": v.value, "salt": to_hex(v.salt)} for n, v in sorted(values.items())}
            if salts
            else plain
        )
        return
    table = Table("field", "value", *(["salt"] if salts else []))
    for name, value in sorted(values.items()):
        table.add_row(name, value.value, *([to_hex(value.salt)] if salts else []))
    out.print(table)


@app.command()
@handled
def rotate(
    fields: Annotated[
        list[str] | None,
        typer.Option("--field", "-f", help="A field that was exposed (fresh salt too)."),
    ] = None,
    chain_url: ChainUrlOption = None,
    api: ApiOption = DEFAULT_API_URL,
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """New version with fresh keys for every field; re-wrap for live consents.

    `consent revoke` does this by itself; use it alone after a failed rotation or
    when you suspect a key leaked.
    """
    with (
        api_session(api, wallet, password_file, chain_url=chain_url) as client,
        err.status("re-encrypting under fresh keys and re-wrapping for live consents…"),
    ):
        version, fresh, rewrapped, directive = client.rotate(split_names(fields))
    out.print(
        f"record version [bold]{version}[/bold]: fresh keys for every field, fresh salts"
        f" for {', '.join(sorted(fresh)) or 'none'}"
    )
    for consent_id in sorted(rewrapped):
        out.print(f"  re-wrapped the new keys for consent {consent_id}")
    if directive is not None:
        out.print("  re-wrapped the new keys for your emergency directive")

"""``consent wallet create|show|import|export|unlock|lock|pin``: keystores on this machine
(no API calls, but for ``pin --api``).

A wallet is a directory written by :class:`wallets.identity.Identity`: the signing key
as a Web3 Secret Storage v3 file (geth, MetaMask) and the HPKE keys beside it, both
under one password. ``unlock`` starts an agent (:mod:`wallets.agent`) that holds the
opened keys in memory for a while, so later commands sign without the password and
without seconds of scrypt; ``lock`` ends it. ``pin`` sets what the wallet trusts
instead of the server (:mod:`wallets.trust`): the admin whose signature a department's
key needs, the chain id and the contracts; whatever is not pinned is pinned on first
use, with a notice, and never silently changed afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.client import ConsentApi
from api.commands.common import (
    DEFAULT_WALLET,
    CommandFailed,
    JsonOption,
    PasswordFileOption,
    WalletOption,
    err,
    handled,
    load_identity,
    open_identity,
    out,
    print_json,
    read_password,
    when,
)
from ledger.codec import checksum_address, to_hex
from wallets import agent
from wallets.identity import Identity
from wallets.keystore import (
    DEFAULT_SCRYPT_N,
    ENCRYPTION_KEY_FILE,
    SIGNING_KEY_FILE,
    read_json_file,
)
from wallets.trust import DIRECTORY, LEDGER, Pins

app = typer.Typer(help="Create, show, import and export keystores (Web3 Secret Storage v3).")

ScryptOption = Annotated[
    int,
    typer.Option(
        "--scrypt-n",
        help="scrypt cost (power of two; 2**18 is geth's standard).",
        min=2,
    ),
]
HybridOption = Annotated[
    bool, typer.Option("--hybrid", help="Also make an ML-KEM-768+X25519 key pair.")
]
PinAdminOption = Annotated[
    list[str] | None,
    typer.Option(
        "--pin-admin",
        help="Trust department keys signed by this admin address (repeat for several).",
        show_default=False,
    ),
]


def _check_scrypt(n: int) -> int:
    if n & (n - 1):
        raise CommandFailed(f"--scrypt-n must be a power of two, got {n}")
    return n


def _refuse_existing(wallet: Path) -> None:
    for name in (SIGNING_KEY_FILE, ENCRYPTION_KEY_FILE):
        if (wallet / name).exists():
            raise CommandFailed(f"{wallet / name} already exists; refusing to overwrite a key")


def _summary(identity: Identity, wallet: Path) -> dict[str, Any]:
    hybrid = identity.hybrid_public_key
    return {
        "address": identity.address,
        "encryption_key": to_hex(identity.encryption_public_key),
        "hybrid_encryption_key": None if hybrid is None else to_hex(hybrid),
        "wallet": str(wallet),
    }


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(summary)
        return
    table = Table(show_header=False, box=None)
    table.add_row("address", summary["address"])
    table.add_row("encryption key", summary["encryption_key"])
    if summary.get("hybrid_encryption_key"):
        table.add_row("hybrid key", f"{summary['hybrid_encryption_key'][:42]}…")
    table.add_row("wallet", summary["wallet"])
    if summary.get("unlocked_until"):
        table.add_row("unlocked", f"until {when(summary['unlocked_until'])} (consent wallet lock)")
    out.print(table)


@app.command()
@handled
def create(
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    hybrid: HybridOption = False,
    scrypt_n: ScryptOption = DEFAULT_SCRYPT_N,
    pin_admin: PinAdminOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a new identity: a signing key and an encryption key pair."""
    _check_scrypt(scrypt_n)
    _refuse_existing(wallet)
    admins = [_address(a, "--pin-admin") for a in pin_admin or []]
    password = read_password(password_file, confirm=True)
    identity = Identity.create(hybrid=hybrid)
    with err.status("encrypting the keys (scrypt)…"):
        identity.save(wallet, password, scrypt_n=scrypt_n)
    err.print(f"[green]created[/green] wallet in {wallet}")
    if admins:
        pins = Pins.load(wallet)
        pins.admins = admins
        pins.save()
        err.print(f"pinned admin {', '.join(admins)} in {pins.where}")
    _print_summary(_summary(identity, wallet), as_json)


def _address(value: str, option: str) -> str:
    try:
        return checksum_address(value)
    except ValueError as exc:
        raise CommandFailed(f"{option}: {exc}") from exc


@app.command()
@handled
def pin(
    admin: Annotated[
        list[str] | None,
        typer.Option(
            "--admin",
            help="The admin address whose signature a department's key needs (repeat).",
            show_default=False,
        ),
    ] = None,
    chain_id: Annotated[int | None, typer.Option(min=1, help="The ledger's chain id.")] = None,
    directory: Annotated[
        str | None, typer.Option(help="The ConsentDirectory contract address.")
    ] = None,
    ledger: Annotated[str | None, typer.Option(help="The ConsentLedger contract address.")] = None,
    api: Annotated[
        str | None,
        typer.Option(
            help="Pin the chain id and contracts this API reports now (compare them with the"
            " operator's published values)."
        ),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Change values already pinned.")
    ] = False,
    wallet: WalletOption = DEFAULT_WALLET,
    as_json: JsonOption = False,
) -> None:
    """Show or set what this wallet trusts instead of the server.

    A department's key is used only if an admin pinned here signed it; signatures are
    made and checked only for the pinned chain and contracts. Whatever is not pinned is
    pinned on first use (with a notice, as ssh's known_hosts); a pinned value changes
    only with --replace."""
    if not (wallet / SIGNING_KEY_FILE).exists():
        raise CommandFailed(f"no wallet in {wallet} (create one with `consent wallet create`)")
    pins = Pins.load(wallet)
    wanted: dict[str, Any] = {}
    if admin:
        wanted["admins"] = [_address(a, "--admin") for a in admin]
    contracts: dict[str, str] = {}
    if api is not None:
        with ConsentApi(api) as client:
            chain_id = chain_id or int(client.health()["chain_id"])
            served = client.health()["contracts"]
        contracts = {name: _address(served[name], "--api") for name in (DIRECTORY, LEDGER)}
    if directory is not None:
        contracts[DIRECTORY] = _address(directory, "--directory")
    if ledger is not None:
        contracts[LEDGER] = _address(ledger, "--ledger")
    if chain_id is not None:
        wanted["chain_id"] = chain_id
    current = pins.to_json()
    changed = [
        key
        for key, value in wanted.items()
        if current[key] not in (None, []) and current[key] != value
    ] + [name for name, value in contracts.items() if pins.contracts.get(name) not in (None, value)]
    if changed and not replace:
        raise CommandFailed(
            f"this wallet already pins other values for {', '.join(changed)} ({pins.where});"
            " pass --replace to change them"
        )
    if wanted or contracts:
        pins.admins = wanted.get("admins", pins.admins)
        pins.chain_id = wanted.get("chain_id", pins.chain_id)
        pins.contracts.update(contracts)
        pins.save()
        err.print(f"[green]pinned[/green] in {pins.where}")
    if as_json:
        print_json(pins.to_json())
        return
    table = Table(show_header=False, box=None)
    table.add_row("admin", ", ".join(pins.admins) or "(pinned on first use)")
    table.add_row("chain id", str(pins.chain_id) if pins.chain_id else "(pinned on first use)")
    for name in (DIRECTORY, LEDGER):
        table.add_row(name, pins.contracts.get(name, "(pinned on first use)"))
    table.add_row("record", f"version {pins.record_version} committed from this wallet")
    table.add_row("kept in", pins.where)
    out.print(table)


@app.command()
@handled
def show(
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    check: Annotated[
        bool, typer.Option("--check", help="Also open the keys with the password.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Address and public encryption key (no password needed unless --check)."""
    if check:
        _print_summary(_summary(load_identity(wallet, password_file), wallet), as_json)
        return
    signing = read_json_file(wallet / SIGNING_KEY_FILE, "signing keystore")
    encryption = read_json_file(wallet / ENCRYPTION_KEY_FILE, "encryption keystore")
    try:
        address = checksum_address("0x" + str(signing["address"]).removeprefix("0x"))
        keys = encryption["public_keys"]
        summary = {
            "address": address,
            "encryption_key": keys["x25519"],
            "hybrid_encryption_key": keys.get("mlkem768-x25519"),
            "wallet": str(wallet),
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise CommandFailed(f"{wallet} does not hold a readable wallet: {exc}") from exc
    held = agent.connect(wallet)
    summary["unlocked_until"] = None if held is None else held.expires_at
    _print_summary(summary, as_json)


@app.command("import")
@handled
def import_(
    keystore: Annotated[
        Path, typer.Argument(help="A v3 keystore file (geth, MetaMask export).", dir_okay=False)
    ],
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    hybrid: HybridOption = False,
    scrypt_n: ScryptOption = DEFAULT_SCRYPT_N,
    as_json: JsonOption = False,
) -> None:
    """Adopt an existing account; new encryption keys are made (publish them)."""
    _check_scrypt(scrypt_n)
    _refuse_existing(wallet)
    if not keystore.is_file():
        raise CommandFailed(f"no keystore file {keystore}")
    password = read_password(password_file)
    with err.status("opening the keystore (scrypt)…"):
        identity = Identity.import_keystore(keystore, password, hybrid=hybrid)
        identity.save(wallet, password, scrypt_n=scrypt_n)
    err.print(
        f"[green]imported[/green] {identity.address} into {wallet}; its encryption key is new,"
        " so a department must publish it before it can receive grants"
    )
    _print_summary(_summary(identity, wallet), as_json)


@app.command()
@handled
def export(
    output: Annotated[Path, typer.Argument(help="Where to write the v3 keystore.", dir_okay=False)],
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
    scrypt_n: ScryptOption = DEFAULT_SCRYPT_N,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUTPUT.")] = False,
) -> None:
    """Write the signing key as a v3 keystore (same password) for geth or MetaMask."""
    _check_scrypt(scrypt_n)
    if output.exists() and not overwrite:
        raise CommandFailed(f"{output} exists (use --overwrite)")
    password = read_password(password_file)
    identity = open_identity(wallet, password)
    with err.status("encrypting the key (scrypt)…"):
        identity.export_keystore(output, password, scrypt_n=scrypt_n, overwrite=overwrite)
    err.print(f"[green]exported[/green] {identity.address} to {output}")


@app.command()
@handled
def unlock(
    lifetime: Annotated[
        str,
        typer.Option(
            "--for", help="How long the agent holds the key: 90s, 15m, 2h, 1d (plain: seconds)."
        ),
    ] = "15m",
    wallet: WalletOption = DEFAULT_WALLET,
    password_file: PasswordFileOption = None,
) -> None:
    """Open the wallet once and keep it open in an agent (as ssh-agent does).

    Until it expires or `consent wallet lock`, commands with this --wallet sign through
    the agent: no password, no scrypt. The keys stay in the agent's memory, behind a
    Unix socket only you can open; neither they nor the password touch the disk."""
    seconds = agent.parse_lifetime(lifetime)
    if not (wallet / SIGNING_KEY_FILE).exists():
        raise CommandFailed(f"no wallet in {wallet} (create one with `consent wallet create`)")
    password = read_password(password_file)
    with err.status("opening the keystore in the agent (scrypt)…"):
        info = agent.start(wallet, password, seconds)
    out.print(
        f"[green]unlocked[/green] {info['address']} until {when(info['expires_at'])}"
        f" (agent {info['pid']}, socket {info['socket']})"
    )
    err.print(f"`consent wallet lock --wallet {wallet}` ends it sooner")


@app.command()
@handled
def lock(wallet: WalletOption = DEFAULT_WALLET) -> None:
    """End the agent holding this wallet: the next command asks for the password again."""
    if agent.lock(wallet):
        out.print(f"[green]locked[/green] {wallet}: the agent is gone")
    else:
        out.print(f"{wallet} was not unlocked")

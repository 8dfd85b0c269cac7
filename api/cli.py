"""The ``consent`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from api.commands import register
from api.http_timeouts import timed_h11
from api.logs import log_config
from api.main import create_app
from api.node import open_node
from api.settings import Settings

app = typer.Typer(
    help="Resident Consent Ledger: consent-based data sharing on a permissioned chain."
)
console = Console(stderr=True)


@app.callback()
def main() -> None:
    """Resident Consent Ledger."""


@app.command()
def serve(
    data_dir: Annotated[
        Path, typer.Option(help="Where the chain, keys and deployment live.")
    ] = Path("consent-data"),
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    chain_url: Annotated[
        str | None,
        typer.Option(envvar="CONSENT_CHAIN_URL", help="JSON-RPC URL of an external node."),
    ] = None,
    admin: Annotated[
        str | None, typer.Option(help="Address of an existing admin (else one is created).")
    ] = None,
    block_period: Annotated[float, typer.Option(help="Embedded chain: seconds per block.")] = 1.0,
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="CONSENT_DATABASE_URL",
            help="SQLAlchemy URL (e.g. postgresql+psycopg://…); default SQLite in the data dir.",
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            envvar="CONSENT_PUBLIC_URL",
            help="The URL wallets reach this service at; sign-in texts name it."
            " Default http://HOST:PORT.",
        ),
    ] = None,
) -> None:
    """Run the API on the embedded chain (or on --chain-url).

    Other settings come from ``CONSENT_*`` variables (README, "Running the service"):
    rate limits, body bound, header and body timeouts, the metrics token."""
    settings = Settings(
        data_dir=data_dir,
        host=host,
        port=port,
        chain_url=chain_url,
        admin=admin,
        block_period=block_period,
        database_url=database_url,
        public_url=public_url,
    )
    with console.status("opening the ledger (first start deploys the contracts)…"):
        node = open_node(settings)
    for line in node.created:
        console.print(f"[green]•[/green] {line}")
    console.print(
        f"chain {node.chain.chain_id} at block {node.chain.w3.eth.block_number}; "
        + ", ".join(f"{n} {a}" for n, a in node.deployment.contracts.items())
    )
    try:
        uvicorn.run(
            create_app(node=node),
            host=host,
            port=port,
            log_config=log_config(),
            # uvicorn bounds idle keep-alive only: these close slow heads and bodies.
            http=timed_h11(settings.header_timeout, settings.body_timeout),
            # Open notification streams never end by themselves: a stop cuts them after 3 s.
            timeout_graceful_shutdown=3,
        )
    finally:
        node.close()


register(app)

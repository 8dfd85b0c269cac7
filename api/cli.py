"""The ``consent`` command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from api.commands import register
from api.http_timeouts import timed_h11
from api.logs import log_config
from api.main import create_app
from api.node import Node, open_node
from api.settings import Settings
from api.workers import provision_relayers, worker_environment
from ledger.chain.child import ChainChild
from ledger.chain.opening import PROCESS_SCHEME

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
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            envvar="CONSENT_SERVE_WORKERS",
            help="HTTP worker processes, each with its own relayer account; above 1 the"
            " embedded chain runs in a process of its own. Default: the machine's cores.",
            show_default=False,
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
    workers = workers or os.cpu_count() or 1
    if workers > 1:
        serve_workers(settings, workers)
        return
    with console.status("opening the ledger (first start deploys the contracts)…"):
        node = open_node(settings)
    _opened(node)
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


def _opened(node: Node) -> None:
    for line in node.created:
        console.print(f"[green]•[/green] {line}")
    console.print(
        f"chain {node.chain.chain_id} at block {node.chain.w3.eth.block_number}; "
        + ", ".join(f"{n} {a}" for n, a in node.deployment.contracts.items())
    )


def serve_workers(settings: Settings, workers: int) -> None:
    """The chain process (embedded), one open of the node here, then the workers."""
    child = None
    if settings.chain_url is None:
        child = ChainChild(
            settings.data_dir, block_period=settings.block_period, chain_id=settings.chain_id
        )
        with console.status("starting the chain process…"):
            child.start()
        settings = settings.model_copy(update={"chain_url": PROCESS_SCHEME + child.url})
    try:
        with console.status("opening the ledger (first start deploys the contracts)…"):
            node = open_node(settings)
        try:
            _opened(node)
            provision_relayers(node, workers)
        finally:
            node.close()
        os.environ.update(worker_environment(settings, workers))
        uvicorn.run(
            "api.workers:worker_app",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_config=log_config(),
            http="api.workers:WorkerH11",
            timeout_graceful_shutdown=3,
            # A worker answers its supervisor's pings once imported (py-evm, web3: some
            # seconds on a busy machine); uvicorn's 5 s would restart it before then.
            timeout_worker_healthcheck=60,
        )
    finally:
        if child is not None:
            child.stop()


register(app)

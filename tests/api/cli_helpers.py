"""What the CLI tests share: a world served over real HTTP, wallets on disk, the app.

``served`` is the ``world`` of :mod:`tests.api.conftest` (a node on the embedded chain,
populated with departments, roles and residents with records) behind a real uvicorn on
127.0.0.1, so the commands talk to it exactly as they would to ``consent serve``.
``served_anvil`` is the same on the session's anvil node. Test modules import the
fixtures they use from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.commands import register
from api.commands.demo_support import serve_in_thread
from tests.api.conftest import FAST_SCRYPT, World, make_world
from wallets.identity import Identity

PASSWORD = "correct horse battery staple"
#: Variables a user's shell may set that would change what the commands do.
USER_ENV = (
    "CONSENT_API",
    "CONSENT_WALLET",
    "CONSENT_PASSWORD",
    "CONSENT_PASSWORD_FILE",
    "CONSENT_CHAIN_URL",
)


@dataclass
class Served:
    world: World
    url: str
    folder: Path

    def wallet(self, who: Identity, name: str) -> list[str]:
        """``--wallet DIR --password-file FILE --api URL`` for ``who`` (saved on first use)."""
        directory = self.folder / name
        password = self.folder / f"{name}.password"
        if not directory.exists():
            who.save(directory, PASSWORD, scrypt_n=FAST_SCRYPT)
            password.write_text(PASSWORD + "\n")
        return ["--wallet", str(directory), "--password-file", str(password), "--api", self.url]

    def bare_wallet(self, who: Identity, name: str) -> list[str]:
        """``--wallet DIR --api URL`` (no password given: the agent or a prompt)."""
        options = self.wallet(who, name)
        return [options[0], options[1], *options[4:]]


def make_cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """consent (test)"""

    register(app)
    return app


@pytest.fixture
def cli() -> typer.Typer:
    return make_cli()


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in USER_ENV:
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def _served(tmp_path: Path, chain_url: str | None) -> Iterator[Served]:
    for world in make_world(tmp_path / "node", chain_url=chain_url):
        assert world.node is not None
        with serve_in_thread(world.node) as url:
            yield Served(world, url, tmp_path / "wallets")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from _served(tmp_path, None)


@pytest.fixture
def served_anvil(tmp_path: Path, anvil_node_url: str) -> Iterator[Served]:
    yield from _served(tmp_path, anvil_node_url)

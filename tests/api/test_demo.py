"""``consent demo``: the whole narrated story over real HTTP, as a test."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.commands import register


@pytest.mark.slow
def test_demo_story_holds_end_to_end(tmp_path: Path) -> None:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """consent (test)"""

    register(app)
    # block_period 0: a block per batch, so the story runs in seconds, not a minute.
    result = CliRunner().invoke(
        app, ["demo", "--data-dir", str(tmp_path / "demo"), "--block-period", "0"]
    )
    assert result.exit_code == 0, result.output
    assert "The story held" in result.output
    for reason in ("not_granted", "expired", "revoked"):
        assert f"refused with '{reason}'" in result.output
    assert "audit ok" in result.output


@pytest.mark.slow
def test_demo_story_holds_end_to_end_on_anvil(tmp_path: Path, anvil_node_url: str) -> None:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """consent (test)"""

    register(app)
    result = CliRunner().invoke(
        app, ["demo", "--data-dir", str(tmp_path / "demo"), "--chain-url", anvil_node_url]
    )
    assert result.exit_code == 0, result.output
    assert "The story held" in result.output
    for reason in ("not_granted", "expired", "revoked"):
        assert f"refused with '{reason}'" in result.output
    assert "audit ok" in result.output


def test_demo_refuses_a_data_dir_in_use(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("")
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """consent (test)"""

    register(app)
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "not empty" in result.output

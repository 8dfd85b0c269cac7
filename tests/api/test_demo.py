"""``consent demo``: the whole narrated story over real HTTP, as a test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.commands import register
from ledger.vocabulary import TERMS


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
    assert_it_teaches(result.output)
    assert_one_signature_serves_three_departments(result.output)


def assert_one_signature_serves_three_departments(output: str) -> None:
    """Run at most once: one bundle, three departments served, one revocation, three
    refusals ``revoked``, in that order."""
    text = " ".join(output.split())
    chapter = text[text.index("A child is born") : text.index("Li Wei reads the access log")]
    assert "NEWBORN_REGISTRATION is defined: Civil Affairs Bureau" in chapter
    # a bundle's id is its first consent's: the consents listed start at it
    granted = re.search(r"bundle (\d+): one GrantBundle signature, consents (\d+)", chapter)
    assert granted is not None and granted[1] == granted[2], chapter
    departments = ("Civil Affairs Bureau", "Health Commission", "Social Insurance Bureau")
    served = [chapter.index(f"✓ {d} reads ") for d in departments]
    ended = chapter.index("one RevokeBundle ended consents")
    refused = [chapter.index(f"✓ {d} asks again under consent ") for d in departments]
    assert served == sorted(served) and served[-1] < ended < min(refused), chapter
    for d in departments:
        after = chapter[chapter.index(f"✓ {d} asks again") :]
        assert after.split("✓ the refusal", 1)[0].rstrip().endswith("refused with 'revoked'"), d
    for command in (
        "consent admin service define NEWBORN_REGISTRATION",
        "consent bundle grant NEWBORN_REGISTRATION --narrow SI:days=30",
        f"consent bundle show {granted[1]}",
        f"consent bundle revoke {granted[1]}",
    ):
        assert f"by hand: $ {command}" in output, command
    assert "six reads and six refusals" in text


def assert_it_teaches(output: str) -> None:
    """Each step that a person could do shows its command; each term is said once."""
    lines = [line.strip() for line in output.splitlines()]
    for term in ("intent", "relayer", "record root", "salted commitment"):
        said = [line for line in lines if line.startswith(f"{term}: ")]
        assert said == [f"{term}: {TERMS[term]}"], term
    chapters = output.split("\n\n")[1:]
    taught = [c for c in chapters if "by hand: $ consent " in c]
    # every chapter but the first (the node starting) and "A month passes" (only the
    # node's owner moves chain time)
    assert len(taught) == len(chapters) - 2, [c.splitlines()[0] for c in chapters]
    for command in (
        "consent admin department 0x",
        "consent enroll 0x",
        "consent request create 0x",
        "consent grant --request 0x",
        "consent query 0x",
        "consent revoke ",
        "consent access-log",
        "consent audit verify",
    ):
        assert f"by hand: $ {command}" in output, command


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
    assert_one_signature_serves_three_departments(result.output)


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

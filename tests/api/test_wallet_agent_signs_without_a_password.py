"""``consent wallet unlock`` starts a real agent: later commands sign through it without
a password, its socket is 0600 in a 0700 directory, the password is nowhere on disk or
in its command line, ``lock`` ends it and the next command asks again; it also ends at
its expiry."""

from __future__ import annotations

import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.api import cli_helpers
from tests.api.cli_helpers import PASSWORD, Served
from wallets import agent

served, cli, runner = cli_helpers.served, cli_helpers.cli, cli_helpers.runner


@pytest.fixture
def runtime_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # Short, as runtime directories are: a socket path may be 107 bytes at most, and
    # pytest's tmp_path under a worker of pytest-xdist is already most of that.
    folder = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))
    folder.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_socket_path_too_long_for_unix_is_refused_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / ("d" * 100)
    deep.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
    with pytest.raises(agent.AgentError, match="XDG_RUNTIME_DIR"):
        agent.start(tmp_path, "password", 60)


def gone(pid: int, within: float = 15.0) -> bool:
    """The process has exited (a zombie counts: it is this test's child, not yet reaped)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def test_unlocked_commands_need_no_password_until_locked(
    served: Served, cli: typer.Typer, runner: CliRunner, runtime_dir: Path
) -> None:
    w = served.world
    with_password = served.wallet(w.resident, "resident")
    bare = served.bare_wallet(w.resident, "resident")
    wallet_dir = Path(bare[1])
    password_file = with_password[3]

    unlocked = runner.invoke(
        cli, ["wallet", "unlock", "--for", "10m", "--wallet", str(wallet_dir),
              "--password-file", password_file],
    )  # fmt: skip
    assert unlocked.exit_code == 0, unlocked.output
    assert f"unlocked {w.resident.address}" in unlocked.stdout
    path = agent.socket_path(wallet_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.parent.parent == runtime_dir
    held = agent.connect(wallet_dir)
    assert held is not None
    try:
        cmdline = Path(f"/proc/{held.pid}/cmdline").read_bytes()
        assert PASSWORD.encode() not in cmdline
        for file in runtime_dir.rglob("*"):
            if file.is_file():
                assert PASSWORD.encode() not in file.read_bytes()

        # No --password-file, no $CONSENT_PASSWORD, no terminal: only the agent can sign.
        consents = runner.invoke(cli, ["consents", *bare])
        assert consents.exit_code == 0, consents.output
        grant = runner.invoke(cli, ["grant", "HB", "-f", "income", "-p", "HOUSING", "--yes", *bare])
        assert grant.exit_code == 0, grant.output  # a signed intent and unwrapped record keys
        listed = runner.invoke(cli, ["consents", "--json", *bare])
        assert listed.exit_code == 0 and '"income"' in listed.stdout
        shown = runner.invoke(cli, ["wallet", "show", "--wallet", str(wallet_dir)])
        assert "unlocked" in shown.stdout

        locked = runner.invoke(cli, ["wallet", "lock", "--wallet", str(wallet_dir)])
        assert locked.exit_code == 0 and "locked" in locked.stdout
        assert gone(held.pid) and not path.exists()
    finally:
        agent.lock(wallet_dir)

    again = runner.invoke(cli, ["consents", *bare], input="")
    assert again.exit_code != 0
    assert "Wallet password" in again.output


def test_the_agent_ends_at_its_expiry_and_a_wrong_password_starts_none(
    served: Served, cli: typer.Typer, runner: CliRunner, runtime_dir: Path
) -> None:
    bare = served.bare_wallet(served.world.resident, "resident")
    wallet_dir = bare[1]
    wrong = runner.invoke(
        cli, ["wallet", "unlock", "--wallet", wallet_dir], env={"CONSENT_PASSWORD": "wrong"}
    )
    assert wrong.exit_code == 1 and "wrong password" in wrong.stderr
    assert agent.connect(wallet_dir) is None

    short = runner.invoke(
        cli, ["wallet", "unlock", "--for", "2s", "--wallet", wallet_dir],
        env={"CONSENT_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert short.exit_code == 0, short.output
    held = agent.connect(wallet_dir)
    assert held is not None and held.expires_at <= time.time() + 3
    try:
        assert gone(held.pid), "the agent outlived its expiry"
        assert agent.connect(wallet_dir) is None
    finally:
        agent.lock(wallet_dir)


def test_durations_read_as_ssh_add_reads_them() -> None:
    assert agent.parse_lifetime("90") == 90
    assert agent.parse_lifetime("15m") == 900
    assert agent.parse_lifetime("2h") == 7200
    assert agent.parse_lifetime("1d") == 86_400
    for bad in ("", "soon", "0", "30d"):
        with pytest.raises(ValueError):
            agent.parse_lifetime(bad)

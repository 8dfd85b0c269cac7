"""What every client command shares: options, the wallet, output and error handling.

Every failure a user can cause or meet (a problem answer, an unreachable API, a wrong
password, a malformed file) ends as one sentence on stderr and a non-zero exit code,
never as a traceback: :func:`handled` wraps each command and gives it ``--verbose``,
which adds the raw answer (status, error name, arguments) under the sentence. The
sentences come from :mod:`api.messages`.

The wallet: a running agent for it (``consent wallet unlock``, :mod:`wallets.agent`)
signs without a password; otherwise the password comes from ``--password-file``,
``$CONSENT_PASSWORD`` or a prompt. Its directory also keeps what it trusts instead of
the server (``trust.json``, :mod:`wallets.trust`: pinned on first use with a notice, or
by ``consent wallet pin``) and the relayer's acceptance of every intent it sent
(``acceptances.jsonl``, one JSON line each: evidence should the intent never reach
the chain).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Column

from api.client import ConsentApi
from api.client_errors import ApiProblem, ClientError
from api.client_transport import DEFAULT_API
from api.messages import Names, explain
from ledger.acceptance import Acceptance
from ledger.codec import to_hex
from wallets import agent
from wallets.errors import InvalidAttestation, InvalidRecord, WalletError, WrongPassword
from wallets.identity import Identity
from wallets.trust import Pins

#: Results go to stdout, narration and errors to stderr (so ``--json`` output pipes cleanly).
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")

ApiOption = Annotated[
    str, typer.Option("--api", envvar="CONSENT_API", help="Base URL of the consent API.")
]
WalletOption = Annotated[
    Path,
    typer.Option(
        "--wallet",
        envvar="CONSENT_WALLET",
        help="Keystore directory (signing-key.json + encryption-key.json).",
    ),
]
PasswordFileOption = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        envvar="CONSENT_PASSWORD_FILE",
        help="File holding the wallet password (else $CONSENT_PASSWORD, else a prompt).",
        dir_okay=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ChainUrlOption = Annotated[
    str | None,
    typer.Option(
        envvar="CONSENT_CHAIN_URL",
        help="JSON-RPC URL of a node you trust: keys and record roots are read from it.",
    ),
]
#: After a revocation, re-encrypt what the ended consents exposed (``consent revoke``,
#: ``consent bundle revoke``).
RotateOption = Annotated[
    bool,
    typer.Option(
        "--rotate/--no-rotate",
        help="Then re-encrypt the exposed fields under fresh keys (a new version).",
    ),
]
ACCEPTANCES_FILE = "acceptances.jsonl"
DEFAULT_WALLET = Path("consent-wallet")
DEFAULT_API_URL = DEFAULT_API


class CommandFailed(Exception):
    """A command's own refusal (bad input noticed before any call)."""


VerboseOption = Annotated[
    bool,
    typer.Option("--verbose", "-v", help="On failure, also show the API's raw answer."),
]
_verbose = False


def handled(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors a user can meet into one sentence on stderr and exit code 1, and
    give the command a ``--verbose`` option that adds the raw answer."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        global _verbose
        _verbose = bool(kwargs.pop("verbose", False))
        try:
            return fn(*args, **kwargs)
        except ApiProblem as problem:
            fail_problem(problem)
        except ClientError as exc:
            fail(str(exc))
        except WrongPassword:
            fail("wrong password for this wallet (or the keystore was altered)")
        except InvalidRecord as exc:
            fail(f"cannot open the data: {exc}")
        except InvalidAttestation as exc:
            fail(f"attestation does not hold: {exc}")
        except WalletError as exc:
            fail(str(exc))
        except (CommandFailed, ValueError) as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
        raise AssertionError("unreachable")  # pragma: no cover

    # Typer reads the signature: the command's own parameters, then --verbose.
    signature = inspect.signature(fn, eval_str=True)
    verbose = inspect.Parameter(
        "verbose", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=VerboseOption
    )
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), verbose]
    )
    return wrapper


def fail(message: str, *, receipt: dict[str, Any] | None = None) -> None:
    err.print(f"[red]error:[/red] {escape(message)}")
    if receipt:
        err.print(f"  recorded on chain: {describe_receipt(receipt)}")
    raise typer.Exit(1)


def fail_problem(problem: ApiProblem, context: dict[str, Any] | None = None) -> None:
    """The problem as a sentence (with ``--verbose``: and as the API said it)."""
    names = Names(departments=problem.departments or {})
    sentence = explain(
        problem.document, status=problem.status, names=names, context=context or problem.context
    )
    err.print(f"[red]error:[/red] {escape(sentence)}")
    if problem.receipt:
        err.print(f"  recorded on chain: {describe_receipt(problem.receipt)}")
    if _verbose:
        err.print(f"  raw: {escape(problem.summary())}")
        err.print(f"  {escape(json.dumps(problem.document, default=str))}")
    else:
        err.print("  [dim](--verbose shows the API's raw answer)[/dim]")
    raise typer.Exit(1)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def read_password(password_file: Path | None, *, confirm: bool = False) -> str:
    """``--password-file``, else ``$CONSENT_PASSWORD``, else a prompt."""
    if password_file is not None:
        text = password_file.read_text(encoding="utf-8").rstrip("\r\n")
        if not text:
            raise CommandFailed(f"{password_file} is empty")
        return text
    env = os.environ.get("CONSENT_PASSWORD")
    if env:
        return env
    password: str = typer.prompt("Wallet password", hide_input=True, confirmation_prompt=confirm)
    if not password:
        raise CommandFailed("an empty password protects nothing")
    return password


def load_identity(wallet: Path, password_file: Path | None) -> Identity:
    """The wallet's identity: through its agent if one is unlocked, else opened here with
    the password (:func:`read_password`)."""
    _require_wallet(wallet)
    held = agent.connect(wallet)
    if held is not None:
        return held
    return open_identity(wallet, read_password(password_file))


def open_identity(wallet: Path, password: str) -> Identity:
    _require_wallet(wallet)
    with err.status(f"opening wallet {wallet}…"):
        return Identity.load(wallet, password)


def _require_wallet(wallet: Path) -> None:
    if not (wallet / "signing-key.json").exists():
        raise CommandFailed(f"no wallet in {wallet} (create one with `consent wallet create`)")


@contextmanager
def api_session(
    api: str,
    wallet: Path | None = None,
    password_file: Path | None = None,
    *,
    chain_url: str | None = None,
) -> Iterator[ConsentApi]:
    """A client, signed as the wallet's identity if ``wallet`` is given, trusting that
    wallet's pins (and the node at ``chain_url``) instead of the server."""
    identity = load_identity(wallet, password_file) if wallet is not None else None
    pins = Pins.load(wallet) if wallet is not None else None
    keep = functools.partial(keep_acceptance, wallet) if wallet is not None else None
    with ConsentApi(api, identity, pins=pins, notice=notice, keep_acceptance=keep) as client:
        try:
            if chain_url:
                client.connect_chain(chain_url)
            yield client
        except ApiProblem as problem:
            # Names for the sentence, while the client is still open (best effort).
            if problem.departments is None:
                try:
                    problem.departments = {d["address"]: d["name"] for d in client.departments()}
                except ClientError:
                    problem.departments = {}
            raise


def notice(text: str) -> None:
    """What the wallet pinned on first use, or a receipt that did not hold."""
    err.print(f"[yellow]notice:[/yellow] {escape(text)}")


def keep_acceptance(wallet: Path, name: str, acceptance: Acceptance, *, say: bool = True) -> None:
    """Append the relayer's acceptance to the wallet's ``acceptances.jsonl`` and say so
    (``say=False``: silently, for a batch that says it once for all)."""
    path = wallet / ACCEPTANCES_FILE
    line = {"type": name, "kept_at": int(datetime.now(UTC).timestamp()), **acceptance.to_json()}
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, separators=(",", ":")) + "\n")
    if not say:
        return
    err.print(
        f"[dim]relayer {short(acceptance.relayer)} accepted this {name} at"
        f" {when(acceptance.accepted_at)} (journal {acceptance.journal_id}); its signed"
        f" receipt is kept in {path}[/dim]"
    )


def print_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=_jsonable))


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return to_hex(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def when(timestamp: int | None, *, zone: bool = True) -> str:
    """A Unix time as ``2026-01-31 12:00:00 UTC`` (``zone=False``: without " UTC")."""
    if not timestamp:
        return "-"
    try:
        text = datetime.fromtimestamp(int(timestamp), tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):  # past year 9999: any uint64 is a valid time
        return f"{int(timestamp)} (Unix time)"
    return f"{text} UTC" if zone else text


def time_column(header: str = "when (UTC)") -> Column:
    return Column(header, no_wrap=True)


def short(value: str | None, keep: int = 10) -> str:
    if not value:
        return "-"
    text = str(value)
    return text if len(text) <= keep + 6 else f"{text[:keep]}…{text[-4:]}"


def describe_receipt(receipt: dict[str, Any]) -> str:
    log_index = receipt.get("log_index")
    where = f", log {log_index}" if log_index is not None else ""
    return (
        f"tx {receipt.get('tx_hash')} in block {receipt.get('block_number')}{where}"
        f" at {when(receipt.get('block_timestamp'))}"
    )


def split_names(values: list[str] | None) -> list[str]:
    """``--field a --field b`` and ``--field a,b`` alike."""
    names: list[str] = []
    for value in values or []:
        names.extend(part.strip() for part in value.split(",") if part.strip())
    return names


def parse_time(text: str | None, option: str) -> int | None:
    """``--since``/``--until``: Unix seconds, or an ISO 8601 date or time (UTC unless it
    names its zone): ``2026-01-31``, ``2026-01-31T12:00``, ``2026-01-31T12:00+08:00``."""
    if text is None:
        return None
    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CommandFailed(
            f"{option} takes Unix seconds or an ISO 8601 date (2026-01-31, 2026-01-31T12:00),"
            f" not {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def interactive() -> bool:
    """Whether a person can answer a question here (stdin is a terminal)."""
    return sys.stdin.isatty()


_DURATION_UNITS = {"d": 86_400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str, what: str = "a duration") -> int:
    """``30d``, ``12h``, ``90m``, ``3600s`` or a bare number of days (as ``--days``
    takes) → seconds, at least one."""
    value = text.strip().lower()
    unit = value[-1:] if value[-1:] in _DURATION_UNITS else "d"
    number = value[:-1] if value[-1:] in _DURATION_UNITS else value
    try:
        seconds = round(float(number) * _DURATION_UNITS[unit])
    except (ValueError, OverflowError):
        seconds = 0
    if seconds < 1 or number.strip() != number or not number:
        raise CommandFailed(
            f"{what} is a number of days or a number with a unit (30d, 12h, 90m, 3600s),"
            f" not {text!r}"
        )
    return seconds

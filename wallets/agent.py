"""A key agent, as ``ssh-agent`` is for SSH: unlock a wallet once, sign for a while.

Opening a keystore costs seconds of scrypt, on purpose; paying it on every command makes a
session of commands slow and trains people to put the password in a file. The agent is a
background process that opens the wallet once and then does, for the commands that ask,
the few things that need the private keys:

- ``sign_intent``: an EIP-712 intent of :mod:`ledger.intents` (typed: the agent checks the
  message against the intent's type, so it signs intents and nothing else);
- ``sign_text``: an EIP-191 ``personal_sign`` of a sign-in text;
- ``unwrap_key``: opens a field key wrapped (HPKE) for this identity.

The keys never leave the agent: a command gets an :class:`AgentIdentity`, which has the
public side of an :class:`~wallets.identity.Identity` and asks the agent for the rest.
The password reaches the agent through a pipe, the keys are only in its memory (no core
dumps, not ptrace-able), and neither is ever written to disk.

Where: one Unix socket per wallet, mode 0600, in ``$XDG_RUNTIME_DIR/consent-agent`` or else
a 0700 directory of the user's in the temporary directory; the agent also checks that
each caller is the same user (``SO_PEERCRED``). It exits at its expiry, when locked, or
on SIGTERM, and removes its socket.

Protocol: one JSON object per connection each way, newline-terminated:
``{"op": ..., ...}`` → ``{"ok": true, ...}`` or ``{"ok": false, "error": name, "detail"}``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from cryptography.hazmat.primitives.asymmetric import x25519
from eth_account.signers.local import LocalAccount

from ledger.codec import checksum_address, from_hex, to_hex
from wallets import errors
from wallets.identity import Identity
from wallets.key_wrap import HybridPrivateKey
from wallets.keystore import SIGNING_KEY_FILE, EncryptionKeys, read_json_file

DEFAULT_LIFETIME = 15 * 60
MAX_LIFETIME = 7 * 86_400
#: How long a command waits for the agent to answer (it only signs or unwraps).
CALL_TIMEOUT = 30.0
#: How long ``unlock`` waits for the agent to open the keystore (scrypt).
START_TIMEOUT = 120.0
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}


class AgentError(errors.WalletError):
    """No agent could be started or reached, or it refused."""


def parse_lifetime(text: str) -> int:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d`` → seconds (plain numbers are seconds, as
    ``ssh-add -t`` reads them)."""
    found = _DURATION.match(text)
    if not found:
        raise ValueError(f"not a duration: {text!r} (say 90s, 15m, 2h or 1d)")
    seconds = round(float(found.group(1)) * _UNITS[found.group(2)])
    if not 1 <= seconds <= MAX_LIFETIME:
        raise ValueError(f"a duration from 1 second to {MAX_LIFETIME // 86_400} days, not {text}")
    return seconds


# ---------------------------------------------------------------------------- where


def agent_dir() -> Path:
    """The directory of this user's agent sockets, created 0700 and checked to be the
    user's own and closed to others (a socket elsewhere could be someone else's)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        folder = Path(runtime) / "consent-agent"
    else:
        folder = Path(tempfile.gettempdir()) / f"consent-agent-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise AgentError(f"{folder} is not a directory of yours; refusing to use it")
    if info.st_mode & 0o077:
        raise AgentError(f"{folder} is open to other users (mode {info.st_mode & 0o777:o})")
    return folder


#: The longest path a Unix socket may have on Linux (``sun_path`` is 108 bytes with its NUL).
_SUN_PATH_MAX = 107


def socket_path(wallet: str | os.PathLike[str]) -> Path:
    """The socket of the agent holding ``wallet`` (one per wallet directory)."""
    key = hashlib.sha256(str(Path(wallet).resolve()).encode()).hexdigest()[:20]
    return agent_dir() / f"{key}.sock"


def wallet_address(wallet: str | os.PathLike[str]) -> str:
    """The address a wallet directory's signing keystore names (no password needed)."""
    document = read_json_file(Path(wallet) / SIGNING_KEY_FILE, "signing keystore")
    try:
        return checksum_address("0x" + str(document["address"]).removeprefix("0x"))
    except (KeyError, ValueError) as exc:
        raise errors.CorruptKeystore(f"{wallet}: the keystore names no address") from exc


# ---------------------------------------------------------------------------- client


def call(path: Path, request: Mapping[str, Any], *, timeout: float = CALL_TIMEOUT) -> Any:
    """Send one request to the agent at ``path``; its answer, or the error it names."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        try:
            conn.connect(str(path))
            conn.sendall(json.dumps(dict(request)).encode() + b"\n")
            answer = json.loads(_read_line(conn) or b"null")
        except (OSError, ValueError) as exc:
            raise AgentError(f"the agent at {path} did not answer: {exc}") from exc
    if not isinstance(answer, dict):
        raise AgentError(f"the agent at {path} answered nonsense")
    if not answer.get("ok"):
        raise _error(str(answer.get("error")), str(answer.get("detail") or ""))
    return answer


def _error(name: str, detail: str) -> errors.WalletError:
    known = {
        cls.__name__: cls
        for cls in (
            errors.WrongPassword,
            errors.CorruptKeystore,
            errors.KeystoreError,
            errors.InvalidIntent,
            errors.InvalidSignature,
        )
    }
    if name == "InvalidRecord":
        return errors.InvalidRecord()
    return known.get(name, AgentError)(detail or name)


def _read_line(conn: socket.socket, limit: int = 1 << 20) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            raise ValueError("request too long")
    return data.strip()


def connect(wallet: str | os.PathLike[str]) -> AgentIdentity | None:
    """The agent's identity for ``wallet`` if one is running and holds that wallet's key;
    ``None`` otherwise (a socket left by a killed agent is removed)."""
    path = socket_path(wallet)
    if not path.exists():
        return None
    try:
        info = call(path, {"op": "info"}, timeout=5)
    except AgentError:
        with contextlib.suppress(OSError):
            if not _answers(path):
                path.unlink()
        return None
    if info.get("address") != wallet_address(wallet):
        return None  # another wallet was put in this directory since it was unlocked
    return AgentIdentity(path, info)


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def start(wallet: str | os.PathLike[str], password: str, lifetime: int) -> dict[str, Any]:
    """Start an agent for ``wallet`` (replacing one that holds it) and wait until it has
    opened the keystore. Returns its ``info``; :class:`~wallets.errors.WrongPassword` etc.
    as opening the wallet here would raise."""
    folder = Path(wallet).resolve()
    path = socket_path(folder)  # an agent already there is replaced once this one is open
    if len(os.fsencode(path)) > _SUN_PATH_MAX:
        raise AgentError(
            f"the agent's socket {path} is longer than a Unix socket path may be"
            f" ({_SUN_PATH_MAX} bytes); set XDG_RUNTIME_DIR to a shorter directory"
        )
    process = subprocess.Popen(
        [sys.executable, "-m", "wallets.agent"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives the command, and its terminal's Ctrl-C
        close_fds=True,
    )
    assert process.stdin is not None and process.stdout is not None
    request = {"wallet": str(folder), "socket": str(path), "lifetime": lifetime}
    try:
        process.stdin.write(json.dumps({**request, "password": password}).encode() + b"\n")
        process.stdin.close()
        line = process.stdout.readline()
    finally:
        process.stdout.close()
    try:
        answer = json.loads(line or b"null")
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not answer.get("ok"):
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        if isinstance(answer, dict):
            raise _error(str(answer.get("error")), str(answer.get("detail") or ""))
        raise AgentError("the agent did not start")
    return answer


def lock(wallet: str | os.PathLike[str]) -> bool:
    """End the agent holding ``wallet``; ``False`` if none was running."""
    return _lock_at(socket_path(wallet))


def _lock_at(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        call(path, {"op": "lock"}, timeout=5)
    except AgentError:
        with contextlib.suppress(OSError):
            path.unlink()
        return False
    deadline = time.monotonic() + 5
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return True


class AgentIdentity(Identity):
    """An :class:`~wallets.identity.Identity` whose private keys stay in the agent: the
    public side is here, signing and unwrapping are requests to the agent."""

    def __init__(self, path: Path, info: Mapping[str, Any]) -> None:  # no keys to hold
        self.socket = path
        self._address = str(info["address"])
        self._public = from_hex(str(info["encryption_key"]), what="encryption key")
        hybrid = info.get("hybrid_encryption_key")
        self._hybrid = None if hybrid is None else from_hex(str(hybrid), what="hybrid key")
        self.expires_at = int(info["expires_at"])
        self.pid = int(info["pid"])

    def _refuse(self) -> NoReturn:
        raise AgentError("the private keys stay in the agent; open the wallet with its password")

    @property
    def address(self) -> str:
        return self._address

    @property
    def account(self) -> LocalAccount:
        self._refuse()

    @property
    def x25519_private_key(self) -> x25519.X25519PrivateKey:
        self._refuse()

    @property
    def hybrid_private_key(self) -> HybridPrivateKey | None:
        self._refuse()

    @property
    def encryption_keys(self) -> EncryptionKeys:
        self._refuse()

    @property
    def encryption_public_key(self) -> bytes:
        return self._public

    @property
    def hybrid_public_key(self) -> bytes | None:
        return self._hybrid

    def keystore_json(self, password: str, *, scrypt_n: int = 0) -> dict[str, Any]:
        self._refuse()

    def save(self, directory: Any, password: str, **_: Any) -> Path:
        self._refuse()

    def unwrap_key(self, wrapped: bytes, *, field: str, version: int) -> bytes:
        answer = call(
            self.socket,
            {"op": "unwrap_key", "wrapped": to_hex(wrapped), "field": field, "version": version},
        )
        return from_hex(str(answer["key"]), length=32, what="field key")

    def sign_intent(
        self, name: str, message: Mapping[str, Any], *, chain_id: int, verifying_contract: str
    ) -> bytes:
        from wallets.signing import message_to_json

        answer = call(
            self.socket,
            {
                "op": "sign_intent",
                "name": name,
                "message": message_to_json(name, message),
                "chain_id": chain_id,
                "verifying_contract": verifying_contract,
            },
        )
        return from_hex(str(answer["signature"]), length=65, what="signature")

    def sign_text(self, text: str) -> bytes:
        answer = call(self.socket, {"op": "sign_text", "text": text})
        return from_hex(str(answer["signature"]), length=65, what="signature")

    def __repr__(self) -> str:
        return f"AgentIdentity(address={self.address}, socket={self.socket})"


# ---------------------------------------------------------------------------- server


def _harden() -> None:
    """No core dump and no ptrace by other processes of the user: the keys are in memory."""
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


def _info(identity: Identity, wallet: str, expires_at: int) -> dict[str, Any]:
    hybrid = identity.hybrid_public_key
    return {
        "ok": True,
        "address": identity.address,
        "encryption_key": to_hex(identity.encryption_public_key),
        "hybrid_encryption_key": None if hybrid is None else to_hex(hybrid),
        "wallet": wallet,
        "expires_at": expires_at,
        "pid": os.getpid(),
    }


def _answer(identity: Identity, request: Mapping[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    op = request.get("op")
    if op == "info":
        return info
    if op == "sign_intent":
        signature = identity.sign_intent(
            str(request["name"]),
            dict(request["message"]),
            chain_id=int(request["chain_id"]),
            verifying_contract=str(request["verifying_contract"]),
        )
        return {"ok": True, "signature": to_hex(signature)}
    if op == "sign_text":
        return {"ok": True, "signature": to_hex(identity.sign_text(str(request["text"])))}
    if op == "unwrap_key":
        key = identity.unwrap_key(
            from_hex(str(request["wrapped"]), what="wrapped key"),
            field=str(request["field"]),
            version=int(request["version"]),
        )
        return {"ok": True, "key": to_hex(key)}
    return {"ok": False, "error": "AgentError", "detail": f"unknown request {op!r}"}


def serve(
    identity: Identity, listener: socket.socket, expires_at: float, info: dict[str, Any]
) -> None:
    """Answer requests until ``expires_at`` (Unix time) or a ``lock`` request."""
    while (left := expires_at - time.time()) > 0:
        listener.settimeout(min(left, 5.0))
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        with conn:
            conn.settimeout(CALL_TIMEOUT)
            try:
                if _peer_uid(conn) != os.getuid():
                    continue
                request = json.loads(_read_line(conn) or b"null")
                if not isinstance(request, dict):
                    raise ValueError("not a request")
                if request.get("op") == "lock":
                    conn.sendall(b'{"ok": true}\n')
                    return
                answer = _answer(identity, request, info)
            except errors.WalletError as exc:
                answer = {"ok": False, "error": type(exc).__name__, "detail": str(exc)}
            except (OSError, ValueError, KeyError, TypeError) as exc:
                answer = {"ok": False, "error": "AgentError", "detail": f"bad request: {exc}"}
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps(answer).encode() + b"\n")


def main() -> None:
    """The agent process: the request arrives on stdin, ``ready`` (or why not) goes to
    stdout, then it serves on its socket until it expires."""
    _harden()
    request = json.loads(sys.stdin.readline())
    sys.stdin.close()
    path = Path(request["socket"])

    def reply(answer: Mapping[str, Any]) -> None:
        sys.stdout.write(json.dumps(dict(answer)) + "\n")
        sys.stdout.flush()

    try:
        identity = Identity.load(request["wallet"], request.pop("password"))
    except errors.WalletError as exc:
        reply({"ok": False, "error": type(exc).__name__, "detail": str(exc)})
        return
    expires_at = int(time.time()) + int(request["lifetime"])
    _lock_at(path)  # the agent this one replaces (a wrong password left it running)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)  # the socket is born 0600
    try:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        listener.bind(str(path))
    finally:
        os.umask(previous)
    os.chmod(path, 0o600)
    listener.listen(16)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    info = _info(identity, request["wallet"], expires_at)
    try:
        reply({**info, "socket": str(path)})
        sys.stdout.close()
        serve(identity, listener, expires_at, info)
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            path.unlink()


if __name__ == "__main__":
    main()

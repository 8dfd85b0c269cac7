"""``consent serve --workers N``: HTTP in N processes, the embedded chain in its own.

One Python process shares one core between HTTP, relayer, indexer and py-evm. Here the
parent (uvicorn's supervisor, which restarts a worker that dies) starts the embedded
chain as a child process (:class:`ledger.chain.child.ChainChild`), opens the node once
in itself (the first start creates keys and deploys, so workers never race to), then
forks N workers. Each worker is a whole node over the chain process and the shared
database, with a relayer account of its own (a relayer *slot*, claimed with a lock
file so a restarted worker takes the one its dead predecessor held and settles that
relayer's journal), so the workers never coordinate nonces: the same rule as several
instances on one chain (DESIGN, "Deployment beyond one machine").
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import time
from pathlib import Path

from fastapi import FastAPI

from api.http_timeouts import TimedH11Protocol, timed_h11
from api.node import (
    ADMIN_DIR,
    ADMIN_PASSWORD_FILE,
    DEV_FUNDS,
    RELAYERS_DIR,
    Node,
    relayer_key_path,
    write_private,
)
from api.settings import Settings
from ledger.chain import TransactionSigner
from ledger.chain.child import die_with_parent
from ledger.codec import as_bytes, to_hex
from ledger.errors import LedgerError
from ledger.vocabulary import role_id
from wallets.identity import Identity

#: The parent's settings, as JSON, for the workers it spawns.
SETTINGS_ENV = "CONSENT_WORKER_SETTINGS"
#: How many relayer slots the workers share.
WORKERS_ENV = "CONSENT_WORKERS"
#: How long a worker waits for a slot a killed predecessor still holds.
SLOT_WAIT = 15.0

_held_slot: int | None = None  # the lock's descriptor stays open for the process's life


def claim_slot(data_dir: Path, count: int, wait: float = SLOT_WAIT) -> int:
    """The lowest free relayer slot of ``count``, locked for this process's life."""
    folder = Path(data_dir) / RELAYERS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    while True:
        for slot in range(count):
            fd = os.open(folder / f"slot-{slot}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return slot
        if time.monotonic() > deadline:
            raise LedgerError(f"all {count} relayer slots in {folder} are held")
        time.sleep(0.1)


def provision_relayers(node: Node, count: int) -> list[str]:
    """Slots 1..count-1: a key each (created on first use), funded on a development
    chain, and the relayer role, granted with the admin keystore this service made in
    its data directory. With an admin of the operator's own, the operator grants it
    (the error names each address); the addresses of every slot, in slot order."""
    data_dir = Path(node.settings.data_dir)
    addresses: list[str] = [node.relayer_key.address]
    for slot in range(1, count):
        key = relayer_key_path(data_dir, slot)
        if not key.exists():
            key.parent.mkdir(parents=True, exist_ok=True)
            write_private(key, to_hex(secrets.token_bytes(32)) + "\n")
        signer = TransactionSigner(as_bytes(key.read_text().strip()))
        addresses.append(signer.address)
        if node.chain.w3.eth.get_balance(signer.address) == 0:
            node.chain.fund(signer.address, DEV_FUNDS)
        if not node.client.has_role("relayer", signer.address):
            admin = _local_admin(node)
            if admin is None:
                raise LedgerError(
                    f"relayer slot {slot} ({signer.address}) lacks the relayer role: an admin"
                    f" grants it (consent admin role grant relayer {signer.address})"
                )
            node.client.transact(
                admin, "ConsentDirectory", "grantRole", role_id("relayer"), signer.address
            )
    return addresses


def _local_admin(node: Node) -> TransactionSigner | None:
    data_dir = Path(node.settings.data_dir)
    password = data_dir / ADMIN_PASSWORD_FILE
    if not password.exists() or not (data_dir / ADMIN_DIR / "address").exists():
        return None
    identity = Identity.load(data_dir / ADMIN_DIR, password.read_text().strip())
    if identity.address != node.admin:
        return None
    if node.chain.w3.eth.get_balance(identity.account.address) == 0:
        node.chain.fund(identity.address, DEV_FUNDS)
    return TransactionSigner(identity.account)


def _settings() -> Settings:
    return Settings.model_validate(json.loads(os.environ[SETTINGS_ENV]))


def worker_app() -> FastAPI:
    """uvicorn's factory in each worker: a node on this worker's relayer slot."""
    from api.main import create_app  # the app imports the node; keep this module light

    global _held_slot
    settings = _settings()
    # A SIGKILL of the parent must not leave workers serving on its socket and holding
    # their relayer slots: the next `consent serve` needs both.
    die_with_parent(os.getppid())
    if _held_slot is None:
        _held_slot = claim_slot(settings.data_dir, int(os.environ[WORKERS_ENV]))
    return create_app(settings.model_copy(update={"relayer_slot": _held_slot}))


def _worker_protocol() -> type[TimedH11Protocol]:
    if SETTINGS_ENV not in os.environ:
        return TimedH11Protocol
    settings = _settings()
    return timed_h11(settings.header_timeout, settings.body_timeout)


#: The timed HTTP protocol, by import path: uvicorn's workers are spawned, and a class
#: made at run time does not pickle.
WorkerH11 = _worker_protocol()


def worker_environment(settings: Settings, workers: int) -> dict[str, str]:
    """What the workers read their settings from."""
    return {SETTINGS_ENV: settings.model_dump_json(), WORKERS_ENV: str(workers)}

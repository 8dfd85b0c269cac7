"""The service's view of the ledger: chain, relayer key, admin, deployment, client.

On the first start in an empty data directory this creates the relayer key, an admin
keystore (unless an admin address is given) and deploys the contracts; later starts
reuse all three. The relayer key is a hot key by design (it only pays for and submits
signed intents), kept in a 0600 file; the admin key is a password-protected keystore
whose password is printed once and stored 0600 beside it for development use.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account

from api import tables  # noqa: F401 (defines the API's tables on the store's metadata)
from api.settings import Settings
from api.vault import apply_side_effects
from api.webhooks import RetryPolicy, WebhookDeliverer
from ledger.chain import Chain, TransactionSigner, open_chain
from ledger.client import LedgerClient
from ledger.codec import as_bytes, to_hex
from ledger.deployment import Deployment, load_or_deploy
from ledger.indexer import Indexer
from ledger.relayer import Relayer
from ledger.store import Store, default_url
from wallets.identity import Identity

log = logging.getLogger(__name__)
TOKEN_SECRET_FILE = "token.secret"

RELAYER_KEY_FILE = "relayer.key"
RELAYERS_DIR = "relayers"
ADMIN_DIR = "admin"
ADMIN_PASSWORD_FILE = "admin.password"
DEV_FUNDS = 10**24


@dataclass
class Node:
    settings: Settings
    chain: Chain
    relayer_key: TransactionSigner
    admin: str
    deployment: Deployment
    client: LedgerClient
    store: Store
    indexer: Indexer
    relayer: Relayer
    token_secret: bytes
    created: list[str]
    _stop: threading.Event | None = None
    _follower: threading.Thread | None = None
    _webhooks: WebhookDeliverer | None = None

    def start(self) -> None:
        """Catch the read model up, settle the journal, start relayer and follower.

        A read model that cannot catch up does not stop the start: the node serves with
        ``/health`` failing (``Indexer.failure``) and the follower keeps trying, so the
        cause can be mended without a restart loop."""
        if self._stop is not None:
            return
        try:
            self.indexer.catch_up()
        except Exception:
            log.exception("the read model could not catch up at start; retrying every second")
        self.relayer.start()
        self._stop = threading.Event()
        self._follower = threading.Thread(target=self._follow, name="indexer", daemon=True)
        self._follower.start()
        policy = RetryPolicy(
            base=self.settings.webhook_backoff_base,
            cap=self.settings.webhook_backoff_max,
            window=self.settings.webhook_retry_for,
        )
        self._webhooks = WebhookDeliverer(self.store, policy, self.settings.webhook_timeout)
        self._webhooks.start()

    def _follow(self) -> None:
        # Events from other instances or direct transactions reach the read model here;
        # a failing round is retried every second for as long as it fails, logged in full
        # when its reason changes and once more when it recovers.
        assert self._stop is not None
        reported: str | None = None
        while not self._stop.wait(1.0):
            try:
                self.indexer.catch_up()
            except Exception:
                if self.indexer.failure != reported:
                    log.exception("indexer round failed; retrying every second")
                    reported = self.indexer.failure
                continue
            if reported is not None:
                log.warning("indexer recovered after: %s", reported)
                reported = None

    def close(self) -> None:
        """Drain the relayer, stop following, close database and chain."""
        self.relayer.stop()
        if self._webhooks is not None:
            self._webhooks.stop()
        if self._stop is not None:
            self._stop.set()
        if self._follower is not None:
            self._follower.join(5)
        self.store.close()
        self.chain.close()


def open_node(settings: Settings) -> Node:
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    created: list[str] = []
    chain = open_chain(
        data_dir=data_dir,
        url=settings.chain_url,
        block_period=settings.block_period,
        chain_id=settings.chain_id,
    )
    try:
        relayer = TransactionSigner(_relayer_key(data_dir, created, settings.relayer_slot))
        admin = settings.admin or _admin_address(data_dir, created)
        if chain.w3.eth.get_balance(relayer.address) == 0:
            chain.fund(relayer.address, DEV_FUNDS)
        deployment, deployed = load_or_deploy(chain, relayer, data_dir=data_dir, admin=admin)
        if deployed:
            created.extend(f"deployed {n} at {a}" for n, a in deployment.contracts.items())
        client = LedgerClient(chain, deployment, relayer)
        store = Store(settings.database_url or default_url(data_dir))
        indexer = Indexer(client, store)
        node = Node(
            settings=settings,
            chain=chain,
            relayer_key=relayer,
            admin=admin,
            deployment=deployment,
            client=client,
            store=store,
            indexer=indexer,
            relayer=Relayer(client, store, indexer, apply=apply_side_effects),
            token_secret=_token_secret(settings, data_dir),
            created=created,
        )
    except BaseException:
        chain.close()
        raise
    return node


def _token_secret(settings: Settings, data_dir: Path) -> bytes:
    if settings.token_secret:
        return settings.token_secret.encode()
    path = data_dir / TOKEN_SECRET_FILE
    if not path.exists():
        write_private(path, secrets.token_hex(32) + "\n")
    return bytes.fromhex(path.read_text().strip())


def relayer_key_path(data_dir: Path, slot: int) -> Path:
    """Slot 0 is the first wave's one relayer key; the others sit in ``relayers/``."""
    if slot == 0:
        return data_dir / RELAYER_KEY_FILE
    return data_dir / RELAYERS_DIR / f"relayer-{slot}.key"


def _relayer_key(data_dir: Path, created: list[str], slot: int) -> bytes:
    path = relayer_key_path(data_dir, slot)
    if path.exists():
        return as_bytes(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    write_private(path, to_hex(key) + "\n")
    created.append(f"created relayer key {Account.from_key(key).address} in {path}")
    return key


def _admin_address(data_dir: Path, created: list[str]) -> str:
    folder = data_dir / ADMIN_DIR
    address_file = folder / "address"
    if address_file.exists():
        return address_file.read_text().strip()
    password = secrets.token_urlsafe(18)
    identity = Identity.create()
    identity.save(folder, password)
    write_private(data_dir / ADMIN_PASSWORD_FILE, password + "\n")
    address_file.write_text(identity.address + "\n")
    created.append(
        f"created admin {identity.address}: keystore in {folder}, password in "
        f"{data_dir / ADMIN_PASSWORD_FILE} (move it somewhere safe)"
    )
    return identity.address


def write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)

"""A served ledger made ready for a benchmark through the project's own API client
(``api.client.ConsentApi``): the admin registers departments and grants roles, actors
sign in, and a population of residents is enrolled and commits its records.

Where a step sends many writes at once (departments, enrolments, records) the client
signs them and :mod:`benchlib.load` sends them concurrently; the client's own calls
send one at a time and wait for each answer (see :mod:`benchlib.load` for why).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import x25519

from api.client import ConsentApi
from api.client_errors import ApiUnreachable
from api.client_sign_in import ApiSession
from benchlib.load import Answer, Job, setup_fire
from benchlib.presign import make_residents, presign
from benchlib.processes import Server
from ledger.codec import to_hex
from wallets.identity import Identity
from wallets.keystore import EncryptionKeys

#: Seconds a benchmark's own signatures stay valid (chain time): long enough for any setup.
DEADLINE_SECONDS = 3 * 3600


@dataclass(frozen=True)
class Department:
    identity: Identity
    name: str

    @property
    def key(self) -> bytes:
        return bytes(self.identity.account.key)

    @property
    def address(self) -> str:
        return self.identity.address

    @property
    def encryption_key(self) -> str:
        """The 0x-hex X25519 public key it registered."""
        return to_hex(self.identity.encryption_public_key)


class ServedLedger:
    """A served ledger: the domain to sign for, and its admin as a ``ConsentApi`` on the
    server's current address (it changes at every restart)."""

    def __init__(self, server: Server, admin: Identity) -> None:
        self.server = server
        self.admin_identity = admin
        self._admin: ConsentApi | None = None
        health = self.admin.health()
        self.chain_id = int(health["chain_id"])
        self.contracts: dict[str, str] = dict(health["contracts"])

    @classmethod
    def connect(cls, server: Server) -> ServedLedger:
        return cls(server, server.admin_identity())

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def admin(self) -> ConsentApi:
        if self._admin is None or self._admin.base_url != self.url:
            if self._admin is not None:
                self._admin.close()
            self._admin = ConsentApi(self.url, self.admin_identity)
        return self._admin

    def now(self) -> int:
        """The head block's time, as ``GET /health`` reports it."""
        return int(self.admin.health()["block_timestamp"])

    def context(self, deadline_seconds: int = DEADLINE_SECONDS) -> dict[str, Any]:
        """What a worker process needs to sign intents for this ledger."""
        now = self.now()
        return {
            "chain_id": self.chain_id,
            "contracts": self.contracts,
            "now": now,
            "deadline": now + deadline_seconds,
        }

    def register_departments(self, count: int, *, prefix: str = "Dept") -> list[Department]:
        """``count`` departments (fresh identities): signed by the admin's client, sent
        concurrently."""
        made = [Department(Identity.create(), f"{prefix} {i}") for i in range(count)]
        bodies = [
            self.admin.sign(
                "RegisterDepartment",
                {
                    "department": d.address,
                    "name": d.name,
                    "code": f"{prefix[:2].upper()}{i}",
                    "encryptionKey": d.identity.encryption_public_key,
                },
            )
            for i, d in enumerate(made)
        ]
        token = self.admin.token()
        jobs = [Job("POST", "/admin/departments", json.dumps(b).encode(), token) for b in bodies]
        setup_fire(self.url, jobs, 16, "registering departments")
        return made

    def grant_role(self, role: str) -> Identity:
        """A fresh identity given ``role`` by the admin."""
        identity = Identity.create()
        self.admin.grant_role(role, identity.address)
        return identity


def sign_in_many(url: str, identities: Sequence[Identity], concurrency: int = 32) -> dict[str, str]:
    """Bearer tokens (address → token), each identity signed in by the client's own
    sign-in (``ApiSession``), ``concurrency`` at a time over one shared connection pool."""
    transport = httpx.HTTPTransport(limits=httpx.Limits(max_connections=concurrency))

    def sign_in(identity: Identity) -> tuple[str, str]:
        # Not closed: closing a client closes its transport, which the others share.
        api = ApiSession(url, identity, timeout=300, transport=transport)
        for _ in range(3):  # a transport error spends nothing: ask again
            try:
                return identity.address, str(api.sign_in()["access_token"])
            except ApiUnreachable:
                pass
        return identity.address, str(api.sign_in()["access_token"])

    try:
        with ThreadPoolExecutor(max(1, min(concurrency, len(identities)))) as pool:
            return dict(pool.map(sign_in, identities))
    finally:
        transport.close()


def resident_identity(bundle: Mapping[str, Any]) -> Identity:
    """The identity of a resident made by :func:`benchlib.presign.make_residents`."""
    secret = x25519.X25519PrivateKey.from_private_bytes(bundle["encryption_secret"])
    return Identity(bundle["key"], EncryptionKeys(secret))


@dataclass
class Population:
    residents: list[dict[str, Any]]
    tokens: dict[str, str]
    presign_seconds: float
    setup_seconds: float
    consents: list[dict[str, Any]] = field(default_factory=list)


def populate(
    ledger: ServedLedger,
    departments: Sequence[Department],
    count: int,
    *,
    registrar: Identity,
    grants_per_resident: int = 0,
    naive: bool = False,
    concurrency: int = 64,
    enrol_nonce_base: int = 0,
    say: Callable[[str], None] = print,
) -> tuple[Population, list[dict[str, Any]]]:
    """Make ``count`` residents in worker processes, then enrol them, sign them in and
    commit their records through HTTP (concurrently). Returns the population and the
    residents' pre-signed bundles (with ``grants`` bodies not yet sent)."""
    context = ledger.context()
    context.update(
        registrar_key=bytes(registrar.account.key),
        departments=[
            {"address": d.address, "encryption_key": d.encryption_key} for d in departments
        ],
        grants_per_resident=grants_per_resident,
        naive=naive,
        enrol_nonce_base=enrol_nonce_base,
    )
    bundles, presign_seconds = presign(make_residents, context, list(range(count)))
    say(f"  pre-signed {count} residents' bodies in {presign_seconds:.1f} s (worker processes)")
    started = time.perf_counter()
    registrar_token = sign_in_many(ledger.url, [registrar], 1)[registrar.address]
    setup_fire(
        ledger.url,
        [Job("POST", "/residents", b["enrol"], registrar_token) for b in bundles],
        concurrency,
        "enrolling residents",
    )
    say(f"  enrolled {count} residents ({time.perf_counter() - started:.1f} s)")
    tokens = sign_in_many(
        ledger.url, [resident_identity(b) for b in bundles], concurrency=min(concurrency, 32)
    )
    say(f"  signed in {count} residents ({time.perf_counter() - started:.1f} s)")
    setup_fire(
        ledger.url,
        [
            Job("PUT", f"/residents/{b['address']}/record", b["commit"], tokens[b["address"]])
            for b in bundles
        ],
        concurrency,
        "committing records",
    )
    setup_seconds = time.perf_counter() - started
    say(f"  committed {count} records ({setup_seconds:.1f} s)")
    return Population(bundles, tokens, presign_seconds, setup_seconds), bundles


def grant_jobs(bundles: Sequence[dict[str, Any]], tokens: Mapping[str, str]) -> list[Job]:
    return [
        Job("POST", "/consents", body, tokens[b["address"]], tag=(b["address"], dept))
        for b in bundles
        for body, dept in zip(b["grants"], b["granted_to"], strict=True)
    ]


def grant_consents(
    url: str, jobs: Sequence[Job], concurrency: int, what: str = "granting"
) -> list[dict[str, Any]]:
    """Send :func:`grant_jobs` (setup); ``{"id", "resident", "department"}`` of each."""
    return consents_of(setup_fire(url, jobs, concurrency, what, keep_body=True))


def consents_of(granted: Iterable[Answer]) -> list[dict[str, Any]]:
    """``{"id", "resident", "department"}`` of each answered ``POST /consents`` job."""
    return [
        {"id": int(a.json()["consent_id"]), "resident": a.job.tag[0], "department": a.job.tag[1]}
        for a in granted
        if a.ok
    ]

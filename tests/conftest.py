"""Shared fixtures: a deployed system on a fresh embedded chain or on the module's anvil.

The ``system`` fixture runs every test that uses it twice, once per backend, so the
contract suite proves the same behaviour on py-evm and on a real JSON-RPC node.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain import Chain, TransactionSigner
from ledger.chain.anvil import AnvilNode, find_anvil_binary
from ledger.chain.embedded import EmbeddedChain
from ledger.chain.process import ProcessChain, serve_chain
from ledger.chain.rpc import RpcChain
from ledger.client import LedgerClient
from ledger.deployment import Deployment, deploy
from ledger.errors import ChainUnavailable
from ledger.types import ConsentTerms, Event, Outcome, SignedIntent
from ledger.vocabulary import name_to_bytes32, role_id
from wallets.signing import sign_intent

ETHER = 10**18
ZERO32 = b"\0" * 32

# pytest-xdist's workers inherit COLUMNS/LINES of the controlling terminal; rich fixes a
# console's width from COLUMNS when the console is made (the CLI makes its consoles at
# import), so the CLI tests' own COLUMNS would be ignored in whichever worker imported
# the CLI first. Without them rich measures at each write, as in a serial run.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)


def b32(name: str) -> bytes:
    return name_to_bytes32(name)


def fields(*names: str) -> list[bytes]:
    """Field ids in the strictly ascending order the contracts require."""
    return sorted(b32(n) for n in names)


# One anvil per test module, keeping no state history on disk: a node shared by a whole
# worker's session grew to thousands of blocks, and anvil writes every state that falls
# out of its last 500 in memory to ~/.foundry/anvil/tmp as a full JSON dump (12 GB by
# the end of a run; CI's disk filled). No test reads a state 500 blocks old.
_TEST_ANVIL_ARGS = ["--max-persisted-states", "0"]


@pytest.fixture(scope="module")
def anvil_node_url() -> Iterator[str]:
    url = os.environ.get("CONSENT_TEST_ANVIL_URL")
    if url:
        yield url
        return
    try:
        find_anvil_binary()
    except ChainUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    with AnvilNode(extra_args=_TEST_ANVIL_ARGS) as node:
        yield node.url


@contextmanager
def process_chain(path: Path) -> Iterator[ProcessChain]:
    """The embedded chain as `consent serve --workers` reaches it: served over HTTP (from
    a thread here, the same server its own process runs)."""
    with (
        EmbeddedChain(path, block_period=0) as embedded,
        serve_chain(embedded) as server,
        ProcessChain(server.url) as chain,
    ):
        yield chain


@pytest.fixture(params=["embedded", "anvil"])
def any_chain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Chain]:
    if request.param == "embedded":
        if "system" in request.fixturenames:
            # The test's own copy of a chain the system is already deployed on.
            request.getfixturevalue("_embedded_system_template").copy_to(tmp_path)
        backend: Chain = EmbeddedChain(tmp_path / "chain.sqlite3", block_period=0)
    else:
        backend = RpcChain(request.getfixturevalue("anvil_node_url"))
    with backend:
        yield backend


@dataclass
class System:
    """A deployed ledger with a cast of funded actors and helpers to sign as them."""

    chain: Chain
    client: LedgerClient
    relayer: TransactionSigner
    admin: LocalAccount
    registrar: LocalAccount
    issuer: LocalAccount
    departments: list[LocalAccount]
    residents: list[LocalAccount]
    _nonce: int = field(default=1_000)

    @property
    def dept(self) -> LocalAccount:
        return self.departments[0]

    @property
    def resident(self) -> LocalAccount:
        return self.residents[0]

    def now(self) -> int:
        return self.chain.latest_timestamp()

    def nonce(self) -> int:
        self._nonce += 1
        return self._nonce

    def sign(
        self,
        name: str,
        signer: LocalAccount,
        message: Mapping[str, Any],
        terms: ConsentTerms | tuple[ConsentTerms, ...] | None = None,
        *,
        chain_id: int | None = None,
        verifying_contract: str | None = None,
    ) -> SignedIntent:
        full = {"nonce": self.nonce(), "deadline": self.now() + 3600, **message}
        if name == "Attest":
            full.pop("nonce"), full.pop("deadline")
        signature = sign_intent(
            signer.key,
            name,
            full,
            chain_id=chain_id or self.chain.chain_id,
            verifying_contract=verifying_contract or self.client.verifying_contract(name),
        )
        return SignedIntent(name, full, signature, terms)

    def submit(self, *intents: SignedIntent) -> list[Outcome]:
        return self.client.submit(list(intents))

    def one(self, intent: SignedIntent) -> Event:
        return self.client.submit_one(intent)

    # --- common intents --------------------------------------------------------

    def grant_intent(
        self,
        resident: LocalAccount | None = None,
        department: LocalAccount | None = None,
        names: tuple[str, ...] = ("income", "name"),
        **overrides: Any,
    ) -> SignedIntent:
        resident = resident or self.resident
        department = department or self.dept
        now = self.now()
        message = {
            "resident": resident.address,
            "department": department.address,
            "fields": fields(*names),
            "purpose": b32("HOUSING"),
            "validFrom": now,
            "validUntil": now + 30 * 86400,
            "maxUses": 0,
            "requestId": ZERO32,
            **overrides,
        }
        return self.sign("Grant", resident, message)

    def grant(self, *args: Any, **overrides: Any) -> tuple[int, ConsentTerms]:
        event = self.one(self.grant_intent(*args, **overrides))
        return int(event.args["consentId"]), ConsentTerms.from_event(event.args)

    def access_intent(
        self,
        consent_id: int,
        terms: ConsentTerms,
        names: tuple[str, ...] = ("income",),
        department: LocalAccount | None = None,
        resident: LocalAccount | None = None,
    ) -> SignedIntent:
        department = department or self.dept
        message = {
            "department": department.address,
            "resident": (resident or self.resident).address,
            "consentId": consent_id,
            "fields": fields(*names),
        }
        return self.sign("Access", department, message, terms)

    def enroll_intent(
        self, resident: str, commitment: bytes | None = None, **kw: Any
    ) -> SignedIntent:
        signer = kw.pop("signer", self.registrar)
        message = {
            "resident": resident,
            "idCommitment": commitment if commitment is not None else secrets.token_bytes(32),
            "encryptionKey": secrets.token_bytes(32),
            **kw,
        }
        return self.sign("EnrollResident", signer, message)


def build_system(chain: Chain) -> System:
    relayer = TransactionSigner(Account.create())
    admin, registrar, issuer = Account.create(), Account.create(), Account.create()
    departments = [Account.create() for _ in range(3)]
    residents = [Account.create() for _ in range(3)]
    chain.fund(relayer.address, 1_000 * ETHER)
    chain.fund(admin.address, 10 * ETHER)
    deployment = deploy(chain, relayer, admin=admin.address)
    system = System(
        chain=chain,
        client=LedgerClient(chain, deployment, relayer),
        relayer=relayer,
        admin=admin,
        registrar=registrar,
        issuer=issuer,
        departments=departments,
        residents=residents,
    )
    setup = [
        system.sign(
            "RegisterDepartment",
            admin,
            {
                "department": d.address,
                "name": f"Department {i}",
                "code": f"D{i}",
                "encryptionKey": secrets.token_bytes(32),
            },
        )
        for i, d in enumerate(departments)
    ]
    setup.append(
        system.sign(
            "GrantRole",
            admin,
            {"role": role_id("registrar"), "account": registrar.address, "fields": []},
        )
    )
    setup.append(
        system.sign(
            "GrantRole",
            admin,
            {
                "role": role_id("issuer"),
                "account": issuer.address,
                "fields": fields("name", "income"),
            },
        )
    )
    for outcome in system.submit(*setup):
        outcome.unwrap()
    for outcome in system.submit(*(system.enroll_intent(r.address) for r in residents)):
        outcome.unwrap()
    commits = [
        system.sign(
            "CommitRecord",
            r,
            {"resident": r.address, "version": 1, "root": secrets.token_bytes(32)},
        )
        for r in residents
    ]
    for outcome in system.submit(*commits):
        outcome.unwrap()
    return system


@dataclass(frozen=True)
class _Cast:
    """The keys of a :func:`build_system` cast and what it left: with the chain state it
    made (a copy of the file, or a node reverted to a snapshot), the system a fresh build
    would give (the same blocks and state; the same actors each time)."""

    relayer_key: bytes
    admin_key: bytes
    registrar_key: bytes
    issuer_key: bytes
    department_keys: tuple[bytes, ...]
    resident_keys: tuple[bytes, ...]
    deployment: Deployment
    nonce: int

    @classmethod
    def of(cls, system: System) -> _Cast:
        return cls(
            relayer_key=bytes(system.relayer.account.key),
            admin_key=bytes(system.admin.key),
            registrar_key=bytes(system.registrar.key),
            issuer_key=bytes(system.issuer.key),
            department_keys=tuple(bytes(d.key) for d in system.departments),
            resident_keys=tuple(bytes(r.key) for r in system.residents),
            deployment=system.client.deployment,
            nonce=system._nonce,
        )

    def restore(self, chain: Chain) -> System:
        def account(key: bytes) -> LocalAccount:
            return Account.from_key(key)

        relayer = TransactionSigner(account(self.relayer_key))
        system = System(
            chain=chain,
            client=LedgerClient(chain, self.deployment, relayer),
            relayer=relayer,
            admin=account(self.admin_key),
            registrar=account(self.registrar_key),
            issuer=account(self.issuer_key),
            departments=[account(k) for k in self.department_keys],
            residents=[account(k) for k in self.resident_keys],
            _nonce=self.nonce,
        )
        # The cast's blocks are older than this test: one block stamped now, so the head's
        # time is the clock's, as on a chain just built (windows are measured from it).
        chain.time_travel(0)
        return system


@dataclass(frozen=True)
class _SystemTemplate:
    """An embedded chain file on which :func:`build_system` has run: each test using
    ``system`` opens its own copy."""

    directory: Path
    cast: _Cast

    FILES = ("chain.sqlite3", "faucet.key")

    def copy_to(self, directory: Path) -> None:
        for name in self.FILES:
            shutil.copyfile(self.directory / name, directory / name)


@pytest.fixture(scope="session")
def _embedded_system_template(tmp_path_factory: pytest.TempPathFactory) -> _SystemTemplate:
    directory = tmp_path_factory.mktemp("system-template")
    with EmbeddedChain(directory / "chain.sqlite3", block_period=0) as chain:
        system = build_system(chain)
    # Closed: the WAL is checkpointed into the one file that the copies take.
    return _SystemTemplate(directory, _Cast.of(system))


@dataclass
class _AnvilSnapshot:
    """The module's anvil right after :func:`build_system`, as an ``evm_snapshot`` id
    (anvil spends a snapshot on reverting to it: each test takes the next one)."""

    cast: _Cast
    snapshot: str

    def revert(self, chain: RpcChain) -> System:
        assert chain._rpc("evm_revert", [self.snapshot]) is True, "anvil lost the snapshot"
        self.snapshot = chain._rpc("evm_snapshot", [])
        return self.cast.restore(chain)


@pytest.fixture(scope="module")
def _anvil_system_snapshot(anvil_node_url: str) -> _AnvilSnapshot | None:
    if os.environ.get("CONSENT_TEST_ANVIL_URL"):
        return None  # a node of someone else's, maybe shared: never rewind it
    with RpcChain(anvil_node_url) as chain:
        system = build_system(chain)
        return _AnvilSnapshot(_Cast.of(system), chain._rpc("evm_snapshot", []))


@pytest.fixture
def system(request: pytest.FixtureRequest, any_chain: Chain) -> System:
    if isinstance(any_chain, EmbeddedChain):
        # any_chain opened a copy of the template (it does whenever ``system`` is asked for)
        template: _SystemTemplate = request.getfixturevalue("_embedded_system_template")
        return template.cast.restore(any_chain)
    if isinstance(any_chain, RpcChain):
        snapshot: _AnvilSnapshot | None = request.getfixturevalue("_anvil_system_snapshot")
        if snapshot is not None:
            return snapshot.revert(any_chain)
    return build_system(any_chain)


@pytest.hookimpl(trylast=True)  # after pytest-randomly has shuffled
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The ``slow`` tests first (in their shuffled order), so that pytest-xdist hands them
    out while the quick ones can still fill the other workers: last, one of them would
    run on alone while every other worker stands idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)

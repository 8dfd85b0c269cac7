"""An API world: a node on a fresh chain, an HTTP client, and a cast of actors who sign in
and sign intents the way an outside wallet would (``/eip712``, ``/nonces``, personal_sign).

``world`` runs on the embedded chain with SQLite; ``pg_world`` on PostgreSQL (a fresh
schema per test, skipped when no server answers on 127.0.0.1:5432).
"""

from __future__ import annotations

import atexit
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from api.main import create_app
from api.node import ADMIN_DIR, ADMIN_PASSWORD_FILE, Node, open_node
from api.settings import Settings
from ledger.chain import TransactionSigner
from ledger.vocabulary import name_to_bytes32, role_id
from tests.postgres import pg_schema
from wallets.grants import wrap_keys_for_department
from wallets.identity import Identity
from wallets.record import RecordVersion
from wallets.signing import signed_intent_body

FAST_SCRYPT = 2**10


def ids(*names: str) -> list[bytes]:
    return sorted(name_to_bytes32(n) for n in names)


@dataclass
class World:
    node: Node | None
    http: httpx.Client
    admin: Identity
    actors: dict[str, Identity] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    records: dict[str, RecordVersion] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Identity:
        try:
            return self.__dict__["actors"][name]
        except KeyError:
            raise AttributeError(name) from None

    # --- talking to the API ------------------------------------------------------

    def headers(self, who: Identity | None) -> dict[str, str]:
        if who is None:
            return {}
        if who.address not in self.tokens:
            challenge = self.http.post("/auth/challenge", json={"address": who.address}).json()
            signature = Account.sign_message(
                encode_defunct(text=challenge["message"]), who.account.key
            ).signature
            answer = self.http.post(
                "/auth/token",
                json={
                    "address": who.address,
                    "message": challenge["message"],
                    "signature": "0x" + bytes(signature).hex(),
                },
            )
            assert answer.status_code == 200, answer.text
            self.tokens[who.address] = answer.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[who.address]}"}

    def now(self) -> int:
        return int(self.http.get("/health").json()["block_timestamp"])

    def body(
        self, who: Identity, name: str, message: Mapping[str, Any], **extra: Any
    ) -> dict[str, Any]:
        spec = self.http.get("/eip712").json()["intents"][name]
        contract = spec["domain"]["verifyingContract"]
        nonces = self.http.get(f"/nonces/{who.address}").json()
        contracts = self.http.get("/health").json()["contracts"]
        (key,) = [name for name, address in contracts.items() if address == contract]
        full = {"nonce": nonces[key], "deadline": self.now() + 600, **message}
        signed = signed_intent_body(
            who.account.key,
            name,
            full,
            chain_id=spec["domain"]["chainId"],
            verifying_contract=contract,
        )
        return {**signed, **extra}

    def post(self, path: str, who: Identity | None, json: Any) -> Any:
        return self.http.post(path, json=json, headers=self.headers(who))

    def put(self, path: str, who: Identity | None, json: Any) -> Any:
        return self.http.put(path, json=json, headers=self.headers(who))

    def get(self, path: str, who: Identity | None, **params: Any) -> Any:
        return self.http.get(path, params=params, headers=self.headers(who))

    # --- the story's steps ------------------------------------------------------

    def new(self, role: str) -> Identity:
        identity = Identity.create()
        self.actors[role] = identity
        return identity

    def register_department(self, role: str, name: str, code: str) -> Identity:
        dept = self.new(role)
        answer = self.post(
            "/admin/departments",
            self.admin,
            self.body(
                self.admin,
                "RegisterDepartment",
                {
                    "department": dept.address,
                    "name": name,
                    "code": code,
                    "encryptionKey": dept.encryption_public_key,
                },
            ),
        )
        assert answer.status_code == 201, answer.text
        return dept

    def grant_role(self, role_name: str, role: str, fields: list[str] | None = None) -> Identity:
        who = self.new(role_name)
        answer = self.post(
            "/admin/roles",
            self.admin,
            self.body(
                self.admin,
                "GrantRole",
                {"role": role_id(role), "account": who.address, "fields": ids(*(fields or []))},
            ),
        )
        assert answer.status_code == 201, answer.text
        return who

    def enroll(self, role: str) -> Identity:
        resident = self.new(role)
        answer = self.post(
            "/residents",
            self.registrar,
            self.body(
                self.registrar,
                "EnrollResident",
                {
                    "resident": resident.address,
                    "idCommitment": secrets.token_bytes(32),
                    "encryptionKey": resident.encryption_public_key,
                },
            ),
        )
        assert answer.status_code == 201, answer.text
        return resident

    def upload(self, resident: Identity, values: dict[str, str], version: int = 1) -> Any:
        record = RecordVersion.build(
            values,
            resident=resident.address,
            version=version,
            owner_public_key=resident.encryption_public_key,
        )
        answer = self.put(
            f"/residents/{resident.address}/record",
            resident,
            self.body(
                resident,
                "CommitRecord",
                {"resident": resident.address, "version": version, "root": record.root},
                fields=record.envelopes(),
            ),
        )
        if answer.status_code == 200:
            self.records[resident.address] = record
        return answer

    def grant_body(
        self,
        resident: Identity,
        dept: Identity,
        fields: list[str],
        *,
        days: int = 30,
        max_uses: int = 0,
        request_id: str | None = None,
        valid_from: int | None = None,
    ) -> dict[str, Any]:
        now = self.now()
        start = now if valid_from is None else valid_from
        record = self.records[resident.address]
        return self.body(
            resident,
            "Grant",
            {
                "resident": resident.address,
                "department": dept.address,
                "fields": ids(*fields),
                "purpose": name_to_bytes32("HOUSING"),
                "validFrom": start,
                "validUntil": start + days * 86400,
                "maxUses": max_uses,
                "requestId": request_id or "0x" + "00" * 32,
            },
            wrapped_keys=wrap_keys_for_department(
                record,
                fields,
                department=dept.address,
                department_public_key=dept.encryption_public_key,
            ),
            version=record.version,  # what the keys open, as the CLI's client says too
        )

    def grant(self, resident: Identity, dept: Identity, fields: list[str], **kw: Any) -> int:
        answer = self.post("/consents", resident, self.grant_body(resident, dept, fields, **kw))
        assert answer.status_code == 201, answer.text
        return int(answer.json()["consent_id"])

    def query_body(
        self, dept: Identity, resident: Identity, consent_id: int, fields: list[str]
    ) -> dict[str, Any]:
        return self.body(
            dept,
            "Access",
            {
                "department": dept.address,
                "resident": resident.address,
                "consentId": consent_id,
                "fields": ids(*fields),
            },
        )

    def query(self, dept: Identity, resident: Identity, consent_id: int, fields: list[str]) -> Any:
        return self.post("/queries", dept, self.query_body(dept, resident, consent_id, fields))

    def revoke(self, resident: Identity, consent_id: int) -> Any:
        return self.post(
            f"/consents/{consent_id}/revoke",
            resident,
            self.body(resident, "Revoke", {"resident": resident.address, "consentId": consent_id}),
        )


def populate(world: World) -> World:
    """Two departments, a registrar, an issuer, an auditor, two residents with records."""
    world.register_department("dept", "Housing Bureau", "HB")
    world.register_department("dept2", "Tax Office", "TX")
    world.grant_role("registrar", "registrar")
    world.grant_role("issuer", "issuer", ["income", "name"])
    world.grant_role("auditor", "auditor")
    world.enroll("resident")
    world.enroll("resident2")
    for who in (world.resident, world.resident2):
        answer = world.upload(
            who, {"name": "Li Wei", "income": "52000", "address": "1 Lake Rd", "phone": "138"}
        )
        assert answer.status_code == 200, answer.text
    return world


def fast_admin(data_dir: Path) -> Identity:
    """The admin a node finds in ``data_dir`` on its first start (its address, keystore and
    password as the node writes them), its keystore at :data:`FAST_SCRYPT`: the node makes
    its own at full scrypt cost, seconds per world that no test is about."""
    folder = data_dir / ADMIN_DIR
    if (folder / "address").exists():
        password = (data_dir / ADMIN_PASSWORD_FILE).read_text().strip()
        return Identity.load(folder, password)
    admin, password = Identity.create(), secrets.token_urlsafe(18)
    admin.save(folder, password, scrypt_n=FAST_SCRYPT)
    (data_dir / ADMIN_PASSWORD_FILE).write_text(password + "\n")
    (folder / "address").write_text(admin.address + "\n")
    return admin


@dataclass(frozen=True)
class _WorldTemplate:
    """A data directory (embedded chain, SQLite store, keys) that :func:`populate` has set
    up, closed, with its cast: a copy of it opens as the same populated world would."""

    directory: Path
    actors: dict[str, Identity]
    records: dict[str, RecordVersion]
    signed_in: tuple[str, ...]  # who held a token when populate finished


#: Per process, by the settings a world was made with (the template ran populate under them).
_world_templates: dict[str, _WorldTemplate] = {}
_world_templates_root: list[Path] = []


def _world_template(settings_extra: Mapping[str, Any]) -> _WorldTemplate:
    key = repr(sorted(settings_extra.items()))
    if key not in _world_templates:
        if not _world_templates_root:
            root = Path(tempfile.mkdtemp(prefix="world-templates-"))
            atexit.register(shutil.rmtree, root, True)
            _world_templates_root.append(root)
        directory = _world_templates_root[0] / str(len(_world_templates))
        for world in _fresh_world(directory, None, None, settings_extra):
            template = _WorldTemplate(
                directory=directory,
                actors=dict(world.actors),
                records=dict(world.records),
                signed_in=tuple(
                    role for role, who in world.actors.items() if who.address in world.tokens
                )
                + (("",) if world.admin.address in world.tokens else ()),
            )
        _world_templates[key] = template
    return _world_templates[key]


def _fresh_world(
    data_dir: Path,
    database_url: str | None,
    chain_url: str | None,
    settings_extra: Mapping[str, Any],
) -> Iterator[World]:
    settings = Settings(
        data_dir=data_dir,
        block_period=0,
        database_url=database_url,
        chain_url=chain_url,
        **settings_extra,
    )
    admin = fast_admin(data_dir)
    node = open_node(settings)
    node.chain.fund(admin.address, 10**20)
    try:
        with TestClient(create_app(node=node)) as http:
            yield populate(World(node=node, http=http, admin=admin))
    finally:
        node.close()


def _copied_world(tmp_path: Path, settings_extra: Mapping[str, Any]) -> Iterator[World]:
    template = _world_template(settings_extra)
    shutil.copytree(template.directory, tmp_path, dirs_exist_ok=True)
    settings = Settings(data_dir=tmp_path, block_period=0, **settings_extra)
    admin = fast_admin(tmp_path)
    node = open_node(settings)
    try:
        # The template's blocks are older than this test: one block stamped now, so the
        # head's time is the clock's, as right after populate.
        node.chain.time_travel(0)
        with TestClient(create_app(node=node)) as http:
            world = World(
                node=node,
                http=http,
                admin=admin,
                actors=dict(template.actors),
                records=dict(template.records),
            )
            # Tokens are wall-clock bound: sign in afresh whoever populate left signed in.
            for role in template.signed_in:
                world.headers(world.admin if role == "" else world.actors[role])
            yield world
    finally:
        node.close()


def make_world(
    tmp_path: Path,
    *,
    database_url: str | None = None,
    chain_url: str | None = None,
    **settings_extra: Any,
) -> Iterator[World]:
    """A node on a fresh chain, populated. On the embedded chain with SQLite (the default)
    the world is a copy of one populated once per process with the same settings."""
    if database_url is None and chain_url is None:
        yield from _copied_world(tmp_path, settings_extra)
    else:
        yield from _fresh_world(tmp_path, database_url, chain_url, settings_extra)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


@pytest.fixture
def pg_world(tmp_path: Path) -> Iterator[World]:
    with pg_schema() as url:
        yield from make_world(tmp_path, database_url=url)


__all__ = ["FAST_SCRYPT", "TransactionSigner", "World", "ids"]

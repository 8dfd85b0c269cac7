"""The indexer: chain events into the read model, resuming, rebuilding, following forks.

Runs on the embedded chain and on anvil (the ``system`` fixture); the fork test needs
anvil's ``evm_snapshot``/``evm_revert`` and is skipped on the embedded chain. The tests of
hostile values and of the layout upgrade run on SQLite and on PostgreSQL too.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from ledger.audit import verify
from ledger.chain.rpc import RpcChain
from ledger.indexer import Indexer
from ledger.store import (
    LAYOUT,
    Store,
    access_requests,
    attestations,
    consents,
    envelopes,
    events,
    indexed_blocks,
    record_versions,
    residents,
    store_layout,
    wrapped_keys,
)
from ledger.types import ConsentTerms, Event
from tests.conftest import System, b32, fields

#: The read model proper; ``indexed_blocks`` is the indexer's bookkeeping (which range
#: ends it recorded depends on when it was called), compared separately.
READ_MODEL = (events, residents, record_versions, consents, access_requests)


def dump(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every row of every read-model table, in primary-key order."""
    result = {}
    with store.connect() as c:
        for table in READ_MODEL:
            keys = [col for col in table.primary_key.columns]
            rows = c.execute(select(table).order_by(*keys)).mappings().all()
            result[table.name] = [dict(r) for r in rows]
    return result


def event_keys(store: Store) -> list[tuple[int, int, str, str]]:
    with store.connect() as c:
        rows = c.execute(
            select(
                events.c.block_number, events.c.log_index, events.c.tx_hash, events.c.name
            ).order_by(events.c.block_number, events.c.log_index)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def fresh_dump(system: System) -> dict[str, list[dict[str, Any]]]:
    store = Store("sqlite://")
    try:
        Indexer(system.client, store).rebuild()
        return dump(store)
    finally:
        store.close()


@dataclass
class Story:
    """What :func:`run_story` did, as the chain recorded it."""

    request_id: str
    consent_id: int
    terms: ConsentTerms
    events: list[Event] = field(default_factory=list)
    tx_hashes: list[str] = field(default_factory=list)


def run_story(system: System, indexer: Indexer | None = None) -> Story:
    """Request, grant (answering the request), two accesses, a refusal, revoke, a refusal
    after the revocation; the indexer (if any) catches up after every step."""
    recorded: list[Event] = []
    hashes: list[str] = []

    def step(intent: Any) -> Event:
        (outcome,) = system.submit(intent)
        event = outcome.unwrap()
        recorded.append(event)
        hashes.append(outcome.receipt.tx_hash)
        if indexer is not None:
            indexer.catch_up()
        return event

    requested = step(
        system.sign(
            "AccessRequest",
            system.dept,
            {
                "department": system.dept.address,
                "resident": system.resident.address,
                "fields": fields("income", "name"),
                "purpose": b32("HOUSING"),
                "duration": 86400,
            },
        )
    )
    request_id = "0x" + bytes(requested.args["requestId"]).hex()
    granted = step(system.grant_intent(requestId=bytes(requested.args["requestId"])))
    consent_id = int(granted.args["consentId"])
    terms = ConsentTerms.from_event(granted.args)
    step(system.access_intent(consent_id, terms, ("income",)))
    step(system.access_intent(consent_id, terms, ("income", "name")))
    step(system.access_intent(consent_id, terms, ("income",), department=system.departments[1]))
    step(
        system.sign(
            "Revoke",
            system.resident,
            {"resident": system.resident.address, "consentId": consent_id},
            terms,
        )
    )
    step(system.access_intent(consent_id, terms, ("income",)))
    return Story(request_id, consent_id, terms, recorded, hashes)


def names_of(story: Story) -> list[str]:
    return [e.name for e in story.events]


# ---------------------------------------------------------------------- the story


def test_story_reaches_events_and_derived_tables(system: System) -> None:
    store = Store("sqlite://")
    indexer = Indexer(system.client, store)
    indexer.catch_up()
    with store.connect() as c:
        setup_names = [r[0] for r in c.execute(select(events.c.name)).all()]
    assert setup_names.count("DepartmentRegistered") == 3
    assert setup_names.count("ResidentEnrolled") == 3
    assert setup_names.count("RecordCommitted") == 3

    story = run_story(system, indexer)
    assert names_of(story) == [
        "AccessRequested",
        "ConsentGranted",
        "AccessLogged",
        "AccessLogged",
        "AccessDenied",
        "ConsentRevoked",
        "AccessDenied",
    ]
    assert indexer.last_block() == system.chain.w3.eth.block_number
    assert indexer.lag() == 0

    with store.connect() as c:
        rows = (
            c.execute(
                select(events)
                .where(events.c.consent_id == story.consent_id)
                .order_by(events.c.block_number, events.c.log_index)
            )
            .mappings()
            .all()
        )
        consent = c.execute(select(consents)).mappings().one()
        request = c.execute(select(access_requests)).mappings().one()
        resident = (
            c.execute(select(residents).where(residents.c.address == system.resident.address))
            .mappings()
            .one()
        )
        versions = c.execute(select(record_versions)).mappings().all()
    assert [r["name"] for r in rows] == [
        "ConsentGranted",
        "AccessLogged",
        "AccessLogged",
        "AccessDenied",
        "ConsentRevoked",
        "AccessDenied",
    ]
    assert all(r["resident"] == system.resident.address for r in rows)
    assert [r["department"] for r in rows].count(system.departments[1].address) == 1
    assert [r["tx_hash"] for r in rows] == story.tx_hashes[1:]
    denied = [json.loads(r["args"]) for r in rows if r["name"] == "AccessDenied"]
    assert [bytes.fromhex(a["reason"][2:]).rstrip(b"\0") for a in denied] == [
        b"not_granted",
        b"revoked",
    ]
    assert [json.loads(r["args"])["use"] for r in rows if r["name"] == "AccessLogged"] == [1, 2]

    assert consent["resident"] == system.resident.address
    assert consent["department"] == system.dept.address
    assert json.loads(consent["fields"]) == ["income", "name"]
    assert consent["purpose"] == "HOUSING"
    assert (consent["valid_from"], consent["valid_until"]) == (
        story.terms.valid_from,
        story.terms.valid_until,
    )
    assert consent["uses"] == 2
    assert consent["revoked"] is True
    assert consent["revoked_at"] == rows[4]["block_timestamp"]
    assert consent["request_id"] == story.request_id
    assert (consent["tx_hash"], consent["block_number"], consent["log_index"]) == (
        rows[0]["tx_hash"],
        rows[0]["block_number"],
        rows[0]["log_index"],
    )
    assert request["request_id"] == story.request_id
    assert request["consent_id"] == story.consent_id
    assert json.loads(request["fields"]) == ["income", "name"]
    assert resident["version"] == 1 and resident["registrar"] == system.registrar.address
    assert len(versions) == 3


# ---------------------------------------------------------------------- restart


def test_a_new_indexer_resumes_from_its_last_block(
    system: System, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'read-model.sqlite3'}"
    store = Store(url)
    first = Indexer(system.client, store)
    stopped_at = first.catch_up()
    before = len(event_keys(store))
    store.close()  # the process goes away

    story = run_story(system)
    head = int(system.chain.w3.eth.block_number)
    assert head > stopped_at

    ranges: list[tuple[int, int]] = []
    original = Indexer._index_range

    def spy(self: Indexer, start: int, end: int) -> int:
        ranges.append((start, end))
        return original(self, start, end)

    monkeypatch.setattr(Indexer, "_index_range", spy)
    store = Store(url)
    try:
        second = Indexer(system.client, store)
        assert second.last_block() == stopped_at
        assert second.catch_up() == head
        assert ranges == [(stopped_at + 1, head)]
        keys = event_keys(store)
        assert len(keys) == before + len(story.events)
        assert len(set(keys)) == len(keys)
        assert [k[2] for k in keys[before:]] == story.tx_hashes
        # Nothing more to do: no range is read twice.
        assert second.catch_up() == head
        assert len(ranges) == 1
        assert dump(store) == fresh_dump(system)
    finally:
        store.close()


# ---------------------------------------------------------------------- rebuild


def test_rebuild_from_scratch_yields_identical_rows(system: System) -> None:
    store = Store("sqlite://")
    indexer = Indexer(system.client, store)
    indexer.catch_up()
    run_story(system, indexer)  # indexed step by step
    incremental = dump(store)
    with store.connect() as c:
        event_blocks = {r[0] for r in c.execute(select(events.c.block_number)).all()}
        recorded = dict(c.execute(select(indexed_blocks.c.number, indexed_blocks.c.hash)).all())

    assert indexer.rebuild() == system.chain.w3.eth.block_number
    rebuilt = dump(store)
    assert rebuilt == incremental
    assert all(len(rows) > 0 for rows in rebuilt.values())
    with store.connect() as c:
        again = dict(c.execute(select(indexed_blocks.c.number, indexed_blocks.c.hash)).all())
    # Every block with events keeps its hash, the same before and after.
    assert event_blocks <= recorded.keys() & again.keys()
    assert {n: again[n] for n in event_blocks} == {n: recorded[n] for n in event_blocks}

    other = Store("sqlite://")
    try:
        Indexer(system.client, other).catch_up()
        assert dump(other) == incremental
    finally:
        other.close()


def test_a_replaced_block_hash_cuts_back_and_rederives(system: System) -> None:
    """A stored hash that no longer matches the chain counts as a replaced block: the
    read model is cut back to the last matching block and derived again."""
    store = Store("sqlite://")
    indexer = Indexer(system.client, store)
    indexer.catch_up()
    story = run_story(system, indexer)
    expected = dump(store)
    with store.connect() as c:
        grant_block = c.execute(
            select(consents.c.block_number).where(consents.c.consent_id == story.consent_id)
        ).scalar_one()
    with store.begin() as c:
        c.execute(
            update(indexed_blocks)
            .where(indexed_blocks.c.number >= grant_block)
            .values(hash="0x" + "ee" * 32)
        )
        # Leave a trace the cut-back must wipe out: derived state only the story made.
        c.execute(update(consents).values(uses=99))
    assert indexer.catch_up() == system.chain.w3.eth.block_number
    assert dump(store) == expected


# ---------------------------------------------------------------------- fork


def _rpc(system: System, method: str, params: list[Any]) -> Any:
    answer = system.chain.w3.provider.make_request(method, params)  # type: ignore[arg-type]
    assert "error" not in answer, answer
    return answer["result"]


def test_a_fork_on_anvil_is_followed(system: System) -> None:
    if not isinstance(system.chain, RpcChain):
        pytest.skip("the embedded chain (in process or its own) has no evm_snapshot/evm_revert")
    w3 = system.chain.w3
    store = Store("sqlite://")
    indexer = Indexer(system.client, store)
    indexer.catch_up()
    snapshot = _rpc(system, "evm_snapshot", [])
    fork_point = int(w3.eth.block_number)

    # Branch A: a grant to department 0 and an access, indexed.
    consent_a, terms_a = system.grant(names=("income", "name"))
    (access_a,) = system.submit(system.access_intent(consent_a, terms_a))
    access_a.unwrap()
    indexer.catch_up()
    branch_a_head = int(w3.eth.block_number)
    with store.connect() as c:
        assert c.execute(select(consents.c.department)).scalar_one() == system.dept.address
    a_hashes = {k[2] for k in event_keys(store) if k[0] > fork_point}
    assert len(a_hashes) == 2

    # Revert: the chain is shorter than the read model. Catching up cuts back.
    assert _rpc(system, "evm_revert", [snapshot]) is True
    system.relayer.resync()  # its nonces went back with the chain
    assert int(w3.eth.block_number) == fork_point
    assert indexer.catch_up() == fork_point
    assert dump(store) == fresh_dump(system)
    assert not a_hashes & {k[2] for k in event_keys(store)}

    # Branch B: other events at the same heights and beyond.
    snapshot = _rpc(system, "evm_snapshot", [])
    consent_b, terms_b = system.grant(department=system.departments[1], names=("phone",))
    assert consent_b == consent_a  # the same id, now naming another department
    for _ in range(2):
        system.submit(
            system.access_intent(consent_b, terms_b, ("phone",), department=system.departments[1])
        )[0].unwrap()
    system.one(
        system.sign(
            "Revoke",
            system.resident,
            {"resident": system.resident.address, "consentId": consent_b},
            terms_b,
        )
    )
    assert int(w3.eth.block_number) > branch_a_head

    assert indexer.catch_up() == int(w3.eth.block_number)
    assert indexer.lag() == 0
    model = dump(store)
    assert model == fresh_dump(system)
    assert not a_hashes & {r["tx_hash"] for r in model["events"]}
    (consent,) = model["consents"]
    assert consent["department"] == system.departments[1].address
    assert json.loads(consent["fields"]) == ["phone"]
    assert (consent["uses"], consent["revoked"]) == (2, True)
    story_names = [r["name"] for r in model["events"] if r["block_number"] > fork_point]
    assert story_names == ["ConsentGranted", "AccessLogged", "AccessLogged", "ConsentRevoked"]

    # A second fork, this time replaced by a longer branch before the indexer looks.
    indexed_b = {r["tx_hash"] for r in model["events"] if r["block_number"] > fork_point}
    branch_b_head = int(w3.eth.block_number)
    assert _rpc(system, "evm_revert", [snapshot]) is True
    system.relayer.resync()
    consent_c, terms_c = system.grant(names=("address",), maxUses=1)
    for _ in range(4):
        system.submit(system.access_intent(consent_c, terms_c, ("address",)))[0].unwrap()
    assert int(w3.eth.block_number) > branch_b_head  # same heights, other hashes
    indexer.catch_up()
    model = dump(store)
    assert model == fresh_dump(system)
    assert not indexed_b & {r["tx_hash"] for r in model["events"]}
    names = [r["name"] for r in model["events"] if r["block_number"] > fork_point]
    assert names == [
        "ConsentGranted",
        "AccessLogged",
        "AccessDenied",
        "AccessDenied",
        "AccessDenied",
    ]
    (consent,) = model["consents"]
    assert (consent["department"], consent["uses"], consent["revoked"]) == (
        system.dept.address,
        1,
        False,
    )


# ---------------------------------------------------------------------- hostile values

UINT64_TOP = 2**64 - 1
#: A field id that is not a name: the directory refuses to define it, but a query may
#: still name it (and is refused on chain, with the id in its ``AccessDenied``).
ODD_FIELD = b"\xff" * 32


def hostile_story(system: System) -> dict[str, Any]:
    """Every uint64 at its top (or 2**63) and the uint32 use cap at its top, each accepted
    on chain; then refused queries naming a field id that is not a name."""
    resident, dept = system.resident, system.dept
    scope = fields("income", "name")
    system.one(
        system.sign(
            "CommitRecord",
            resident,
            {"resident": resident.address, "version": UINT64_TOP, "root": b"\x07" * 32},
        )
    )
    requested = system.one(
        system.sign(
            "AccessRequest",
            dept,
            {
                "department": dept.address,
                "resident": resident.address,
                "fields": scope,
                "purpose": b32("HOUSING"),
                "duration": UINT64_TOP,
            },
        )
    )
    request_id = bytes(requested.args["requestId"])
    consent_id, terms = system.grant(
        validFrom=2**63,
        validUntil=UINT64_TOP,
        maxUses=2**32 - 1,
        requestId=request_id,
    )
    for consent, given in ((consent_id, terms), (consent_id + 1000, ConsentTerms.empty())):
        denied = system.one(
            system.sign(
                "Access",
                dept,
                {
                    "department": dept.address,
                    "resident": resident.address,
                    "consentId": consent,
                    "fields": [b32("income"), ODD_FIELD],
                },
                given,
            )
        )
        assert denied.name == "AccessDenied"
    return {"consent_id": consent_id, "request_id": "0x" + request_id.hex()}


def test_values_beyond_signed_64_bits_and_ids_that_are_not_names_are_indexed_exactly(
    system: System, any_store: Store
) -> None:
    """Before the read model held uint64 exactly, every round over these events raised
    OverflowError and the read model stood still for good."""
    indexer = Indexer(system.client, any_store)
    indexer.catch_up()
    story = hostile_story(system)
    head = int(system.chain.w3.eth.block_number)
    assert indexer.catch_up() == head
    assert indexer.failure is None
    odd_field = "0x" + ODD_FIELD.hex()
    with any_store.connect() as c:
        resident = (
            c.execute(select(residents).where(residents.c.address == system.resident.address))
            .mappings()
            .one()
        )
        top = c.execute(
            select(record_versions.c.version).where(
                record_versions.c.resident == system.resident.address,
                record_versions.c.version > 2**63,  # the filter compares real values
            )
        ).scalars()
        request = c.execute(select(access_requests)).mappings().one()
        consent = c.execute(select(consents)).mappings().one()
        denials = [
            json.loads(a)
            for a in c.execute(
                select(events.c.args).where(events.c.name == "AccessDenied")
            ).scalars()
        ]
    assert resident["version"] == UINT64_TOP
    assert list(top) == [UINT64_TOP]
    assert request["duration"] == UINT64_TOP
    assert json.loads(request["fields"]) == ["income", "name"]
    assert request["consent_id"] == story["consent_id"]
    assert (consent["valid_from"], consent["valid_until"]) == (2**63, UINT64_TOP)
    assert consent["max_uses"] == 2**32 - 1
    assert [d["fields"] for d in denials] == [["0x" + b32("income").hex(), odd_field]] * 2
    assert [d["consentId"] for d in denials] == [story["consent_id"], story["consent_id"] + 1000]

    assert dump(any_store) == fresh_dump(system)
    assert indexer.rebuild() == head
    assert dump(any_store) == fresh_dump(system)
    report = verify(system.client, any_store, to_block=head)
    assert report.ok, report.problems


# ---------------------------------------------------------------------- failing rounds


def test_a_round_the_database_refuses_sets_failure_until_one_succeeds(
    system: System, tmp_path: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'read-model.sqlite3'}")
    try:
        indexer = Indexer(system.client, store)
        indexer.catch_up()
        assert indexer.failure is None
        with store.begin() as c:
            c.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON indexed_blocks"
                " BEGIN SELECT RAISE(ABORT, 'the disk said no'); END"
            )
        system.grant()
        with pytest.raises(IntegrityError):
            indexer.catch_up()
        assert indexer.failure is not None
        assert indexer.failure.startswith("IntegrityError: ")
        assert "the disk said no" in indexer.failure and "\n" not in indexer.failure
        assert indexer.lag() > 0
        with store.begin() as c:
            c.exec_driver_sql("DROP TRIGGER refuse")
        assert indexer.catch_up() == int(system.chain.w3.eth.block_number)
        assert indexer.failure is None
        assert dump(store) == fresh_dump(system)
    finally:
        store.close()


# ---------------------------------------------------------------------- layout upgrade


def downgrade_to_layout_1(store: Store) -> None:
    """Make ``store`` look as the code before :class:`Uint64` left it: every uint64 as it
    is (the shift undone), 32-character labels, no layout row."""
    unshift = {
        "envelopes": ("version",),
        "wrapped_keys": ("version",),
        "attestations": ("version", "issued_at", "expires_at"),
        "residents": ("version",),
        "record_versions": ("version",),
        "consents": ("valid_from", "valid_until"),
        "access_requests": ("duration",),
    }
    with store.begin() as c:
        for table, columns in unshift.items():
            set_clause = ", ".join(f"{col} = {col} + 9223372036854775807 + 1" for col in columns)
            c.execute(text(f"UPDATE {table} SET {set_clause}"))
        if not store.is_sqlite:
            for table in ("envelopes", "wrapped_keys", "attestations", "consents"):
                column = "purpose" if table == "consents" else "field"
                c.execute(text(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE VARCHAR(32)"))
        c.execute(text("DROP TABLE store_layout"))


def test_a_layout_1_database_is_upgraded_keeping_the_vault_and_rederiving_the_rest(
    system: System, any_store: Store
) -> None:
    Indexer(system.client, any_store).catch_up()
    resident = system.resident.address
    vault = {
        "envelopes": {
            "resident": resident,
            "version": 1,
            "field": "income",
            "ciphertext": b"\x01" * 40,
            "nonce": b"\x02" * 12,
            "owner_wrapped_key": b"\x03" * 80,
        },
        "wrapped_keys": {"consent_id": 1, "version": 1, "field": "income", "wrapped_key": b"k"},
        "attestations": {
            "resident": resident,
            "field": "income",
            "version": 1,
            "issuer": system.issuer.address,
            "commitment": "0x" + "11" * 32,
            "issued_at": 1_800_000_000,
            "expires_at": 1_900_000_000,
            "message": "{}",
            "signature": "0x",
        },
    }
    tables = {"envelopes": envelopes, "wrapped_keys": wrapped_keys, "attestations": attestations}
    with any_store.begin() as c:
        for name, row in vault.items():
            c.execute(tables[name].insert().values(**row))
    expected = fresh_dump(system)
    downgrade_to_layout_1(any_store)
    url = any_store.url
    any_store.close()

    upgraded = Store(url)
    try:
        with upgraded.connect() as c:
            for name, row in vault.items():
                stored = c.execute(select(tables[name])).mappings().one()
                assert {k: stored[k] for k in row} == row, name
            assert c.execute(select(store_layout.c.layout)).scalar_one() == LAYOUT
            assert c.execute(select(func.count()).select_from(events)).scalar_one() == 0
        indexer = Indexer(system.client, upgraded)
        assert indexer.catch_up() == int(system.chain.w3.eth.block_number)
        assert dump(upgraded) == expected
        # The upgraded columns take what layout 1 could not.
        with upgraded.begin() as c:
            c.execute(
                update(envelopes).where(envelopes.c.resident == resident).values(version=UINT64_TOP)
            )
        with upgraded.connect() as c:
            assert c.execute(select(envelopes.c.version)).scalar_one() == UINT64_TOP
        Store(url).close()  # opening an upgraded database again changes nothing
        with upgraded.connect() as c:
            assert c.execute(select(envelopes.c.version)).scalar_one() == UINT64_TOP
    finally:
        upgraded.close()


# ---------------------------------------------------------------------- several processes


@pytest.mark.parametrize("stores", ["one store", "a store each"])
def test_indexers_catching_up_together_derive_what_one_indexer_derives(
    system: System, any_store: Store, monkeypatch: pytest.MonkeyPatch, stores: str
) -> None:
    """Instances (or worker processes) sharing a database each follow the chain: ranges
    they index at the same time are written once, in order, whatever the interleaving."""
    run_story(system)
    run_story(system)  # uses, revocations and versions change again: stale ranges would show
    expected = fresh_dump(system)
    monkeypatch.setattr("ledger.indexer._RANGE", 1)  # a range per block: many chances to race
    shared = [any_store] * 4 if stores == "one store" else [Store(any_store.url) for _ in range(4)]
    indexers = [Indexer(system.client, store) for store in shared]
    start = threading.Barrier(len(indexers))

    def catch_up(indexer: Indexer) -> int:
        start.wait()
        return indexer.catch_up()

    try:
        with ThreadPoolExecutor(len(indexers)) as pool:
            reached = list(pool.map(catch_up, indexers))
    finally:
        for store in set(shared) - {any_store}:
            store.close()
    head = int(system.chain.w3.eth.block_number)
    assert reached == [head] * len(indexers)
    assert dump(any_store) == expected


def test_a_range_another_process_indexed_meanwhile_is_not_applied_again(
    system: System, any_store: Store
) -> None:
    """An indexer that read the cursor before another process moved it writes nothing:
    a range applied again after later ones would set use counts and versions back."""
    run_story(system)
    run_story(system)
    ahead, behind = Indexer(system.client, any_store), Indexer(system.client, any_store)
    head = ahead.catch_up()
    expected = dump(any_store)
    for number in range(behind.start_block, head + 1):  # each stale range on its own
        assert behind._index_range(number, number) == head
        assert dump(any_store) == expected, f"block {number} was applied again"

"""``verify`` read in windows of blocks reports exactly what one window over the log does:
the same problems (kinds, details, receipts, in order) and counts, including problems
whose cause and effect lie in different windows."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import delete, insert, select, update

import ledger.audit as audit
from ledger.audit import AuditReport, ChainEvent, _Accesses, _check_accesses, verify
from ledger.audit_emergency import EmergencyReplay, emergency_problems
from ledger.indexer import Indexer
from ledger.intents import POWER_GRANT
from ledger.store import Store, consents, events
from ledger.types import Event
from ledger.vocabulary import EMERGENCY_REVIEW_PERIOD
from tests.conftest import System, fields
from tests.contracts.helpers import (
    appoint_intent,
    directive_intent,
    emergency_intent,
    remove_delegate_intent,
    role_intent,
)
from tests.ledger.test_audit import _granted, _logged, _revoked
from tests.ledger.test_indexer import run_story

ONE_WINDOW = 10**9


def as_json(report: AuditReport) -> dict[str, Any]:
    return {
        "events": report.events,
        "signatures_verified": report.signatures_verified,
        "problems": [p.as_json() for p in report.problems],
        "unacknowledged": report.unacknowledged,
    }


def both(system: System, store: Store, head: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report of one window, and of one block per window."""
    whole = verify(system.client, store, to_block=head, now=0, window_blocks=ONE_WINDOW)
    windowed = verify(system.client, store, to_block=head, now=0, window_blocks=1)
    return as_json(whole), as_json(windowed)


def resign(system: System, signer: LocalAccount, **kw: Any) -> None:
    system.one(system.sign("Grant", signer, system.grant_intent(**kw).message))


@pytest.fixture
def story(system: System) -> tuple[Store, int]:
    """A request, grant, accesses and revocation; a delegate appointed, signing a grant
    blocks later, removed; an emergency access never reviewed, its deadline passed."""
    run_story(system)
    delegate = system.residents[1]
    system.one(appoint_intent(system, delegate.address, POWER_GRANT))
    system.chain.time_travel(60)
    resign(system, delegate)
    system.one(remove_delegate_intent(system, delegate.address))
    ambulance = system.departments[1]
    system.one(role_intent(system, "emergency", ambulance.address, fields("health_summary")))
    system.one(directive_intent(system, ambulance.address, ("health_summary",)))
    system.one(emergency_intent(system, ambulance))
    system.chain.time_travel(EMERGENCY_REVIEW_PERIOD + 60)
    auditor = Account.create()
    system.one(role_intent(system, "auditor", auditor.address))
    store = Store("sqlite://")
    head = Indexer(system.client, store).catch_up()
    assert head - system.client.deployment.block_number > 10  # many one-block windows
    return store, head


def test_a_clean_log_and_a_cross_window_overdue_review_read_alike(
    system: System, story: tuple[Store, int]
) -> None:
    store, head = story
    whole, windowed = both(system, store, head)
    assert windowed == whole
    # the access (an early window) is judged overdue by the last block's time (the last)
    assert [p["kind"] for p in whole["problems"]] == ["emergency_review_overdue"]
    assert whole["signatures_verified"] > 10


def test_a_tampered_read_model_reads_alike_in_windows(
    system: System, story: tuple[Store, int]
) -> None:
    store, head = story
    with store.begin() as c:
        rows = [
            dict(r)
            for r in c.execute(
                select(events).order_by(events.c.block_number, events.c.log_index)
            ).mappings()
        ]
        first, middle, last = rows[3], rows[len(rows) // 2], rows[-1]
        c.execute(
            delete(events).where(
                events.c.block_number == first["block_number"],
                events.c.log_index == first["log_index"],
            )
        )
        c.execute(
            update(events)
            .where(
                events.c.block_number == middle["block_number"],
                events.c.log_index == middle["log_index"],
            )
            .values(tx_hash="0x" + "ab" * 32)
        )
        # an inserted row in an early block, and one past every event
        c.execute(
            insert(events).values({**last, "block_number": first["block_number"], "log_index": 900})
        )
        c.execute(insert(events).values({**last, "block_number": head, "log_index": 901}))
        c.execute(update(consents).values(uses=7))

    whole, windowed = both(system, store, head)

    assert windowed == whole
    kinds = [p["kind"] for p in whole["problems"]]
    assert {"event_missing", "event_altered", "event_not_on_chain", "consents_altered"} <= set(
        kinds
    )
    assert kinds.count("event_not_on_chain") == 2


def _shifted(item: ChainEvent, name: str, block: int, log_index: int, **args: Any) -> ChainEvent:
    """An event the chain never logged, placed at (``block``, ``log_index``) in the
    deployment's transaction (whose constructor events the signature check skips)."""
    return dataclasses.replace(
        item,
        event=Event(name, args, item.event.address, log_index),
        block_number=block,
        log_index=log_index,
    )


@pytest.fixture
def injected(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ChainEvent]]:
    """Events added to what the chain returns, window by window, in chain order."""
    extra: list[ChainEvent] = []
    real = audit.chain_events

    def chain_events(client: Any, start: int, end: int) -> Iterator[ChainEvent]:
        found = list(real(client, start, end))
        found += [e for e in extra if start <= e.block_number <= end]
        yield from sorted(found, key=lambda e: (e.block_number, e.log_index))

    monkeypatch.setattr(audit, "chain_events", chain_events)
    yield extra


def test_problems_whose_cause_is_in_an_earlier_window_read_alike(
    system: System, story: tuple[Store, int], injected: list[ChainEvent]
) -> None:
    store, head = story
    found = list(audit.chain_events(system.client, system.client.deployment.block_number, head))
    deployment_tx = found[0].tx_hash
    grant = next(e for e in found if e.event.name == "ConsentGranted")
    access = next(e for e in found if e.event.name == "AccessLogged")
    assert access.block_number > grant.block_number
    appointed = next(e for e in found if e.event.name == "DelegateAppointed")
    signed = next(e for e in found if e.event.name == "DelegateSigned")
    assert signed.block_number > appointed.block_number
    base = dataclasses.replace(found[0], tx_hash=deployment_tx)
    # the consent revoked in the grant's block: the access blocks later is after it
    injected.append(
        _shifted(
            dataclasses.replace(base, block_timestamp=grant.block_timestamp),
            "ConsentRevoked",
            grant.block_number,
            990,
            consentId=grant.event.args["consentId"],
            resident=grant.event.args["resident"],
            department=grant.event.args["department"],
        )
    )
    # the delegate removed in its appointment's block: its later signature is not in force
    injected.append(
        _shifted(
            dataclasses.replace(base, block_timestamp=appointed.block_timestamp),
            "DelegateRemoved",
            appointed.block_number,
            991,
            resident=appointed.event.args["resident"],
            delegate=appointed.event.args["delegate"],
        )
    )

    whole, windowed = both(system, store, head)

    assert windowed == whole
    details = [p["detail"] for p in whole["problems"]]
    assert any("after its revocation" in d for d in details), details
    assert any("appointment for" in d and "was removed at block" in d for d in details), details
    # the injected events are not in the read model either
    assert [p["kind"] for p in whole["problems"]].count("event_missing") == 2


def test_the_access_check_carries_consents_across_parts() -> None:
    log = [_granted(1), _revoked(2), _logged(3, 0, 1), _logged(4, 0, 2)]
    whole = AuditReport()
    _check_accesses(log, whole)
    parts = _Accesses()
    for item in log:
        parts.feed([item])
    assert [p.as_json() for p in parts.problems] == [p.as_json() for p in whole.problems]
    assert any("after its revocation" in p.detail for p in whole.problems)


def test_the_emergency_replay_carries_accesses_across_parts(
    system: System, story: tuple[Store, int]
) -> None:
    _, head = story
    found = list(audit.chain_events(system.client, system.client.deployment.block_number, head))
    authority = audit._Authority(system.client, found)
    now = system.chain.block_stamp(head)[1]
    whole = list(emergency_problems(found, authority.holds, now))
    replay = EmergencyReplay(authority.holds)
    parts = [p for item in found for p in replay.feed([item])] + replay.finish(now)
    assert parts == whole
    assert [k for k, _, _ in whole] == ["emergency_review_overdue"]


def test_a_worker_pool_gives_the_same_report(
    system: System, story: tuple[Store, int], injected: list[ChainEvent]
) -> None:
    store, head = story
    found = list(audit.chain_events(system.client, system.client.deployment.block_number, head))
    grant = next(e for e in found if e.event.name == "ConsentGranted")
    injected.append(
        _shifted(
            dataclasses.replace(found[0], block_timestamp=grant.block_timestamp),
            "ConsentRevoked",
            grant.block_number,
            990,
            consentId=grant.event.args["consentId"],
            resident=grant.event.args["resident"],
            department=grant.event.args["department"],
        )
    )
    alone = verify(system.client, store, to_block=head, now=0, window_blocks=3, workers=0)
    pooled = verify(system.client, store, to_block=head, now=0, window_blocks=3, workers=2)
    assert as_json(pooled) == as_json(alone)
    assert alone.signatures_verified > 10


def test_the_audit_reads_the_read_model_in_one_snapshot(tmp_path: Any) -> None:
    store = Store(f"sqlite:///{tmp_path / 'consent.sqlite3'}")
    row = {
        "block_number": 1,
        "log_index": 0,
        "tx_hash": "0x" + "00" * 32,
        "block_timestamp": 1,
        "contract": "ConsentLedger",
        "name": "ConsentRevoked",
        "args": "{}",
    }
    try:
        with store.begin() as c:
            c.execute(insert(events).values(row))
        with audit._snapshot(store) as c:
            count = len(c.execute(select(events.c.log_index)).all())
            with store.begin() as writer:  # the indexer goes on meanwhile
                writer.execute(insert(events).values({**row, "log_index": 1}))
            assert len(c.execute(select(events.c.log_index)).all()) == count == 1
        with store.connect() as c:
            assert len(c.execute(select(events.c.log_index)).all()) == 2
    finally:
        store.close()

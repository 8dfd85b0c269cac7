"""``verify`` of services and bundles: a bundle granted, used and revoked verifies; its
consents are held to its signed items and to its service and policy as they were at its
block; each check fails on real events altered in memory."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy import update

from ledger.audit import AuditReport, ChainEvent, _check_signatures, chain_events, verify
from ledger.audit_bundles import Signed, bundle_problems
from ledger.chain.embedded import EmbeddedChain
from ledger.indexer import Indexer
from ledger.store import Store, bundles
from ledger.types import Event, SignedIntent
from tests.conftest import System, b32, build_system, fields
from tests.contracts.bundles import (
    DAY,
    bundle_intent,
    define_intent,
    granted_terms,
    revoke_bundle_intent,
    service_items,
)
from tests.contracts.helpers import policy_intent, revoke_intent


@dataclass
class Story:
    """A plain grant, a service, a bundle of it used by each department, one of its
    consents revoked alone and then the bundle revoked."""

    bundle_id: int
    consents: list[int]
    plain: int


def tell(system: System) -> Story:
    plain, _ = system.grant(resident=system.residents[1])
    system.one(define_intent(system))
    (outcome,) = system.submit(bundle_intent(system))
    bundle_id = int(outcome.unwrap().args["bundleId"])
    granted = granted_terms(outcome.extra_events)
    for i, (consent_id, terms) in enumerate(granted):
        access = system.access_intent(consent_id, terms, ("name",), system.departments[i])
        assert system.one(access).name == "AccessLogged"
    system.one(revoke_intent(system, granted[1][0], granted[1][1]))
    revoked = system.one(revoke_bundle_intent(system, bundle_id, [t for _, t in granted]))
    assert revoked.name == "BundleRevoked"
    return Story(bundle_id, [c for c, _ in granted], plain)


def indexed(system: System) -> tuple[Store, Indexer, int]:
    store = Store("sqlite://")
    indexer = Indexer(system.client, store)
    return store, indexer, indexer.catch_up()


def test_a_bundle_granted_used_and_revoked_verifies(system: System) -> None:
    story = tell(system)
    store, _, head = indexed(system)

    report = verify(system.client, store, to_block=head)

    assert report.ok, [p.as_json() for p in report.problems]
    # set-up 11; the plain grant; DefineService, GrantBundle, 3 accesses, Revoke, RevokeBundle
    assert report.signatures_verified == 11 + 1 + 7
    assert story.consents == [story.plain + 1, story.plain + 2, story.plain + 3]


def test_a_consent_that_fitted_its_service_at_its_block_verifies_after_a_narrower_redefinition(
    system: System,
) -> None:
    """Proof that the service and the policy are taken as they were at the bundle's
    block: the same consent checked against the narrower definition, or the policy, that
    came later is reported."""
    system.one(define_intent(system))
    (outcome,) = system.submit(bundle_intent(system))
    (first, terms), *_ = granted_terms(outcome.extra_events)
    narrower = service_items(system)
    narrower[0] = {**narrower[0], "fields": fields("name"), "maxUses": 1}
    system.one(define_intent(system, items=narrower))
    system.one(policy_intent(system, "HOUSING", ("name",), DAY))
    access = system.access_intent(first, terms, ("address",), system.departments[0])
    assert system.one(access).name == "AccessLogged"  # its own terms still hold
    store, _, head = indexed(system)

    report = verify(system.client, store, to_block=head)
    assert report.ok, [p.as_json() for p in report.problems]

    found, signed = real_log(system, head)
    definitions = [i for i, e in enumerate(found) if e.event.name == "ServiceDefined"]
    assert len(definitions) == 2
    early, late = definitions
    # the later, narrower definition in place of the first, at the first's block
    found[early] = with_args(found[early], items=found[late].event.args["items"])
    (finding,) = bundle_problems(found, signed)
    assert finding[0] == "bundle_not_allowed"
    assert f"consent {first}: fields outside its service item" in finding[1]

    found, _ = real_log(system, head)
    (policy,) = [i for i, e in enumerate(found) if e.event.name == "PurposePolicySet"]
    found.insert(early + 1, dataclasses.replace(found.pop(policy), tx_hash="0x" + "cd" * 32))
    findings = bundle_problems(found, signed)
    assert {kind for kind, _, _ in findings} == {"bundle_not_allowed"}
    # items 0 and 2 are for housing: a day at most, and only the name
    assert [d.split(": ")[1] for _, d, _ in findings] == [
        "fields its purpose's policy does not allow",
        "a window of 864000 s, beyond the 86400 s allowed",
    ]


def test_a_tampered_bundle_row_is_reported(system: System) -> None:
    story = tell(system)
    store, indexer, head = indexed(system)
    with store.begin() as c:
        c.execute(update(bundles).values(revoked=False, revoked_at=None))

    report = verify(system.client, store, to_block=head)

    assert [p.kind for p in report.problems] == ["bundles_altered"]
    assert f"({story.bundle_id},)" in report.problems[0].detail
    indexer.rebuild()
    assert verify(system.client, store, to_block=head).ok


# ---------------------------------------------------------------------- the checker


def real_log(system: System, head: int) -> tuple[list[ChainEvent], Signed]:
    """The chain's events and its accepted intents with their signers, as verify reads them."""
    found = list(chain_events(system.client, system.client.deployment.block_number, head))
    signed: dict[tuple[int, int], tuple[SignedIntent, str | None]] = {}
    _check_signatures(system.client, found, AuditReport(), signed=signed)
    return found, signed


def with_args(item: ChainEvent, **args: Any) -> ChainEvent:
    event = item.event
    return dataclasses.replace(
        item, event=Event(event.name, {**event.args, **args}, event.address, event.log_index)
    )


@dataclass
class Logged:
    system: System
    story: Story
    found: list[ChainEvent]
    signed: Signed


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logged]:
    path = tmp_path_factory.mktemp("audit-bundles") / "chain.sqlite3"
    with EmbeddedChain(path, block_period=0) as chain:
        system = build_system(chain)
        story = tell(system)
        found, signed = real_log(system, int(chain.w3.eth.block_number))
        assert bundle_problems(found, signed) == []
        yield Logged(system, story, found, signed)


def _at(found: list[ChainEvent], name: str, nth: int = 0) -> int:
    return [i for i, e in enumerate(found) if e.event.name == name][nth]


def _position(item: ChainEvent) -> tuple[int, int]:
    return item.block_number, item.log_index


Alteration = Callable[[Logged, list[ChainEvent], dict[Any, Any]], None]


def _widen_a_consent(log: Logged, found: list[ChainEvent], signed: dict[Any, Any]) -> None:
    i = _at(found, "ConsentGranted", 1)  # the bundle's first consent (the plain grant is 0)
    found[i] = with_args(found[i], fields=[*found[i].event.args["fields"], b32("income")])


def _sign_another_item(log: Logged, found: list[ChainEvent], signed: dict[Any, Any]) -> None:
    key = _position(found[_at(found, "BundleGranted")])
    intent, signer = signed[key]
    items = [dict(item) for item in intent.message["items"]]
    items[2]["validUntil"] -= 1
    signed[key] = (dataclasses.replace(intent, message={**intent.message, "items": items}), signer)


def _signed_by_a_stranger(log: Logged, found: list[ChainEvent], signed: dict[Any, Any]) -> None:
    key = _position(found[_at(found, "BundleGranted")])
    signed[key] = (signed[key][0], Account.create().address)


def _no_grant_bundle(log: Logged, found: list[ChainEvent], signed: dict[Any, Any]) -> None:
    del signed[_position(found[_at(found, "BundleGranted")])]


def _consent_of_no_one(log: Logged, found: list[ChainEvent], signed: dict[Any, Any]) -> None:
    del signed[_position(found[_at(found, "ConsentGranted", 0)])]  # the plain Grant's


def _policy_before_the_bundle(log: Logged, found: list[ChainEvent], signed: dict[Any, Any]) -> None:
    """A policy of the first item's purpose, set just before the bundle, shorter than it."""
    i = _at(found, "ConsentGranted", 1)
    policy = Event(
        "PurposePolicySet",
        {
            "purpose": b32("HOUSING"),
            "admin": log.system.admin.address,
            "fields": [],
            "maxDuration": DAY,
        },
        found[i].event.address,
        0,
    )
    found.insert(
        i, dataclasses.replace(found[i], event=policy, log_index=-1, tx_hash="0x" + "cd" * 32)
    )


def _policy_without_the_field(log: Logged, found: list[ChainEvent], signed: dict[Any, Any]) -> None:
    i = _at(found, "ConsentGranted", 1)
    policy = Event(
        "PurposePolicySet",
        {
            "purpose": b32("TAXATION"),
            "admin": log.system.admin.address,
            "fields": [b32("income")],
            "maxDuration": 0,
        },
        found[i].event.address,
        0,
    )
    found.insert(
        i, dataclasses.replace(found[i], event=policy, log_index=-1, tx_hash="0x" + "cd" * 32)
    )


def _uses_above_the_cap(log: Logged, found: list[ChainEvent], signed: dict[Any, Any]) -> None:
    i = _at(found, "ConsentGranted", 1)  # item 0: at most 5 uses
    found[i] = with_args(found[i], maxUses=0)
    key = _position(found[_at(found, "BundleGranted")])
    intent, signer = signed[key]
    items = [dict(item) for item in intent.message["items"]]
    items[0]["maxUses"] = 0  # signed so too: only the service's cap is broken
    signed[key] = (dataclasses.replace(intent, message={**intent.message, "items": items}), signer)


def _a_consent_left_in_force(log: Logged, found: list[ChainEvent], signed: dict[Any, Any]) -> None:
    revoked = [i for i, e in enumerate(found) if e.event.name == "ConsentRevoked"]
    del found[revoked[-1]]  # the bundle's last consent, ended by the bundle's revocation


def _revoked_twice(log: Logged, found: list[ChainEvent], signed: dict[Any, Any]) -> None:
    """The consent revoked alone earlier, said to be ended again by the bundle."""
    revoked = [i for i, e in enumerate(found) if e.event.name == "ConsentRevoked"]
    alone, bundled = revoked[0], revoked[-1]
    found.insert(
        bundled, dataclasses.replace(found[bundled], event=found[alone].event, log_index=-1)
    )


def _revoked_by_another(log: Logged, found: list[ChainEvent], signed: dict[Any, Any]) -> None:
    i = _at(found, "BundleRevoked")
    found[i] = with_args(found[i], resident=log.system.residents[2].address)


def _revocation_signed_by_a_stranger(
    log: Logged, found: list[ChainEvent], signed: dict[Any, Any]
) -> None:
    key = _position(found[_at(found, "BundleRevoked")])
    signed[key] = (signed[key][0], Account.create().address)


def _revocation_of_another_bundle(
    log: Logged, found: list[ChainEvent], signed: dict[Any, Any]
) -> None:
    i = _at(found, "BundleRevoked")
    found[i] = with_args(found[i], bundleId=log.story.bundle_id + 1)


CASES: dict[str, tuple[Alteration, dict[str, str]]] = {
    "a consent wider than its item": (
        _widen_a_consent,
        {
            "bundle_terms_differ": "not item 0",
            "bundle_not_allowed": "fields outside its service item",
        },
    ),
    "an item signed otherwise": (_sign_another_item, {"bundle_terms_differ": "not item 2"}),
    "signed by a stranger": (_signed_by_a_stranger, {"bundle_not_signed": "signed by 0x"}),
    "no GrantBundle": (_no_grant_bundle, {"bundle_not_signed": "no GrantBundle"}),
    "a consent nobody signed": (_consent_of_no_one, {"consent_not_signed": "neither a Grant"}),
    "a policy's window at its block": (_policy_before_the_bundle, {"bundle_not_allowed": "window"}),
    "a policy's fields at its block": (
        _policy_without_the_field,
        {"bundle_not_allowed": "its purpose's policy does not allow"},
    ),
    "uses above the cap": (_uses_above_the_cap, {"bundle_not_allowed": "beyond the cap of 5"}),
    "a consent left in force": (_a_consent_left_in_force, {"bundle_revocation_wrong": "in force"}),
    "a consent revoked twice": (_revoked_twice, {"bundle_revocation_wrong": "in force"}),
    "revoked by another resident": (_revoked_by_another, {"bundle_revocation_wrong": "not 0x"}),
    "a revocation signed by a stranger": (
        _revocation_signed_by_a_stranger,
        {"bundle_revocation_wrong": "signed by 0x"},
    ),
    "an unknown bundle revoked": (
        _revocation_of_another_bundle,
        {"bundle_revocation_wrong": "never granted"},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_bundle_check_reports_a_real_log_altered(logged: Logged, case: str) -> None:
    alter, expected = CASES[case]
    found, signed = list(logged.found), dict(logged.signed)
    alter(logged, found, signed)

    findings = bundle_problems(found, signed)

    assert {kind for kind, _, _ in findings} == set(expected), findings
    for kind, mentioned in expected.items():
        assert any(k == kind and mentioned in detail for k, detail, _ in findings), findings

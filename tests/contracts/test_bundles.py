"""Run at most once (issue 14, parts 1-2): the admin defines a service, a resident
grants all of it with one signature (one consent per item, all or none, each no wider
than its service item) and one revocation ends the bundle."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import contract_errors as ce
from ledger.chain.embedded import EmbeddedChain
from ledger.revert import decode_revert
from tests.conftest import System, b32, fields
from tests.contracts.bundles import (
    DAY,
    SERVICE,
    bundle_intent,
    bundle_items,
    define_intent,
    granted_terms,
    revoke_bundle_intent,
    service_items,
)
from tests.contracts.helpers import (
    assert_consent_granted_log_is_canonical,
    policy_intent,
    revoke_intent,
    terms_digest,
)


def refused_item(system: System, items: list[dict[str, Any]], **overrides: Any) -> Exception:
    """The bundle is refused as a whole: the inner error of the first item that does
    not fit, with nothing granted and the nonce unspent."""
    count = system.client.consent_count()
    intent = bundle_intent(system, items, **overrides)
    with pytest.raises(ce.ConsentLedgerBundleItemRefused) as info:
        system.one(intent)
    assert system.client.consent_count() == count
    assert not system.client.is_nonce_used(
        "GrantBundle", system.resident.address, intent.message["nonce"]
    )
    info.value.inner = decode_revert(info.value.reason)  # type: ignore[attr-defined]
    return info.value


def test_a_defined_service_is_listed_with_its_items(system: System) -> None:
    event = system.one(define_intent(system))

    assert event.name == "ServiceDefined"
    assert event.args["service"] == b32(SERVICE)
    assert event.args["admin"] == system.admin.address
    assert [item["department"] for item in event.args["items"]] == [
        d.address for d in system.departments
    ]
    assert system.client.services() == [b32(SERVICE)]
    name, items = system.client.service(b32(SERVICE))
    assert name == "新生儿出生登记 Newborn registration"
    assert items == service_items(system)


def test_only_the_admin_defines_services(system: System) -> None:
    with pytest.raises(ce.ConsentDirectoryUnauthorizedSigner):
        system.one(define_intent(system, signer=system.resident))
    assert system.client.services() == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"items": []}, ce.ConsentDirectoryServiceItemCount),
        ({"name": ""}, ce.ConsentDirectoryInvalidServiceName),
        ({"service": b"\x00" * 32}, ce.ConsentDirectoryInvalidName),
        ({"item": {"duration": 0}}, ce.ConsentDirectoryServiceZeroDuration),
        ({"item": {"fields": [b32("name"), b32("income")]}}, ce.ConsentDirectoryUnsortedFields),
        ({"item": {"purpose": b32("NOPE")}}, ce.ConsentDirectoryUnknownPurpose),
        ({"item": {"department": "0x" + "11" * 20}}, ce.ConsentDirectoryUnknownDepartment),
    ],
    ids=["no-items", "no-name", "bad-id", "zero-duration", "unsorted", "purpose", "department"],
)
def test_a_bad_service_is_refused_and_not_listed(
    system: System, change: dict[str, Any], error: type[Exception]
) -> None:
    items = service_items(system)
    overrides = dict(change)
    if "item" in overrides:
        items[1] = {**items[1], **overrides.pop("item")}
    with pytest.raises(error):
        system.one(define_intent(system, items=overrides.pop("items", items), **overrides))
    assert system.client.services() == []


def test_a_bundle_grants_one_consent_per_item_with_one_signature(system: System) -> None:
    system.one(define_intent(system))
    count = system.client.consent_count()

    (outcome,) = system.submit(bundle_intent(system))

    event = outcome.unwrap()
    assert event.name == "BundleGranted"
    granted = granted_terms(outcome.extra_events)
    assert [consent_id for consent_id, _ in granted] == [count + 1, count + 2, count + 3]
    assert event.args["firstConsentId"] == count + 1 and event.args["count"] == 3
    assert [terms.department for _, terms in granted] == [d.address for d in system.departments]
    assert event.args["bundleId"] == count + 1  # a bundle's id is its first consent's
    assert system.client.bundle(count + 1) == (system.resident.address, 3, False)
    assert system.client.consent_count() == count + 3
    for consent_id, terms in granted:
        state = system.client.consent_state(consent_id)
        assert state.terms_hash == terms_digest(terms) and state.uses == 0 and not state.revoked
    assert_consent_granted_log_is_canonical(system, outcome.receipt.tx_hash)
    # each department reads its own fields under its own consent, and no other's
    for i, (consent_id, terms) in enumerate(granted):
        names = ("name",)
        access = system.access_intent(consent_id, terms, names, department=system.departments[i])
        assert system.one(access).name == "AccessLogged"
    stranger = system.access_intent(
        granted[0][0], granted[0][1], ("name",), department=system.departments[1]
    )
    assert system.one(stranger).name == "AccessDenied"


def test_a_narrowed_item_is_granted_as_narrowed(system: System) -> None:
    system.one(define_intent(system))
    end = system.now() + 5 * DAY
    items = bundle_items(
        system, **{"1_fields": fields("income"), "0_validUntil": end, "0_maxUses": 2}
    )

    (outcome,) = system.submit(bundle_intent(system, items))

    (first, second, _) = [terms for _, terms in granted_terms(outcome.extra_events)]
    assert (first.valid_until, first.max_uses) == (end, 2)
    assert second.fields == (b32("income"),)


@pytest.mark.parametrize(
    ("narrowed", "inner", "index"),
    [
        (
            {"1_fields": fields("address", "income", "name")},
            ce.ConsentDirectoryBundleFieldOutsideService,
            1,
        ),
        ({"2_validUntil": "+11d"}, ce.ConsentDirectoryBundleWindowTooLong, 2),
        ({"0_maxUses": 6}, ce.ConsentDirectoryBundleUsesAboveCap, 0),
        ({"2_maxUses": 0}, ce.ConsentDirectoryBundleUsesAboveCap, 2),
        ({"1_purpose": b32("HOUSING")}, ce.ConsentDirectoryBundleItemMismatch, 1),
        ({"0_department": "dept2"}, ce.ConsentDirectoryBundleItemMismatch, 0),
        ({"1_validUntil": "-1d"}, ce.ConsentLedgerInvalidWindow, 1),
    ],
    ids=["field", "window", "uses", "uncapped", "purpose", "department", "past"],
)
def test_a_widened_item_refuses_the_whole_bundle_naming_it(
    system: System, narrowed: dict[str, Any], inner: type[Exception], index: int
) -> None:
    system.one(define_intent(system))
    now = system.now()
    narrowed = dict(narrowed)  # the parameter is shared by both chains' runs
    for key, value in list(narrowed.items()):
        if isinstance(value, str) and value.endswith("d"):
            narrowed[key] = now + int(value[:-1]) * DAY
        elif value == "dept2":
            narrowed[key] = system.departments[2].address

    error = refused_item(system, bundle_items(system, **narrowed))

    assert error.index == index  # type: ignore[attr-defined]
    assert isinstance(error.inner, inner)  # type: ignore[attr-defined]


def test_a_bundle_must_carry_every_item_of_its_service_in_order(system: System) -> None:
    system.one(define_intent(system))
    items = bundle_items(system)

    short = refused_item(system, items[:2])
    assert isinstance(short.inner, ce.ConsentDirectoryBundleItemCount)  # type: ignore[attr-defined]
    assert (short.inner.expected, short.inner.given) == (3, 2)  # type: ignore[attr-defined]
    long = refused_item(system, [*items, items[0]])
    assert isinstance(long.inner, ce.ConsentDirectoryBundleItemCount)  # type: ignore[attr-defined]
    unknown = refused_item(system, items, service="NO_SUCH_SERVICE")
    assert isinstance(unknown.inner, ce.ConsentDirectoryUnknownService)  # type: ignore[attr-defined]


def test_a_purpose_policy_set_after_the_service_binds_its_bundles(system: System) -> None:
    system.one(define_intent(system))
    system.one(policy_intent(system, "TAXATION", ("income",), 60 * DAY))

    error = refused_item(system, bundle_items(system))

    assert error.index == 1  # type: ignore[attr-defined]
    assert isinstance(error.inner, ce.ConsentDirectoryPolicyFieldNotAllowed)  # type: ignore[attr-defined]
    narrowed = bundle_items(system, **{"1_fields": fields("income")})
    assert system.submit(bundle_intent(system, narrowed))[0].ok


def test_redefining_a_service_leaves_granted_consents_as_they_were(system: System) -> None:
    system.one(define_intent(system))
    (outcome,) = system.submit(bundle_intent(system))
    before = granted_terms(outcome.extra_events)
    smaller = service_items(system)
    smaller[0] = {**smaller[0], "fields": fields("name"), "maxUses": 1}

    system.one(define_intent(system, items=smaller))

    for consent_id, _ in before:
        state = system.client.consent_state(consent_id)
        assert state.exists and not state.revoked
    old = granted_terms(outcome.extra_events)[0]
    access = system.access_intent(old[0], old[1], ("address",), department=system.departments[0])
    assert system.one(access).name == "AccessLogged"  # granted before: its own terms hold
    error = refused_item(system, bundle_items(system))  # the old shape no longer fits
    assert error.index == 0  # type: ignore[attr-defined]


def test_one_revocation_ends_every_consent_of_the_bundle_in_one_block(system: System) -> None:
    system.one(define_intent(system))
    (outcome,) = system.submit(bundle_intent(system))
    bundle_id = int(outcome.unwrap().args["bundleId"])
    granted = granted_terms(outcome.extra_events)

    (revoked,) = system.submit(revoke_bundle_intent(system, bundle_id, [t for _, t in granted]))

    assert revoked.unwrap().name == "BundleRevoked"
    assert [e.args["consentId"] for e in revoked.extra_events] == [c for c, _ in granted]
    for i, (consent_id, terms) in enumerate(granted):
        assert system.client.consent_state(consent_id).revoked
        access = system.access_intent(
            consent_id, terms, ("name",), department=system.departments[i]
        )
        denied = system.one(access)
        assert (denied.name, denied.args["reason"]) == ("AccessDenied", b32("revoked"))
    with pytest.raises(ce.ConsentLedgerBundleRevoked):
        system.one(revoke_bundle_intent(system, bundle_id, [t for _, t in granted]))


def test_a_bundle_whose_consent_was_revoked_alone_revokes_the_rest(system: System) -> None:
    system.one(define_intent(system))
    (outcome,) = system.submit(bundle_intent(system))
    bundle_id = int(outcome.unwrap().args["bundleId"])
    granted = granted_terms(outcome.extra_events)
    system.one(revoke_intent(system, granted[1][0], granted[1][1]))

    (revoked,) = system.submit(revoke_bundle_intent(system, bundle_id, [t for _, t in granted]))

    assert [e.args["consentId"] for e in revoked.extra_events] == [granted[0][0], granted[2][0]]


def test_a_bundle_is_revoked_only_by_its_resident_with_its_terms(system: System) -> None:
    system.one(define_intent(system))
    (outcome,) = system.submit(bundle_intent(system))
    bundle_id = int(outcome.unwrap().args["bundleId"])
    terms = [t for _, t in granted_terms(outcome.extra_events)]
    other = system.residents[1]

    with pytest.raises(ce.ConsentLedgerNotBundleResident):
        system.one(revoke_bundle_intent(system, bundle_id, terms, resident=other))
    with pytest.raises(ce.ConsentLedgerBundleTermsCount):
        system.one(revoke_bundle_intent(system, bundle_id, terms[:2]))
    with pytest.raises(ce.ConsentLedgerTermsMismatch):
        system.one(revoke_bundle_intent(system, bundle_id, [terms[1], terms[0], terms[2]]))
    with pytest.raises(ce.ConsentLedgerUnknownBundle):
        system.one(revoke_bundle_intent(system, bundle_id + 1, terms))
    assert not any(
        system.client.consent_state(c).revoked for c, _ in granted_terms(outcome.extra_events)
    )


def test_a_bundle_mixed_in_one_block_with_grants_and_accesses(system: System) -> None:
    system.one(define_intent(system))
    consent_id, terms = system.grant(resident=system.residents[1])
    bad = bundle_items(system, **{"0_maxUses": 9})

    outcomes = system.submit(
        system.grant_intent(resident=system.residents[2]),
        bundle_intent(system),
        system.access_intent(consent_id, terms, resident=system.residents[1]),
        bundle_intent(system, bad, resident=system.residents[2]),
    )

    if isinstance(system.chain, EmbeddedChain):  # one block per round (anvil: per transaction)
        assert len({o.receipt.block_number for o in outcomes}) == 1
    assert [o.ok for o in outcomes] == [True, True, True, False]
    assert isinstance(outcomes[3].error, ce.ConsentLedgerBundleItemRefused)
    assert outcomes[2].unwrap().name == "AccessLogged"
    assert len(granted_terms(outcomes[1].extra_events)) == 3

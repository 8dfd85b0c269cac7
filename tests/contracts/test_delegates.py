"""Delegates and guardians (issue 15, part 1), on both chains: a delegate's signature is
accepted for exactly the intents its powers name, while its appointment lasts; each is
logged as ``DelegateSigned`` before the intent's own events; a guardian is a registrar's
appointment that only a registrar may end. Every refusal changes nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.contract_errors import (
    ConsentDelegatesExpired,
    ConsentDelegatesGuardianship,
    ConsentDelegatesInvalidPowers,
    ConsentDelegatesInvalidValidity,
    ConsentDelegatesMissingPower,
    ConsentDelegatesNotDelegate,
    ConsentDelegatesRemoved,
    ConsentDelegatesSelfDelegation,
    ConsentDelegatesUnauthorizedSigner,
    ConsentDelegatesUnknownResident,
    SignedIntentWrongSigner,
)
from ledger.intents import POWER_COMMIT, POWER_GRANT, POWER_READ, POWER_REVOKE, type_hash
from ledger.types import Event, SignedIntent
from tests.conftest import System
from tests.contracts.bundles import (
    bundle_intent,
    define_intent,
    granted_terms,
    revoke_bundle_intent,
)
from tests.contracts.helpers import (
    appoint_intent,
    commit_intent,
    decline_intent,
    remove_delegate_intent,
    request_intent,
    revoke_intent,
    role_intent,
)

ALL = POWER_GRANT | POWER_REVOKE | POWER_COMMIT | POWER_READ


def resign(system: System, intent: SignedIntent, signer: LocalAccount) -> SignedIntent:
    """The same message, signed by someone else (a delegate)."""
    return system.sign(intent.name, signer, intent.message, intent.terms)


def delegate_of(system: System) -> LocalAccount:
    return system.residents[1]


def appoint(system: System, powers: int = ALL, **kw: object) -> Event:
    return system.one(appoint_intent(system, delegate_of(system).address, powers, **kw))  # type: ignore[arg-type]


def delegation(system: System, delegate: str | None = None) -> tuple[object, ...]:
    who = delegate or delegate_of(system).address
    return tuple(
        system.client.simulate("ConsentDelegates", "delegation", system.resident.address, who)
    )


# Each intent a delegate may sign for the resident, built by the resident, with the
# power it needs.
def _grant(system: System) -> SignedIntent:
    return system.grant_intent()


def _decline(system: System) -> SignedIntent:
    request_id = bytes(system.one(request_intent(system)).args["requestId"])
    return decline_intent(system, request_id, "NOT_NEEDED")


def _revoke(system: System) -> SignedIntent:
    consent_id, terms = system.grant()
    return revoke_intent(system, consent_id, terms)


def _commit(system: System) -> SignedIntent:
    return commit_intent(system, system.resident, 2)


def _bundle(system: System) -> SignedIntent:
    system.one(define_intent(system))
    return bundle_intent(system)


def _revoke_bundle(system: System) -> SignedIntent:
    system.one(define_intent(system))
    outcome = system.submit(bundle_intent(system))[0]
    event = outcome.unwrap()
    terms = [t for _, t in granted_terms([*outcome.extra_events, event])]
    return revoke_bundle_intent(system, int(event.args["bundleId"]), terms)


RESIDENT_INTENTS: dict[str, tuple[Callable[[System], SignedIntent], int]] = {
    "Grant": (_grant, POWER_GRANT),
    "GrantBundle": (_bundle, POWER_GRANT),
    "DeclineRequest": (_decline, POWER_GRANT),
    "Revoke": (_revoke, POWER_REVOKE),
    "RevokeBundle": (_revoke_bundle, POWER_REVOKE),
    "CommitRecord": (_commit, POWER_COMMIT),
}


def test_a_resident_appoints_a_delegate_with_powers_until_a_time(system: System) -> None:
    until = system.now() + 30 * 86_400
    event = appoint(system, POWER_GRANT | POWER_READ, validUntil=until)
    assert (event.name, event.args) == (
        "DelegateAppointed",
        {
            "resident": system.resident.address,
            "delegate": delegate_of(system).address,
            "appointedBy": system.resident.address,
            "powers": POWER_GRANT | POWER_READ,
            "validUntil": until,
            "guardian": False,
        },
    )
    assert delegation(system) == (
        POWER_GRANT | POWER_READ,
        until,
        False,
        False,
        system.resident.address,
    )
    assert system.client.simulate("ConsentDelegates", "delegates", system.resident.address) == [
        delegate_of(system).address
    ]


@pytest.mark.parametrize("name", sorted(RESIDENT_INTENTS))
def test_a_delegate_holding_the_power_signs_and_the_log_names_it_first(
    system: System, name: str
) -> None:
    build, power = RESIDENT_INTENTS[name]
    appoint(system, power)
    intent = resign(system, build(system), delegate_of(system))

    outcome = system.submit(intent)[0]
    event = outcome.unwrap()

    signed = [e for e in outcome.extra_events if e.name == "DelegateSigned"]
    assert [e.args for e in signed] == [
        {
            "resident": system.resident.address,
            "delegate": delegate_of(system).address,
            "intentType": type_hash(name),
        }
    ]
    assert outcome.extra_events[0].name == "DelegateSigned"  # before the intent's own
    assert event.name in (
        "ConsentGranted",
        "BundleGranted",
        "RequestDeclined",
        "ConsentRevoked",
        "BundleRevoked",
        "RecordCommitted",
    )
    # the delegate's own nonce is spent, not the resident's
    nonce = int(intent.message["nonce"])
    contract = "ConsentLedger"
    assert system.client.simulate(contract, "isNonceUsed", delegate_of(system).address, nonce)
    assert not system.client.simulate(contract, "isNonceUsed", system.resident.address, nonce)


@pytest.mark.parametrize("name", sorted(RESIDENT_INTENTS))
def test_a_delegate_without_the_power_is_refused_by_name(system: System, name: str) -> None:
    build, power = RESIDENT_INTENTS[name]
    appoint(system, ALL & ~power)
    intent = resign(system, build(system), delegate_of(system))
    head = system.chain.w3.eth.block_number

    with pytest.raises(ConsentDelegatesMissingPower) as refused:
        system.one(intent)

    assert refused.value.args == (
        system.resident.address,
        delegate_of(system).address,
        ALL & ~power,
        power,
    )
    # nothing written: the nonce is still free
    assert not system.client.simulate(
        "ConsentLedger", "isNonceUsed", delegate_of(system).address, int(intent.message["nonce"])
    )
    assert system.chain.w3.eth.block_number == head + 1


def test_a_resident_signing_for_itself_logs_no_delegate(system: System) -> None:
    outcome = system.submit(system.grant_intent())[0]
    outcome.unwrap()
    assert [e.name for e in outcome.extra_events] == []


def test_a_stranger_is_the_wrong_signer_as_before(system: System) -> None:
    stranger = Account.create()
    with pytest.raises(SignedIntentWrongSigner) as refused:
        system.one(resign(system, system.grant_intent(), stranger))
    assert refused.value.args == (system.resident.address, stranger.address)


def test_a_delegate_after_its_appointment_ends_is_refused_as_expired(system: System) -> None:
    event = appoint(system, POWER_GRANT, days=1)
    system.chain.time_travel(86_400 + 60)
    with pytest.raises(ConsentDelegatesExpired) as refused:
        system.one(resign(system, system.grant_intent(), delegate_of(system)))
    assert refused.value.args[2] == event.args["validUntil"]


def test_a_removed_delegate_is_refused_as_removed(system: System) -> None:
    appoint(system, POWER_GRANT)
    removed = system.one(remove_delegate_intent(system, delegate_of(system).address))
    assert removed.args == {
        "resident": system.resident.address,
        "delegate": delegate_of(system).address,
        "removedBy": system.resident.address,
    }
    with pytest.raises(ConsentDelegatesRemoved):
        system.one(resign(system, system.grant_intent(), delegate_of(system)))
    with pytest.raises(ConsentDelegatesNotDelegate):
        system.one(remove_delegate_intent(system, delegate_of(system).address))


def test_a_delegate_cannot_appoint_others_nor_a_stranger_anyone(system: System) -> None:
    appoint(system, ALL)
    other = system.residents[2].address
    for signer in (delegate_of(system), Account.create()):
        with pytest.raises(ConsentDelegatesUnauthorizedSigner):
            system.one(appoint_intent(system, other, signer=signer))


def test_a_registrar_appoints_a_guardian_whom_only_a_registrar_removes(system: System) -> None:
    child, guardian = system.residents[2], system.residents[1]
    event = system.one(
        appoint_intent(system, guardian.address, ALL, resident=child, signer=system.registrar)
    )
    assert (event.args["appointedBy"], event.args["guardian"]) == (system.registrar.address, True)

    granted = system.submit(resign(system, system.grant_intent(resident=child), guardian))[0]
    assert granted.unwrap().args["resident"] == child.address
    assert granted.extra_events[0].args["delegate"] == guardian.address

    for intent in (
        remove_delegate_intent(system, guardian.address, resident=child),
        appoint_intent(system, guardian.address, POWER_READ, resident=child),
    ):
        with pytest.raises(ConsentDelegatesGuardianship):
            system.one(intent)
    system.one(
        remove_delegate_intent(system, guardian.address, resident=child, signer=system.registrar)
    )
    with pytest.raises(ConsentDelegatesRemoved):
        system.one(resign(system, system.grant_intent(resident=child), guardian))


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"powers": 0}, ConsentDelegatesInvalidPowers),
        ({"powers": 16}, ConsentDelegatesInvalidPowers),
        ({"validUntil": 1}, ConsentDelegatesInvalidValidity),
    ],
)
def test_an_appointment_outside_the_rules_is_refused(
    system: System, overrides: dict[str, int], error: type[Exception]
) -> None:
    with pytest.raises(error):
        system.one(appoint_intent(system, delegate_of(system).address, **overrides))  # type: ignore[arg-type]
    assert delegation(system)[4] == "0x" + "0" * 40


def test_only_an_enrolled_other_resident_can_be_appointed(system: System) -> None:
    with pytest.raises(ConsentDelegatesSelfDelegation):
        system.one(appoint_intent(system, system.resident.address))
    with pytest.raises(ConsentDelegatesUnknownResident):
        system.one(appoint_intent(system, Account.create().address))


def test_a_reappointment_replaces_the_terms_and_lists_the_delegate_once(system: System) -> None:
    appoint(system, POWER_GRANT)
    appoint(system, POWER_REVOKE)
    assert delegation(system)[0] == POWER_REVOKE
    assert system.client.simulate("ConsentDelegates", "delegates", system.resident.address) == [
        delegate_of(system).address
    ]
    with pytest.raises(ConsentDelegatesMissingPower):
        system.one(resign(system, system.grant_intent(), delegate_of(system)))


def test_a_registrar_role_is_needed_for_a_guardian(system: System) -> None:
    stranger = Account.create()
    system.one(role_intent(system, "auditor", stranger.address))
    with pytest.raises(ConsentDelegatesUnauthorizedSigner):
        system.one(
            appoint_intent(
                system, delegate_of(system).address, resident=system.residents[2], signer=stranger
            )
        )

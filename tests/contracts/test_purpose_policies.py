"""Purpose policies (issue 14, part 3): the admin sets, per purpose, the fields it may ever
cover and its longest duration; grants and requests beyond them are refused on chain with
a named error, and consents granted before a change keep their terms."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.contract_errors import (
    ConsentDirectoryPolicyFieldNotAllowed,
    ConsentDirectoryUnauthorizedSigner,
    ConsentDirectoryUnknownField,
    ConsentDirectoryUnknownPurpose,
    ConsentDirectoryUnsortedFields,
    ConsentLedgerPolicyDurationTooLong,
)
from ledger.types import SignedIntent
from tests.conftest import System, b32, fields
from tests.contracts.helpers import policy_intent, request_intent

DAY = 86_400


def window(system: System, days: int) -> dict[str, Any]:
    now = system.now()
    return {"validFrom": now, "validUntil": now + days * DAY}


def test_setting_a_policy_is_recorded_and_listed(system: System) -> None:
    assert system.client.purpose_policy(b32("HOUSING")) == ([], 0)

    event = system.one(policy_intent(system))

    assert (event.name, event.args) == (
        "PurposePolicySet",
        {
            "purpose": b32("HOUSING"),
            "admin": system.admin.address,
            "fields": fields("income", "name"),
            "maxDuration": 7 * DAY,
        },
    )
    assert system.client.purpose_policy(b32("HOUSING")) == (fields("income", "name"), 7 * DAY)
    assert system.client.purpose_policy(b32("TAXATION")) == ([], 0)


def test_a_grant_beyond_the_policy_is_refused_naming_the_limit(system: System) -> None:
    system.one(policy_intent(system))
    count = system.client.consent_count()

    with pytest.raises(ConsentDirectoryPolicyFieldNotAllowed) as field:
        system.grant(names=("income", "name", "phone"), **window(system, 7))
    assert (field.value.purpose, field.value.field) == (b32("HOUSING"), b32("phone"))
    with pytest.raises(ConsentLedgerPolicyDurationTooLong) as duration:
        system.grant(**window(system, 8))
    assert (duration.value.duration, duration.value.maxDuration) == (8 * DAY, 7 * DAY)
    assert system.client.consent_count() == count

    consent_id, _ = system.grant(names=("income",), **window(system, 7))
    assert consent_id == count + 1
    # Another purpose has no policy.
    system.grant(names=("income", "phone"), purpose=b32("TAXATION"), **window(system, 90))


def test_a_request_beyond_the_policy_is_refused(system: System) -> None:
    system.one(policy_intent(system))

    with pytest.raises(ConsentDirectoryPolicyFieldNotAllowed):
        system.one(request_intent(system, names=("income", "phone")))
    with pytest.raises(ConsentLedgerPolicyDurationTooLong) as duration:
        system.one(request_intent(system, duration=7 * DAY + 1))
    assert duration.value.maxDuration == 7 * DAY
    assert system.one(request_intent(system, duration=7 * DAY)).name == "AccessRequested"


def test_changing_a_policy_leaves_consents_granted_as_they_are(system: System) -> None:
    consent_id, terms = system.grant(names=("income", "phone"), **window(system, 30))

    system.one(policy_intent(system, names=("name",), max_duration=DAY))

    served = system.one(system.access_intent(consent_id, terms, ("income", "phone")))
    assert served.name == "AccessLogged"
    with pytest.raises(ConsentDirectoryPolicyFieldNotAllowed):
        system.grant(names=("income",), **window(system, 1))


def test_a_new_policy_replaces_the_old_one_and_an_empty_one_lifts_it(system: System) -> None:
    system.one(policy_intent(system, names=("income", "name"), max_duration=DAY))
    system.one(policy_intent(system, names=("phone",), max_duration=0))

    assert system.client.purpose_policy(b32("HOUSING")) == (fields("phone"), 0)
    with pytest.raises(ConsentDirectoryPolicyFieldNotAllowed):
        system.grant(names=("income",), **window(system, 1))
    system.grant(names=("phone",), **window(system, 365))

    system.one(policy_intent(system, names=(), max_duration=0))
    assert system.client.purpose_policy(b32("HOUSING")) == ([], 0)
    system.grant(names=("income", "name", "phone"), **window(system, 365))


def test_bad_policies_are_refused_and_change_nothing(system: System) -> None:
    system.one(policy_intent(system))
    cases: list[tuple[SignedIntent, type[Exception]]] = [
        (policy_intent(system, "MARKETING"), ConsentDirectoryUnknownPurpose),
        (policy_intent(system, names=("name", "income")), ConsentDirectoryUnsortedFields),
        (policy_intent(system, names=("income", "zodiac")), ConsentDirectoryUnknownField),
        (policy_intent(system, signer=system.dept), ConsentDirectoryUnauthorizedSigner),
    ]
    for intent, error in cases:
        with pytest.raises(error):
            system.one(intent)
    assert system.client.purpose_policy(b32("HOUSING")) == (fields("income", "name"), 7 * DAY)


def test_in_a_batch_each_grant_is_held_to_the_policy_of_its_scope(system: System) -> None:
    system.one(policy_intent(system, max_duration=7 * DAY))
    residents = system.residents[:3]
    intents = [
        system.grant_intent(residents[0], **window(system, 7)),
        system.grant_intent(residents[1], **window(system, 8)),  # same scope, too long
        system.grant_intent(residents[2], **window(system, 3)),
    ]

    outcomes = system.submit(*intents)

    assert [o.ok for o in outcomes] == [True, False, True]
    assert isinstance(outcomes[1].error, ConsentLedgerPolicyDurationTooLong)
    assert outcomes[0].receipt.tx_hash == outcomes[1].receipt.tx_hash

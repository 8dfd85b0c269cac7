"""The relayer's pre-checks of purpose policies and request answers agree with the chain:
what admission refuses, the chain refuses with the same error; what it lets through, the
chain accepts (run on both chains, the chain as the oracle)."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.admission import Admission
from ledger.errors import ContractError
from ledger.types import SignedIntent
from tests.conftest import System
from tests.contracts.helpers import decline_intent, policy_intent, request_intent, withdraw_intent

DAY = 86_400


def admitted(admission: Admission, intent: SignedIntent) -> type[ContractError] | None:
    try:
        admission.check(intent)
    except ContractError as refused:
        return type(refused)
    return None


def on_chain(system: System, intent: SignedIntent) -> type[Exception] | None:
    (outcome,) = system.submit(intent)
    return None if outcome.error is None else type(outcome.error)


def agree(system: System, admission: Admission, intents: list[SignedIntent]) -> list[str | None]:
    verdicts = []
    for intent in intents:
        before = admitted(admission, intent)
        assert on_chain(system, intent) is before, (intent.name, intent.message, before)
        verdicts.append(before.__name__ if before else None)
    return verdicts


def test_policy_checks_before_the_chain_match_the_chain(system: System) -> None:
    admission = Admission(system.client)
    system.one(policy_intent(system, "HOUSING", ("income", "name"), 7 * DAY))
    now = system.now()

    def grant(resident: int, names: tuple[str, ...], days: int) -> SignedIntent:
        window: dict[str, Any] = {"validFrom": now, "validUntil": now + days * DAY}
        return system.grant_intent(system.residents[resident], names=names, **window)

    verdicts = agree(
        system,
        admission,
        [
            grant(0, ("income", "phone"), 7),
            grant(0, ("income",), 8),
            grant(0, ("income", "name"), 7),
            request_intent(system, names=("phone",)),
            request_intent(system, duration=7 * DAY + 1),
            request_intent(system, duration=7 * DAY),
        ],
    )
    assert verdicts == [
        "ConsentDirectoryPolicyFieldNotAllowed",
        "ConsentLedgerPolicyDurationTooLong",
        None,
        "ConsentDirectoryPolicyFieldNotAllowed",
        "ConsentLedgerPolicyDurationTooLong",
        None,
    ]


def test_answer_checks_before_the_chain_match_the_chain(system: System) -> None:
    admission = Admission(system.client)
    request_id = bytes(system.one(request_intent(system)).args["requestId"])
    other = system.departments[1]

    verdicts = agree(
        system,
        admission,
        [
            decline_intent(system, request_id, "WHATEVER"),
            decline_intent(system, b"\x42" * 32),
            withdraw_intent(system, request_id, other),
            withdraw_intent(system, request_id),
            decline_intent(system, request_id),
            withdraw_intent(system, request_id),
        ],
    )
    assert verdicts == [
        "ConsentLedgerUnknownReason",
        "ConsentLedgerUnknownRequest",
        "ConsentLedgerNotRequestDepartment",
        None,
        "ConsentLedgerRequestAnswered",
        "ConsentLedgerRequestAnswered",
    ]


@pytest.mark.parametrize("reason", ["NOT_NEEDED", "TOO_MANY_FIELDS", "TOO_LONG", "OTHER"])
def test_every_reason_code_is_accepted(system: System, reason: str) -> None:
    request_id = bytes(system.one(request_intent(system)).args["requestId"])
    assert agree(
        system, Admission(system.client), [decline_intent(system, request_id, reason)]
    ) == [None]

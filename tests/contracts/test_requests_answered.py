"""Requests answered (issue 14, part 4): a resident declines a request with a reason code,
its department withdraws it; an answered request cannot be answered again, and no grant
can name a declined or withdrawn one. Every refusal changes nothing."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount

from ledger.contract_errors import (
    ConsentLedgerNotRequestDepartment,
    ConsentLedgerRequestAnswered,
    ConsentLedgerRequestExpired,
    ConsentLedgerUnknownReason,
    ConsentLedgerUnknownRequest,
    SignedIntentExpired,
    SignedIntentNonceUsed,
    SignedIntentWrongSigner,
)
from ledger.intents import type_hash
from ledger.types import SignedIntent
from ledger.vocabulary import DECLINE_REASONS, REQUEST_ANSWER_WINDOW, name_to_bytes32
from tests.conftest import System, b32
from tests.contracts.helpers import decline_intent, parties, request_intent, withdraw_intent

PENDING, GRANTED, DECLINED, WITHDRAWN = 0, 1, 2, 3


def file_request(system: System, department: LocalAccount | None = None) -> bytes:
    event = system.one(request_intent(system, department))
    return bytes(event.args["requestId"])


def ledger_call(system: System, function: str, *args: object) -> object:
    return system.client.simulate("ConsentLedger", function, *args)


def status(system: System, request_id: bytes) -> tuple[str | None, int]:
    department, answer, _ = system.client.request_status(request_id)
    return department, answer


def test_the_chain_knows_exactly_the_reason_codes_of_the_vocabulary(system: System) -> None:
    assert system.client.decline_reasons() == [name_to_bytes32(r) for r in DECLINE_REASONS]


def test_a_resident_declines_a_request_with_a_reason_and_no_grant_can_name_it(
    system: System,
) -> None:
    request_id = file_request(system)
    assert status(system, request_id) == (system.dept.address, PENDING)

    event = system.one(decline_intent(system, request_id, "TOO_MANY_FIELDS"))

    assert (event.name, event.args) == (
        "RequestDeclined",
        {
            "requestId": request_id,
            "resident": system.resident.address,
            "department": system.dept.address,
            "reason": b32("TOO_MANY_FIELDS"),
        },
    )
    assert status(system, request_id) == (system.dept.address, DECLINED)
    count = system.client.consent_count()
    with pytest.raises(ConsentLedgerRequestAnswered) as refused:
        system.grant(requestId=request_id)
    assert (refused.value.requestId, refused.value.status) == (request_id, DECLINED)
    assert system.client.consent_count() == count


def test_a_department_withdraws_its_own_request_and_no_grant_can_name_it(
    system: System,
) -> None:
    request_id = file_request(system)

    event = system.one(withdraw_intent(system, request_id))

    assert (event.name, event.args) == (
        "RequestWithdrawn",
        {"requestId": request_id, "department": system.dept.address},
    )
    assert status(system, request_id) == (system.dept.address, WITHDRAWN)
    with pytest.raises(ConsentLedgerRequestAnswered) as refused:
        system.grant(requestId=request_id)
    assert refused.value.status == WITHDRAWN


def test_a_grant_answers_its_request_once(system: System) -> None:
    request_id = file_request(system)
    system.grant(requestId=request_id)
    assert status(system, request_id) == (system.dept.address, GRANTED)

    for intent in (
        decline_intent(system, request_id),
        withdraw_intent(system, request_id),
        system.grant_intent(requestId=request_id),
    ):
        with pytest.raises(ConsentLedgerRequestAnswered) as refused:
            system.one(intent)
        assert refused.value.status == GRANTED
    assert status(system, request_id) == (system.dept.address, GRANTED)


def test_answering_twice_is_refused_request_answered(system: System) -> None:
    declined, withdrawn = file_request(system), file_request(system)
    system.one(decline_intent(system, declined))
    system.one(withdraw_intent(system, withdrawn))

    for intent, answer in (
        (decline_intent(system, declined), DECLINED),
        (withdraw_intent(system, declined), DECLINED),
        (decline_intent(system, withdrawn), WITHDRAWN),
        (withdraw_intent(system, withdrawn), WITHDRAWN),
    ):
        with pytest.raises(ConsentLedgerRequestAnswered) as refused:
            system.one(intent)
        assert refused.value.status == answer


def test_hostile_answers_change_nothing(system: System) -> None:
    request_id = file_request(system)
    other_department, other_resident = system.departments[1], system.residents[1]
    unknown = b"\x42" * 32
    expired = decline_intent(system, request_id, deadline=system.now() - 1)
    cases: list[tuple[SignedIntent, type[Exception]]] = [
        (decline_intent(system, request_id, "BECAUSE"), ConsentLedgerUnknownReason),
        (decline_intent(system, request_id, b"\0" * 32), ConsentLedgerUnknownReason),
        (decline_intent(system, unknown), ConsentLedgerUnknownRequest),
        (withdraw_intent(system, unknown), ConsentLedgerUnknownRequest),
        (decline_intent(system, request_id, resident=other_resident), ConsentLedgerUnknownRequest),
        (withdraw_intent(system, request_id, other_department), ConsentLedgerNotRequestDepartment),
        (expired, SignedIntentExpired),
    ]
    forged = decline_intent(system, request_id)
    forged = SignedIntent(
        forged.name,
        forged.message,
        system.sign("DeclineRequest", other_resident, forged.message).signature,
    )
    cases.append((forged, SignedIntentWrongSigner))

    for intent, error in cases:
        with pytest.raises(error):
            system.one(intent)

    assert status(system, request_id) == (system.dept.address, PENDING)
    assert ledger_call(system, "requestParties", request_id) == parties(
        system.dept.address, system.resident.address
    )
    # Still answerable: the refusals spent nothing.
    good = decline_intent(system, request_id)
    system.one(good)
    with pytest.raises(SignedIntentNonceUsed):
        system.one(good)


def test_a_batch_refuses_a_bad_answer_alone(system: System) -> None:
    first, second = file_request(system), file_request(system)
    outcomes = system.submit(
        decline_intent(system, first, "NOPE"),
        decline_intent(system, second, "OTHER"),
        withdraw_intent(system, second),
        withdraw_intent(system, first),
    )
    bad_decline, good_decline, bad_withdraw, good_withdraw = outcomes
    assert good_decline.ok and good_withdraw.ok
    for bad in (bad_decline, bad_withdraw):
        assert bad.event is not None and bad.event.name == "IntentRejected"
        assert bad.event.args["intentType"] == type_hash(bad.intent.name)
    assert isinstance(bad_decline.error, ConsentLedgerUnknownReason)
    assert isinstance(bad_withdraw.error, ConsentLedgerRequestAnswered)
    assert status(system, first) == (system.dept.address, WITHDRAWN)
    assert status(system, second) == (system.dept.address, DECLINED)


def test_the_answer_window_is_the_vocabularys(system: System) -> None:
    assert ledger_call(system, "REQUEST_ANSWER_WINDOW") == REQUEST_ANSWER_WINDOW


def test_a_request_unanswered_for_the_window_can_no_longer_be_granted(system: System) -> None:
    request_id = file_request(system)
    filed_at = system.now()
    _, _, expires_at = system.client.request_status(request_id)
    assert expires_at == filed_at + REQUEST_ANSWER_WINDOW

    system.chain.time_travel(REQUEST_ANSWER_WINDOW + 1)

    count = system.client.consent_count()
    with pytest.raises(ConsentLedgerRequestExpired) as refused:
        system.grant(requestId=request_id)
    assert (refused.value.requestId, refused.value.expiredAt) == (request_id, expires_at)
    assert system.client.consent_count() == count
    assert status(system, request_id) == (system.dept.address, PENDING)
    # It can still be closed: the resident declines it.
    assert system.one(decline_intent(system, request_id)).name == "RequestDeclined"


def test_a_request_can_be_granted_until_just_before_its_window_ends(system: System) -> None:
    request_id = file_request(system)
    _, _, expires_at = system.client.request_status(request_id)
    system.chain.time_travel(REQUEST_ANSWER_WINDOW - 3600)
    assert system.now() < expires_at
    system.grant(requestId=request_id)
    assert status(system, request_id) == (system.dept.address, GRANTED)

"""Batches: a bad intent is refused on its own, the good ones of its batch apply, and
every intent gets an outcome in input order."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from eth_account import Account

from ledger.artifacts import load_artifact
from ledger.chain.embedded import EmbeddedChain
from ledger.contract_errors import (
    ConsentDirectoryDepartmentExists,
    ConsentDirectoryUnknownField,
    ConsentDirectoryUnknownPurpose,
    ConsentDirectoryUnsupportedRole,
    ConsentLedgerConsentIdsExhausted,
    ConsentLedgerInvalidIdCommitment,
    ConsentLedgerInvalidWindow,
    ConsentLedgerStaleVersion,
    ConsentLedgerTermsMismatch,
    ConsentLedgerUnauthorizedSigner,
    ConsentLedgerUnknownConsent,
    ConsentLedgerUnknownDepartment,
    ConsentLedgerUnknownRequest,
    ConsentLedgerUnknownResident,
    ConsentLedgerZeroDuration,
    ECDSAInvalidSignatureS,
    SignedIntentExpired,
    SignedIntentNonceUsed,
    SignedIntentWrongSigner,
)
from ledger.deployment import _DEPLOY_GAS
from ledger.errors import ContractError
from ledger.intents import INTENTS, type_hash
from ledger.types import ConsentTerms, Outcome, SignedIntent
from ledger.vocabulary import bytes32_to_name, role_id
from tests.conftest import ZERO32, System, b32, build_system
from tests.contracts.helpers import (
    commit_intent,
    high_s,
    mapping_slot,
    register_intent,
    request_intent,
    revoke_intent,
    role_intent,
    set_storage,
    with_signature,
)

E = TypeVar("E", bound=ContractError)


def signer_of(intent: SignedIntent, system: System) -> str:
    """The address whose nonce the intent spends."""
    if intent.name == "EnrollResident":
        return system.registrar.address
    signer_field = INTENTS[intent.name].signer_field
    if not signer_field:  # the admin's intents
        return system.admin.address
    return str(intent.message[signer_field])


def refused(outcome: Outcome, error_type: type[E], index: int) -> E:
    """The decoded error of an intent refused with ``error_type``, reported by an
    ``IntentRejected`` event for position ``index`` of its batch."""
    assert isinstance(outcome.error, error_type), outcome.error
    assert outcome.event is not None and outcome.event.name == "IntentRejected"
    assert outcome.event.args["index"] == index
    assert outcome.event.args["intentType"] == type_hash(outcome.intent.name)
    return outcome.error


def test_mixed_submission_applies_good_intents_and_refuses_bad_ones_alone(system: System) -> None:
    first_id, first_terms = system.grant()
    resident, other = system.residents[0], system.residents[1]
    stranger, newcomer, enrolled_ok = Account.create(), Account.create(), Account.create()
    nonce = 4242
    forged = dataclasses.replace(first_terms, max_uses=99)

    g1 = system.grant_intent(resident=resident, nonce=nonce)
    bad_enroll = system.enroll_intent(newcomer.address, signer=stranger)
    g2 = system.grant_intent(resident=resident, nonce=nonce, maxUses=5)
    access_unknown = system.access_intent(424242, ConsentTerms.empty())
    g3 = system.grant_intent(resident=other)
    forged_access = system.access_intent(first_id, forged)
    good_enroll = system.enroll_intent(enrolled_ok.address)
    intents = [g1, bad_enroll, g2, access_unknown, g3, forged_access, good_enroll]

    outcomes = system.submit(*intents)

    assert [o.intent for o in outcomes] == intents
    o_g1, o_bad_enroll, o_g2, o_unknown, o_g3, o_forged, o_enroll = outcomes
    # the grants went together in one transaction, the bad one refused in the middle
    assert o_g1.receipt.tx_hash == o_g2.receipt.tx_hash == o_g3.receipt.tx_hash
    assert o_g1.unwrap().args["consentId"] == first_id + 1
    assert o_g3.unwrap().args["consentId"] == first_id + 2
    assert o_g3.unwrap().args["resident"] == other.address
    reused = refused(o_g2, SignedIntentNonceUsed, index=1)
    assert (reused.signer, reused.nonce) == (resident.address, nonce)
    assert system.client.consent_count() == first_id + 2
    # a bad enrolment: refused, resident not enrolled, signer's nonce not spent
    unauthorized = refused(o_bad_enroll, ConsentLedgerUnauthorizedSigner, index=0)
    assert (unauthorized.signer, unauthorized.role) == (stranger.address, role_id("registrar"))
    assert not system.client.resident(newcomer.address).enrolled
    assert not system.client.is_nonce_used(
        "EnrollResident", stranger.address, bad_enroll.message["nonce"]
    )
    assert o_enroll.ok and o_enroll.unwrap().args["resident"] == enrolled_ok.address
    assert o_enroll.receipt.tx_hash == o_bad_enroll.receipt.tx_hash
    # an access to an unknown consent is not refused: it is recorded as denied
    assert o_unknown.ok and o_unknown.unwrap().name == "AccessDenied"
    assert bytes32_to_name(o_unknown.unwrap().args["reason"]) == "unknown_consent"
    assert system.client.is_nonce_used(
        "Access", system.dept.address, access_unknown.message["nonce"]
    )
    # an access with forged terms is refused and leaves no trace
    assert refused(o_forged, ConsentLedgerTermsMismatch, index=1).consentId == first_id
    assert not system.client.is_nonce_used(
        "Access", system.dept.address, forged_access.message["nonce"]
    )
    assert system.client.consent_state(first_id).uses == 0
    assert o_forged.receipt.tx_hash == o_unknown.receipt.tx_hash


def test_every_batch_entry_point_refuses_its_bad_intent_alone(system: System) -> None:
    revocable, revocable_terms = system.grant()
    readable, readable_terms = system.grant()
    new_dept, auditor, newcomer = Account.create(), Account.create(), Account.create()
    now = system.now()
    pairs: list[tuple[SignedIntent, SignedIntent, type[ContractError]]] = [
        (
            register_intent(system, new_dept.address),
            register_intent(system, system.dept.address),
            ConsentDirectoryDepartmentExists,
        ),
        (
            role_intent(system, "auditor", auditor.address),
            role_intent(system, "department", auditor.address),
            ConsentDirectoryUnsupportedRole,
        ),
        (
            system.enroll_intent(newcomer.address),
            system.enroll_intent(Account.create().address, ZERO32),
            ConsentLedgerInvalidIdCommitment,
        ),
        (
            commit_intent(system, system.residents[1], 2),
            commit_intent(system, system.residents[2], 1),
            ConsentLedgerStaleVersion,
        ),
        (
            request_intent(system),
            request_intent(system, duration=0),
            ConsentLedgerZeroDuration,
        ),
        (
            system.grant_intent(),
            system.grant_intent(validFrom=now + 10, validUntil=now + 5),
            ConsentLedgerInvalidWindow,
        ),
        (
            revoke_intent(system, revocable, revocable_terms),
            revoke_intent(system, 999, revocable_terms),
            ConsentLedgerUnknownConsent,
        ),
        (
            system.access_intent(readable, readable_terms),
            system.access_intent(readable, dataclasses.replace(readable_terms, max_uses=1)),
            ConsentLedgerTermsMismatch,
        ),
    ]
    intents = [intent for good, bad, _ in pairs for intent in (bad, good)]

    outcomes = system.submit(*intents)

    assert [o.intent for o in outcomes] == intents
    for (good, bad, error_type), o_bad, o_good in zip(
        pairs, outcomes[0::2], outcomes[1::2], strict=True
    ):
        refused(o_bad, error_type, index=0)
        assert o_good.ok, (good.name, o_good.error)
        assert o_good.receipt.tx_hash == o_bad.receipt.tx_hash
        assert not system.client.is_nonce_used(
            bad.name, signer_of(bad, system), bad.message["nonce"]
        )
        assert system.client.is_nonce_used(
            good.name, signer_of(good, system), good.message["nonce"]
        )
    assert system.client.department(new_dept.address).registered
    assert system.client.has_role("auditor", auditor.address)
    assert system.client.resident(newcomer.address).enrolled
    assert system.client.resident(system.residents[1].address).version == 2
    assert system.client.consent_state(revocable).revoked
    assert system.client.consent_state(readable).uses == 1
    assert system.client.consent_count() == 3


def test_hundred_grants_in_one_transaction_with_every_tenth_refused(system: System) -> None:
    now = system.now()
    stranger = Account.create()
    residents = system.residents

    def good(i: int) -> SignedIntent:
        return system.grant_intent(resident=residents[i % 3], maxUses=i)

    def malleable(i: int) -> SignedIntent:
        intent = good(i)
        return with_signature(intent, high_s(intent.signature))

    # each bad kind: the intent and a check of its decoded error
    bad_kinds: list[tuple[Callable[[int, SignedIntent], SignedIntent], type[ContractError]]] = [
        (
            lambda i, prev: system.sign("Grant", residents[1], good(i).message),
            SignedIntentWrongSigner,
        ),
        (
            lambda i, prev: system.grant_intent(validFrom=now + 9, validUntil=now + 9),
            ConsentLedgerInvalidWindow,
        ),
        (
            lambda i, prev: system.grant_intent(names=("income", "zodiac")),
            ConsentDirectoryUnknownField,
        ),
        (
            lambda i, prev: system.grant_intent(
                resident=residents[(i - 1) % 3], nonce=prev.message["nonce"]
            ),
            SignedIntentNonceUsed,
        ),
        (lambda i, prev: system.grant_intent(deadline=now - 1), SignedIntentExpired),
        (lambda i, prev: system.grant_intent(department=stranger), ConsentLedgerUnknownDepartment),
        (lambda i, prev: malleable(i), ECDSAInvalidSignatureS),
        (
            lambda i, prev: system.grant_intent(requestId=secrets.token_bytes(32)),
            ConsentLedgerUnknownRequest,
        ),
        (
            lambda i, prev: system.grant_intent(purpose=b32("MARKETING")),
            ConsentDirectoryUnknownPurpose,
        ),
        (lambda i, prev: system.grant_intent(resident=stranger), ConsentLedgerUnknownResident),
    ]
    intents: list[SignedIntent] = []
    expected_errors: dict[int, type[ContractError]] = {}
    for i in range(100):
        if i % 10 == 9:
            make, error_type = bad_kinds[i // 10]
            intents.append(make(i, intents[-1]))
            expected_errors[i] = error_type
        else:
            intents.append(good(i))

    outcomes = system.submit(*intents)

    assert len(outcomes) == 100
    assert [o.intent for o in outcomes] == intents
    assert len({o.receipt.tx_hash for o in outcomes}) == 1
    granted = [o for i, o in enumerate(outcomes) if i not in expected_errors]
    assert all(o.ok for o in granted)
    assert [o.unwrap().args["consentId"] for o in granted] == list(range(1, 91))
    assert [o.unwrap().args["maxUses"] for o in granted] == [
        i for i in range(100) if i not in expected_errors
    ]
    assert system.client.consent_count() == 90
    for i, error_type in expected_errors.items():
        outcome = outcomes[i]
        refused(outcome, error_type, index=i)
        if error_type is not SignedIntentNonceUsed:  # that nonce was spent by its twin
            assert not system.client.is_nonce_used(
                "Grant", str(outcome.intent.message["resident"]), outcome.intent.message["nonce"]
            )
    errors: dict[int, Any] = {i: outcomes[i].error for i in expected_errors}
    assert (errors[9].expected, errors[9].recovered) == (
        residents[0].address,
        residents[1].address,
    )
    assert (errors[19].validFrom, errors[19].validUntil) == (now + 9, now + 9)
    assert errors[29].field == b32("zodiac")
    assert (errors[39].signer, errors[39].nonce) == (
        residents[38 % 3].address,
        intents[38].message["nonce"],
    )
    assert errors[49].deadline == now - 1
    assert errors[49].timestamp == outcomes[49].receipt.block_timestamp
    assert errors[59].department == stranger.address
    assert errors[69].s == intents[69].signature[32:64]
    assert errors[79].requestId == intents[79].message["requestId"]
    assert errors[89].purpose == b32("MARKETING")
    assert errors[99].resident == stranger.address


# ---------------------------------------------------------------- states that once panicked


def _consent_slot(system: System, consent_id: int) -> int:
    base = load_artifact("ConsentLedger").storage_slots["_consents"]
    return mapping_slot(consent_id.to_bytes(32, "big"), base)


def test_a_use_count_at_its_maximum_is_denied_alone_and_the_batch_goes_on(system: System) -> None:
    # An unlimited consent used 2^32 - 1 times: its next use would overflow the count
    # (once a Panic that reverted the whole accessBatch). Reaching it takes 4 billion
    # accesses, so the test writes the count into storage.
    worn, worn_terms = system.grant(maxUses=0)
    fresh, fresh_terms = system.grant()
    ledger = system.client.ledger.address
    slot = _consent_slot(system, worn)
    word = system.chain.storage_at(ledger, slot)
    assert word == int.from_bytes(system.client.consent_state(worn).terms_hash, "big")
    set_storage(system, ledger, slot, word | (2**32 - 1) << 192)
    assert system.client.consent_state(worn).uses == 2**32 - 1

    outcomes = system.submit(
        system.access_intent(fresh, fresh_terms),
        system.access_intent(worn, worn_terms),
        system.access_intent(fresh, fresh_terms),
    )

    assert len({o.receipt.tx_hash for o in outcomes}) == 1
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    first, worn_out, second = (o.unwrap() for o in outcomes)
    assert (first.name, first.args["use"]) == ("AccessLogged", 1)
    assert worn_out.name == "AccessDenied"
    assert bytes32_to_name(worn_out.args["reason"]) == "uses_exhausted"
    assert (second.name, second.args["use"]) == ("AccessLogged", 2)
    assert system.client.consent_state(worn).uses == 2**32 - 1


def test_a_grant_when_consent_ids_run_out_is_refused_alone(system: System) -> None:
    # Only tampered state gets there (2^256 - 1 grants); the increment used to panic and
    # take every grant of its batch with it.
    ledger = system.client.ledger.address
    count_slot = load_artifact("ConsentLedger").storage_slots["_consentCount"]
    set_storage(system, ledger, count_slot, 2**256 - 2)

    outcomes = system.submit(
        *(system.grant_intent(resident=resident) for resident in system.residents)
    )

    assert len({o.receipt.tx_hash for o in outcomes}) == 1
    assert outcomes[0].unwrap().args["consentId"] == 2**256 - 1
    for index, outcome in enumerate(outcomes[1:], start=1):
        refused(outcome, ConsentLedgerConsentIdsExhausted, index=index)
        assert not system.client.is_nonce_used(
            "Grant", system.residents[index].address, outcome.intent.message["nonce"]
        )
    assert system.client.consent_count() == 2**256 - 1


def test_submission_beyond_the_block_gas_is_split_across_blocks_in_order() -> None:
    # A small block gas limit (room for the deployment's four transactions in one block): a
    # round fills 80% of a block, 100 grants reserving 126k gas each, so 300 need 3 blocks.
    limit = 2 * _DEPLOY_GAS
    with EmbeddedChain(None, block_period=0, gas_limit=limit) as chain:
        system = build_system(chain)
        head = chain.head_number()
        per_block = int((0.8 * limit - 80_000) // 126_000)
        intents = [
            system.grant_intent(resident=system.residents[i % 3]) for i in range(3 * per_block)
        ]

        outcomes = system.submit(*intents)

    blocks = sorted({o.receipt.block_number for o in outcomes})
    assert blocks == list(range(head + 1, head + 1 + len(blocks)))
    assert len(blocks) == 3
    ids = [int(o.unwrap().args["consentId"]) for o in outcomes]
    assert ids == sorted(ids) and len(set(ids)) == len(intents)
    assert [o.event.args["resident"] for o in outcomes] == [i.message["resident"] for i in intents]


def test_decode_call_reads_a_batch_as_web3_does(system: System) -> None:
    intents = [system.grant_intent(resident=r) for r in system.residents]
    (outcome, *_) = system.submit(*intents)
    tx = system.chain.w3.eth.get_transaction(outcome.receipt.tx_hash)  # type: ignore[arg-type]

    name, params = system.client.decode_call(tx["to"], bytes(tx["input"]))

    function, expected = system.client.ledger.decode_function_input(tx["input"])
    assert name == function.fn_name == "grantBatch"
    assert params == {k: _plain_value(v) for k, v in expected.items()}
    assert [m["resident"] for m in params["intents"]] == [r.address for r in system.residents]
    with pytest.raises(ValueError):
        system.client.decode_call(tx["to"], b"\xde\xad\xbe\xef")


def _plain_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_value(v) for v in value]
    return value

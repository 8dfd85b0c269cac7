"""Batches: a bad intent is refused on its own, the good ones of its batch apply, and
every intent gets an outcome in input order."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from eth_abi import encode as abi_encode
from eth_account import Account

from ledger.abi import function_codec
from ledger.artifacts import load_artifact
from ledger.calldata import intents_of_call
from ledger.chain.embedded import EmbeddedChain
from ledger.client import batch_calldata, scoped_args
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
    ECDSAInvalidSignature,
    ECDSAInvalidSignatureLength,
    ECDSAInvalidSignatureS,
    SignedIntentExpired,
    SignedIntentNonceUsed,
    SignedIntentWrongSigner,
)
from ledger.deployment import _DEPLOY_GAS
from ledger.eip712 import SECP256K1_N, compact_signature
from ledger.errors import ContractError, ExecutionReverted
from ledger.intents import INTENTS, type_hash
from ledger.types import ConsentTerms, Outcome, SignedIntent
from ledger.vocabulary import bytes32_to_name, role_id
from tests.conftest import ZERO32, System, b32, build_system
from tests.contracts.helpers import (
    assert_consent_granted_log_is_canonical,
    commit_intent,
    high_s,
    mapping_slot,
    register_intent,
    request_intent,
    revoke_intent,
    role_intent,
    set_storage,
    terms_digest,
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


@pytest.mark.parametrize("layout", ["grantScopedBatch", "grantBatch"])
def test_hundred_grants_in_one_transaction_with_every_tenth_refused(
    system: System, layout: str
) -> None:
    """Either layout of a grant batch: scoped when every signature has the compact form
    (the high ``s`` here lies below 2^255), else ``grantBatch`` (the high-``s`` twin of a
    real signature, whose ``s`` lies above)."""
    now = system.now()
    stranger = Account.create()
    residents = system.residents

    def good(i: int) -> SignedIntent:
        return system.grant_intent(resident=residents[i % 3], maxUses=i)

    def malleable(i: int) -> SignedIntent:
        intent = good(i)
        if layout == "grantBatch":
            return with_signature(intent, high_s(intent.signature))
        high = (SECP256K1_N // 2 + 1 + i).to_bytes(32, "big")
        return with_signature(intent, intent.signature[:32] + high + intent.signature[64:])

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
    (tx_hash,) = {o.receipt.tx_hash for o in outcomes}
    tx = system.chain.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    assert system.client.decode_call(tx["to"], bytes(tx["input"]))[0] == layout
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
    # A small block gas limit (room for the deployment's four transactions in one block,
    # whose gas limits add up to a little over 16M): a round fills 80% of a block, 107
    # grants reserving 126k gas each, so 321 need 3 blocks.
    limit = 2 * _DEPLOY_GAS + 1_000_000
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
    assert name == function.fn_name == "grantScopedBatch"
    assert params == {k: _plain_value(v) for k, v in expected.items()}
    assert [m["resident"] for m in params["intents"]] == [r.address for r in system.residents]
    assert [m["scope"] for m in params["intents"]] == [0, 0, 0]
    assert [s["department"] for s in params["scopes"]] == [system.dept.address]
    with pytest.raises(ValueError):
        system.client.decode_call(tx["to"], b"\xde\xad\xbe\xef")


def _plain_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_value(v) for v in value]
    return value


# ---------------------------------------------------------------- the scoped layout


def _scoped_call(system: System, tx_hash: str) -> dict[str, Any]:
    tx = system.chain.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    name, params = system.client.decode_call(tx["to"], bytes(tx["input"]))
    assert name == "grantScopedBatch"
    return params


def test_a_scoped_batch_of_interleaved_scopes_judges_each_grant_as_alone(system: System) -> None:
    """Three scopes interleaved (the third names a field the schema lacks): each grant is
    recorded and logged as ``grant`` would, refused alone with the error it would revert
    with (a compact high ``s``, a stranger's signature, a window, the scope's field), and
    the calldata carries each scope once; the audit's decoder gives back every intent as
    signed, 65-byte signatures included."""
    residents = system.residents
    a = {"department": system.departments[0], "names": ("income", "name")}
    b = {"department": system.departments[1], "names": ("address",), "purpose": b32("EDUCATION")}
    c = {"department": system.departments[2], "names": ("income", "zodiac")}
    now = system.now()
    high = SECP256K1_N // 2 + 1  # above the half order, below 2**255: the compact form holds it

    def compact_high_s(intent: SignedIntent, v: int) -> SignedIntent:
        return with_signature(intent, intent.signature[:32] + high.to_bytes(32, "big") + bytes([v]))

    intents = [
        system.grant_intent(resident=residents[0], **a),
        system.grant_intent(resident=residents[1], **b),
        system.grant_intent(resident=residents[2], **c),
        compact_high_s(system.grant_intent(resident=residents[1], **a), 27),
        system.sign("Grant", residents[2], system.grant_intent(resident=residents[0], **b).message),
        system.grant_intent(resident=residents[1], maxUses=4, **a),
        system.grant_intent(resident=residents[0], **c),
        compact_high_s(system.grant_intent(resident=residents[2], **b), 28),
        system.grant_intent(resident=residents[2], validFrom=now + 9, validUntil=now + 9, **a),
        system.grant_intent(resident=residents[2], **b),
    ]
    assert all(compact_signature(i.signature) is not None for i in intents)

    outcomes = system.submit(*intents)

    (tx_hash,) = {o.receipt.tx_hash for o in outcomes}
    params = _scoped_call(system, tx_hash)
    assert [s["department"] for s in params["scopes"]] == [
        system.departments[i].address for i in range(3)
    ]
    assert [g["scope"] for g in params["intents"]] == [0, 1, 2, 0, 1, 0, 2, 1, 0, 1]
    s3 = refused(outcomes[3], ECDSAInvalidSignatureS, index=3)
    s7 = refused(outcomes[7], ECDSAInvalidSignatureS, index=7)
    assert s3.s == s7.s == high.to_bytes(32, "big")
    wrong = refused(outcomes[4], SignedIntentWrongSigner, index=4)
    assert (wrong.expected, wrong.recovered) == (residents[0].address, residents[2].address)
    window = refused(outcomes[8], ConsentLedgerInvalidWindow, index=8)
    assert (window.validFrom, window.validUntil) == (now + 9, now + 9)
    for index in (2, 6):
        assert refused(outcomes[index], ConsentDirectoryUnknownField, index=index).field == b32(
            "zodiac"
        )
    granted = [0, 1, 5, 9]
    assert [int(outcomes[i].unwrap().args["consentId"]) for i in granted] == [1, 2, 3, 4]
    assert system.client.consent_count() == 4
    for i in granted:
        event, message = outcomes[i].unwrap(), intents[i].message
        terms = ConsentTerms.from_event(event.args)
        assert (terms.resident, terms.department, list(terms.fields), terms.purpose) == (
            message["resident"], message["department"], message["fields"], message["purpose"],
        )  # fmt: skip
        assert (terms.valid_from, terms.valid_until, terms.max_uses) == (
            message["validFrom"], message["validUntil"], message["maxUses"],
        )  # fmt: skip
        assert system.client.consent_state(int(event.args["consentId"])).terms_hash == (
            terms_digest(terms)
        )
    for i, intent in enumerate(intents):
        spent = system.client.is_nonce_used(
            "Grant", str(intent.message["resident"]), intent.message["nonce"]
        )
        assert spent is (i in granted), i
    assert_consent_granted_log_is_canonical(system, tx_hash)
    tx = system.chain.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    assert intents_of_call(system.client, tx["to"], bytes(tx["input"])) == ("Grant", intents)


def test_a_signature_the_compact_form_cannot_carry_sends_the_batch_unscoped(
    system: System,
) -> None:
    """The high-``s`` twin of a signature (its ``s`` past 2^255) has no compact form: its
    batch goes to ``grantBatch`` whole, which refuses it with the full ``s`` and grants the
    others; a batch of compactable signatures after it goes scoped again."""
    good = system.grant_intent(resident=system.residents[0])
    twin_of = system.grant_intent(resident=system.residents[1])
    twin = with_signature(twin_of, high_s(twin_of.signature))
    assert compact_signature(twin.signature) is None
    short = with_signature(twin_of, twin_of.signature[:64])

    outcomes = system.submit(good, twin, short)

    (tx_hash,) = {o.receipt.tx_hash for o in outcomes}
    tx = system.chain.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    assert system.client.decode_call(tx["to"], bytes(tx["input"]))[0] == "grantBatch"
    assert outcomes[0].ok
    assert refused(outcomes[1], ECDSAInvalidSignatureS, index=1).s == twin.signature[32:64]
    assert refused(outcomes[2], ECDSAInvalidSignatureLength, index=2).length == 64
    assert intents_of_call(system.client, tx["to"], bytes(tx["input"])) == (
        "Grant",
        [good, twin, short],
    )
    (again,) = system.submit(system.grant_intent(resident=system.residents[2]))
    assert again.ok
    _scoped_call(system, again.receipt.tx_hash)


def test_a_compact_signature_recovering_no_one_is_refused_invalid_signature(
    system: System,
) -> None:
    intent = system.grant_intent()
    nobody = with_signature(intent, b"\0" * 32 + intent.signature[32:])  # r = 0
    assert compact_signature(nobody.signature) is not None
    (outcome,) = system.submit(nobody)
    refused(outcome, ECDSAInvalidSignature, index=0)
    _scoped_call(system, outcome.receipt.tx_hash)


def test_a_delegates_grant_in_a_scoped_batch_logs_delegate_signed_first(system: System) -> None:
    resident, delegate = system.residents[0], system.residents[1]
    appoint = system.sign(
        "AppointDelegate",
        resident,
        {"resident": resident.address, "delegate": delegate.address, "powers": 1,
         "validUntil": system.now() + 86400},
    )  # fmt: skip
    system.one(appoint)
    own = system.grant_intent(resident=system.residents[2])
    by_delegate = system.sign("Grant", delegate, system.grant_intent(resident=resident).message)

    first, second = system.submit(own, by_delegate)

    assert first.receipt.tx_hash == second.receipt.tx_hash
    _scoped_call(system, first.receipt.tx_hash)
    assert second.unwrap().args["resident"] == resident.address
    (signed,) = second.extra_events
    assert signed.name == "DelegateSigned"
    assert (signed.args["resident"], signed.args["delegate"]) == (
        resident.address,
        delegate.address,
    )
    assert signed.args["intentType"] == type_hash("Grant")


_GRANT_MEMBERS = ("resident", "scope", "validFrom", "validUntil", "maxUses", "requestId",
                  "nonce", "deadline", "r", "vs")  # fmt: skip


def _raw_scoped_calldata(scopes: list[dict[str, Any]], grants: list[dict[str, Any]]) -> bytes:
    """``grantScopedBatch``'s calldata with every address and small integer as a raw word,
    so that one out of its type's range is encodable."""
    selector, types = function_codec("ConsentLedger", "grantScopedBatch")
    wide = [t.replace("address", "uint256").replace("uint64", "uint256") for t in types]
    wide = [t.replace("uint32", "uint256") for t in wide]

    def raw(value: Any) -> Any:
        return int(value, 16) if isinstance(value, str) else value

    return selector + abi_encode(
        wide,
        [
            [(raw(s["department"]), s["fields"], s["purpose"]) for s in scopes],
            [tuple(raw(g[m]) for m in _GRANT_MEMBERS) for g in grants],
        ],
    )


def _patch_word(data: bytes, at: int, value: int) -> bytes:
    return data[:at] + value.to_bytes(32, "big") + data[at + 32 :]


# Where words of a one-scope, one-grant call lie (after the selector): the head's offset of
# `scopes` (0x40), its length and its element's offset, then the scope: department, the
# offset of its fields, purpose.
_SCOPE_OFFSET_AT = 4 + 0x60
_FIELDS_OFFSET_AT = 4 + 0x80 + 0x20


@pytest.mark.parametrize(
    ("part", "member", "value"),
    [
        pytest.param("intent", "scope", 1, id="scope index past the scopes"),
        pytest.param("intent", "scope", 2**255, id="huge scope index"),
        pytest.param("intent", "resident", 1 << 160, id="resident beyond an address"),
        pytest.param("intent", "validFrom", 1 << 64, id="validFrom beyond uint64"),
        pytest.param("intent", "validUntil", 1 << 64, id="validUntil beyond uint64"),
        pytest.param("intent", "maxUses", 1 << 32, id="maxUses beyond uint32"),
        pytest.param("scope", "department", 1 << 160, id="department beyond an address"),
        pytest.param("word", _SCOPE_OFFSET_AT, 2**40, id="scope offset past the calldata"),
        pytest.param("word", _FIELDS_OFFSET_AT, 2**40, id="fields offset past the calldata"),
    ],
)
def test_malformed_scoped_calldata_reverts_the_whole_batch_without_data(
    system: System, part: str, member: Any, value: int
) -> None:
    """By design ``grantScopedBatch`` reverts whole, without data, on calldata Solidity's
    decoder would refuse, and on a grant that names a scope the batch lacks: that is the
    relayer's encoding, not a resident's intent (no ``Grant`` was signed as it stands), so
    there is no intent to refuse. The same calldata untampered grants."""
    intent = system.grant_intent()
    args = scoped_args("Grant", [intent])
    assert args is not None
    scopes = [dict(zip(("department", "fields", "purpose"), s, strict=True)) for s in args[0]]
    grants = [dict(zip(_GRANT_MEMBERS, g, strict=True)) for g in args[1]]
    ledger, relayer = system.client.ledger.address, system.client.relayer.address
    good = _raw_scoped_calldata(scopes, grants)
    assert good == batch_calldata("Grant", [intent])
    assert system.chain.call(ledger, good, sender=relayer) == b""
    if part == "intent":
        bad = _raw_scoped_calldata(scopes, [{**grants[0], member: value}])
    elif part == "scope":
        bad = _raw_scoped_calldata([{**scopes[0], member: value}], grants)
    else:
        bad = _patch_word(good, member, value)
    with pytest.raises(ExecutionReverted) as info:
        system.chain.call(ledger, bad, sender=relayer)
    assert info.value.data == b""

"""SignedIntents: EIP-712 domain and type hashes, signature rules, deadlines, unordered
nonces and the relayer gate, shared by both contracts."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account

from ledger.contract_errors import (
    ConsentDirectoryUnauthorizedSigner,
    ECDSAInvalidSignature,
    ECDSAInvalidSignatureLength,
    ECDSAInvalidSignatureS,
    SignedIntentBatchLengthMismatch,
    SignedIntentExpired,
    SignedIntentNonceUsed,
    SignedIntentUnauthorizedRelayer,
    SignedIntentWrongSigner,
)
from ledger.eip712 import DOMAIN_NAME, DOMAIN_VERSION, SECP256K1_N
from ledger.intents import INTENTS, type_hash
from ledger.types import ConsentTerms, SignedIntent
from ledger.vocabulary import role_id
from tests.conftest import System, fields
from tests.contracts.bundles import bundle_intent, define_intent, revoke_bundle_intent
from tests.contracts.helpers import (
    active_intent,
    appoint_intent,
    attest_intent,
    commit_intent,
    decline_intent,
    digest_of,
    directive_intent,
    distrust_intent,
    domain_of,
    emergency_intent,
    funded_stranger,
    high_s,
    policy_intent,
    receipt_events,
    recovered_by_contract,
    register_intent,
    remove_delegate_intent,
    request_intent,
    review_intent,
    revoke_intent,
    revoke_role_intent,
    role_intent,
    rotate_intent,
    struct_hash_of,
    with_signature,
    withdraw_intent,
)
from wallets.signing import intent_digest

TYPEHASH_CONSTANTS = {
    "RegisterDepartment": ("ConsentDirectory", "REGISTER_DEPARTMENT_TYPEHASH"),
    "GrantRole": ("ConsentDirectory", "GRANT_ROLE_TYPEHASH"),
    "Attest": ("ConsentDirectory", "ATTEST_TYPEHASH"),
    "EnrollResident": ("ConsentLedger", "ENROLL_RESIDENT_TYPEHASH"),
    "CommitRecord": ("ConsentLedger", "COMMIT_RECORD_TYPEHASH"),
    "AccessRequest": ("ConsentLedger", "ACCESS_REQUEST_TYPEHASH"),
    "Grant": ("ConsentLedger", "GRANT_TYPEHASH"),
    "Revoke": ("ConsentLedger", "REVOKE_TYPEHASH"),
    "Access": ("ConsentLedger", "ACCESS_TYPEHASH"),
    "DeclineRequest": ("ConsentLedger", "DECLINE_REQUEST_TYPEHASH"),
    "WithdrawRequest": ("ConsentLedger", "WITHDRAW_REQUEST_TYPEHASH"),
    "SetPurposePolicy": ("ConsentDirectory", "SET_PURPOSE_POLICY_TYPEHASH"),
    "SetDepartmentActive": ("ConsentDirectory", "SET_DEPARTMENT_ACTIVE_TYPEHASH"),
    "RevokeRole": ("ConsentDirectory", "REVOKE_ROLE_TYPEHASH"),
    "DistrustIssuer": ("ConsentDirectory", "DISTRUST_ISSUER_TYPEHASH"),
    "RotateDepartmentKey": ("ConsentDirectory", "ROTATE_DEPARTMENT_KEY_TYPEHASH"),
    "DefineService": ("ConsentDirectory", "DEFINE_SERVICE_TYPEHASH"),
    "GrantBundle": ("ConsentLedger", "GRANT_BUNDLE_TYPEHASH"),
    "RevokeBundle": ("ConsentLedger", "REVOKE_BUNDLE_TYPEHASH"),
    "AppointDelegate": ("ConsentDelegates", "APPOINT_DELEGATE_TYPEHASH"),
    "RemoveDelegate": ("ConsentDelegates", "REMOVE_DELEGATE_TYPEHASH"),
    "EmergencyDirective": ("ConsentEmergency", "EMERGENCY_DIRECTIVE_TYPEHASH"),
    "EmergencyAccess": ("ConsentEmergency", "EMERGENCY_ACCESS_TYPEHASH"),
    "ReviewEmergency": ("ConsentEmergency", "REVIEW_EMERGENCY_TYPEHASH"),
}


def one_of_each(system: System) -> list[SignedIntent]:
    """A well-formed intent of every on-chain type (not necessarily one that would succeed)."""
    terms = ConsentTerms.empty()
    return [
        register_intent(system, Account.create().address),
        role_intent(system, "auditor", Account.create().address),
        system.enroll_intent(Account.create().address),
        commit_intent(system, system.resident, 2),
        request_intent(system),
        system.grant_intent(),
        revoke_intent(system, 1, terms),
        system.access_intent(1, terms),
        active_intent(system, system.dept.address, False),
        revoke_role_intent(system, "auditor", Account.create().address),
        distrust_intent(system, system.issuer.address, fields("income")),
        rotate_intent(system, system.dept.address),
        attest_intent(system),
        decline_intent(system, b"\1" * 32),
        withdraw_intent(system, b"\1" * 32),
        policy_intent(system),
        define_intent(system),
        bundle_intent(system),
        revoke_bundle_intent(system, 1, [terms]),
        appoint_intent(system, system.residents[1].address),
        remove_delegate_intent(system, system.residents[1].address),
        directive_intent(system, system.dept.address),
        emergency_intent(system, system.dept),
        review_intent(system, 1),
    ]


def call_args(intent: SignedIntent) -> tuple[Any, ...]:
    """The arguments of the intent's single-intent entry point."""
    extra = (intent.terms_abi(),) if intent.terms is not None else ()
    return (intent.as_abi(), intent.signature, *extra)


def batch_args(intent: SignedIntent, intents: int, signatures: int, terms: int) -> tuple[Any, ...]:
    """A batch call's arguments: ``intent`` repeated in arrays of the given lengths."""
    args: tuple[Any, ...] = ([intent.as_abi()] * intents, [intent.signature] * signatures)
    if intent.terms is not None:  # revoke and access take the terms in a third array
        args += ([intent.terms_abi()] * terms,)
    return args


SINGLE = {
    "RegisterDepartment": "registerDepartment",
    "GrantRole": "assignRole",
    "EnrollResident": "enrollResident",
    "CommitRecord": "commitRecord",
    "AccessRequest": "requestAccess",
    "Grant": "grant",
    "Revoke": "revoke",
    "Access": "access",
    "SetDepartmentActive": "changeDepartmentActive",
    "RevokeRole": "removeRole",
    "DistrustIssuer": "endIssuerTrust",
    "RotateDepartmentKey": "rotateDepartmentKey",
    "Attest": "recordAttestation",
    "DeclineRequest": "declineRequest",
    "WithdrawRequest": "withdrawRequest",
    "SetPurposePolicy": "setPurposePolicy",
    "DefineService": "defineService",
    "GrantBundle": "grantBundle",
    "RevokeBundle": "revokeBundle",
    "AppointDelegate": "appointDelegate",
    "RemoveDelegate": "removeDelegate",
    "EmergencyDirective": "setDirective",
    "EmergencyAccess": "emergencyAccess",
    "ReviewEmergency": "review",
}


# ---------------------------------------------------------------- type hashes and domain


def test_every_typehash_constant_is_the_hash_of_the_python_type(system: System) -> None:
    assert set(TYPEHASH_CONSTANTS) == set(INTENTS)
    for name, (contract, constant) in TYPEHASH_CONSTANTS.items():
        assert system.client.simulate(contract, constant) == type_hash(name), name
        assert INTENTS[name].contract == contract


def test_eip712_domain_names_the_ledger_version_chain_and_contract(system: System) -> None:
    for contract in system.client.deployment.contracts:
        fields_bitmap, name, version, chain_id, verifying, salt, extensions = (
            system.client.simulate(contract, "eip712Domain")
        )
        assert (fields_bitmap, name, version) == (b"\x0f", DOMAIN_NAME, DOMAIN_VERSION)
        assert chain_id == system.chain.chain_id
        assert verifying == system.client.deployment.contracts[contract]
        assert (salt, extensions) == (b"\0" * 32, [])


def test_hash_typed_data_of_struct_hash_equals_eth_account_digest_for_every_intent(
    system: System,
) -> None:
    samples: list[tuple[str, dict[str, Any]]] = [
        (i.name, dict(i.message)) for i in one_of_each(system)
    ]
    assert {name for name, _ in samples} == set(INTENTS)
    for name, message in samples:
        contract = INTENTS[name].contract
        expected = intent_digest(name, message, **domain_of(system, name))
        struct_hash = struct_hash_of(system, name, message)
        assert system.client.simulate(contract, "hashTypedData", struct_hash) == expected, name
        other = "ConsentLedger" if contract == "ConsentDirectory" else "ConsentDirectory"
        assert system.client.simulate(other, "hashTypedData", struct_hash) != expected


# ---------------------------------------------------------------- signature rules


def test_grant_signed_by_someone_else_reverts_wrong_signer_naming_both(system: System) -> None:
    resident, impostor = system.residents[0], system.residents[1]
    genuine = system.grant_intent(resident=resident)
    forged = system.sign("Grant", impostor, genuine.message)
    with pytest.raises(SignedIntentWrongSigner) as info:
        system.one(forged)
    assert (info.value.expected, info.value.recovered) == (resident.address, impostor.address)
    assert system.client.consent_count() == 0


def test_reused_nonce_reverts_nonce_used(system: System) -> None:
    nonce = 77
    system.one(system.grant_intent(nonce=nonce))
    with pytest.raises(SignedIntentNonceUsed) as info:
        system.one(system.grant_intent(nonce=nonce, maxUses=9))
    assert (info.value.signer, info.value.nonce) == (system.resident.address, nonce)
    assert system.client.consent_count() == 1


def test_nonces_are_per_signer_and_per_contract(system: System) -> None:
    nonce = 77
    system.one(system.grant_intent(resident=system.residents[0], nonce=nonce))
    system.one(system.grant_intent(resident=system.residents[1], nonce=nonce))
    system.one(role_intent(system, "auditor", system.residents[0].address, nonce=nonce))
    system.one(role_intent(system, "auditor", system.residents[1].address, nonce=nonce + 1))
    with pytest.raises(SignedIntentNonceUsed) as info:
        system.one(role_intent(system, "auditor", Account.create().address, nonce=nonce))
    assert (info.value.signer, info.value.nonce) == (system.admin.address, nonce)


def test_intent_past_its_deadline_reverts_expired(system: System) -> None:
    deadline = system.now() + 60
    intent = system.grant_intent(deadline=deadline)
    system.chain.time_travel(120)
    outcome = system.submit(intent)[0]
    assert isinstance(outcome.error, SignedIntentExpired)
    assert outcome.error.deadline == deadline
    assert outcome.error.timestamp == outcome.receipt.block_timestamp > deadline
    assert not system.client.is_nonce_used(
        "Grant", system.resident.address, intent.message["nonce"]
    )


def test_high_s_twin_of_a_valid_signature_reverts_invalid_signature_s(system: System) -> None:
    intent = system.grant_intent()
    twin = high_s(intent.signature)
    assert Account._recover_hash(digest_of(system, intent), signature=twin) == (
        system.resident.address
    )  # ecrecover alone would accept it
    with pytest.raises(ECDSAInvalidSignatureS) as info:
        system.one(with_signature(intent, twin))
    assert info.value.s == twin[32:64]
    assert int.from_bytes(info.value.s, "big") > SECP256K1_N // 2


def test_short_or_long_signature_reverts_invalid_signature_length(system: System) -> None:
    intent = system.grant_intent()
    for signature in (intent.signature[:64], intent.signature + b"\0", b""):
        with pytest.raises(ECDSAInvalidSignatureLength) as info:
            system.one(with_signature(intent, signature))
        assert info.value.length == len(signature)


def test_signature_recovering_no_address_reverts_invalid_signature(system: System) -> None:
    intent = system.grant_intent()
    r, s = intent.signature[:32], intent.signature[32:64]
    for signature in (r + s + b"\x1d", b"\0" * 32 + s + b"\x1b"):  # v = 29; r = 0
        with pytest.raises(ECDSAInvalidSignature):
            system.one(with_signature(intent, signature))


def _assert_wrong_signer(system: System, intent: SignedIntent) -> None:
    recovered = recovered_by_contract(system, intent)
    assert recovered != system.resident.address
    with pytest.raises(SignedIntentWrongSigner) as info:
        system.one(intent)
    assert (info.value.expected, info.value.recovered) == (system.resident.address, recovered)


def test_signature_for_another_chain_id_reverts_wrong_signer(system: System) -> None:
    genuine = system.grant_intent()
    other = system.sign(
        "Grant", system.resident, genuine.message, chain_id=system.chain.chain_id + 1
    )
    _assert_wrong_signer(system, other)


def test_signature_for_another_verifying_contract_reverts_wrong_signer(system: System) -> None:
    genuine = system.grant_intent()
    other = system.sign(
        "Grant",
        system.resident,
        genuine.message,
        verifying_contract=system.client.directory.address,
    )
    _assert_wrong_signer(system, other)


def test_signature_over_another_intent_type_reverts_wrong_signer(system: System) -> None:
    grant = system.grant_intent()
    shared = {
        k: grant.message[k] for k in ("department", "resident", "fields", "nonce", "deadline")
    }
    access_typed = system.sign(
        "Access", system.resident, {**shared, "consentId": 0}, ConsentTerms.empty()
    )
    _assert_wrong_signer(system, with_signature(grant, access_typed.signature))


def test_submission_by_non_relayer_reverts_unauthorized_relayer(system: System) -> None:
    stranger, _ = funded_stranger(system)  # eth-tester charges eth_call gas to the sender
    for intent in one_of_each(system):
        contract = INTENTS[intent.name].contract
        batch = f"{SINGLE[intent.name]}Batch"
        for function, args in (
            (SINGLE[intent.name], call_args(intent)),
            (batch, batch_args(intent, 1, 1, 1)),
        ):
            with pytest.raises(SignedIntentUnauthorizedRelayer) as info:
                system.client.simulate(contract, function, *args, sender=stranger.address)
            assert info.value.caller == stranger.address, function
    # a department or the admin is no relayer either: authority comes from signatures
    intent = system.grant_intent()
    for account in (system.dept, system.admin):
        system.chain.fund(account.address, 10**18)
        with pytest.raises(SignedIntentUnauthorizedRelayer) as info:
            system.client.simulate(
                "ConsentLedger", "grant", *call_args(intent), sender=account.address
            )
        assert info.value.caller == account.address


def test_batch_arrays_of_different_lengths_revert_batch_length_mismatch(system: System) -> None:
    for sample in one_of_each(system):
        contract = INTENTS[sample.name].contract
        batch = f"{SINGLE[sample.name]}Batch"
        with pytest.raises(SignedIntentBatchLengthMismatch) as info:
            system.client.simulate(contract, batch, *batch_args(sample, 2, 1, 2))
        assert (info.value.intents, info.value.signatures) == (2, 1), batch
        if sample.terms is not None:  # the terms array is checked against the intents too
            with pytest.raises(SignedIntentBatchLengthMismatch) as info:
                system.client.simulate(contract, batch, *batch_args(sample, 2, 2, 3))
            assert (info.value.intents, info.value.signatures) == (2, 3), batch


def test_relayer_may_call_single_intent_entry_points_directly(system: System) -> None:
    intent = system.grant_intent()
    receipt = system.client.transact(system.relayer, "ConsentLedger", "grant", *call_args(intent))
    (event,) = receipt_events(system, receipt)
    assert (event.name, event.args["consentId"]) == ("ConsentGranted", 1)
    new = Account.create()
    receipt = system.client.transact(
        system.relayer,
        "ConsentDirectory",
        "registerDepartment",
        *call_args(register_intent(system, new.address)),
    )
    assert "DepartmentRegistered" in [e.name for e in receipt_events(system, receipt)]
    assert system.client.department(new.address).registered


def test_single_intent_entry_points_return_their_results_to_a_relayer(system: System) -> None:
    """Dry runs (``eth_call``) of every single-intent function with a good intent."""
    consent_id, terms = system.grant()
    ledger = "ConsentLedger"

    def dry_run(intent: SignedIntent) -> Any:
        contract = INTENTS[intent.name].contract
        return system.client.simulate(contract, SINGLE[intent.name], *call_args(intent))

    assert dry_run(register_intent(system, Account.create().address)) == []
    assert dry_run(role_intent(system, "auditor", Account.create().address)) == []
    assert dry_run(system.enroll_intent(Account.create().address)) == []
    assert dry_run(commit_intent(system, system.resident, 2)) == []
    request = request_intent(system)
    assert dry_run(request) == digest_of(system, request)
    assert dry_run(system.grant_intent()) == consent_id + 1
    assert dry_run(revoke_intent(system, consent_id, terms)) == []
    assert dry_run(system.access_intent(consent_id, terms)) is True
    assert dry_run(system.access_intent(consent_id + 7, ConsentTerms.empty())) is False
    assert dry_run(active_intent(system, system.dept.address, False)) == []
    assert dry_run(revoke_role_intent(system, "registrar", system.registrar.address)) == []
    assert dry_run(distrust_intent(system, system.issuer.address, fields("income"))) == []
    assert dry_run(rotate_intent(system, system.dept.address)) == []
    attestation = attest_intent(system)
    assert dry_run(attestation) == digest_of(system, attestation)
    assert system.client.department(system.dept.address).active
    assert system.client.attestation_recorded_at(digest_of(system, attestation)) == 0
    # nothing of it was recorded
    assert system.client.consent_count() == consent_id
    assert system.client.simulate(ledger, "requestParties", digest_of(system, request)) == (
        b"\0" * 32
    )
    assert system.client.consent_state(consent_id).uses == 0


def test_directory_intents_obey_the_same_signature_rules(system: System) -> None:
    def new_dept(**overrides: Any) -> SignedIntent:
        return register_intent(system, Account.create().address, **overrides)

    deadline = system.now() + 30
    late = new_dept(deadline=deadline)
    reused = new_dept(nonce=5)
    system.one(new_dept(nonce=5))
    malleable = new_dept()
    for_ledger = system.sign(
        "RegisterDepartment",
        system.admin,
        new_dept().message,
        verifying_contract=system.client.ledger.address,
    )
    system.chain.time_travel(60)
    expired, nonce_used, high, short, wrong_domain = system.submit(
        late,
        reused,
        with_signature(malleable, high_s(malleable.signature)),
        with_signature(malleable, malleable.signature[:64]),
        for_ledger,
    )
    assert isinstance(expired.error, SignedIntentExpired)
    assert (expired.error.deadline, expired.error.timestamp) == (
        deadline,
        expired.receipt.block_timestamp,
    )
    assert isinstance(nonce_used.error, SignedIntentNonceUsed)
    assert (nonce_used.error.signer, nonce_used.error.nonce) == (system.admin.address, 5)
    assert isinstance(high.error, ECDSAInvalidSignatureS)
    assert high.error.s == high_s(malleable.signature)[32:64]
    assert isinstance(short.error, ECDSAInvalidSignatureLength) and short.error.length == 64
    # the directory takes whoever signed as the admin, and that stranger is no admin
    assert isinstance(wrong_domain.error, ConsentDirectoryUnauthorizedSigner)
    assert wrong_domain.error.signer == recovered_by_contract(system, for_ledger)
    assert wrong_domain.error.signer != system.admin.address
    assert wrong_domain.error.role == b"\0" * 32
    assert len(system.client.departments()) == 4


# ---------------------------------------------------------------- unordered nonces


def test_nonce_bitmap_and_is_nonce_used_reflect_spent_nonces(system: System) -> None:
    resident = system.resident.address
    spent = [0, 1, 2, 5, 255, 256, 2**256 - 1]
    for outcome in system.submit(*(system.grant_intent(nonce=n) for n in spent)):
        outcome.unwrap()

    def bitmap(word: int, signer: str = resident) -> int:
        return system.client.simulate("ConsentLedger", "nonceBitmap", signer, word)

    assert bitmap(0) == (1 << 0) | (1 << 1) | (1 << 2) | (1 << 5) | (1 << 255)
    assert bitmap(1) == 1
    assert bitmap(2**248 - 1) == 1 << 255
    for nonce in spent:
        assert system.client.is_nonce_used("Grant", resident, nonce)
    for nonce in (3, 4, 254, 257, 2**256 - 2):
        assert not system.client.is_nonce_used("Grant", resident, nonce)
    assert bitmap(0, system.residents[1].address) == 0
    assert system.client.simulate("ConsentDirectory", "nonceBitmap", resident, 0) == 0
    assert system.client.next_nonce("Grant", resident) == 3
    assert system.client.next_nonce("Grant", resident, word=1) == 257


def test_next_nonce_is_the_lowest_unused_and_moves_past_a_full_word(system: System) -> None:
    resident = system.residents[2]
    address = resident.address
    assert system.client.next_nonce("CommitRecord", address) == 0
    commits = [commit_intent(system, resident, 2 + n, nonce=n) for n in range(256) if n != 3]
    for outcome in system.submit(*commits):
        outcome.unwrap()
    assert system.client.next_nonce("CommitRecord", address) == 3
    system.one(commit_intent(system, resident, 1000, nonce=3))
    bits = system.client.simulate("ConsentLedger", "nonceBitmap", address, 0)
    assert bits == 2**256 - 1
    assert system.client.next_nonce("CommitRecord", address) == 256
    assert system.client.next_nonce("CommitRecord", system.residents[1].address) == 0


def test_refused_intent_leaves_its_nonce_unspent_for_reuse(system: System) -> None:
    now = system.now()
    bad = system.grant_intent(nonce=40, validFrom=now + 10, validUntil=now)
    assert not system.submit(bad)[0].ok
    assert not system.client.is_nonce_used("Grant", system.resident.address, 40)
    assert system.client.next_nonce("Grant", system.resident.address) == 0
    system.one(system.grant_intent(nonce=40))
    assert system.client.is_nonce_used("Grant", system.resident.address, 40)


def test_role_grant_nonce_is_spent_by_the_admin_who_signed_it(system: System) -> None:
    nonce = 2**200 + 17
    system.one(role_intent(system, role_id("auditor"), Account.create().address, nonce=nonce))
    assert system.client.is_nonce_used("GrantRole", system.admin.address, nonce)
    assert not system.client.is_nonce_used("Grant", system.admin.address, nonce)

"""ConsentLedger residents: enrolment by a registrar, record commitments by the resident."""

from __future__ import annotations

import secrets

import pytest
from eth_account import Account

from ledger.contract_errors import (
    ConsentLedgerIdCommitmentUsed,
    ConsentLedgerInvalidEncryptionKey,
    ConsentLedgerInvalidIdCommitment,
    ConsentLedgerInvalidRoot,
    ConsentLedgerResidentExists,
    ConsentLedgerStaleVersion,
    ConsentLedgerUnauthorizedSigner,
    ConsentLedgerUnknownResident,
    ConsentLedgerZeroAddress,
    SignedIntentWrongSigner,
)
from ledger.vocabulary import role_id
from tests.conftest import ZERO32, System
from tests.contracts.helpers import ZERO_ADDRESS, commit_intent, role_intent


def is_enrolled(system: System, address: str) -> bool:
    return bool(system.client.simulate("ConsentLedger", "isEnrolled", address))


# ---------------------------------------------------------------- enrollResident


def test_enroll_resident_records_commitment_and_emits_resident_enrolled(system: System) -> None:
    new = Account.create()
    intent = system.enroll_intent(new.address)
    event = system.one(intent)
    assert event.name == "ResidentEnrolled"
    assert event.args == {
        "resident": new.address,
        "registrar": system.registrar.address,
        "idCommitment": intent.message["idCommitment"],
        "encryptionKey": intent.message["encryptionKey"],
    }
    info = system.client.resident(new.address)
    assert (info.id_commitment, info.root, info.version) == (
        intent.message["idCommitment"],
        ZERO32,
        0,
    )
    assert info.enrolled and is_enrolled(system, new.address)


def test_fixture_residents_are_enrolled_with_record_version_one(system: System) -> None:
    for resident in system.residents:
        info = system.client.resident(resident.address)
        assert info.enrolled and info.version == 1 and info.root != ZERO32
    stranger = Account.create().address
    assert not is_enrolled(system, stranger)
    assert system.client.resident(stranger).id_commitment == ZERO32


def test_any_registrar_may_enroll(system: System) -> None:
    second = Account.create()
    system.one(role_intent(system, "registrar", second.address))
    new = Account.create()
    event = system.one(system.enroll_intent(new.address, signer=second))
    assert event.args["registrar"] == second.address


def test_enroll_signed_by_non_registrar_reverts_unauthorized_signer(system: System) -> None:
    new = Account.create()
    for signer in (system.admin, system.dept, new):
        with pytest.raises(ConsentLedgerUnauthorizedSigner) as info:
            system.one(system.enroll_intent(new.address, signer=signer))
        assert info.value.signer == signer.address
        assert info.value.role == role_id("registrar")
    assert not is_enrolled(system, new.address)


def test_enroll_already_enrolled_resident_reverts_resident_exists(system: System) -> None:
    before = system.client.resident(system.resident.address)
    with pytest.raises(ConsentLedgerResidentExists) as info:
        system.one(system.enroll_intent(system.resident.address))
    assert info.value.resident == system.resident.address
    assert system.client.resident(system.resident.address) == before


def test_enroll_with_a_used_id_commitment_reverts_id_commitment_used(system: System) -> None:
    used = system.client.resident(system.resident.address).id_commitment
    new = Account.create()
    with pytest.raises(ConsentLedgerIdCommitmentUsed) as info:
        system.one(system.enroll_intent(new.address, used))
    assert info.value.idCommitment == used
    assert not is_enrolled(system, new.address)


def test_enroll_with_zero_id_commitment_reverts_invalid_id_commitment(system: System) -> None:
    new = Account.create()
    with pytest.raises(ConsentLedgerInvalidIdCommitment):
        system.one(system.enroll_intent(new.address, ZERO32))
    assert not is_enrolled(system, new.address)


def test_enroll_with_empty_encryption_key_reverts_invalid_encryption_key(system: System) -> None:
    new = Account.create()
    with pytest.raises(ConsentLedgerInvalidEncryptionKey):
        system.one(system.enroll_intent(new.address, encryptionKey=b""))
    assert not is_enrolled(system, new.address)


def test_enroll_zero_address_reverts_zero_address(system: System) -> None:
    with pytest.raises(ConsentLedgerZeroAddress):
        system.one(system.enroll_intent(ZERO_ADDRESS))


# ---------------------------------------------------------------- commitRecord


def test_commit_record_raises_version_and_sets_root(system: System) -> None:
    root = secrets.token_bytes(32)
    event = system.one(commit_intent(system, system.resident, 2, root))
    assert event.name == "RecordCommitted"
    assert event.args == {"resident": system.resident.address, "version": 2, "root": root}
    info = system.client.resident(system.resident.address)
    assert (info.version, info.root) == (2, root)


def test_commit_record_may_skip_versions(system: System) -> None:
    root = secrets.token_bytes(32)
    system.one(commit_intent(system, system.resident, 2**64 - 1, root))
    info = system.client.resident(system.resident.address)
    assert (info.version, info.root) == (2**64 - 1, root)


def test_commit_record_of_current_or_lower_version_reverts_stale_version(system: System) -> None:
    resident = system.resident
    root = system.client.resident(resident.address).root
    for given in (1, 0):
        with pytest.raises(ConsentLedgerStaleVersion) as info:
            system.one(commit_intent(system, resident, given))
        assert (info.value.resident, info.value.current, info.value.given) == (
            resident.address,
            1,
            given,
        )
    system.one(commit_intent(system, resident, 5))
    with pytest.raises(ConsentLedgerStaleVersion) as info:
        system.one(commit_intent(system, resident, 4))
    assert (info.value.current, info.value.given) == (5, 4)
    assert system.client.resident(resident.address).root != root


def test_commit_record_with_zero_root_reverts_invalid_root(system: System) -> None:
    before = system.client.resident(system.resident.address)
    with pytest.raises(ConsentLedgerInvalidRoot):
        system.one(commit_intent(system, system.resident, 2, ZERO32))
    assert system.client.resident(system.resident.address) == before


def test_commit_record_of_unenrolled_signer_reverts_unknown_resident(system: System) -> None:
    stranger = Account.create()
    with pytest.raises(ConsentLedgerUnknownResident) as info:
        system.one(commit_intent(system, stranger, 1))
    assert info.value.resident == stranger.address


def test_commit_record_signed_by_someone_else_reverts_wrong_signer(system: System) -> None:
    resident, other = system.residents[0], system.residents[1]
    for signer in (other, system.registrar):
        with pytest.raises(SignedIntentWrongSigner) as info:
            system.one(commit_intent(system, resident, 2, signer=signer))
        assert (info.value.expected, info.value.recovered) == (resident.address, signer.address)
    assert system.client.resident(resident.address).version == 1

"""What a wallet checks instead of trusting the server: department keys, its own record
and consent terms against signed intents, and the pins (trust on first use, no silent
re-pin)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.codec import checksum_address, to_hex
from ledger.vocabulary import name_to_bytes32
from wallets.identity import Identity
from wallets.record import RecordVersion
from wallets.signing import signed_intent_body
from wallets.trust import (
    DIRECTORY,
    LEDGER,
    PINS_FILE,
    Pins,
    Untrusted,
    check_consent,
    check_department_key,
    check_record,
)

CHAIN_ID = 20_260
CONTRACTS = {DIRECTORY: "0x" + "d1" * 20, LEDGER: "0x" + "1e" * 20}
NOW = 1_800_000_000


def served_intent(who: Identity, name: str, message: dict[str, Any], contract: str) -> dict:
    """An intent as ``api.provenance`` serves it."""
    full = {"nonce": 7, "deadline": NOW + 600, **message}
    body = signed_intent_body(
        who.account.key, name, full, chain_id=CHAIN_ID, verifying_contract=CONTRACTS[contract]
    )
    return {"type": name, **body, "receipt": {}}


def pinned(tmp_path: Path | None = None, admins: list[str] | None = None) -> Pins:
    return Pins(
        admins=list(admins or []),
        chain_id=CHAIN_ID,
        contracts={name: checksum_address(a) for name, a in CONTRACTS.items()},
        path=None if tmp_path is None else tmp_path / PINS_FILE,
    )


def directory_entry(admin: Identity, department: Identity, **override: Any) -> dict[str, Any]:
    key = override.pop("served_key", department.encryption_public_key)
    registration = {
        "department": department.address,
        "name": "Housing Bureau",
        "code": "HB",
        "encryptionKey": override.pop("signed_key", department.encryption_public_key),
    }
    return {
        "address": department.address,
        "name": "Housing Bureau",
        "code": "HB",
        "encryption_key": to_hex(key),
        "active": True,
        "key_intent": served_intent(admin, "RegisterDepartment", registration, DIRECTORY),
        **override,
    }


# ---------------------------------------------------------------------------- keys


def test_a_key_the_admin_signed_is_used_and_its_admin_pinned_on_first_use(
    tmp_path: Path,
) -> None:
    admin, department = Identity.create(), Identity.create()
    pins, told = pinned(tmp_path), []
    key = check_department_key(directory_entry(admin, department), pins=pins, notice=told.append)
    assert key == department.encryption_public_key
    assert pins.admins == [admin.address]
    assert "first use: pinned admin" in told[0] and admin.address in told[0]
    assert json.loads((tmp_path / PINS_FILE).read_text())["admins"] == [admin.address]
    # the next check needs no notice and the pin survives a reload
    again = Pins.load(tmp_path)
    check_department_key(directory_entry(admin, department), pins=again, notice=told.append)
    assert len(told) == 1


def test_a_substituted_key_is_refused_naming_both_keys() -> None:
    admin, department, attacker = Identity.create(), Identity.create(), Identity.create()
    entry = directory_entry(admin, department, served_key=attacker.encryption_public_key)
    with pytest.raises(Untrusted, match="substituting") as refused:
        check_department_key(entry, pins=pinned(admins=[admin.address]))
    assert to_hex(attacker.encryption_public_key)[:12] in str(refused.value)
    assert to_hex(department.encryption_public_key)[:12] in str(refused.value)


def test_a_key_signed_by_anyone_but_the_pinned_admin_is_refused_and_not_re_pinned() -> None:
    admin, impostor, department = Identity.create(), Identity.create(), Identity.create()
    pins = pinned(admins=[admin.address])
    with pytest.raises(Untrusted, match="not by the admin pinned") as refused:
        check_department_key(directory_entry(impostor, department), pins=pins)
    assert f"--admin {impostor.address} --replace" in str(refused.value)
    assert pins.admins == [admin.address]


def test_a_registration_of_another_department_does_not_vouch_for_this_one() -> None:
    admin, department, other = Identity.create(), Identity.create(), Identity.create()
    entry = directory_entry(admin, other, served_key=other.encryption_public_key)
    entry["address"] = department.address
    with pytest.raises(Untrusted, match="names another department"):
        check_department_key(entry, pins=pinned(admins=[admin.address]))


def test_a_rotation_the_admin_signed_vouches_for_the_new_key() -> None:
    admin, department = Identity.create(), Identity.create()
    fresh = Identity.create().encryption_public_key
    entry = directory_entry(admin, department, served_key=fresh)
    entry["key_intent"] = served_intent(
        admin,
        "RotateDepartmentKey",
        {"department": department.address, "encryptionKey": fresh},
        DIRECTORY,
    )
    assert check_department_key(entry, pins=pinned(admins=[admin.address])) == fresh


def test_a_key_seen_replaced_and_served_again_is_a_rollback(tmp_path: Path) -> None:
    admin, department = Identity.create(), Identity.create()
    fresh = Identity.create().encryption_public_key
    pins = pinned(tmp_path, admins=[admin.address])
    registered = directory_entry(admin, department)
    rotated = directory_entry(admin, department, served_key=fresh)
    rotated["key_intent"] = served_intent(
        admin,
        "RotateDepartmentKey",
        {"department": department.address, "encryptionKey": fresh},
        DIRECTORY,
    )
    assert check_department_key(registered, pins=pins) == department.encryption_public_key
    assert check_department_key(rotated, pins=pins) == fresh
    # the old registration is genuine, but this wallet saw its key replaced
    with pytest.raises(Untrusted, match="rolling the key back"):
        check_department_key(registered, pins=Pins.load(tmp_path))
    assert check_department_key(rotated, pins=Pins.load(tmp_path)) == fresh


def test_a_registration_signed_for_another_chain_recovers_to_no_pinned_admin() -> None:
    admin, department = Identity.create(), Identity.create()
    entry = directory_entry(admin, department)
    pins = pinned(admins=[admin.address])
    pins.chain_id = CHAIN_ID + 1  # the wallet trusts another ledger than the one signed for
    with pytest.raises(Untrusted, match="not by the admin pinned"):
        check_department_key(entry, pins=pins)


def test_a_key_served_without_its_signed_intent_is_not_used() -> None:
    admin, department = Identity.create(), Identity.create()
    entry = directory_entry(admin, department, key_intent=None)
    with pytest.raises(Untrusted, match="no signed registration"):
        check_department_key(entry, pins=pinned(admins=[admin.address]))


# ---------------------------------------------------------------------------- pins


def test_the_chain_and_contracts_are_pinned_on_first_use_and_a_change_is_refused(
    tmp_path: Path,
) -> None:
    pins, told = Pins.load(tmp_path), []
    pins.check_domain(CHAIN_ID, CONTRACTS, told.append)
    assert "first use: pinned chain 20260" in told[0]
    reloaded = Pins.load(tmp_path)
    assert reloaded.chain_id == CHAIN_ID
    assert reloaded.contracts == {name: checksum_address(a) for name, a in CONTRACTS.items()}
    with pytest.raises(Untrusted, match="on chain 1, but this wallet is pinned to chain 20260"):
        reloaded.check_domain(1, CONTRACTS, told.append)
    other = {**CONTRACTS, LEDGER: "0x" + "ee" * 20}
    with pytest.raises(Untrusted, match="ConsentLedger is 0x"):
        reloaded.check_domain(CHAIN_ID, other, told.append)
    assert Pins.load(tmp_path).to_json() == reloaded.to_json()  # nothing re-pinned
    assert len(told) == 1


def test_a_pin_file_that_is_not_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / PINS_FILE).write_text('{"admins": ["not an address"]}')
    with pytest.raises(Untrusted, match="not a readable pin file"):
        Pins.load(tmp_path)


# ---------------------------------------------------------------------------- records


def build_record(resident: Identity, version: int, **values: str) -> RecordVersion:
    return RecordVersion.build(
        values or {"name": "Li Wei", "income": "52000"},
        resident=resident.address,
        version=version,
        owner_public_key=resident.encryption_public_key,
    )


def served_record(
    resident: Identity, record: RecordVersion, signer: Identity | None = None
) -> dict:
    commit = {"resident": resident.address, "version": record.version, "root": record.root}
    return {
        "resident": resident.address,
        "version": record.version,
        "root": to_hex(record.root),
        "fields": record.envelopes(),
        "commit": served_intent(signer or resident, "CommitRecord", commit, LEDGER),
    }


def test_a_record_whose_envelopes_hash_to_the_committed_root_is_accepted() -> None:
    resident = Identity.create()
    record = build_record(resident, 3)
    assert (
        check_record(served_record(resident, record), resident=resident.address, pins=pinned())
        == record.root
    )


def test_an_altered_envelope_with_a_matching_root_is_not_the_one_committed() -> None:
    resident = Identity.create()
    stored = served_record(resident, build_record(resident, 1))
    forged = build_record(resident, 1, name="Someone Else", income="1")
    # the server swaps in envelopes of its own and the root they hash to
    stored["fields"], stored["root"] = forged.envelopes(), to_hex(forged.root)
    with pytest.raises(Untrusted, match=r"is not the\s+one you committed"):
        check_record(stored, resident=resident.address, pins=pinned())


def test_an_envelope_altered_in_place_does_not_hash_to_the_reported_root() -> None:
    resident = Identity.create()
    stored = served_record(resident, build_record(resident, 1))
    envelope = stored["fields"]["income"]
    envelope["ciphertext"] = envelope["ciphertext"][:-2] + (
        "00" if envelope["ciphertext"][-2:] != "00" else "01"
    )
    with pytest.raises(Untrusted, match="the record was altered"):
        check_record(stored, resident=resident.address, pins=pinned())


def test_a_commitment_signed_by_someone_else_does_not_vouch_for_the_record() -> None:
    resident, other = Identity.create(), Identity.create()
    stored = served_record(resident, build_record(resident, 1), signer=other)
    with pytest.raises(Untrusted, match=f"not signed by {resident.address}"):
        check_record(stored, resident=resident.address, pins=pinned())


def test_an_older_version_served_as_another_is_refused() -> None:
    resident = Identity.create()
    older = served_record(resident, build_record(resident, 1))
    older["version"] = 2  # the server relabels version 1 as the latest, 2
    with pytest.raises(Untrusted, match="version 2"):
        check_record(older, resident=resident.address, pins=pinned())


# ---------------------------------------------------------------------------- consents


def served_consent(resident: Identity, department: str, signer: Identity | None = None) -> dict:
    terms = {
        "resident": resident.address,
        "department": department,
        "fields": sorted([name_to_bytes32("income"), name_to_bytes32("name")]),
        "purpose": name_to_bytes32("HOUSING"),
        "validFrom": NOW,
        "validUntil": NOW + 30 * 86_400,
        "maxUses": 3,
        "requestId": bytes(32),
    }
    return {
        "consent_id": 9,
        "resident": resident.address,
        "department": department,
        "fields": ["income", "name"],
        "purpose": "HOUSING",
        "valid_from": NOW,
        "valid_until": NOW + 30 * 86_400,
        "max_uses": 3,
        "request_id": None,
        "status": "active",
        "grant": served_intent(signer or resident, "Grant", terms, LEDGER),
    }


def test_consent_terms_the_resident_signed_are_accepted() -> None:
    resident = Identity.create()
    check_consent(served_consent(resident, Identity.create().address), pins=pinned())


@pytest.mark.parametrize(
    ("term", "value"),
    [
        ("fields", ["income", "name", "phone"]),
        ("purpose", "TAX"),
        ("valid_until", NOW + 365 * 86_400),
        ("max_uses", 0),
        ("department", "0x" + "ab" * 20),
        ("request_id", "0x" + "cd" * 32),
    ],
)
def test_a_consent_term_the_server_altered_is_named(term: str, value: Any) -> None:
    resident = Identity.create()
    consent = served_consent(resident, Identity.create().address)
    consent[term] = value
    with pytest.raises(Untrusted, match=f"the API says {term} is"):
        check_consent(consent, pins=pinned())


def test_a_grant_signed_by_someone_else_does_not_vouch_for_the_consent() -> None:
    resident, other = Identity.create(), Identity.create()
    consent = served_consent(resident, Identity.create().address, signer=other)
    with pytest.raises(Untrusted, match="not its resident"):
        check_consent(consent, pins=pinned())


def test_an_older_version_served_as_the_latest_is_a_rollback(tmp_path: Path) -> None:
    resident = Identity.create()
    pins = pinned(tmp_path)
    pins.committed(2)  # saved with the chain and contracts
    older = served_record(resident, build_record(resident, 1))  # genuine, signed, but old
    with pytest.raises(Untrusted, match="this wallet committed version 2"):
        check_record(older, resident=resident.address, pins=Pins.load(tmp_path), latest=True)
    # asked for by number, an older version is what it is
    assert check_record(older, resident=resident.address, pins=pins)

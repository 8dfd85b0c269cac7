"""Grants: the resident wraps field keys for a department; the department opens and checks."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.codec import to_hex
from wallets.errors import InvalidRecord
from wallets.grants import open_granted_fields, wrap_keys_for_department
from wallets.identity import Identity
from wallets.key_wrap import X25519_WRAPPED_LENGTH
from wallets.record import RecordVersion, field_leaf

VALUES = {"name": "李娜", "income": "85000", "social_insurance": "SI-2231", "phone": "138"}
GRANTED = ("income", "social_insurance")


@pytest.fixture(scope="module")
def record(resident: Identity) -> RecordVersion:
    return RecordVersion.build(
        VALUES,
        resident=resident.address,
        version=2,
        owner_public_key=resident.encryption_public_key,
    )


def query_fields(
    record: RecordVersion, wrapped: dict[str, str], *, with_proofs: bool = True
) -> dict[str, dict[str, Any]]:
    """What ``POST /queries`` returns under ``fields`` (plus a proof if the API adds one)."""
    out: dict[str, dict[str, Any]] = {}
    for name, wrapped_key in wrapped.items():
        envelope = record.field(name).envelope
        out[name] = {
            "ciphertext": to_hex(envelope.ciphertext),
            "nonce": to_hex(envelope.nonce),
            "wrapped_key": wrapped_key,
            "version": record.version,
            "attestation": None,
        }
        if with_proofs:
            out[name]["proof"] = [to_hex(p) for p in record.proof(name)]
    return out


@pytest.fixture(scope="module")
def wrapped(record: RecordVersion, department: Identity) -> dict[str, str]:
    return wrap_keys_for_department(
        record,
        GRANTED,
        department=department.address,
        department_public_key=department.encryption_public_key,
    )


def test_wrapped_keys_cover_exactly_the_granted_fields(wrapped: dict[str, str]) -> None:
    assert set(wrapped) == set(GRANTED)
    assert all(len(bytes.fromhex(w[2:])) == X25519_WRAPPED_LENGTH for w in wrapped.values())


def test_department_opens_granted_fields_with_proofs(
    record: RecordVersion, wrapped: dict[str, str], resident: Identity, department: Identity
) -> None:
    opened = open_granted_fields(
        query_fields(record, wrapped),
        resident=resident.address,
        identity=department,
        root=to_hex(record.root),
    )
    assert {n: v.value for n, v in opened.items()} == {n: VALUES[n] for n in GRANTED}
    assert {n: v.salt for n, v in opened.items()} == {n: record.values()[n].salt for n in GRANTED}


def test_department_opens_with_proofs_passed_separately(
    record: RecordVersion, wrapped: dict[str, str], resident: Identity, department: Identity
) -> None:
    opened = open_granted_fields(
        query_fields(record, wrapped, with_proofs=False),
        resident=resident.address,
        identity=department,
        root=record.root,
        proofs={n: record.proof(n) for n in GRANTED},
    )
    assert set(opened) == set(GRANTED)


def test_department_opens_by_recomputing_the_root_from_all_leaves(
    record: RecordVersion, wrapped: dict[str, str], resident: Identity, department: Identity
) -> None:
    leaves = [field_leaf(n, f.envelope.ciphertext) for n, f in record.fields.items()]
    opened = open_granted_fields(
        query_fields(record, wrapped, with_proofs=False),
        resident=resident.address,
        identity=department,
        root=record.root,
        leaves=leaves,
    )
    assert set(opened) == set(GRANTED)


def test_whole_record_granted_needs_no_proofs(
    record: RecordVersion, resident: Identity, department: Identity
) -> None:
    everything = wrap_keys_for_department(
        record,
        VALUES,
        department=department.address,
        department_public_key=department.encryption_public_key,
    )
    opened = open_granted_fields(
        query_fields(record, everything, with_proofs=False),
        resident=resident.address,
        identity=department,
        root=record.root,
    )
    assert {n: v.value for n, v in opened.items()} == VALUES


def test_partial_grant_without_proofs_cannot_be_checked(
    record: RecordVersion, wrapped: dict[str, str], resident: Identity, department: Identity
) -> None:
    with pytest.raises(InvalidRecord):
        open_granted_fields(
            query_fields(record, wrapped, with_proofs=False),
            resident=resident.address,
            identity=department,
            root=record.root,
        )


def test_root_per_version_mapping_is_accepted(
    record: RecordVersion, wrapped: dict[str, str], resident: Identity, department: Identity
) -> None:
    opened = open_granted_fields(
        query_fields(record, wrapped),
        resident=resident.address,
        identity=department,
        root={1: bytes(32), 2: record.root},
    )
    assert set(opened) == set(GRANTED)


def tamper(entries: dict[str, dict[str, Any]], how: str, record: RecordVersion) -> None:
    income = entries["income"]
    if how == "ciphertext-bit":
        ct = bytearray(bytes.fromhex(income["ciphertext"][2:]))
        ct[0] ^= 1
        income["ciphertext"] = to_hex(bytes(ct))
    elif how == "wrapped-key-bit":
        wk = bytearray(bytes.fromhex(income["wrapped_key"][2:]))
        wk[-1] ^= 1
        income["wrapped_key"] = to_hex(bytes(wk))
    elif how == "nonce":
        income["nonce"] = to_hex(bytes(12))
    elif how == "claimed-version":
        income["version"] = record.version + 1
    elif how == "swapped-fields":
        entries["income"], entries["social_insurance"] = (
            entries["social_insurance"],
            entries["income"],
        )
    elif how == "owner-wrapped-key":
        income["wrapped_key"] = to_hex(record.field("income").envelope.owner_wrapped_key)
    elif how == "bad-proof":
        income["proof"] = income["proof"][:-1]
    elif how == "malformed-version":
        income["version"] = "2"
    elif how == "missing-nonce":
        del income["nonce"]


TAMPERINGS = [
    "ciphertext-bit",
    "wrapped-key-bit",
    "nonce",
    "claimed-version",
    "swapped-fields",
    "owner-wrapped-key",
    "bad-proof",
    "malformed-version",
    "missing-nonce",
]


@pytest.mark.parametrize("how", TAMPERINGS)
def test_tampered_answer_raises_invalid_record(
    record: RecordVersion,
    wrapped: dict[str, str],
    resident: Identity,
    department: Identity,
    how: str,
) -> None:
    entries = query_fields(record, wrapped)
    tamper(entries, how, record)
    with pytest.raises(InvalidRecord):
        open_granted_fields(
            entries, resident=resident.address, identity=department, root=record.root
        )


def test_another_department_cannot_open_the_grant(
    record: RecordVersion,
    wrapped: dict[str, str],
    resident: Identity,
    other_department: Identity,
) -> None:
    with pytest.raises(InvalidRecord):
        open_granted_fields(
            query_fields(record, wrapped),
            resident=resident.address,
            identity=other_department,
            root=record.root,
        )


def test_answer_for_another_resident_raises_invalid_record(
    record: RecordVersion,
    wrapped: dict[str, str],
    other_resident: Identity,
    department: Identity,
) -> None:
    with pytest.raises(InvalidRecord):
        open_granted_fields(
            query_fields(record, wrapped),
            resident=other_resident.address,
            identity=department,
            root=record.root,
        )


def test_wrong_committed_root_raises_invalid_record(
    record: RecordVersion, wrapped: dict[str, str], resident: Identity, department: Identity
) -> None:
    with pytest.raises(InvalidRecord):
        open_granted_fields(
            query_fields(record, wrapped),
            resident=resident.address,
            identity=department,
            root=bytes(32),
        )


def test_root_unknown_for_the_claimed_version_raises_invalid_record(
    record: RecordVersion, wrapped: dict[str, str], resident: Identity, department: Identity
) -> None:
    with pytest.raises(InvalidRecord):
        open_granted_fields(
            query_fields(record, wrapped),
            resident=resident.address,
            identity=department,
            root={1: record.root},
        )


def test_old_version_replayed_under_the_new_root_raises_invalid_record(
    resident: Identity, department: Identity
) -> None:
    old = RecordVersion.build(
        VALUES,
        resident=resident.address,
        version=1,
        owner_public_key=resident.encryption_public_key,
    )
    new = RecordVersion.build(
        VALUES,
        resident=resident.address,
        version=2,
        owner_public_key=resident.encryption_public_key,
    )
    old_wrapped = wrap_keys_for_department(
        old,
        GRANTED,
        department=department.address,
        department_public_key=department.encryption_public_key,
    )
    with pytest.raises(InvalidRecord):
        open_granted_fields(
            query_fields(old, old_wrapped),
            resident=resident.address,
            identity=department,
            root=new.root,
        )


def test_granting_an_unknown_field_is_refused(record: RecordVersion, department: Identity) -> None:
    with pytest.raises(KeyError, match="vehicle"):
        wrap_keys_for_department(
            record,
            ["vehicle"],
            department=department.address,
            department_public_key=department.encryption_public_key,
        )


def test_empty_answer_raises_invalid_record(
    record: RecordVersion, resident: Identity, department: Identity
) -> None:
    with pytest.raises(InvalidRecord):
        open_granted_fields({}, resident=resident.address, identity=department, root=record.root)

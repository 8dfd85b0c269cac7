"""The vault's rows: envelopes, wrapped keys (of consents, delegates and emergency
directives) and attestations.

Written by the relayer in the same database transaction that closes the intent's
journal entry (:func:`apply_side_effects`), so a row enters the vault only with the
on-chain record that makes it valid; a resident's re-wrapped keys for a new record
version are the one write outside it. Read here too, for a record restore and for a
query the chain has logged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, RowMapping, Table, and_, bindparam, delete, desc, insert, select

from api.tables import delegate_keys, emergency_keys
from ledger.codec import as_bytes, dumps, to_hex
from ledger.store import attestation_records, attestations, envelopes, wrapped_keys
from ledger.types import Outcome
from ledger.vocabulary import bytes32_to_name
from wallets.record import FieldEnvelope


def apply_side_effects(c: Connection, outcome: Outcome, effects: Mapping[str, Any]) -> None:
    kind = effects.get("kind")
    if kind == "record":
        rows = [
            {
                "resident": effects["resident"],
                "version": effects["version"],
                "field": field,
                "ciphertext": as_bytes(envelope["ciphertext"]),
                "nonce": as_bytes(envelope["nonce"]),
                "owner_wrapped_key": as_bytes(envelope["owner_wrapped_key"]),
            }
            for field, envelope in effects["fields"].items()
        ]
        if rows:
            c.execute(insert(envelopes), rows)
        # The new version's keys for the resident's delegates, with the commitment.
        for delegate, keys in effects.get("delegate_keys", {}).items():
            store_delegate_keys(c, effects["resident"], delegate, effects["version"], keys)
    elif kind == "delegate":
        if effects["wrapped_keys"]:
            store_delegate_keys(
                c,
                effects["resident"],
                effects["delegate"],
                effects["version"],
                effects["wrapped_keys"],
            )
    elif kind == "undelegate":
        drop_delegate_keys(c, effects["resident"], effects["delegate"])
    elif kind == "grant":
        assert outcome.event is not None
        consent_id = int(outcome.event.args["consentId"])
        store_wrapped_keys(c, consent_id, effects["version"], effects["wrapped_keys"])
    elif kind == "bundle":
        # One consent per item, each storing its own fields' keys from its department's.
        for event in outcome.extra_events:
            if event.name != "ConsentGranted":
                continue
            keys = effects["wrapped_keys"][event.args["department"]]
            granted = {bytes32_to_name(bytes(f)) for f in event.args["fields"]}
            store_wrapped_keys(
                c,
                int(event.args["consentId"]),
                effects["version"],
                {field: key for field, key in keys.items() if field in granted},
            )
    elif kind == "attestation":
        _attestation(c, outcome, effects)
    elif kind == "emergency_directive":
        assert outcome.event is not None
        resident = effects["resident"]
        c.execute(delete(emergency_keys).where(emergency_keys.c.resident == resident))
        if outcome.event.name == "EmergencyDirectiveSet":
            store_directive_keys(
                c, resident, effects["department"], effects["version"], effects["wrapped_keys"]
            )
    elif kind is not None:
        raise ValueError(f"unknown side effect {kind!r}")


def store_wrapped_keys(
    c: Connection, consent_id: int, version: int, keys: Mapping[str, str]
) -> None:
    """A consent's keys of one record version, by field (0x-hex, as validated)."""
    _insert_keys(c, wrapped_keys, keys, consent_id=consent_id, version=version)


def _insert_keys(c: Connection, table: Table, keys: Mapping[str, str], **columns: Any) -> None:
    """One row per field of ``keys`` (0x-hex wrapped keys) with ``columns``, in one
    statement for them all (executemany: one per grant in a round, not one per field)."""
    rows = [
        {**columns, "field": field, "wrapped_key": as_bytes(wrapped)}
        for field, wrapped in keys.items()
    ]
    if rows:
        c.execute(insert(table), rows)


def store_delegate_keys(
    c: Connection, resident: str, delegate: str, version: int, keys: Mapping[str, str]
) -> None:
    """The keys of one record version wrapped for a delegate, by field; a re-appointment's
    keys of the same version replace the ones stored before."""
    c.execute(
        delete(delegate_keys).where(
            and_(
                delegate_keys.c.resident == resident,
                delegate_keys.c.delegate == delegate,
                delegate_keys.c.version == version,
            )
        )
    )
    _insert_keys(c, delegate_keys, keys, resident=resident, delegate=delegate, version=version)


def drop_delegate_keys(c: Connection, resident: str, delegate: str) -> None:
    """Forget every key wrapped for a delegate of ``resident`` (it was removed)."""
    c.execute(
        delete(delegate_keys).where(
            and_(delegate_keys.c.resident == resident, delegate_keys.c.delegate == delegate)
        )
    )


def delegate_keys_of(c: Connection, resident: str, delegate: str, version: int) -> dict[str, str]:
    """``{field: wrapped key}`` of record ``version`` for one of the resident's delegates."""
    rows = c.execute(
        select(delegate_keys.c.field, delegate_keys.c.wrapped_key).where(
            and_(
                delegate_keys.c.resident == resident,
                delegate_keys.c.delegate == delegate,
                delegate_keys.c.version == version,
            )
        )
    ).all()
    return {field: to_hex(bytes(wrapped)) for field, wrapped in rows}


def delegate_key_versions(c: Connection, resident: str) -> dict[str, list[int]]:
    """Per delegate of ``resident``, the record versions it holds keys of, ascending."""
    rows = c.execute(
        select(delegate_keys.c.delegate, delegate_keys.c.version)
        .where(delegate_keys.c.resident == resident)
        .distinct()
        .order_by(delegate_keys.c.delegate, delegate_keys.c.version)
    ).all()
    found: dict[str, list[int]] = {}
    for delegate, version in rows:
        found.setdefault(delegate, []).append(int(version))
    return found


def has_wrapped_keys(c: Connection, consent_id: int, version: int) -> bool:
    """Whether keys of record ``version`` are stored for the consent."""
    found = c.execute(
        select(wrapped_keys.c.field).where(
            and_(wrapped_keys.c.consent_id == consent_id, wrapped_keys.c.version == version)
        )
    ).first()
    return found is not None


# What every query reads is built once, at import (construction cost more than the query).
_NEWEST_KEYS = (
    select(wrapped_keys)
    .where(
        and_(
            wrapped_keys.c.consent_id == bindparam("consent_id"),
            wrapped_keys.c.field.in_(bindparam("fields", expanding=True)),
        )
    )
    .order_by(desc(wrapped_keys.c.version))
)


def newest_wrapped_keys(c: Connection, consent_id: int, fields: list[str]) -> dict[str, RowMapping]:
    """Per field of ``fields``, the consent's key of the newest version it holds one for."""
    keys: dict[str, RowMapping] = {}
    rows = c.execute(_NEWEST_KEYS, {"consent_id": consent_id, "fields": fields}).mappings()
    for row in rows:
        keys.setdefault(row["field"], row)
    return keys


def store_directive_keys(
    c: Connection, resident: str, department: str, version: int, keys: Mapping[str, str]
) -> None:
    """The keys of one record version of ``resident``'s directive, wrapped for its
    ``department``, by field (0x-hex, as validated)."""
    _insert_keys(c, emergency_keys, keys, resident=resident, version=version, department=department)


def directive_key_versions(c: Connection, resident: str) -> dict[str, list[int]]:
    """The record versions whose keys the resident's directive holds, by field."""
    found: dict[str, list[int]] = {}
    rows = c.execute(
        select(emergency_keys.c.field, emergency_keys.c.version)
        .where(emergency_keys.c.resident == resident)
        .order_by(emergency_keys.c.field, emergency_keys.c.version)
    ).all()
    for field, version in rows:
        found.setdefault(str(field), []).append(int(version))
    return found


def newest_directive_keys(
    c: Connection, resident: str, department: str, fields: list[str]
) -> dict[str, RowMapping]:
    """Per field of ``fields``, the key of the newest record version the resident's
    directive holds one for, if it is wrapped for ``department``."""
    keys: dict[str, RowMapping] = {}
    rows = c.execute(
        select(emergency_keys)
        .where(
            and_(
                emergency_keys.c.resident == resident,
                emergency_keys.c.department == department,
                emergency_keys.c.field.in_(fields),
            )
        )
        .order_by(desc(emergency_keys.c.version))
    ).mappings()
    for row in rows:
        keys.setdefault(row["field"], row)
    return keys


def record_envelopes(c: Connection, resident: str, version: int) -> dict[str, FieldEnvelope]:
    """The envelopes of one version of the resident's record, by field."""
    rows = c.execute(
        select(envelopes).where(
            and_(envelopes.c.resident == resident, envelopes.c.version == version)
        )
    ).mappings()
    return {
        r["field"]: FieldEnvelope(
            bytes(r["ciphertext"]), bytes(r["nonce"]), bytes(r["owner_wrapped_key"])
        )
        for r in rows
    }


_ENVELOPES = select(envelopes).where(
    and_(
        envelopes.c.resident == bindparam("resident"),
        envelopes.c.version.in_(bindparam("versions", expanding=True)),
    )
)


def envelopes_by_version(
    c: Connection, resident: str, versions: list[int]
) -> dict[int, dict[str, RowMapping]]:
    """The envelope rows of the resident's record ``versions``, by version and field."""
    found: dict[int, dict[str, RowMapping]] = {v: {} for v in versions}
    rows = c.execute(_ENVELOPES, {"resident": resident, "versions": versions}).mappings()
    for row in rows:
        found[int(row["version"])][row["field"]] = row
    return found


_ATTESTED = (
    select(attestations, attestation_records)
    .select_from(
        attestations.join(
            attestation_records, attestation_records.c.attestation_id == attestations.c.id
        )
    )
    .where(
        and_(
            attestations.c.resident == bindparam("resident"),
            attestations.c.field.in_(bindparam("fields", expanding=True)),
            attestations.c.version <= bindparam("version"),
            attestations.c.expires_at > bindparam("now"),
        )
    )
    .order_by(
        desc(attestations.c.version),
        desc(attestation_records.c.recorded_at),
        desc(attestations.c.id),
    )
)


def recorded_attestations(
    c: Connection, resident: str, fields: list[str], version: int, now: int
) -> list[RowMapping]:
    """The chain-recorded attestations of ``fields`` up to ``version``, unexpired at
    ``now``, newest first. An attestation outlives a rotation that kept the field's value
    and salt; the department's wallet checks each commitment against the value."""
    bound = {"resident": resident, "fields": fields, "version": version, "now": now}
    return list(c.execute(_ATTESTED, bound).mappings().all())


def _attestation(c: Connection, outcome: Outcome, effects: Mapping[str, Any]) -> None:
    """The signed attestation and the chain's record of it (``AttestationRecorded``)."""
    assert outcome.event is not None and outcome.receipt.log_index is not None
    recorded = outcome.event.args
    message = effects["message"]
    inserted = c.execute(
        attestations.insert().values(
            resident=effects["resident"],
            field=effects["field"],
            version=effects["version"],
            issuer=message["issuer"],
            commitment=message["commitment"],
            issued_at=int(message["issuedAt"]),
            expires_at=int(message["expiresAt"]),
            message=dumps(message),
            signature=effects["signature"],
        )
    )
    assert inserted.inserted_primary_key is not None
    c.execute(
        attestation_records.insert().values(
            attestation_id=int(inserted.inserted_primary_key[0]),
            digest=to_hex(recorded["digest"]),
            tx_hash=outcome.receipt.tx_hash,
            block_number=outcome.receipt.block_number,
            log_index=outcome.receipt.log_index,
            recorded_at=int(recorded["recordedAt"]),
        )
    )

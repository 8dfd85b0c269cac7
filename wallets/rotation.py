"""Key rotation after a revocation (DESIGN flow 7).

A revoked department may have cached the keys of the fields it was granted (the
*exposed* fields). The wallet makes a new record version in which

- every field is re-encrypted under a fresh key and nonce (the AAD and the HPKE
  ``info`` bind the version, so nothing can be carried over as is, and fresh keys
  mean no key of the old version opens anything of the new one);
- exposed fields also get fresh salts, so the revoked department cannot test a
  guessed value against the new commitments;
- unexposed fields keep their salts by default, so attestations over them stay
  valid (``refresh_all_salts=True`` gives every field a fresh salt, the letter of
  DESIGN's "fresh salt per field and version", at the cost of re-attesting all).

:func:`rewrap_for_consents` then wraps the new keys for every consent that stays
active, as ``{consent_id: {field: "0x…"}}`` for
``PUT /consents/{consent_id}/wrapped-keys``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from wallets.grants import wrap_keys_for_department
from wallets.key_wrap import RecipientPublicKey, check_version
from wallets.record import RecordVersion


@dataclass(frozen=True)
class ActiveConsent:
    """A consent that survives the revocation and needs the new version's keys."""

    consent_id: int
    department: str
    department_public_key: RecipientPublicKey | bytes
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Rotation:
    """The outcome: the new version (with its keys) and the re-wrapped grants."""

    record: RecordVersion
    fresh_salt_fields: frozenset[str]
    wrapped_keys: Mapping[int, dict[str, str]] = field(default_factory=dict)

    @property
    def version(self) -> int:
        return self.record.version

    @property
    def root(self) -> bytes:
        return self.record.root

    def envelopes(self) -> dict[str, dict[str, str]]:
        return self.record.envelopes()


def rotate_record(
    record: RecordVersion,
    *,
    exposed: Iterable[str],
    new_version: int | None = None,
    changes: Mapping[str, str] | None = None,
    refresh_all_salts: bool = False,
) -> tuple[RecordVersion, frozenset[str]]:
    """The next version with fresh keys for all fields and fresh salts where needed.

    ``changes`` optionally updates values at the same time (changed fields get fresh
    salts too). Returns the new version and the set of fields whose salt changed.
    """
    exposed_set = frozenset(exposed)
    unknown = exposed_set - set(record.field_names)
    if unknown:
        raise ValueError(f"exposed fields not in the record: {sorted(unknown)}")
    version = record.version + 1 if new_version is None else check_version(new_version)
    if version <= record.version:
        raise ValueError(f"new version {version} must be above {record.version}")
    values = {name: f.value.value for name, f in record.fields.items()}
    values.update(changes or {})
    changed = set(changes or {})
    keep_salt = set() if refresh_all_salts else set(record.field_names) - exposed_set - changed
    salts = {name: record.field(name).value.salt for name in keep_salt}
    new_record = RecordVersion.build(
        values,
        resident=record.resident,
        version=version,
        owner_public_key=record.owner_public_key,
        salts=salts,
    )
    return new_record, frozenset(values) - keep_salt


def rewrap_for_consents(
    record: RecordVersion, consents: Iterable[ActiveConsent]
) -> dict[int, dict[str, str]]:
    """``{consent_id: {field: wrapped key}}`` for the consents that stay active."""
    return {
        consent.consent_id: wrap_keys_for_department(
            record,
            consent.fields,
            department=consent.department,
            department_public_key=consent.department_public_key,
        )
        for consent in consents
    }


def rotate_after_revocation(
    record: RecordVersion,
    *,
    exposed: Iterable[str],
    active_consents: Iterable[ActiveConsent] = (),
    new_version: int | None = None,
    changes: Mapping[str, str] | None = None,
    refresh_all_salts: bool = False,
) -> Rotation:
    """:func:`rotate_record`, then :func:`rewrap_for_consents` for the survivors."""
    new_record, fresh = rotate_record(
        record,
        exposed=exposed,
        new_version=new_version,
        changes=changes,
        refresh_all_salts=refresh_all_salts,
    )
    return Rotation(new_record, fresh, rewrap_for_consents(new_record, active_consents))

"""A resident's record as a delegate holds it: keys wrapped for the delegate, and the
record opened with them.

The resident's wallet wraps the field keys of its record for a delegate's HPKE key
(recipient = the delegate, as for a department: the ``info`` binds delegate, field and
version) when it appoints the delegate and with every later version it commits
(:func:`wrap_keys_for_delegate`). The delegate's wallet opens the resident's record from
the stored envelopes and those keys (:func:`open_as_delegate`), giving a
:class:`~wallets.record.RecordVersion` whose owner key is still the resident's: a
version the delegate builds from it (a grant's keys, a rotation) stays the resident's to
open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ledger.codec import checksum_address, from_hex
from wallets.errors import InvalidRecord
from wallets.field_cipher import decrypt_field
from wallets.grants import wrap_keys_for_department
from wallets.identity import Identity
from wallets.key_wrap import RecipientPublicKey, check_version, decode_public_key
from wallets.record import FieldEnvelope, RecordVersion, SealedField


def wrap_keys_for_delegate(
    record: RecordVersion,
    *,
    delegate: str,
    delegate_public_key: RecipientPublicKey | bytes,
    fields: Iterable[str] | None = None,
) -> dict[str, str]:
    """``{field: "0x…"}``: the keys of ``fields`` (default: every field of the record)
    wrapped for the delegate's key."""
    names = list(record.field_names if fields is None else fields)
    return wrap_keys_for_department(
        record,
        names,
        department=checksum_address(delegate),
        department_public_key=delegate_public_key,
    )


def open_as_delegate(
    envelopes: Mapping[str, FieldEnvelope | Mapping[str, Any]],
    wrapped_keys: Mapping[str, bytes | str],
    identity: Identity,
    *,
    resident: str,
    version: int,
    owner_public_key: RecipientPublicKey | bytes,
    root: bytes | str | None = None,
) -> RecordVersion:
    """The resident's record at ``version``, opened with the keys wrapped for
    ``identity`` (the delegate); every field needs its key. :class:`InvalidRecord` on
    any failure, as for the owner (with ``root``: the envelopes must hash to it)."""
    try:
        resident = checksum_address(resident)
        check_version(version)
        owner_key = decode_public_key(owner_public_key)
    except ValueError:
        raise InvalidRecord() from None
    if not envelopes or set(envelopes) - set(wrapped_keys):
        raise InvalidRecord()
    sealed: dict[str, SealedField] = {}
    for name, stored in envelopes.items():
        envelope = FieldEnvelope.from_json(stored)
        try:
            wrapped = from_hex(wrapped_keys[name])
        except ValueError:
            raise InvalidRecord() from None
        key = identity.unwrap_key(wrapped, field=name, version=version)
        value = decrypt_field(
            key,
            nonce=envelope.nonce,
            ciphertext=envelope.ciphertext,
            resident=resident,
            field=name,
            version=version,
        )
        sealed[name] = SealedField(name, version, value, key, envelope)
    record = RecordVersion(
        resident=resident, version=version, fields=sealed, owner_public_key=owner_key
    )
    if root is not None:
        try:
            expected = from_hex(root, length=32)
        except ValueError:
            raise InvalidRecord() from None
        if record.root != expected:
            raise InvalidRecord()
    return record

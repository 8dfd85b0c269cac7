"""A resident's record through the API, and an issuer's attestation of one of its fields.

:class:`RecordFlows` encrypts and commits record versions (the plaintext and field keys
never leave the process) and opens or restores them — only once the served envelopes
hash to the root of the resident's own signed ``CommitRecord`` or, with a
:class:`~api.chain_view.ChainView`, to the root the chain holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from api.client_errors import ApiProblem, ClientRefusal
from api.client_signing import SigningSession
from ledger.codec import checksum_address, from_hex
from wallets.attestation import attest
from wallets.delegation import open_as_delegate
from wallets.field_cipher import FieldValue
from wallets.record import RecordVersion, record_root, restore
from wallets.trust import Untrusted, check_record, short_hex

DAY = 86_400


class RecordFlows(SigningSession):
    """Upload, open, restore and check a resident's record; attest one of its fields.

    Acting for a resident as its delegate (:attr:`acting_for`), the record is the
    resident's, opened with the keys its wallet wrapped for this one, and a version built
    from it is encrypted for the resident's key."""

    # -- hooks a delegate's flows fill in (api.client_delegates) ----------------------

    def delegate_keys_for(self, record: RecordVersion) -> dict[str, dict[str, str]]:
        """A new version's keys wrapped for the resident's delegates (none here)."""
        return {}

    def record_signers(self, resident: str) -> set[str]:
        """Besides the resident, whose ``CommitRecord`` of its record this wallet accepts."""
        return set()

    def principal_key(self) -> bytes:
        """The HPKE key a record version of :attr:`principal` is encrypted for."""
        return self._require_identity().encryption_public_key

    def commit_record(self, record: RecordVersion) -> dict[str, Any]:
        """``PUT /residents/{a}/record``: the envelopes and the signed ``CommitRecord``,
        with the new version's keys wrapped for the resident's delegates."""
        message = {"resident": record.resident, "version": record.version, "root": record.root}
        extra: dict[str, Any] = {}
        delegate_keys = self.delegate_keys_for(record)
        if delegate_keys:
            extra["delegate_keys"] = delegate_keys
        answer: dict[str, Any] = self._post_signed(
            "PUT",
            f"/residents/{record.resident}/record",
            "CommitRecord",
            message,
            fields=record.envelopes(),
            **extra,
        )
        if self.identity is not None and record.resident == self.identity.address:
            self.pins.committed(record.version)
        return answer

    def record(self, resident: str | None = None, version: int | None = None) -> dict[str, Any]:
        """``GET /residents/{a}/record[?version=n]`` → envelopes, version, root."""
        answer: dict[str, Any] = self._get(
            f"/residents/{resident or self.principal}/record", version=version
        )
        return answer

    def latest_version(self) -> int:
        """The resident's latest record version on the API (0: none yet)."""
        try:
            return int(self.record()["version"])
        except ApiProblem as problem:
            if problem.status == 404:
                return 0
            raise

    def upload_record(
        self,
        values: Mapping[str, str],
        version: int | None = None,
        *,
        salts: Mapping[str, bytes] | None = None,
    ) -> dict[str, Any]:
        """Encrypt ``{field: value}`` for the resident's own key, commit and upload.

        ``version`` defaults to one above the latest; ``salts`` carries salts over (an
        issuer's, so its attestation matches). Returns ``{"version", "root", "receipt"}``.
        """
        self._require_identity()
        values = {self.schema_name("fields", name): value for name, value in values.items()}
        if salts:
            salts = {self.schema_name("fields", name): salt for name, salt in salts.items()}
        record = RecordVersion.build(
            values,
            resident=self.principal,
            version=self.latest_version() + 1 if version is None else version,
            owner_public_key=self.principal_key(),
            salts=salts,
        )
        return self.commit_record(record)

    def open_record(self, version: int | None = None) -> RecordVersion:
        """The resident's record with its field keys, opened from the API's envelopes
        once they are the ones the resident committed (:meth:`check_record`); for a
        delegate, with the keys the resident's wallet wrapped for it."""
        identity = self._require_identity()
        stored = self.record(version=version)
        self.check_record(stored, latest=version is None)
        if self.acting_for is not None:
            held = stored.get("wrapped_keys") or {}
            missing = sorted(set(stored["fields"]) - set(held))
            if missing:
                raise ClientRefusal(
                    f"the API holds no keys of {self.acting_for}'s record version"
                    f" {stored['version']} for you (fields {missing}): the resident's wallet"
                    " wraps them when it appoints you or commits a version"
                )
            return open_as_delegate(
                stored["fields"],
                held,
                identity,
                resident=self.acting_for,
                version=int(stored["version"]),
                owner_public_key=self.principal_key(),
                root=stored["root"],
            )
        return RecordVersion.open(
            stored["fields"],
            identity,
            resident=identity.address,
            version=int(stored["version"]),
            root=stored["root"],
        )

    def restore_record(self, version: int | None = None) -> dict[str, FieldValue]:
        """Values and salts from the stored envelopes and this wallet's keys alone, once
        the envelopes are the ones the resident committed (:meth:`check_record`)."""
        identity = self._require_identity()
        if self.acting_for is not None:
            return self.open_record(version).values()
        stored = self.record(version=version)
        self.check_record(stored, latest=version is None)
        return restore(
            stored["fields"],
            identity,
            identity.address,
            int(stored["version"]),
            root=stored["root"],
        )

    def check_record(self, stored: Mapping[str, Any], *, latest: bool = False) -> None:
        """The served record's envelopes must hash to the root of the resident's own
        signed ``CommitRecord`` of that version; with :attr:`chain`, to the root the
        chain holds (and, for ``latest``, be the chain's latest version).
        :class:`~wallets.trust.Untrusted` otherwise."""
        resident = self.principal
        own = self.acting_for is None
        self.check_domain()
        if self.chain is None:
            check_record(
                stored,
                resident=resident,
                pins=self.pins,
                latest=latest and own,  # the pins remember this wallet's own commitments
                signers=self.record_signers(resident),
            )
            return
        version = int(stored["version"])
        chain_version, chain_root = self.chain.record(resident)
        if version != chain_version:
            if latest:
                raise Untrusted(
                    f"the API serves version {version} as your latest record, but the chain's"
                    f" latest is {chain_version}"
                )
            check_record(
                stored, resident=resident, pins=self.pins, signers=self.record_signers(resident)
            )
            return
        root = record_root(stored["fields"])
        if root != chain_root:
            raise Untrusted(
                f"the API's envelopes of version {version} hash to {short_hex(root)}, but the"
                f" chain holds root {short_hex(chain_root)}: the record was altered"
            )

    # -- issuer ---------------------------------------------------------------------

    def attest(
        self,
        resident: str,
        field_name: str,
        value: str,
        salt: bytes | str,
        version: int,
        *,
        valid_for: int = 365 * DAY,
        issued_at: int | None = None,
    ) -> dict[str, Any]:
        """Sign an ``Attest`` over the salted commitment and ``POST /attestations``."""
        identity = self._require_identity()
        chain_id, directory = self.intent_domain("Attest")
        start = self.now() if issued_at is None else issued_at
        attestation = attest(
            identity,
            resident=checksum_address(resident),
            field=self.field_id(field_name),
            value=value,
            salt=from_hex(salt, length=32, what="salt"),
            issued_at=start,
            expires_at=start + valid_for,
            chain_id=chain_id,
            directory=directory,
        )
        body = attestation.to_json()
        body["version"] = version
        answer: dict[str, Any] = self.request("POST", "/attestations", json=body)
        return answer

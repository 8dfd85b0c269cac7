"""What the relayer refuses before it queues an intent, so a refusal costs no gas.

Each refusal raises the exception the contract would raise for the same fault (the
generated class of :mod:`ledger.contract_errors`), so a client sees one error whether
the relayer or the chain said no:

- deadline passed, signature malformed or not the named signer's, the signer without
  the authority it needs (the admin's and registrar's intents), nonce spent;
- a department that is not registered filing an ``Access`` (``ConsentLedgerUnknownDepartment``)
  or not registered and active filing an ``AccessRequest`` or named by a ``Grant``;
- a resident who is not enrolled committing a record, granting, or asked for access;
- a field id or purpose code that is not on the chain's schema (``ConsentDirectoryUnknownField``,
  ``…UnknownPurpose``), or a field list that is empty or not strictly ascending.

What only the chain can judge stays there: a query under a known field that its consent
does not cover is recorded as ``AccessDenied(field_not_in_scope)``, a suspended
department's query as ``not_granted``, and so on. Deadlines further ahead than
:data:`MAX_DEADLINE_AHEAD` are refused as the contract refuses them; one bound is the
relayer's own, :data:`MAX_FIELDS` (:class:`ledger.errors.TooManyFields`).

Reads are storage slots (solc's layout, in the artifacts), remembered per head block:
a round of grants for one department and one field set reads its schema and status
once, and a value is never older than the head it was read at, so an enrolment or a
new field counts from the block that records it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from eth_account import Account
from eth_utils import keccak, to_canonical_address, to_checksum_address

from ledger import contract_errors as ce
from ledger.artifacts import load_artifact
from ledger.attestations import check_attest
from ledger.client import LedgerClient, SignedIntent
from ledger.errors import ContractError, TooManyFields
from ledger.intents import INTENTS, MAX_DEADLINE_AHEAD, role_id

# How far past chain time an intent's deadline may lie is the contracts' bound,
# ``ledger.intents.MAX_DEADLINE_AHEAD`` (a test holds them equal). A signed intent is a
# bearer instrument until its deadline (anyone holding it can have it relayed), so a
# deadline of 2^256-1 would make it valid forever; 30 days covers a wallet that signs
# today and a relayer that is down for weeks. The relayer refuses first, with the
# contract's ``SignedIntentDeadlineTooFar``, so it costs no gas.

#: The most field ids one intent may list. A record has one field per schema field (12
#: in the seed schema); 64 leaves room for the schema to grow while bounding what one
#: intent costs to check here and to judge on chain (each field is a check in the
#: contract and gas in the batch estimate).
MAX_FIELDS = 64

_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
_ISSUER = role_id("issuer")
#: The roles ``GrantRole`` assigns besides issuer: they take no fields.
_FIELDLESS_ROLES = frozenset(role_id(r) for r in ("registrar", "auditor", "relayer"))

#: Who must sign intents that do not name their signer.
SIGNER_ROLES: dict[str, tuple[str, type[ContractError]]] = {
    "RegisterDepartment": ("admin", ce.ConsentDirectoryUnauthorizedSigner),
    "GrantRole": ("admin", ce.ConsentDirectoryUnauthorizedSigner),
    "EnrollResident": ("registrar", ce.ConsentLedgerUnauthorizedSigner),
    "SetDepartmentActive": ("admin", ce.ConsentDirectoryUnauthorizedSigner),
    "RevokeRole": ("admin", ce.ConsentDirectoryUnauthorizedSigner),
    "DistrustIssuer": ("admin", ce.ConsentDirectoryUnauthorizedSigner),
    "RotateDepartmentKey": ("admin", ce.ConsentDirectoryUnauthorizedSigner),
}

#: Errors for an empty or unsorted field list, by the contract that judges the list.
_LEDGER_SHAPE = (ce.ConsentLedgerEmptyFields, ce.ConsentLedgerUnsortedFields)
_DIRECTORY_SHAPE = (ce.ConsentDirectoryEmptyFields, ce.ConsentDirectoryUnsortedFields)


def _b32(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return bytes.fromhex(str(value).removeprefix("0x"))


def is_schema_name(value: bytes) -> bool:
    """Whether 32 bytes can be a field id or purpose code at all (the contract's
    ``_checkName``: printable ASCII without spaces, right-padded with zero bytes)."""
    raw = value.rstrip(b"\0")
    return len(value) == 32 and bool(raw) and all(0x21 <= b <= 0x7E for b in raw)


#: The intents whose field list must be a non-empty, ascending list of schema fields
#: (``GrantRole`` only for an issuer). Others that carry one (``DistrustIssuer``) are
#: the contract's to judge.
_SCOPED = frozenset({"Access", "AccessRequest", "Grant", "GrantRole"})


def _field_list(intent: SignedIntent) -> list[bytes] | None:
    """The field ids the schema must define, with the errors for the list's shape."""
    message = intent.message
    if intent.name not in _SCOPED:
        return None
    if intent.name == "GrantRole" and _b32(message["role"]) != _ISSUER:
        return None  # other roles take no fields; the contract refuses any it is given
    return [_b32(f) for f in message["fields"]]


def _shape_errors(name: str) -> tuple[type[ContractError], type[ContractError]]:
    return _LEDGER_SHAPE if name == "Access" else _DIRECTORY_SHAPE


def check_form(intent: SignedIntent, *, now: int | None = None) -> None:
    """The checks that need no chain state: field list bound and shape, ids and purpose
    that cannot be schema names, and (given chain time ``now``) the deadline's horizon.
    The API runs it on parsing a body, before a route reads the names."""
    fields = intent.message.get("fields")
    if fields is not None and len(fields) > MAX_FIELDS:  # any list: DistrustIssuer's too
        raise TooManyFields(len(fields), MAX_FIELDS)
    if intent.name == "GrantRole" and fields and _b32(intent.message["role"]) in _FIELDLESS_ROLES:
        raise ce.ConsentDirectoryUnexpectedFields(_b32(intent.message["role"]))
    ids = _field_list(intent)
    if ids is not None:
        empty, unsorted = _shape_errors(intent.name)
        if not ids:
            raise empty()
        for i, field_id in enumerate(ids):
            if i > 0 and field_id <= ids[i - 1]:
                raise unsorted(i)
            if not is_schema_name(field_id):
                raise ce.ConsentDirectoryUnknownField(field_id)
    if intent.name in _SCOPED and "purpose" in intent.message:
        purpose = _b32(intent.message["purpose"])
        if not is_schema_name(purpose):
            raise ce.ConsentDirectoryUnknownPurpose(purpose)
    if now is not None and "deadline" in intent.message:
        deadline = int(intent.message["deadline"])
        if deadline > now + MAX_DEADLINE_AHEAD:
            raise ce.SignedIntentDeadlineTooFar(deadline, now + MAX_DEADLINE_AHEAD)


class Admission:
    """The relayer's checks of one deployment, with storage reads remembered per head."""

    def __init__(self, client: LedgerClient) -> None:
        self.client = client
        self._state: tuple[int, dict[Hashable, Any]] = (-1, {})
        directory = load_artifact("ConsentDirectory").storage_slots
        ledger = load_artifact("ConsentLedger").storage_slots
        self._directory = client.directory.address
        self._ledger = client.ledger.address
        self._field_slot = directory["_isField"]
        self._purpose_slot = directory["_isPurpose"]
        self._department_slot = directory["_departments"]
        self._resident_slot = ledger["_residents"]

    def check(self, intent: SignedIntent) -> str:
        """The intent's signer if every check holds; else the contract's exception."""
        message = intent.message
        spec = INTENTS[intent.name]
        now = self.client.chain.latest_timestamp()
        if intent.name == "Attest":  # no nonce or deadline: the chain dates it
            signer = recover_signer(self.client, intent)
            check_attest(self.client, intent, signer, now)
            return signer
        deadline = int(message["deadline"])
        if deadline <= now:
            raise ce.SignedIntentExpired(deadline, now)
        check_form(intent, now=now)
        signer = recover_signer(self.client, intent)
        if spec.signer_field:
            expected = to_checksum_address(message[spec.signer_field])
            if signer != expected:
                raise ce.SignedIntentWrongSigner(expected, signer)
        else:
            role, error = SIGNER_ROLES[intent.name]
            if not self.client.has_role(role, signer):
                raise error(signer, role_id(role))
        nonce = int(message["nonce"])
        if self.client.is_nonce_used(intent.name, signer, nonce):
            raise ce.SignedIntentNonceUsed(signer, nonce)
        state_check = _STATE_CHECKS.get(intent.name)
        if state_check is not None:
            state_check(self, intent)
        return signer

    # ------------------------------------------------------------------ state checks

    def _access(self, intent: SignedIntent) -> None:
        department = to_checksum_address(intent.message["department"])
        if not self.department_status(department)[0]:
            raise ce.ConsentLedgerUnknownDepartment(department)
        self._defined_fields(intent)

    def _request(self, intent: SignedIntent) -> None:
        self._active_department(intent.message["department"])
        self._enrolled(intent.message["resident"])
        self._defined_fields(intent)
        self._defined_purpose(intent)

    def _grant(self, intent: SignedIntent) -> None:
        self._enrolled(intent.message["resident"])
        self._active_department(intent.message["department"])
        self._defined_fields(intent)
        self._defined_purpose(intent)

    def _commit(self, intent: SignedIntent) -> None:
        self._enrolled(intent.message["resident"])

    def _grant_role(self, intent: SignedIntent) -> None:
        self._defined_fields(intent)

    def _enrolled(self, address: str) -> None:
        resident = to_checksum_address(address)
        if not self.is_enrolled(resident):
            raise ce.ConsentLedgerUnknownResident(resident)

    def _active_department(self, address: str) -> None:
        department = to_checksum_address(address)
        registered, active = self.department_status(department)
        if not registered:
            raise ce.ConsentLedgerUnknownDepartment(department)
        if not active:
            raise ce.ConsentLedgerInactiveDepartment(department)

    def _defined_fields(self, intent: SignedIntent) -> None:
        for field_id in _field_list(intent) or ():
            if not self.is_field(field_id):
                raise ce.ConsentDirectoryUnknownField(field_id)

    def _defined_purpose(self, intent: SignedIntent) -> None:
        purpose = _b32(intent.message["purpose"])
        if not self.is_purpose(purpose):
            raise ce.ConsentDirectoryUnknownPurpose(purpose)

    # ------------------------------------------------------------------ reads

    def is_field(self, field_id: bytes) -> bool:
        return bool(self._word(self._directory, _mapping_slot(field_id, self._field_slot)))

    def is_purpose(self, purpose: bytes) -> bool:
        return bool(self._word(self._directory, _mapping_slot(purpose, self._purpose_slot)))

    def is_enrolled(self, resident: str) -> bool:
        """``_residents[resident].idCommitment`` (the struct's first word) is non-zero."""
        slot = _mapping_slot(_address_key(resident), self._resident_slot)
        return self._word(self._ledger, slot) != 0

    def department_status(self, department: str) -> tuple[bool, bool]:
        """``(registered, active)``: the two bools packed in the fourth word of
        ``Department`` (after name, code and encryption key; a test holds this against
        the contract's ``departmentStatus``)."""
        slot = _mapping_slot(_address_key(department), self._department_slot) + 3
        word = self._word(self._directory, slot)
        return bool(word & 0xFF), bool(word >> 8 & 0xFF)

    def _word(self, address: str, slot: int) -> int:
        head = self.client.chain.head_number()
        state = self._state
        if state[0] != head:
            state = (head, {})
            self._state = state
        key = (address, slot)
        cached = state[1].get(key)
        if cached is None:
            # Read after the head number: the value is at least as new as that head.
            cached = self.client.chain.storage_at(address, slot)
            state[1][key] = cached
        return int(cached)


_STATE_CHECKS: dict[str, Callable[[Admission, SignedIntent], None]] = {
    "Access": Admission._access,
    "AccessRequest": Admission._request,
    "Grant": Admission._grant,
    "CommitRecord": Admission._commit,
    "GrantRole": Admission._grant_role,
    "DistrustIssuer": Admission._defined_fields,
}


def _address_key(address: str) -> bytes:
    return bytes(12) + to_canonical_address(address)


def _mapping_slot(key: bytes, base: int) -> int:
    """Solidity's slot of ``mapping[key]`` for a value-type key: ``keccak(key . base)``."""
    return int.from_bytes(keccak(key + base.to_bytes(32, "big")), "big")


def recover_signer(client: LedgerClient, intent: SignedIntent) -> str:
    """The intent's signer by OpenZeppelin's rules, or the contract's exception."""
    signature = bytes(intent.signature)
    if len(signature) != 65:
        raise ce.ECDSAInvalidSignatureLength(len(signature))
    s = signature[32:64]
    if int.from_bytes(s, "big") > _HALF_N:
        raise ce.ECDSAInvalidSignatureS(s)
    if signature[64] not in (27, 28):
        raise ce.ECDSAInvalidSignature()
    from wallets.signing import intent_digest

    digest = intent_digest(
        intent.name,
        intent.message,
        chain_id=client.chain_id,
        verifying_contract=client.verifying_contract(intent.name),
    )
    try:
        recovered = Account._recover_hash(digest, signature=signature)
    except Exception as exc:
        raise ce.ECDSAInvalidSignature() from exc
    return str(to_checksum_address(recovered))


__all__: Sequence[str] = (
    "MAX_DEADLINE_AHEAD",
    "MAX_FIELDS",
    "SIGNER_ROLES",
    "Admission",
    "check_form",
    "is_schema_name",
    "recover_signer",
)

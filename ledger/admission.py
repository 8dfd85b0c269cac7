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
  ``…UnknownPurpose``), or a field list that is empty or not strictly ascending;
- a grant or request beyond its purpose's policy (``ConsentDirectoryPolicyFieldNotAllowed``,
  ``ConsentLedgerPolicyDurationTooLong``);
- a decline with a reason that is not a reason code (``ConsentLedgerUnknownReason``), and a
  decline or withdrawal of a request that is unknown, another department's, or answered.

A resident's intent signed by someone else passes if the signer is a delegate whose
appointment holds the intent's power now (``ConsentDelegates.delegationError``, whose
error it raises otherwise).

The intents of services and bundles (``DefineService``, ``GrantBundle``,
``RevokeBundle``), of delegates and of emergencies are rare and their rules many (each
bundle item against its service item and policy): they are run as an ``eth_call`` of
their single-intent function at the head, so the relayer refuses exactly what the chain
would, with the same error.

What only the chain can judge stays there: a query under a known field that its consent
does not cover is recorded as ``AccessDenied(field_not_in_scope)``, a suspended
department's query as ``not_granted``, and so on. Deadlines further ahead than
:data:`MAX_DEADLINE_AHEAD` are refused as the contract refuses them; one bound is the
relayer's own, :data:`MAX_FIELDS` (:class:`ledger.errors.TooManyFields`).

Reads are storage slots (solc's layout, in the artifacts), remembered per head block:
a round of grants for one department and one field set reads its schema and status
once, a batch of one signer's consecutive nonces its nonce bitmap once, and a value is
never older than the head it was read at, so an enrolment or a new field counts from the
block that records it (a nonce spent in a round still in flight is the relayer's to
refuse: it holds the nonces in flight).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_canonical_address

from ledger import contract_errors as ce
from ledger.abi import function_codec
from ledger.artifacts import load_artifact
from ledger.attestations import check_attest
from ledger.client import LedgerClient, nonce_word_slot
from ledger.codec import as_bytes, checksum
from ledger.errors import ContractError, ExecutionReverted, TooManyFields
from ledger.intents import INTENTS, MAX_DEADLINE_AHEAD
from ledger.revert import decode_revert
from ledger.types import SignedIntent
from ledger.vocabulary import DECLINE_REASONS, is_schema_name, name_to_bytes32, role_id

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

_ISSUER = role_id("issuer")
#: The roles ``GrantRole`` gives with fields: an issuer's to attest, an emergency
#: department's to read under a directive.
_ROLES_WITH_FIELDS = frozenset({_ISSUER, role_id("emergency")})
_DECLINE_REASONS = frozenset(name_to_bytes32(r) for r in DECLINE_REASONS)
#: ``ConsentLedger``'s answers of a request (``requestStatus``): 0 is pending.
_REQUEST_PENDING = 0
#: The roles ``GrantRole`` assigns besides issuer: they take no fields.
_FIELDLESS_ROLES = frozenset(role_id(r) for r in ("registrar", "auditor", "relayer"))


def _unauthorized(contract: str) -> type[ContractError]:
    """The error a contract raises for a signer without the role its intent needs."""
    error: type[ContractError] = getattr(ce, f"{contract}UnauthorizedSigner")
    return error


#: Errors for an empty or unsorted field list, by the contract that judges the list.
_LEDGER_SHAPE = (ce.ConsentLedgerEmptyFields, ce.ConsentLedgerUnsortedFields)
_DIRECTORY_SHAPE = (ce.ConsentDirectoryEmptyFields, ce.ConsentDirectoryUnsortedFields)


#: The intents whose field list must be a non-empty, ascending list of schema fields
#: (``GrantRole`` only for an issuer or an emergency department). Others that carry one
#: (``DistrustIssuer``) are the contract's to judge.
_SCOPED = frozenset({"Access", "AccessRequest", "Grant", "GrantRole"})


def _field_list(intent: SignedIntent) -> list[bytes] | None:
    """The field ids the schema must define, with the errors for the list's shape."""
    message = intent.message
    if intent.name not in _SCOPED:
        return None
    if intent.name == "GrantRole" and as_bytes(message["role"]) not in _ROLES_WITH_FIELDS:
        return None  # other roles take no fields; the contract refuses any it is given
    return [as_bytes(f) for f in message["fields"]]


def _shape_errors(name: str) -> tuple[type[ContractError], type[ContractError]]:
    return _LEDGER_SHAPE if name == "Access" else _DIRECTORY_SHAPE


def check_form(intent: SignedIntent, *, now: int | None = None) -> None:
    """The checks that need no chain state: field list bound and shape, ids and purpose
    that cannot be schema names, and (given chain time ``now``) the deadline's horizon.
    The API runs it on parsing a body, before a route reads the names."""
    fields = intent.message.get("fields")
    if fields is not None and len(fields) > MAX_FIELDS:  # any list: DistrustIssuer's too
        raise TooManyFields(len(fields), MAX_FIELDS)
    items = intent.message.get("items")
    if items is not None:
        if len(items) > MAX_SERVICE_ITEMS:
            raise ce.ConsentDirectoryServiceItemCount(len(items), MAX_SERVICE_ITEMS)
        for item in items:
            if len(item["fields"]) > MAX_FIELDS:
                raise TooManyFields(len(item["fields"]), MAX_FIELDS)
    if (
        intent.name == "GrantRole"
        and fields
        and as_bytes(intent.message["role"]) in _FIELDLESS_ROLES
    ):
        raise ce.ConsentDirectoryUnexpectedFields(as_bytes(intent.message["role"]))
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
    if intent.name == "SetPurposePolicy" and fields:
        for i, field_id in enumerate(as_bytes(f) for f in fields):
            if i > 0 and field_id <= as_bytes(fields[i - 1]):
                raise ce.ConsentDirectoryUnsortedFields(i)
            if not is_schema_name(field_id):
                raise ce.ConsentDirectoryUnknownField(field_id)
    if intent.name == "DeclineRequest":
        reason = as_bytes(intent.message["reason"])
        if reason not in _DECLINE_REASONS:
            raise ce.ConsentLedgerUnknownReason(reason)
    if intent.name in _SCOPED and "purpose" in intent.message:
        purpose = as_bytes(intent.message["purpose"])
        if not is_schema_name(purpose):
            raise ce.ConsentDirectoryUnknownPurpose(purpose)
    if now is not None and "deadline" in intent.message:
        deadline = int(intent.message["deadline"])
        if deadline > now + MAX_DEADLINE_AHEAD:
            raise ce.SignedIntentDeadlineTooFar(deadline, now + MAX_DEADLINE_AHEAD)


#: The most items a service (and so a bundle) may have: the directory's ``MAX_SERVICE_ITEMS``.
MAX_SERVICE_ITEMS = 16

#: Intents judged by running them at the head (see the module docstring).
_SIMULATED = frozenset(
    {
        "DefineService",
        "GrantBundle",
        "RevokeBundle",
        "AppointDelegate",
        "RemoveDelegate",
        "EmergencyDirective",
        "EmergencyAccess",
        "ReviewEmergency",
    }
)


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
        self._purpose_slot = directory["_purposes"]
        self._policy_allows_slot = directory["_policyAllows"]
        self._department_slot = directory["_departments"]
        self._resident_slot = ledger["_residents"]

    def check(self, intent: SignedIntent) -> str:
        """The intent's signer if every check holds; else the contract's exception."""
        message = intent.message
        spec = INTENTS[intent.name]
        now = self.client.chain.latest_timestamp()
        if intent.name == "Attest":  # no nonce or deadline: the chain dates it
            signer = self.client.recover_signer(intent)
            check_attest(self.client, intent, signer, now)
            return signer
        deadline = int(message["deadline"])
        if deadline <= now:
            raise ce.SignedIntentExpired(deadline, now)
        check_form(intent, now=now)
        signer = self.client.recover_signer(intent)
        if spec.signer_field:
            expected = checksum(message[spec.signer_field])
            if signer != expected and not spec.co_signer_role:  # co-signed: simulated below
                if not spec.delegate_power:
                    raise ce.SignedIntentWrongSigner(expected, signer)
                error = self.client.delegation_error(expected, signer, spec.delegate_power)
                if error:
                    raise decode_revert(error)
        else:
            if not self.client.has_role(spec.role, signer):
                raise _unauthorized(spec.contract)(signer, role_id(spec.role))
        nonce = int(message["nonce"])
        if self.is_nonce_used(intent.name, signer, nonce):
            raise ce.SignedIntentNonceUsed(signer, nonce)
        state_check = _STATE_CHECKS.get(intent.name)
        if state_check is not None:
            state_check(self, intent)
        if intent.name in _SIMULATED:
            self._simulate(intent)
        return signer

    def _simulate(self, intent: SignedIntent) -> None:
        """Raise the error the intent's own contract function would revert with now."""
        spec = INTENTS[intent.name]
        selector, types = function_codec(spec.contract, spec.function)
        args: list[Any] = [intent.as_abi(), intent.signature]
        if spec.with_terms:
            args.append(intent.terms_abi())
        address = self.client.deployment.contracts[spec.contract]
        try:
            self.client.chain.call(
                address,
                selector + abi_encode(list(types), args),
                "latest",
                sender=self.client.relayer.address,
            )
        except ExecutionReverted as exc:
            if exc.data:
                raise decode_revert(exc.data) from exc
            raise

    # ------------------------------------------------------------------ state checks

    def _access(self, intent: SignedIntent) -> None:
        department = checksum(intent.message["department"])
        if not self.department_status(department)[0]:
            raise ce.ConsentLedgerUnknownDepartment(department)
        self._defined_fields(intent)

    def _request(self, intent: SignedIntent) -> None:
        self._active_department(intent.message["department"])
        self._enrolled(intent.message["resident"])
        self._defined_fields(intent)
        self._defined_purpose(intent)
        self._within_policy(intent, int(intent.message["duration"]))

    def _grant(self, intent: SignedIntent) -> None:
        self._enrolled(intent.message["resident"])
        self._active_department(intent.message["department"])
        self._defined_fields(intent)
        self._defined_purpose(intent)
        window = int(intent.message["validUntil"]) - int(intent.message["validFrom"])
        if window > 0:  # else the chain refuses the window itself
            self._within_policy(intent, window)
        request = as_bytes(intent.message["requestId"])
        if request != bytes(32):
            self._answerable(request)

    def _set_policy(self, intent: SignedIntent) -> None:
        self._defined_purpose(intent)
        for field_id in (as_bytes(f) for f in intent.message["fields"]):
            if not self.is_field(field_id):
                raise ce.ConsentDirectoryUnknownField(field_id)

    def _decline(self, intent: SignedIntent) -> None:
        self._pending_request(intent.message["requestId"], None)

    def _withdraw(self, intent: SignedIntent) -> None:
        self._pending_request(intent.message["requestId"], checksum(intent.message["department"]))

    def _pending_request(self, request_id: Any, department: str | None) -> None:
        """The request is known, filed by ``department`` (if given) and unanswered; whether
        a decline's resident is the request's is the chain's to judge."""
        request = as_bytes(request_id)
        filer, status, _ = self.client.request_status(request)
        if filer is None:
            raise ce.ConsentLedgerUnknownRequest(request)
        if department is not None and filer != department:
            raise ce.ConsentLedgerNotRequestDepartment(request, department)
        if status != _REQUEST_PENDING:
            raise ce.ConsentLedgerRequestAnswered(request, status)

    def _answerable(self, request: bytes) -> None:
        """A grant's request is unanswered and not expired at chain time (that it is this
        department's request to this resident is the chain's to judge)."""
        filer, status, expires_at = self.client.request_status(request)
        if filer is None:
            raise ce.ConsentLedgerUnknownRequest(request)
        if status != _REQUEST_PENDING:
            raise ce.ConsentLedgerRequestAnswered(request, status)
        if self.client.chain.latest_timestamp() >= expires_at:
            raise ce.ConsentLedgerRequestExpired(request, expires_at)

    def _within_policy(self, intent: SignedIntent, duration: int) -> None:
        """The purpose's policy, read from the word that says the purpose is defined:
        ``defined`` (byte 0), ``limitsFields`` (byte 1), ``maxDuration`` (bytes 2-9)."""
        purpose = as_bytes(intent.message["purpose"])
        word = self._word(self._directory, _mapping_slot(purpose, self._purpose_slot))
        limits_fields, max_duration = bool(word >> 8 & 0xFF), word >> 16 & (2**64 - 1)
        if limits_fields:
            allows = _mapping_slot(purpose, self._policy_allows_slot)
            for field_id in _field_list(intent) or ():
                if not self._word(self._directory, _mapping_slot(field_id, allows)):
                    raise ce.ConsentDirectoryPolicyFieldNotAllowed(purpose, field_id)
        if max_duration and duration > max_duration:
            raise ce.ConsentLedgerPolicyDurationTooLong(purpose, duration, max_duration)

    def _commit(self, intent: SignedIntent) -> None:
        self._enrolled(intent.message["resident"])

    def _grant_role(self, intent: SignedIntent) -> None:
        self._defined_fields(intent)

    def _enrolled(self, address: str) -> None:
        resident = checksum(address)
        if not self.is_enrolled(resident):
            raise ce.ConsentLedgerUnknownResident(resident)

    def _active_department(self, address: str) -> None:
        department = checksum(address)
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
        purpose = as_bytes(intent.message["purpose"])
        if not self.is_purpose(purpose):
            raise ce.ConsentDirectoryUnknownPurpose(purpose)

    # ------------------------------------------------------------------ reads

    def is_field(self, field_id: bytes) -> bool:
        return bool(self._word(self._directory, _mapping_slot(field_id, self._field_slot)))

    def is_purpose(self, purpose: bytes) -> bool:
        word = self._word(self._directory, _mapping_slot(purpose, self._purpose_slot))
        return bool(word & 0xFF)

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

    def is_nonce_used(self, intent_name: str, signer: str, nonce: int) -> bool:
        """Bit ``nonce`` of the signer's nonce bitmap (``LedgerClient.is_nonce_used``), its
        word remembered per head like every read here: a department's consecutive
        nonces share a word, so a batch of its queries reads it once."""
        contract = INTENTS[intent_name].contract
        address = self.client.deployment.contracts[contract]
        bits = self._word(address, nonce_word_slot(contract, signer, nonce >> 8))
        return bool(bits >> (nonce & 0xFF) & 1)

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
    "SetPurposePolicy": Admission._set_policy,
    "DeclineRequest": Admission._decline,
    "WithdrawRequest": Admission._withdraw,
}


def _address_key(address: str) -> bytes:
    return bytes(12) + to_canonical_address(address)


def _mapping_slot(key: bytes, base: int) -> int:
    """Solidity's slot of ``mapping[key]`` for a value-type key: ``keccak(key . base)``."""
    return int.from_bytes(keccak(key + base.to_bytes(32, "big")), "big")


__all__: Sequence[str] = (
    "MAX_DEADLINE_AHEAD",
    "MAX_FIELDS",
    "MAX_SERVICE_ITEMS",
    "Admission",
    "check_form",
)

"""The intent protocol: one record per signed intent, and nothing about intents elsewhere.

Each :class:`IntentType` names its EIP-712 type and fields, the message field whose
address must sign it (or none: whoever holds :attr:`~IntentType.role` signs), the
role its signer needs, the contract that verifies it, its single and batch functions
(and a grant's compact batch), the events its success logs and the gas it is budgeted.
Wallets sign with these definitions, the relayer routes and checks with them, the audit
decodes calldata and checks signers with them, the API publishes them at ``GET /eip712``
and the benchmarks encode with them; a test holds every contract's ``*_TYPEHASH`` to
:func:`encode_type`, so a type changed here and not in Solidity (or the reverse) fails
loudly instead of producing signatures that recover to a stranger.

Adding an intent: its Solidity, one record below, its router and its wallet helper.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger import eip712
from ledger.codec import as_bytes, checksum_address, from_hex, to_hex

DIRECTORY = "ConsentDirectory"
LEDGER = "ConsentLedger"
DELEGATES = "ConsentDelegates"
EMERGENCY = "ConsentEmergency"

#: A delegate's powers (``AppointDelegate.powers``, bits): grant (grants, bundles,
#: declines, emergency directives), revoke (consents and bundles), commit a record
#: version, read the resident's own record and log (the API's, for its tokens).
POWER_GRANT, POWER_REVOKE, POWER_COMMIT, POWER_READ = 1, 2, 4, 8
POWERS: Mapping[str, int] = {
    "grant": POWER_GRANT,
    "revoke": POWER_REVOKE,
    "commit": POWER_COMMIT,
    "read": POWER_READ,
}

#: The furthest ahead of chain time an intent's ``deadline`` may lie: the contracts
#: refuse more (``SignedIntentDeadlineTooFar``, their ``MAX_DEADLINE_AHEAD``), so a
#: signature cannot stay valid forever. A test holds the two equal.
MAX_DEADLINE_AHEAD = 30 * 86_400
#: How far an ``Attest``'s ``issuedAt`` may lie from the time of the block that records
#: it (``ConsentDirectoryAttestationTime``, the directory's ``ATTEST_TIME_WINDOW``):
#: the chain, not the issuer, dates an attestation.
ATTEST_TIME_WINDOW = 300

#: Gas one intent is budgeted in its batch: of its message, and of the number of
#: fields of the consent terms it carries (``Revoke``, ``Access``; else 0).
GasBudget = Callable[[Mapping[str, Any], int], int]


@dataclass(frozen=True)
class IntentType:
    """One signed intent of the protocol."""

    name: str
    fields: eip712.Fields
    #: The message field naming the address that must sign; ``""`` when none does
    #: (the admin's intents, ``EnrollResident``): whoever holds :attr:`role` signs.
    signer_field: str
    #: What the signer must be when its intent takes effect: a role of the directory,
    #: or ``"resident"`` (enrolled).
    role: str
    contract: str
    #: The contract's function for one intent; the batch is ``<function>Batch``.
    function: str
    #: The events a success logs, one per intent (``Access`` logs one of two).
    events: tuple[str, ...]
    gas: GasBudget
    #: Whether the call carries the consent's terms beside the intent (storage keeps
    #: only their digest): ``""`` no, ``"one"`` a consent's, ``"many"`` a bundle's.
    with_terms: str = ""
    #: The struct types its members name (``ServiceItem[]``), as :mod:`ledger.eip712` takes them.
    structs: eip712.Structs = ()
    #: The power (:data:`POWERS`) with which a delegate of the resident :attr:`signer_field`
    #: names may sign it instead (0: nobody but the resident).
    delegate_power: int = 0
    #: A role whose holders may sign it instead of the named signer (a registrar appoints
    #: a guardian): ``""`` for none.
    co_signer_role: str = ""
    #: A second batch function in a compact layout (``""``: none): the members that
    #: :attr:`scope_fields` name given once per distinct scope of the batch, each intent
    #: naming its scope by index, and signatures in EIP-2098's compact form. The relayer
    #: sends it for every batch whose signatures all have that form
    #: (:func:`ledger.client.batch_calldata`), :attr:`batch_function` otherwise.
    scoped_batch_function: str = ""
    #: The members a scope of :attr:`scoped_batch_function` carries, in order.
    scope_fields: tuple[str, ...] = ()

    @property
    def batch_function(self) -> str:
        return f"{self.function}Batch"

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.fields)

    @property
    def nonced(self) -> bool:
        """Whether it carries ``nonce`` and ``deadline`` (an attestation does not: the
        chain dates it and refuses its digest twice)."""
        return "nonce" in self.field_names


def _spec(spec: str) -> eip712.Fields:
    return tuple(
        (part.split()[1], part.split()[0]) for part in (p.strip() for p in spec.split(","))
    )


def _fixed(gas: int) -> GasBudget:
    return lambda message, terms: gas


def _per_field(base: int, per_field: int) -> GasBudget:
    return lambda message, terms: base + per_field * len(message.get("fields", ()))


def _register_gas(message: Mapping[str, Any], terms: int) -> int:
    text = len(str(message["name"]).encode()) + len(str(message["code"]).encode())
    return 200_000 + 25_000 * ((text + len(as_bytes(message["encryptionKey"]))) // 32 + 3)


def _rotate_gas(message: Mapping[str, Any], terms: int) -> int:
    return 100_000 + 25_000 * (len(as_bytes(message["encryptionKey"])) // 32 + 1)


_INTENT_TYPES: tuple[IntentType, ...] = (
    IntentType(
        "RegisterDepartment",
        _spec(
            "address department, string name, string code, bytes encryptionKey,"
            " uint256 nonce, uint256 deadline"
        ),
        signer_field="",
        role="admin",
        contract=DIRECTORY,
        function="registerDepartment",
        events=("DepartmentRegistered",),
        gas=_register_gas,
    ),
    IntentType(
        "GrantRole",
        _spec("bytes32 role, address account, bytes32[] fields, uint256 nonce, uint256 deadline"),
        signer_field="",
        role="admin",
        contract=DIRECTORY,
        function="assignRole",
        events=("RoleAssigned",),
        # An issuer's fields each open a trust window (73k measured each, 64 at most).
        gas=_per_field(80_000, 75_000),
    ),
    IntentType(
        "SetDepartmentActive",
        _spec("address department, bool active, uint256 nonce, uint256 deadline"),
        signer_field="",
        role="admin",
        contract=DIRECTORY,
        function="changeDepartmentActive",
        events=("DepartmentSuspended", "DepartmentReinstated"),
        gas=_fixed(90_000),
    ),
    IntentType(
        "RevokeRole",
        _spec("bytes32 role, address account, uint256 nonce, uint256 deadline"),
        signer_field="",
        role="admin",
        contract=DIRECTORY,
        function="removeRole",
        events=("RoleRemoved",),
        # An issuer's revocation closes its trust window for every field it was given,
        # which the message does not list: budgeted for the most (64: 817k measured).
        gas=_fixed(900_000),
    ),
    IntentType(
        "DistrustIssuer",
        _spec("address issuer, bytes32[] fields, uint256 nonce, uint256 deadline"),
        signer_field="",
        role="admin",
        contract=DIRECTORY,
        function="endIssuerTrust",
        events=("IssuerTrustEnded",),
        gas=_per_field(90_000, 15_000),
    ),
    IntentType(
        "RotateDepartmentKey",
        _spec("address department, bytes encryptionKey, uint256 nonce, uint256 deadline"),
        signer_field="",
        role="admin",
        contract=DIRECTORY,
        function="rotateDepartmentKey",
        events=("DepartmentKeyRotated",),
        gas=_rotate_gas,
    ),
    IntentType(
        "EnrollResident",
        _spec(
            "address resident, bytes32 idCommitment, bytes encryptionKey,"
            " uint256 nonce, uint256 deadline"
        ),
        signer_field="",
        role="registrar",
        contract=LEDGER,
        function="enrollResident",
        events=("ResidentEnrolled",),
        gas=_fixed(150_000),
    ),
    IntentType(
        "CommitRecord",
        _spec("address resident, uint64 version, bytes32 root, uint256 nonce, uint256 deadline"),
        signer_field="resident",
        role="resident",
        contract=LEDGER,
        function="commitRecord",
        events=("RecordCommitted",),
        delegate_power=POWER_COMMIT,
        gas=_fixed(100_000),
    ),
    IntentType(
        "Attest",
        _spec(
            "address issuer, address resident, bytes32 field, bytes32 commitment,"
            " uint64 issuedAt, uint64 expiresAt"
        ),
        signer_field="issuer",
        role="issuer",
        contract=DIRECTORY,
        function="recordAttestation",
        events=("AttestationRecorded",),
        gas=_fixed(110_000),
    ),
    IntentType(
        "AccessRequest",
        _spec(
            "address department, address resident, bytes32[] fields, bytes32 purpose,"
            " uint64 duration, uint256 nonce, uint256 deadline"
        ),
        signer_field="department",
        role="department",
        contract=LEDGER,
        function="requestAccess",
        events=("AccessRequested",),
        # The request's parties and its department: two fresh slots.
        gas=_per_field(135_000, 8_000),
    ),
    IntentType(
        "Grant",
        _spec(
            "address resident, address department, bytes32[] fields, bytes32 purpose,"
            " uint64 validFrom, uint64 validUntil, uint32 maxUses, bytes32 requestId,"
            " uint256 nonce, uint256 deadline"
        ),
        signer_field="resident",
        role="resident",
        contract=LEDGER,
        function="grant",
        events=("ConsentGranted",),
        delegate_power=POWER_GRANT,
        gas=_per_field(110_000, 8_000),
        scoped_batch_function="grantScopedBatch",
        scope_fields=("department", "fields", "purpose"),
    ),
    IntentType(
        "DeclineRequest",
        _spec(
            "address resident, bytes32 requestId, bytes32 reason, uint256 nonce, uint256 deadline"
        ),
        signer_field="resident",
        role="resident",
        contract=LEDGER,
        function="declineRequest",
        events=("RequestDeclined",),
        delegate_power=POWER_GRANT,
        gas=_fixed(80_000),
    ),
    IntentType(
        "WithdrawRequest",
        _spec("address department, bytes32 requestId, uint256 nonce, uint256 deadline"),
        signer_field="department",
        role="department",
        contract=LEDGER,
        function="withdrawRequest",
        events=("RequestWithdrawn",),
        gas=_fixed(80_000),
    ),
    IntentType(
        "SetPurposePolicy",
        _spec(
            "bytes32 purpose, bytes32[] fields, uint64 maxDuration, uint256 nonce, uint256 deadline"
        ),
        signer_field="",
        role="admin",
        contract=DIRECTORY,
        function="setPurposePolicy",
        events=("PurposePolicySet",),
        # Two fresh slots per field allowed (list and flag); the fields of the policy it
        # replaces, which the message does not list, are cleared: budgeted for the most (64).
        gas=lambda message, terms: 120_000 + 50_000 * len(message["fields"]) + 64 * 10_000,
    ),
    IntentType(
        "DefineService",
        _spec("bytes32 service, string name, ServiceItem[] items, uint256 nonce, uint256 deadline"),
        signer_field="",
        role="admin",
        contract=DIRECTORY,
        function="defineService",
        events=("ServiceDefined",),
        gas=lambda message, terms: (
            150_000
            + 160_000 * len(message["items"])
            + 25_000 * sum(len(item["fields"]) for item in message["items"])
            # the items of the definition it replaces, which the message does not list
            + 16 * 20_000
        ),
        structs=(
            (
                "ServiceItem",
                _spec(
                    "address department, bytes32[] fields, bytes32 purpose, uint64 duration,"
                    " uint32 maxUses"
                ),
            ),
        ),
    ),
    IntentType(
        "GrantBundle",
        _spec(
            "address resident, bytes32 service, BundleItem[] items, uint64 validFrom,"
            " uint256 nonce, uint256 deadline"
        ),
        signer_field="resident",
        role="resident",
        contract=LEDGER,
        function="grantBundle",
        events=("BundleGranted",),
        delegate_power=POWER_GRANT,
        gas=lambda message, terms: (
            120_000
            + 110_000 * len(message["items"])
            + 12_000 * sum(len(item["fields"]) for item in message["items"])
        ),
        structs=(
            (
                "BundleItem",
                _spec(
                    "address department, bytes32[] fields, bytes32 purpose, uint64 validUntil,"
                    " uint32 maxUses"
                ),
            ),
        ),
    ),
    IntentType(
        "RevokeBundle",
        _spec("address resident, uint256 bundleId, uint256 nonce, uint256 deadline"),
        signer_field="resident",
        role="resident",
        contract=LEDGER,
        function="revokeBundle",
        events=("BundleRevoked",),
        # per consent: its terms checked (3k a field) and its flag and event written
        delegate_power=POWER_REVOKE,
        gas=lambda message, terms: 90_000 + 3_000 * terms + 16 * 15_000,
        with_terms="many",
    ),
    IntentType(
        "Revoke",
        _spec("address resident, uint256 consentId, uint256 nonce, uint256 deadline"),
        signer_field="resident",
        role="resident",
        contract=LEDGER,
        function="revoke",
        events=("ConsentRevoked",),
        delegate_power=POWER_REVOKE,
        gas=lambda message, terms: 80_000 + 3_000 * terms,
        with_terms="one",
    ),
    IntentType(
        "AppointDelegate",
        _spec(
            "address resident, address delegate, uint8 powers, uint64 validUntil,"
            " uint256 nonce, uint256 deadline"
        ),
        signer_field="resident",
        role="resident",
        contract=DELEGATES,
        function="appointDelegate",
        events=("DelegateAppointed",),
        co_signer_role="registrar",
        gas=_fixed(150_000),
    ),
    IntentType(
        "RemoveDelegate",
        _spec("address resident, address delegate, uint256 nonce, uint256 deadline"),
        signer_field="resident",
        role="resident",
        contract=DELEGATES,
        function="removeDelegate",
        events=("DelegateRemoved",),
        co_signer_role="registrar",
        gas=_fixed(80_000),
    ),
    IntentType(
        "EmergencyDirective",
        _spec(
            "address resident, address department, bytes32[] fields, uint64 validUntil,"
            " uint256 nonce, uint256 deadline"
        ),
        signer_field="resident",
        role="resident",
        contract=EMERGENCY,
        function="setDirective",
        events=("EmergencyDirectiveSet", "EmergencyDirectiveWithdrawn"),
        delegate_power=POWER_GRANT,
        # the directive's word and one slot per field, old fields cleared (64 at most)
        gas=lambda message, terms: 150_000 + 30_000 * len(message["fields"]) + 64 * 5_000,
    ),
    IntentType(
        "EmergencyAccess",
        _spec(
            "address department, address resident, bytes32[] fields, bytes32 reason,"
            " bytes32 justificationHash, uint256 nonce, uint256 deadline"
        ),
        signer_field="department",
        role="department",
        contract=EMERGENCY,
        function="emergencyAccess",
        events=("EmergencyAccessed", "EmergencyDenied"),
        # the record (three fresh slots) and the day's count; the role's and the
        # directive's fields read for each field asked
        gas=lambda message, terms: 200_000 + 40_000 * len(message["fields"]),
    ),
    IntentType(
        "ReviewEmergency",
        _spec(
            "uint256 accessId, bytes32 outcome, bytes32 notesHash, uint256 nonce, uint256 deadline"
        ),
        signer_field="",
        role="auditor",
        contract=EMERGENCY,
        function="review",
        events=("EmergencyReviewed",),
        gas=_fixed(90_000),
    ),
    IntentType(
        "Access",
        _spec(
            "address department, address resident, uint256 consentId, bytes32[] fields,"
            " uint256 nonce, uint256 deadline"
        ),
        signer_field="department",
        role="department",
        contract=LEDGER,
        function="access",
        events=("AccessLogged", "AccessDenied"),
        gas=lambda message, terms: 90_000 + 8_000 * (len(message["fields"]) + terms),
        with_terms="one",
    ),
)

#: Every intent of DESIGN's "Intents" table, the admin's intents that cut an actor
#: off (``SetDepartmentActive``, ``RevokeRole``, ``DistrustIssuer``) or replace a
#: department's key (``RotateDepartmentKey``), and those of "Intents added" built so far
#: (``DeclineRequest``, ``WithdrawRequest``, ``SetPurposePolicy``, ``DefineService``,
#: ``GrantBundle``, ``RevokeBundle``), by EIP-712 type name.
INTENTS: Mapping[str, IntentType] = {t.name: t for t in _INTENT_TYPES}

#: The intent a contract function (single or batch, scoped or not) carries, by function name.
BY_FUNCTION: Mapping[str, IntentType] = {
    f: t
    for t in _INTENT_TYPES
    for f in (t.function, t.batch_function, t.scoped_batch_function)
    if f
}


def encode_type(name: str) -> str:
    """``Grant(address resident,...)`` — the string whose keccak is the type hash."""
    return eip712.encode_type(name, INTENTS[name].fields, INTENTS[name].structs)


def type_hash(name: str) -> bytes:
    return eip712.type_hash(name, INTENTS[name].fields, INTENTS[name].structs)


#: Intent names by EIP-712 type hash (what ``DelegateSigned`` and ``IntentRejected`` log).
BY_TYPE_HASH: Mapping[bytes, str] = {type_hash(t.name): t.name for t in _INTENT_TYPES}


def eip712_types(name: str) -> dict[str, list[dict[str, str]]]:
    """The ``types`` member for one intent (its struct types too), with ``EIP712Domain``
    as wallets expect it."""
    return {
        "EIP712Domain": [{"name": n, "type": t} for n, t in eip712.DOMAIN_FIELDS],
        **eip712.types_of(name, INTENTS[name].fields, INTENTS[name].structs),
    }


def typed_data_of(
    name: str, message: Mapping[str, Any], *, chain_id: int, verifying_contract: str
) -> dict[str, Any]:
    return eip712.typed_data(
        name,
        INTENTS[name].fields,
        _json_message(name, message),
        chain_id=chain_id,
        verifying_contract=verifying_contract,
        structs=INTENTS[name].structs,
    )


def typed_data(
    name: str, message: Mapping[str, Any], *, chain_id: int, verifying_contract: str
) -> dict[str, Any]:
    """A full EIP-712 document, usable as-is with ``encode_typed_data(full_message=...)``."""
    missing = set(INTENTS[name].field_names) - set(message)
    extra = set(message) - set(INTENTS[name].field_names)
    if missing or extra:
        raise ValueError(
            f"{name} message fields mismatch: missing {sorted(missing)}, unexpected {sorted(extra)}"
        )
    return typed_data_of(name, message, chain_id=chain_id, verifying_contract=verifying_contract)


def intent_digest(
    name: str, message: Mapping[str, Any], *, chain_id: int, verifying_contract: str
) -> bytes:
    """What the signer of an intent signs (bytes as bytes or 0x-hex); ValueError for a
    value its type cannot hold."""
    spec = INTENTS[name]
    return eip712.digest(
        name,
        spec.fields,
        message,
        chain_id=chain_id,
        verifying_contract=verifying_contract,
        structs=spec.structs,
    )


# ---------------------------------------------------------------------- messages


def normalize_message(name: str, message: Mapping[str, Any]) -> dict[str, Any]:
    """``message`` with every field checked against its Solidity type and converted to
    its canonical Python form (``int``, ``bytes``, checksummed addresses; ``bytes``
    fields also take 0x-hex); ValueError naming the field otherwise."""
    intent = INTENTS.get(name)
    if intent is None:
        raise ValueError(f"unknown intent {name!r}; known: {sorted(INTENTS)}")
    missing = set(intent.field_names) - set(message)
    extra = set(message) - set(intent.field_names)
    if missing or extra:
        raise ValueError(
            f"{name} message fields mismatch: missing {sorted(missing)}, unexpected {sorted(extra)}"
        )
    return _normal_struct(intent.fields, dict(intent.structs), message, name)


def message_to_json(name: str, message: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON form the API takes inside ``{"message": ...}``: bytes as 0x-hex."""
    return {k: _json(v) for k, v in normalize_message(name, message).items()}


def _json_message(name: str, message: Mapping[str, Any]) -> dict[str, Any]:
    """``message`` with bytes as 0x-hex, as typed-data documents carry them."""
    return {k: _json(v) for k, v in message.items()}


def _normal_struct(
    fields: eip712.Fields, structs: Mapping[str, eip712.Fields], value: Any, where: str
) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected an object")
    names = {field for field, _ in fields}
    missing, extra = names - set(value), set(value) - names
    if missing or extra:
        raise ValueError(
            f"{where} fields mismatch: missing {sorted(missing)}, unexpected {sorted(extra)}"
        )
    return {
        field: _normal(solidity_type, value[field], f"{where}.{field}", structs)
        for field, solidity_type in fields
    }


def _normal(
    solidity_type: str, value: Any, where: str, structs: Mapping[str, eip712.Fields] | None = None
) -> Any:
    structs = structs or {}
    if solidity_type.endswith("[]"):
        if not isinstance(value, Sequence) or isinstance(value, str | bytes | bytearray):
            raise ValueError(f"{where}: expected a list for {solidity_type}")
        item = solidity_type[:-2]
        return [_normal(item, v, f"{where}[{i}]", structs) for i, v in enumerate(value)]
    if solidity_type in structs:
        return _normal_struct(structs[solidity_type], structs, value, where)
    if solidity_type == "address":
        try:
            return checksum_address(value)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from exc
    if solidity_type == "string":
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string")
        return value
    if solidity_type == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected a bool")
        return value
    if solidity_type.startswith("bytes"):
        size = int(solidity_type[5:]) if solidity_type != "bytes" else None
        return from_hex(value, length=size, what=where)
    if solidity_type.startswith(("uint", "int")):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected an int for {solidity_type}")
        signed = solidity_type.startswith("int")
        bits = int(solidity_type[3 if signed else 4 :] or 256)
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)
        if not low <= value < high:
            raise ValueError(f"{where}: {value} out of range for {solidity_type}")
        return value
    raise ValueError(f"{where}: unsupported type {solidity_type}")


def _json(value: Any) -> Any:
    if isinstance(value, bytes):
        return to_hex(value)
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _json(v) for k, v in value.items()}
    return value

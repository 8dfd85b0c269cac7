"""Typed clients for the two contracts: submit signed intents in batches, read state.

Every write is a signed intent. :meth:`LedgerClient.submit` packs intents into the
contracts' batch entry points — as few batches as keep the order in which conflicting
intents were given (:mod:`ledger.schedule`) — and sends all the batches of a call in one
block (per chunk of block gas); each intent comes back as an :class:`Outcome` carrying
its primary event, or the contract's custom error decoded into the Python exception of
the same name, and its receipt. A bad intent never takes the good ones of its batch down.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decoding, encoding
from eth_abi import encode as abi_encode
from eth_abi.base import parse_type_str
from eth_abi.codec import ABICodec
from eth_abi.registry import BaseEquals
from eth_abi.registry import registry as _default_registry
from eth_utils import keccak, to_canonical_address, to_checksum_address
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from ledger.addresses import checksum
from ledger.artifacts import load_artifact
from ledger.chain import Chain, TransactionSigner
from ledger.deployment import Deployment
from ledger.errors import ContractError, ExecutionReverted, LedgerError, TransactionFailed
from ledger.intents import INTENTS, role_id
from ledger.revert import decode_revert
from ledger.schedule import Schedule, conflict_keys

#: Share of the block gas limit one submission round fills, leaving room for others.
_CHUNK_SHARE = 0.8
_BATCH_BASE_GAS = 80_000


class _LenientString(decoding.StringDecoder):
    """``string`` values with bytes that are not UTF-8 replaced (U+FFFD) instead of
    raising: a department name sent straight to the chain with bad bytes must not stop
    the indexer or the audit for good. Strings the project writes are always UTF-8,
    so this changes nothing for them."""

    @parse_type_str("string")
    def from_type_str(cls, abi_type: Any, registry: Any) -> _LenientString:  # type: ignore[override]
        return cls(handle_string_errors="replace")  # type: ignore[call-arg]


def _lenient_codec() -> ABICodec:
    registry = _default_registry.copy()
    registry.unregister("string")
    registry.register(
        BaseEquals("string"), encoding.TextStringEncoder, _LenientString, label="string"
    )
    return ABICodec(registry)


abi_decode = _lenient_codec().decode


@dataclass(frozen=True)
class ConsentTerms:
    """A consent's terms as its ``ConsentGranted`` event carries them; ``access`` and
    ``revoke`` take them as calldata (storage keeps only their digest)."""

    resident: str
    department: str
    fields: tuple[bytes, ...]
    purpose: bytes
    valid_from: int
    valid_until: int
    max_uses: int

    @classmethod
    def empty(cls) -> ConsentTerms:
        """Placeholder terms for a consent id the chain does not know."""
        zero = "0x" + "00" * 20
        return cls(zero, zero, (), b"\0" * 32, 0, 0, 0)

    @classmethod
    def from_event(cls, args: Mapping[str, Any]) -> ConsentTerms:
        return cls(
            resident=to_checksum_address(args["resident"]),
            department=to_checksum_address(args["department"]),
            fields=tuple(bytes(f) for f in args["fields"]),
            purpose=bytes(args["purpose"]),
            valid_from=int(args["validFrom"]),
            valid_until=int(args["validUntil"]),
            max_uses=int(args["maxUses"]),
        )

    def as_abi(self) -> tuple[Any, ...]:
        return (
            to_checksum_address(self.resident),
            to_checksum_address(self.department),
            list(self.fields),
            self.purpose,
            self.valid_from,
            self.valid_until,
            self.max_uses,
        )


@dataclass(frozen=True)
class SignedIntent:
    """An EIP-712 message of type ``name`` and its 65-byte signature."""

    name: str
    message: Mapping[str, Any]
    signature: bytes
    terms: ConsentTerms | None = None

    def __post_init__(self) -> None:
        if self.name not in _ROUTES:
            raise ValueError(f"{self.name!r} is not an on-chain intent")
        if self.name in ("Revoke", "Access") and self.terms is None:
            raise ValueError(f"a {self.name} intent needs the consent's terms")

    def as_abi(self) -> tuple[Any, ...]:
        return tuple(_abi_value(t, self.message[n]) for n, t in INTENTS[self.name].fields)


@dataclass(frozen=True)
class BatchTx:
    """A signed batch transaction about to be sent: its hash, intent type, intent indexes."""

    tx_hash: str
    name: str
    indexes: tuple[int, ...]


@dataclass(frozen=True)
class Receipt:
    """Where an intent's effect is recorded: transaction, block, time, log."""

    tx_hash: str
    block_number: int
    block_timestamp: int
    log_index: int | None


@dataclass(frozen=True)
class Event:
    name: str
    args: dict[str, Any]
    address: str
    log_index: int


@dataclass(frozen=True)
class Outcome:
    intent: SignedIntent
    receipt: Receipt
    event: Event | None = None
    error: ContractError | TransactionFailed | None = None
    extra_events: tuple[Event, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> Event:
        """The primary event, or raise the decoded error."""
        if self.error is not None:
            raise self.error
        assert self.event is not None
        return self.event


@dataclass(frozen=True)
class _Route:
    contract: str
    batch_function: str
    events: tuple[str, ...]
    gas: Callable[[SignedIntent], int]


def _fields_gas(per_field: int, base: int) -> Callable[[SignedIntent], int]:
    return lambda i: base + per_field * len(i.message.get("fields", ()))


def _bytes_gas(i: SignedIntent) -> int:
    size = sum(len(_as_bytes(i.message[k])) for k in ("name", "code", "encryptionKey"))
    return 200_000 + 25_000 * (size // 32 + 3)


_ROUTES: dict[str, _Route] = {
    "RegisterDepartment": _Route(
        "ConsentDirectory", "registerDepartmentBatch", ("DepartmentRegistered",), _bytes_gas
    ),
    "GrantRole": _Route(
        "ConsentDirectory", "assignRoleBatch", ("RoleAssigned",), _fields_gas(30_000, 130_000)
    ),
    "EnrollResident": _Route(
        "ConsentLedger", "enrollResidentBatch", ("ResidentEnrolled",), lambda i: 150_000
    ),
    "CommitRecord": _Route(
        "ConsentLedger", "commitRecordBatch", ("RecordCommitted",), lambda i: 100_000
    ),
    "AccessRequest": _Route(
        "ConsentLedger", "requestAccessBatch", ("AccessRequested",), _fields_gas(8_000, 110_000)
    ),
    "Grant": _Route(
        "ConsentLedger", "grantBatch", ("ConsentGranted",), _fields_gas(8_000, 110_000)
    ),
    "Revoke": _Route(
        "ConsentLedger", "revokeBatch", ("ConsentRevoked",), _fields_gas(3_000, 80_000)
    ),
    "Access": _Route(
        "ConsentLedger",
        "accessBatch",
        ("AccessLogged", "AccessDenied"),
        lambda i: (
            90_000 + 8_000 * (len(i.message["fields"]) + len(i.terms.fields if i.terms else ()))
        ),
    ),
    # The admin's intents that cut an actor off or replace a key, and issuers' attestations.
    "SetDepartmentActive": _Route(
        "ConsentDirectory",
        "changeDepartmentActiveBatch",
        ("DepartmentSuspended", "DepartmentReinstated"),
        lambda i: 90_000,
    ),
    "RevokeRole": _Route(
        "ConsentDirectory",
        "removeRoleBatch",
        ("RoleRemoved",),
        # An issuer's revocation closes its trust window for every field it was given.
        lambda i: 150_000,
    ),
    "DistrustIssuer": _Route(
        "ConsentDirectory",
        "endIssuerTrustBatch",
        ("IssuerTrustEnded",),
        _fields_gas(15_000, 90_000),
    ),
    "RotateDepartmentKey": _Route(
        "ConsentDirectory",
        "rotateDepartmentKeyBatch",
        ("DepartmentKeyRotated",),
        lambda i: 100_000 + 25_000 * (len(_as_bytes(i.message["encryptionKey"])) // 32 + 1),
    ),
    "Attest": _Route(
        "ConsentDirectory", "recordAttestationBatch", ("AttestationRecorded",), lambda i: 110_000
    ),
}


#: The bit order of ``rolesOf``.
ROLE_BITS = ("admin", "registrar", "department", "issuer", "auditor", "relayer", "resident")


@dataclass(frozen=True)
class DepartmentInfo:
    address: str
    name: str
    code: str
    encryption_key: bytes
    registered: bool
    active: bool


@dataclass(frozen=True)
class ResidentInfo:
    address: str
    id_commitment: bytes
    root: bytes
    version: int

    @property
    def enrolled(self) -> bool:
        return self.id_commitment != b"\0" * 32


@dataclass(frozen=True)
class ConsentState:
    terms_hash: bytes
    uses: int
    revoked: bool

    @property
    def exists(self) -> bool:
        return self.terms_hash != b"\0" * 24


class LedgerClient:
    """The contracts of one deployment on one chain, submitted to by one relayer."""

    def __init__(self, chain: Chain, deployment: Deployment, relayer: TransactionSigner) -> None:
        self.chain = chain
        self.deployment = deployment
        self.relayer = relayer
        w3 = chain.w3
        self.directory: Contract = w3.eth.contract(
            address=to_checksum_address(deployment.directory),
            abi=load_artifact("ConsentDirectory").abi,
        )
        self.ledger: Contract = w3.eth.contract(
            address=to_checksum_address(deployment.ledger),
            abi=load_artifact("ConsentLedger").abi,
        )
        self._contracts = {"ConsentDirectory": self.directory, "ConsentLedger": self.ledger}
        self._contract_names: dict[str, str] = {
            str(to_checksum_address(c.address)): name for name, c in self._contracts.items()
        }
        self._events: dict[str, dict[bytes, dict[str, Any]]] = {
            to_checksum_address(deployment.directory): load_artifact(
                "ConsentDirectory"
            ).events_by_topic(),
            to_checksum_address(deployment.ledger): load_artifact(
                "ConsentLedger"
            ).events_by_topic(),
        }

    @property
    def chain_id(self) -> int:
        return self.chain.chain_id

    def verifying_contract(self, intent_name: str) -> str:
        """The address whose EIP-712 domain an intent of this type is signed for."""
        return self._contracts[INTENTS[intent_name].contract].address

    # ------------------------------------------------------------------ writes

    def submit(
        self,
        intents: Sequence[SignedIntent],
        *,
        before_send: Callable[[list[BatchTx]], None] | None = None,
    ) -> list[Outcome]:
        """Submit intents in the order given wherever it matters (:mod:`ledger.schedule`:
        batches of one type each, as few as that order allows), all in one block per gas
        chunk, the chunks one after another.

        Outcomes come back in the order of ``intents``. ``before_send`` sees each
        block's signed transactions (hash, intent type, indexes into ``intents``) before
        they leave, so a caller can journal them and recover after a crash with
        :meth:`outcomes_for`; if it raises, that block is not sent. Raises only when the
        chain itself fails (:class:`ledger.errors.ChainUnavailable`,
        ``InvalidTransaction``) or ``before_send`` does; the blocks of earlier chunks stay
        mined.
        """
        outcomes: list[Outcome | None] = [None] * len(intents)
        block_gas = int(self.chain.w3.eth.get_block("latest")["gasLimit"])
        for chunk in self._chunks(intents, int(block_gas * _CHUNK_SHARE)):
            txs = [self._batch_tx(name, [intents[i] for i in idx]) for name, idx in chunk]
            try:
                raws = self.relayer.sign_many(self.chain, txs)
                if before_send is not None:
                    before_send(
                        [
                            BatchTx("0x" + keccak(raw).hex(), name, tuple(idx))
                            for raw, (name, idx) in zip(raws, chunk, strict=True)
                        ]
                    )
                receipts = self.chain.send_raw_transactions(raws)
            except BaseException:
                # The nonces signed above may never reach the chain.
                self.relayer.resync()
                raise
            for (name, idx), receipt in zip(chunk, receipts, strict=True):
                batch = [intents[i] for i in idx]
                for i, outcome in zip(idx, self._outcomes(name, batch, receipt), strict=True):
                    outcomes[i] = outcome
        return [o for o in outcomes if o is not None]

    def outcomes_for(
        self, name: str, batch: Sequence[SignedIntent], receipt: TxReceipt
    ) -> list[Outcome]:
        """The outcomes of a mined batch transaction of ``name`` intents, in batch order."""
        return self._outcomes(name, list(batch), receipt)

    def submit_one(self, intent: SignedIntent) -> Event:
        """Submit one intent; its primary event, or raise the contract's decoded error."""
        return self.submit([intent])[0].unwrap()

    def transact(
        self, signer: TransactionSigner, contract: str, function: str, *args: Any
    ) -> TxReceipt:
        """A direct call by ``signer`` (the admin's functions): simulated first, so a
        refusal raises the decoded error and sends nothing."""
        fn = self._contracts[contract].functions[function](*args)
        self._simulate(fn, signer.address)
        raw = signer.sign(self.chain, {"to": fn.address, "data": fn._encode_transaction_data()})
        try:
            (receipt,) = self.chain.send_raw_transactions([raw])
        except LedgerError:
            signer.resync()
            raise
        if receipt["status"] != 1:
            raise TransactionFailed(f"{function} reverted in block {receipt['blockNumber']}")
        return receipt

    def simulate(self, contract: str, function: str, *args: Any, sender: str | None = None) -> Any:
        """``eth_call`` a function as ``sender`` (default: the relayer); decoded errors raise."""
        fn = self._contracts[contract].functions[function](*args)
        return self._simulate(fn, sender or self.relayer.address)

    # admin functions, signed by the admin's own key
    def define_fields(self, admin: TransactionSigner, ids: Iterable[bytes]) -> TxReceipt:
        return self.transact(admin, "ConsentDirectory", "defineFields", list(ids))

    def define_purposes(self, admin: TransactionSigner, ids: Iterable[bytes]) -> TxReceipt:
        return self.transact(admin, "ConsentDirectory", "definePurposes", list(ids))

    def set_department_active(
        self, admin: TransactionSigner, department: str, active: bool
    ) -> TxReceipt:
        return self.transact(
            admin,
            "ConsentDirectory",
            "setDepartmentActive",
            to_checksum_address(department),
            active,
        )

    def distrust_issuer(
        self, admin: TransactionSigner, issuer: str, ids: Iterable[bytes]
    ) -> TxReceipt:
        return self.transact(
            admin, "ConsentDirectory", "distrustIssuer", to_checksum_address(issuer), list(ids)
        )

    # ------------------------------------------------------------------ reads

    def department(self, address: str) -> DepartmentInfo:
        name, code, key, registered, active = self._read(
            "ConsentDirectory", "department", to_checksum_address(address)
        )
        return DepartmentInfo(
            to_checksum_address(address), name, code, bytes(key), registered, active
        )

    def departments(self) -> list[DepartmentInfo]:
        return [self.department(a) for a in self._read("ConsentDirectory", "departments")]

    def fields(self) -> list[bytes]:
        return [bytes(f) for f in self._read("ConsentDirectory", "fields")]

    def purposes(self) -> list[bytes]:
        return [bytes(p) for p in self._read("ConsentDirectory", "purposes")]

    def has_role(self, role: str, account: str, block: int | str = "latest") -> bool:
        return bool(
            self._read(
                "ConsentDirectory",
                "hasRole",
                role_id(role),
                to_checksum_address(account),
                block=block,
            )
        )

    def roles(self, account: str, block: int | str = "latest") -> frozenset[str]:
        """Every role ``account`` holds at ``block``, in one call (``ConsentLedger.rolesOf``):
        admin, registrar, department (registered and active), issuer, auditor, relayer,
        resident (enrolled)."""
        bits = int(
            self._read("ConsentLedger", "rolesOf", to_checksum_address(account), block=block)
        )
        return frozenset(name for i, name in enumerate(ROLE_BITS) if bits >> i & 1)

    def is_trusted_issuer(self, issuer: str, field_id: bytes, at: int) -> bool:
        return bool(
            self._read(
                "ConsentDirectory", "isTrustedIssuer", to_checksum_address(issuer), field_id, at
            )
        )

    def attestation_recorded_at(self, digest: bytes) -> int:
        """When the chain recorded the attestation with this EIP-712 digest (0: never)."""
        return int(self._read("ConsentDirectory", "attestationRecordedAt", digest))

    def verify_attestation(self, message: Mapping[str, Any], signature: bytes) -> bool:
        args = tuple(_abi_value(t, message[n]) for n, t in INTENTS["Attest"].fields)
        return bool(self._read("ConsentDirectory", "verifyAttestation", args, signature))

    def resident(self, address: str) -> ResidentInfo:
        commitment, root, version = self._read(
            "ConsentLedger", "resident", to_checksum_address(address)
        )
        return ResidentInfo(to_checksum_address(address), bytes(commitment), bytes(root), version)

    def consent_state(self, consent_id: int, block: int | str = "latest") -> ConsentState:
        terms_hash, uses, revoked = self._read(
            "ConsentLedger", "consentState", consent_id, block=block
        )
        return ConsentState(bytes(terms_hash), uses, revoked)

    def consent_count(self) -> int:
        return int(self._read("ConsentLedger", "consentCount"))

    def is_nonce_used(self, intent_name: str, signer: str, nonce: int) -> bool:
        """Read straight from the bitmap's storage slot: the relayer asks this of every
        intent, and a slot read costs a fraction of a view call."""
        name = INTENTS[intent_name].contract
        bits = self.chain.storage_at(
            self._contracts[name].address, _nonce_word_slot(name, signer, nonce >> 8)
        )
        return bool(bits >> (nonce & 0xFF) & 1)

    def next_nonce(self, intent_name: str, signer: str, word: int = 0) -> int:
        """The lowest unused nonce of ``signer`` from ``word * 256`` on: nonces in one word
        share a storage slot, so counting upwards keeps intents cheap."""
        name = INTENTS[intent_name].contract
        address = self._contracts[name].address
        while True:
            bits = self.chain.storage_at(address, _nonce_word_slot(name, signer, word))
            if bits != (1 << 256) - 1:
                bit = next(b for b in range(256) if not bits >> b & 1)
                return word * 256 + bit
            word += 1

    def decode_log(self, log: Mapping[str, Any]) -> Event | None:
        """Decode a log of either contract; ``None`` for anything else."""
        address = checksum(str(log["address"]))
        table = self._events.get(address)
        topics = log.get("topics") or []
        if table is None or not topics:
            return None
        abi = table.get(bytes(topics[0]))
        if abi is None:
            return None
        return Event(
            name=abi["name"],
            args=_decode_event_args(abi, topics, log["data"]),
            address=address,
            log_index=int(log["logIndex"]),
        )

    def decode_call(self, address: str, data: bytes) -> tuple[str, dict[str, Any]]:
        """The function a transaction to one of the contracts called, and its named
        arguments (structs as dicts, addresses checksummed). ValueError if unknown."""
        contract = self._contract_names.get(checksum(address))
        entry = _functions_by_selector(contract).get(bytes(data[:4])) if contract else None
        if entry is None:
            raise ValueError(f"no function of the ledger's contracts has selector {data[:4]!r}")
        values = abi_decode([_abi_type(i) for i in entry["inputs"]], bytes(data[4:]))
        named = {i["name"]: _named(i, v) for i, v in zip(entry["inputs"], values, strict=True)}
        return str(entry["name"]), named

    # ------------------------------------------------------------------ internals

    def _chunks(
        self, intents: Sequence[SignedIntent], chunk_gas: int
    ) -> list[list[tuple[str, list[int]]]]:
        """The batches of each block: :class:`ledger.schedule.Schedule` in the order given,
        cut so each block fits the gas. One chunk is one block (on the embedded chain one
        block period) and holds only intents given after those of the chunk before, so
        the cut keeps the order too."""
        chunks: list[list[tuple[str, list[int]]]] = []
        schedule = Schedule()
        used = 0
        for i, intent in enumerate(intents):
            gas = _ROUTES[intent.name].gas(intent)
            keys = conflict_keys(intent)
            opens = schedule.target(intent.name, keys) == len(schedule.batches)
            extra = gas + (_BATCH_BASE_GAS if opens else 0)
            if used + extra > chunk_gas and schedule.batches:
                chunks.append(schedule.batches)
                schedule, used = Schedule(), 0
                extra = gas + _BATCH_BASE_GAS
            schedule.add(i, intent.name, keys)
            used += extra
        if schedule.batches:
            chunks.append(schedule.batches)
        return chunks

    def _batch_tx(self, name: str, batch: list[SignedIntent]) -> dict[str, Any]:
        route = _ROUTES[name]
        args: list[Any] = [[i.as_abi() for i in batch], [i.signature for i in batch]]
        if name in ("Revoke", "Access"):
            args.append([i.terms.as_abi() for i in batch if i.terms is not None])
        contract = self._contracts[route.contract]
        selector, types = _function_codec(route.contract, route.batch_function)
        gas = _BATCH_BASE_GAS + sum(route.gas(i) for i in batch)
        # eth_abi directly: web3's per-value normalisers cost more than the EVM for big batches.
        return {"to": contract.address, "data": selector + abi_encode(types, args), "gas": gas}

    def _outcomes(self, name: str, batch: list[SignedIntent], receipt: TxReceipt) -> list[Outcome]:
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        block_number = int(receipt["blockNumber"])
        timestamp = int(self.chain.w3.eth.get_block(block_number)["timestamp"])
        if receipt["status"] != 1:
            failure = TransactionFailed(f"{name} batch transaction {tx_hash} reverted")
            base = Receipt(tx_hash, block_number, timestamp, None)
            return [Outcome(intent, base, error=failure) for intent in batch]
        decoded = (self.decode_log(log) for log in receipt["logs"])
        events = [e for e in decoded if e is not None]
        return self.outcomes_from_events(name, batch, tx_hash, block_number, timestamp, events)

    def outcomes_from_events(
        self,
        name: str,
        batch: Sequence[SignedIntent],
        tx_hash: str,
        block_number: int,
        timestamp: int,
        events: Sequence[Event],
    ) -> list[Outcome]:
        """The outcomes of a mined, successful batch transaction from its decoded events
        (in log order): for a reader that already holds the logs, as an audit does."""
        primary = _ROUTES[name].events
        results: list[Outcome | None] = [None] * len(batch)
        pending: list[Event] = []
        cursor = 0
        for event in events:
            if event.name == "IntentRejected":
                index = int(event.args["index"])
                results[index] = Outcome(
                    batch[index],
                    Receipt(tx_hash, block_number, timestamp, event.log_index),
                    event=event,
                    error=decode_revert(event.args["reason"]),
                )
                cursor, pending = index + 1, []
            elif event.name in primary:
                results[cursor] = Outcome(
                    batch[cursor],
                    Receipt(tx_hash, block_number, timestamp, event.log_index),
                    event=event,
                    extra_events=tuple(pending),
                )
                cursor, pending = cursor + 1, []
            else:
                pending.append(event)
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            raise TransactionFailed(
                f"{name} batch {tx_hash}: no outcome logged for intents {missing}"
            )
        return [r for r in results if r is not None]

    def _read(self, contract: str, function: str, *args: Any, block: int | str = "latest") -> Any:
        """A view's result (one value, or a tuple of several), by one plain ``eth_call``
        with eth_abi at both ends: web3's contract layer costs more than the call."""
        selector, input_types = _function_codec(contract, function)
        outputs = _outputs(contract, function)
        data = selector + abi_encode(list(input_types), list(args))
        try:
            # eth-tester insists on a sender even for views; any address will do.
            raw = self.chain.call(
                self._contracts[contract].address, data, block, sender=self.relayer.address
            )
        except ExecutionReverted as exc:
            raise (decode_revert(exc.data) if exc.data else TransactionFailed(str(exc))) from exc
        decoded = abi_decode([_abi_type(o) for o in outputs], raw)
        values = tuple(_named(o, v, structs=tuple) for o, v in zip(outputs, decoded, strict=True))
        return values[0] if len(values) == 1 else values

    def _simulate(self, fn: Any, sender: str) -> Any:
        try:
            return fn.call({"from": sender})
        except ContractCustomError as exc:
            raise decode_revert(_revert_bytes(exc)) from exc
        except ContractLogicError as exc:
            data = _revert_bytes(exc)
            raise (decode_revert(data) if data else TransactionFailed(str(exc))) from exc


def _nonce_word_slot(contract: str, signer: str, word: int) -> int:
    """Storage slot of ``_nonceBitmaps[signer][word]`` (Solidity's mapping layout:
    ``keccak(key . slot)``, nested once per mapping)."""
    base = load_artifact(contract).storage_slots["_nonceBitmaps"]
    inner = keccak(bytes(12) + to_canonical_address(signer) + base.to_bytes(32, "big"))
    return int.from_bytes(keccak(word.to_bytes(32, "big") + inner), "big")


@functools.cache
def _function_codec(contract: str, function: str) -> tuple[bytes, tuple[str, ...]]:
    """Selector and ABI input types of a contract function (not overloaded)."""
    (entry,) = (
        item
        for item in load_artifact(contract).abi
        if item["type"] == "function" and item["name"] == function
    )
    types = tuple(_abi_type(i) for i in entry["inputs"])
    return keccak(text=f"{function}({','.join(types)})")[:4], types


@functools.cache
def _functions_by_selector(contract: str) -> dict[bytes, Mapping[str, Any]]:
    return {
        _function_codec(contract, f["name"])[0]: f
        for f in load_artifact(contract).abi
        if f["type"] == "function"
    }


def _named(param: Mapping[str, Any], value: Any, *, structs: type = dict) -> Any:
    """A decoded ABI value shaped as web3 shapes it: addresses checksummed, structs as
    dicts by component name (calldata) or as tuples (view results)."""
    kind = str(param["type"])
    if kind.endswith("]"):
        inner = {**param, "type": kind[: kind.rindex("[")]}
        return [_named(inner, v, structs=structs) for v in value]
    if kind == "tuple":
        pairs = zip(param["components"], value, strict=True)
        if structs is dict:
            return {c["name"]: _named(c, v) for c, v in pairs}
        return tuple(_named(c, v, structs=structs) for c, v in pairs)
    if kind == "address":
        return checksum(value)
    return value


@functools.cache
def _outputs(contract: str, function: str) -> list[Mapping[str, Any]]:
    (entry,) = (
        item
        for item in load_artifact(contract).abi
        if item["type"] == "function" and item["name"] == function
    )
    return list(entry["outputs"])


def _abi_type(param: Mapping[str, Any]) -> str:
    """``tuple[]`` components spelled out, as eth_abi and selectors want them."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


@functools.cache
def _event_codec(
    signature: str, inputs: tuple[tuple[str, str, bool], ...]
) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    indexed = [(name, kind) for name, kind, is_indexed in inputs if is_indexed]
    data_names = [name for name, _, is_indexed in inputs if not is_indexed]
    data_types = [kind for _, kind, is_indexed in inputs if not is_indexed]
    return indexed, data_names, data_types


def _decode_event_args(abi: Mapping[str, Any], topics: Sequence[Any], data: Any) -> dict[str, Any]:
    key = tuple((i["name"], _abi_type(i), bool(i["indexed"])) for i in abi["inputs"])
    indexed, data_names, data_types = _event_codec(abi["name"], key)
    args: dict[str, Any] = {}
    for (name, kind), topic in zip(indexed, topics[1:], strict=True):
        raw = bytes(topic)
        # Indexed dynamic values are hashed into their topic; every indexed input here is static.
        args[name] = abi_decode([kind], raw)[0]
    values = abi_decode(data_types, bytes(data)) if data_types else ()
    args.update(zip(data_names, values, strict=True))
    return {k: _plain(_checksummed(v)) for k, v in args.items()}


def _checksummed(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return checksum(value)
    return value


def _revert_bytes(exc: Exception) -> bytes:
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    return b""


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return bytes.fromhex(value[2:]) if value.startswith("0x") else value.encode()
    raise TypeError(f"expected bytes or 0x-hex, got {type(value).__name__}")


def _abi_value(abi_type: str, value: Any) -> Any:
    """Normalise a JSON-ish message value (0x-hex, checksummed or not) for web3's encoder."""
    if abi_type == "address":
        return to_checksum_address(value)
    if abi_type == "bytes32[]":
        return [_as_bytes(v) for v in value]
    if abi_type.startswith("bytes"):
        return _as_bytes(value)
    if abi_type == "string":
        return str(value)
    if abi_type == "bool":
        return bool(value)
    if isinstance(value, str):
        return int(value, 0)
    return int(value)


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return value


__all__ = [
    "BatchTx",
    "ConsentState",
    "ConsentTerms",
    "DepartmentInfo",
    "Event",
    "LedgerClient",
    "Outcome",
    "Receipt",
    "ResidentInfo",
    "SignedIntent",
]

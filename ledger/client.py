"""Typed clients for the two contracts: submit signed intents in batches, read state.

Every write is a signed intent. :meth:`LedgerClient.submit` packs intents into the
contracts' batch entry points — as few batches as keep the order in which conflicting
intents were given (:mod:`ledger.schedule`) — and sends all the batches of a call in one
block (per chunk of block gas); each intent comes back as an :class:`Outcome` carrying
its primary event, or the contract's custom error decoded into the Python exception of
the same name, and its receipt. A bad intent never takes the good ones of its batch down.
Which contract, function and events an intent has, and its gas, come from its record
in :mod:`ledger.intents`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_canonical_address
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from ledger.abi import (
    abi_decode,
    abi_type,
    abi_value,
    decode_event_args,
    function_codec,
    functions_by_selector,
    named,
    outputs,
    revert_bytes,
)
from ledger.artifacts import load_artifact
from ledger.chain import Chain, TransactionSigner
from ledger.codec import checksum, to_hex
from ledger.deployment import Deployment
from ledger.eip712 import compact_signature, recover
from ledger.errors import ExecutionReverted, LedgerError, MalformedIntent, TransactionFailed
from ledger.intents import INTENTS, intent_digest
from ledger.revert import decode_revert
from ledger.schedule import Schedule, conflict_keys
from ledger.types import (
    BatchTx,
    ConsentState,
    DepartmentInfo,
    Event,
    Outcome,
    Receipt,
    ResidentInfo,
    SignedIntent,
)
from ledger.vocabulary import ROLE_BITS, bytes32_label, role_id

#: Share of the block gas limit one submission round fills, leaving room for others.
_CHUNK_SHARE = 0.8
_BATCH_BASE_GAS = 80_000


def batch_calldata(name: str, batch: Sequence[SignedIntent]) -> bytes:
    """The calldata of one batch of intents of type ``name``: its scoped batch function
    when it has one and every signature has EIP-2098's compact form (:func:`scoped_args`),
    else ``<function>Batch``. eth_abi directly, since web3's per-value normalisers cost
    more than the EVM for big batches."""
    spec = INTENTS[name]
    args = scoped_args(name, batch)
    if args is not None:
        selector, types = function_codec(spec.contract, spec.scoped_batch_function)
        return selector + abi_encode(types, args)
    args = [[i.as_abi() for i in batch], [i.signature for i in batch]]
    if spec.with_terms:
        args.append([i.terms_abi() for i in batch])
    selector, types = function_codec(spec.contract, spec.batch_function)
    return selector + abi_encode(types, args)


def scoped_args(name: str, batch: Sequence[SignedIntent]) -> list[Any] | None:
    """The arguments ``(scopes, intents)`` of the scoped batch function of ``name``
    (:attr:`ledger.intents.IntentType.scoped_batch_function`), or ``None`` when it has
    none or a signature lacks the compact form (:func:`ledger.eip712.compact_signature`:
    only one the relayer would refuse anyway). Scopes (the members
    :attr:`~ledger.intents.IntentType.scope_fields` names) in the order of their first
    intent; each intent's members as the contract's struct names them, ``scope`` its
    scope's index, ``r`` and ``vs`` its signature."""
    spec = INTENTS[name]
    if not spec.scoped_batch_function:
        return None
    compacts = [compact_signature(bytes(i.signature)) for i in batch]
    members = scoped_members(spec.contract, spec.scoped_batch_function)
    scopes: list[tuple[Any, ...]] = []
    index_of: dict[tuple[Any, ...], int] = {}
    intents: list[tuple[Any, ...]] = []
    for intent, compact in zip(batch, compacts, strict=True):
        if compact is None:
            return None
        values = dict(zip(spec.field_names, intent.as_abi(), strict=True))
        scope = tuple(values[f] for f in spec.scope_fields)
        key = tuple(tuple(v) if isinstance(v, list) else v for v in scope)
        if key not in index_of:
            index_of[key] = len(scopes)
            scopes.append(scope)
        own = {**values, "scope": index_of[key], "r": compact[0], "vs": compact[1]}
        intents.append(tuple(own[m] for m in members))
    return [scopes, intents]


@functools.cache
def scoped_members(contract: str, function: str) -> tuple[str, ...]:
    """The member names of a scoped batch function's per-intent struct, in order."""
    (entry,) = (
        item
        for item in load_artifact(contract).abi
        if item["type"] == "function" and item["name"] == function
    )
    _scopes, intents = entry["inputs"]
    return tuple(c["name"] for c in intents["components"])


class LedgerClient:
    """The contracts of one deployment on one chain, submitted to by one relayer."""

    def __init__(self, chain: Chain, deployment: Deployment, relayer: TransactionSigner) -> None:
        self.chain = chain
        self.deployment = deployment
        self.relayer = relayer
        w3 = chain.w3
        self._contracts: dict[str, Contract] = {
            name: w3.eth.contract(address=checksum(address), abi=load_artifact(name).abi)
            for name, address in deployment.contracts.items()
        }
        self.directory: Contract = self._contracts["ConsentDirectory"]
        self.ledger: Contract = self._contracts["ConsentLedger"]
        self.delegates: Contract = self._contracts["ConsentDelegates"]
        self.emergency: Contract = self._contracts["ConsentEmergency"]
        self._contract_names: dict[str, str] = {
            str(checksum(c.address)): name for name, c in self._contracts.items()
        }
        self._events: dict[str, dict[bytes, dict[str, Any]]] = {
            str(checksum(c.address)): load_artifact(name).events_by_topic()
            for name, c in self._contracts.items()
        }

    @property
    def addresses(self) -> list[str]:
        """Every contract's address, in deployment order (whose logs the indexer reads)."""
        return [str(c.address) for c in self._contracts.values()]

    def contract_name(self, address: str | None) -> str | None:
        """Which of the deployment's contracts ``address`` is (``None``: none, or a
        contract creation's empty ``to``)."""
        return None if address is None else self._contract_names.get(checksum(address))

    @property
    def chain_id(self) -> int:
        return self.chain.chain_id

    def verifying_contract(self, intent_name: str) -> str:
        """The address whose EIP-712 domain an intent of this type is signed for."""
        return self._contracts[INTENTS[intent_name].contract].address

    def intent_digest(self, name: str, message: Mapping[str, Any]) -> bytes:
        """What the signer of an intent of this deployment signed (EIP-712)."""
        return intent_digest(
            name, message, chain_id=self.chain_id, verifying_contract=self.verifying_contract(name)
        )

    def recover_signer(self, intent: SignedIntent) -> str:
        """The intent's signer by OpenZeppelin's rules, or the contract's exception
        (``ECDSAInvalidSignature*``)."""
        try:
            digest = self.intent_digest(intent.name, intent.message)
        except ValueError as exc:  # a value its type cannot hold: no contract takes it
            raise MalformedIntent(f"{intent.name}: {exc}") from exc
        return recover(digest, bytes(intent.signature))

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
            txs = [self.batch_tx(name, [intents[i] for i in idx]) for name, idx in chunk]
            try:
                raws = self.relayer.sign_many(self.chain, txs)
                if before_send is not None:
                    before_send(
                        [
                            BatchTx(to_hex(keccak(raw)), name, tuple(idx))
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
            checksum(department),
            active,
        )

    def distrust_issuer(
        self, admin: TransactionSigner, issuer: str, ids: Iterable[bytes]
    ) -> TxReceipt:
        return self.transact(
            admin, "ConsentDirectory", "distrustIssuer", checksum(issuer), list(ids)
        )

    # ------------------------------------------------------------------ reads

    def department(self, address: str) -> DepartmentInfo:
        name, code, key, registered, active = self._read(
            "ConsentDirectory", "department", checksum(address)
        )
        return DepartmentInfo(checksum(address), name, code, bytes(key), registered, active)

    def departments(self) -> list[DepartmentInfo]:
        return [self.department(a) for a in self._read("ConsentDirectory", "departments")]

    def fields(self) -> list[bytes]:
        return [bytes(f) for f in self._read("ConsentDirectory", "fields")]

    def purposes(self) -> list[bytes]:
        return [bytes(p) for p in self._read("ConsentDirectory", "purposes")]

    def purpose_policy(self, purpose: bytes) -> tuple[list[bytes], int]:
        """A purpose's policy: the fields it may cover (empty: any) and its longest
        duration in seconds (0: no limit)."""
        fields, max_duration = self._read("ConsentDirectory", "purposePolicy", purpose)
        return [bytes(f) for f in fields], int(max_duration)

    def services(self) -> list[bytes]:
        """Every defined service's id, in the order first defined."""
        return [bytes(s) for s in self._read("ConsentDirectory", "services")]

    def service(self, service_id: bytes) -> tuple[str, list[dict[str, Any]]]:
        """A service's name and items as last defined (``""`` and none if unknown), each
        item as ``DefineService`` carries it."""
        name, items = self._read("ConsentDirectory", "service", service_id)
        return str(name), [
            {
                "department": checksum(department),
                "fields": [bytes(f) for f in fields],
                "purpose": bytes(purpose),
                "duration": int(duration),
                "maxUses": int(max_uses),
            }
            for department, fields, purpose, duration, max_uses in items
        ]

    def bundle(self, bundle_id: int) -> tuple[str, int, bool]:
        """``(resident, count, revoked)``: its consents are ``bundle_id`` onwards (a bundle's
        id is its first consent's); the resident is the zero address for an unknown one."""
        resident, count, revoked = self._read("ConsentLedger", "bundle", bundle_id)
        return checksum(resident), int(count), bool(revoked)

    def request_status(self, request_id: bytes) -> tuple[str | None, int, int]:
        """The department that filed a request (None: unknown), its answer on chain (0
        pending, 1 granted, 2 declined, 3 withdrawn) and the time from which no grant can
        name it (0 if unknown)."""
        department, status, expires_at = self._read("ConsentLedger", "requestStatus", request_id)
        known = int(department, 16) != 0
        return (checksum(department) if known else None), int(status), int(expires_at)

    def decline_reasons(self) -> list[bytes]:
        return [bytes(r) for r in self._read("ConsentLedger", "declineReasons")]

    def emergency_fields(self, account: str) -> list[str]:
        """The fields ``account`` may read under a directive while it holds the emergency
        role (``ConsentDirectory.emergencyFields``, by name); empty without the role."""
        if not self.has_role("emergency", account):
            return []
        return [
            bytes32_label(bytes(f))
            for f in self._read("ConsentDirectory", "emergencyFields", checksum(account))
        ]

    def has_role(self, role: str, account: str, block: int | str = "latest") -> bool:
        return bool(
            self._read(
                "ConsentDirectory",
                "hasRole",
                role_id(role),
                checksum(account),
                block=block,
            )
        )

    def roles(self, account: str, block: int | str = "latest") -> frozenset[str]:
        """Every role ``account`` holds at ``block``, in one call (``ConsentLedger.rolesOf``):
        admin, registrar, department (registered and active), issuer, auditor, relayer,
        resident (enrolled)."""
        bits = int(self._read("ConsentLedger", "rolesOf", checksum(account), block=block))
        return frozenset(name for i, name in enumerate(ROLE_BITS) if bits >> i & 1)

    def is_trusted_issuer(self, issuer: str, field_id: bytes, at: int) -> bool:
        return bool(
            self._read("ConsentDirectory", "isTrustedIssuer", checksum(issuer), field_id, at)
        )

    def attestation_recorded_at(self, digest: bytes) -> int:
        """When the chain recorded the attestation with this EIP-712 digest (0: never)."""
        return int(self._read("ConsentDirectory", "attestationRecordedAt", digest))

    def verify_attestation(self, message: Mapping[str, Any], signature: bytes) -> bool:
        args = tuple(abi_value(t, message[n]) for n, t in INTENTS["Attest"].fields)
        return bool(self._read("ConsentDirectory", "verifyAttestation", args, signature))

    def resident(self, address: str) -> ResidentInfo:
        commitment, root, version = self._read("ConsentLedger", "resident", checksum(address))
        return ResidentInfo(checksum(address), bytes(commitment), bytes(root), version)

    def consent_state(self, consent_id: int, block: int | str = "latest") -> ConsentState:
        terms_hash, uses, revoked = self._read(
            "ConsentLedger", "consentState", consent_id, block=block
        )
        return ConsentState(bytes(terms_hash), uses, revoked)

    def consent_count(self) -> int:
        return int(self._read("ConsentLedger", "consentCount"))

    def delegation_error(
        self, resident: str, signer: str, power: int, block: int | str = "latest"
    ) -> bytes:
        """The ABI-encoded error an intent in ``resident``'s name signed by ``signer`` fails
        with for want of a delegation holding ``power`` (empty: it holds)."""
        return bytes(
            self._read(
                "ConsentDelegates",
                "delegationError",
                checksum(resident),
                checksum(signer),
                power,
                block=block,
            )
        )

    def is_nonce_used(self, intent_name: str, signer: str, nonce: int) -> bool:
        """Read straight from the bitmap's storage slot: the relayer asks this of every
        intent, and a slot read costs a fraction of a view call."""
        name = INTENTS[intent_name].contract
        bits = self.chain.storage_at(
            self._contracts[name].address, nonce_word_slot(name, signer, nonce >> 8)
        )
        return bool(bits >> (nonce & 0xFF) & 1)

    def next_nonce(self, intent_name: str, signer: str, word: int = 0) -> int:
        """The lowest unused nonce of ``signer`` from ``word * 256`` on: nonces in one word
        share a storage slot, so counting upwards keeps intents cheap."""
        name = INTENTS[intent_name].contract
        address = self._contracts[name].address
        while True:
            bits = self.chain.storage_at(address, nonce_word_slot(name, signer, word))
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
            args=decode_event_args(abi, topics, log["data"]),
            address=address,
            log_index=int(log["logIndex"]),
        )

    def decode_call(self, address: str, data: bytes) -> tuple[str, dict[str, Any]]:
        """The function a transaction to one of the contracts called, and its named
        arguments (structs as dicts, addresses checksummed). ValueError if unknown."""
        contract = self._contract_names.get(checksum(address))
        entry = functions_by_selector(contract).get(bytes(data[:4])) if contract else None
        if entry is None:
            raise ValueError(f"no function of the ledger's contracts has selector {data[:4]!r}")
        values = abi_decode([abi_type(i) for i in entry["inputs"]], bytes(data[4:]))
        args = {i["name"]: named(i, v) for i, v in zip(entry["inputs"], values, strict=True)}
        return str(entry["name"]), args

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
            gas = intent.gas()
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

    def batch_tx(self, name: str, batch: Sequence[SignedIntent]) -> dict[str, Any]:
        """The unsigned transaction of one batch: its contract, calldata, gas budget."""
        spec = INTENTS[name]
        gas = _BATCH_BASE_GAS + sum(i.gas() for i in batch)
        to = self._contracts[spec.contract].address
        return {"to": to, "data": batch_calldata(name, batch), "gas": gas}

    def _outcomes(self, name: str, batch: list[SignedIntent], receipt: TxReceipt) -> list[Outcome]:
        tx_hash = to_hex(receipt["transactionHash"])
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
        primary = INTENTS[name].events
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
        selector, input_types = function_codec(contract, function)
        results = outputs(contract, function)
        data = selector + abi_encode(list(input_types), list(args))
        try:
            # eth-tester insists on a sender even for views; any address will do.
            raw = self.chain.call(
                self._contracts[contract].address, data, block, sender=self.relayer.address
            )
        except ExecutionReverted as exc:
            raise (decode_revert(exc.data) if exc.data else TransactionFailed(str(exc))) from exc
        decoded = abi_decode([abi_type(o) for o in results], raw)
        values = tuple(named(o, v, structs=tuple) for o, v in zip(results, decoded, strict=True))
        return values[0] if len(values) == 1 else values

    def _simulate(self, fn: Any, sender: str) -> Any:
        try:
            return fn.call({"from": sender})
        except ContractCustomError as exc:
            raise decode_revert(revert_bytes(exc)) from exc
        except ContractLogicError as exc:
            data = revert_bytes(exc)
            raise (decode_revert(data) if data else TransactionFailed(str(exc))) from exc


def nonce_word_slot(contract: str, signer: str, word: int) -> int:
    """Storage slot of ``_nonceBitmaps[signer][word]`` (Solidity's mapping layout:
    ``keccak(key . slot)``, nested once per mapping)."""
    base = load_artifact(contract).storage_slots["_nonceBitmaps"]
    inner = keccak(bytes(12) + to_canonical_address(signer) + base.to_bytes(32, "big"))
    return int.from_bytes(keccak(word.to_bytes(32, "big") + inner), "big")

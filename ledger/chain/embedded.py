"""The embedded chain: py-evm (Prague, post-merge) in process, persisted to one SQLite file.

eth-tester gives ``w3`` its familiar JSON-RPC surface, but this module mines blocks
itself instead of through eth-tester's pending-transaction machinery, because three
things matter here that eth-tester does not provide:

* durability -- the chain lives on :class:`~ledger.chain.sqlite_db.SqliteDB` and a
  block is on disk when :meth:`EmbeddedChain.send_raw_transactions` returns;
* chain time that tracks the wall clock -- py-evm stamps a block ``max(now, parent+1)``
  and prepares the next pending header right after mining, so an idle chain would stamp
  its next block with a stale time and a busy one would run ahead (consent windows are
  judged in chain time). Here each block is stamped when it is mined, and blocks are at
  least ``block_period`` seconds apart;
* batches -- all transactions of one call go into one block, or none do.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import rlp
from eth.abc import (
    BlockAPI,
    BlockHeaderAPI,
    ReceiptAPI,
    SignedTransactionAPI,
    TransactionBuilderAPI,
)
from eth.chains.base import MiningChain
from eth.db.chain import ChainDB
from eth.exceptions import CanonicalHeadNotFound, Revert
from eth.exceptions import TransactionNotFound as EVMTransactionNotFound
from eth.typing import AccountDetails
from eth.vm.forks import PragueVM
from eth_account import Account
from eth_bloom import BloomFilter
from eth_keys.exceptions import BadSignature
from eth_tester import EthereumTester
from eth_tester.backends.pyevm.main import (
    EVMSpoofTransaction,
    PyEVMBackend,
    _execute_and_revert_transaction,
    get_default_genesis_params,
)
from eth_tester.backends.pyevm.serializers import (
    serialize_transaction,
    serialize_transaction_receipt,
)
from eth_tester.exceptions import TransactionNotFound
from eth_typing import Address, BlockNumber, Hash32
from eth_utils import ValidationError, to_canonical_address, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider
from web3.providers.eth_tester.defaults import API_ENDPOINTS, not_implemented, static_return
from web3.types import RPCEndpoint, RPCResponse, TxReceipt

from ledger.chain.base import DEFAULT_CHAIN_ID, Chain, TransactionSigner
from ledger.chain.gas_estimate import measured_gas
from ledger.chain.sqlite_db import SqliteDB
from ledger.chain.state_reader import StateReader
from ledger.codec import to_hex
from ledger.errors import ChainLocked, InvalidTransaction, LedgerError

#: Balance of the faucet account created at genesis (10^12 ether).
FAUCET_BALANCE = 10**30
#: Block gas limit of a new chain (an existing chain keeps its genesis limit). Gas is free
#: on a permissioned network, and the limit is a policy: this one lets a one-second block
#: carry ~600 batched grants at the relayer's reservations.
GAS_LIMIT = 100_000_000

_CHAIN_ID_KEY = b"consent-ledger:chain-id"
_TIME_OFFSET_KEY = b"consent-ledger:time-offset"

# What a node would refuse before mining: malformed, bad signature, nonce, funds, gas.
_REFUSALS = (rlp.DecodingError, ValidationError, ValueError, TypeError, BadSignature)
_TX_DECODER = PragueVM.get_transaction_builder()

# Indirections so tests can drive the clock without sleeping.
_wall_clock = time.time
_monotonic = time.monotonic
_sleep = time.sleep


def _chain_class(chain_id: int) -> type[MiningChain]:
    class ConsentLedgerChain(MiningChain):
        vm_configuration = ((BlockNumber(0), PragueVM),)
        gas_estimator = staticmethod(measured_gas)

        def create_header_from_parent(
            self, parent_header: BlockHeaderAPI, **header_params: Any
        ) -> BlockHeaderAPI:
            # Constant gas limit, as eth-tester's tester chain does.
            header_params["gas_limit"] = parent_header.gas_limit
            return super().create_header_from_parent(parent_header, **header_params)

        def get_transaction_builder(self) -> type[TransactionBuilderAPI]:
            # eth-tester's backend (eth_call, estimate_gas) builds transactions through this.
            return self.get_vm().get_transaction_builder()

    ConsentLedgerChain.chain_id = chain_id
    return ConsentLedgerChain


class DurablePyEVMBackend(PyEVMBackend):  # type: ignore[misc]
    """eth-tester's py-evm backend over a given chain, with indexed transaction lookups.

    eth-tester finds a transaction by walking back from the head block by block; py-evm
    already keeps a hash -> (block, index) index for canonical blocks, so use it.
    """

    def __init__(self, chain: MiningChain) -> None:
        self.account_keys = ()
        self.chain = chain
        self._receipts: tuple[bytes, tuple[ReceiptAPI, ...]] | None = None

    def reset_to_genesis(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("a durable chain cannot be reset to genesis")

    def take_snapshot(self) -> Any:
        raise NotImplementedError("snapshots would rewrite a durable chain's history")

    def revert_to_snapshot(self, snapshot: Any) -> None:
        raise NotImplementedError("snapshots would rewrite a durable chain's history")

    def _locate(self, transaction_hash: bytes) -> tuple[BlockAPI, SignedTransactionAPI, int]:
        try:
            number, index = self.chain.chaindb.get_transaction_index(Hash32(transaction_hash))
        except EVMTransactionNotFound as exc:
            raise TransactionNotFound(
                f"No transaction found for transaction hash: {HexBytes(transaction_hash).hex()}"
            ) from exc
        block = self.chain.get_canonical_block_by_number(number)
        return block, block.transactions[index], index

    def block_receipts(self, block: BlockAPI) -> tuple[ReceiptAPI, ...]:
        # One-entry cache: after a batch, its N receipts are read from the same block.
        cached = self._receipts
        if cached is None or cached[0] != block.hash:
            cached = (block.hash, block.get_receipts(self.chain.chaindb))
            self._receipts = cached
        return cached[1]

    def call(self, transaction: Any, block_number: Any = "latest") -> Any:
        # eth-tester reduces revert data to a message; keep the bytes for the caller.
        return _call_reverting_with_data(self, transaction, block_number)

    def get_transaction_by_hash(self, transaction_hash: bytes) -> Any:
        block, transaction, index = self._locate(transaction_hash)
        return serialize_transaction(block, transaction, index, False)

    def get_transaction_receipt(self, transaction_hash: bytes) -> Any:
        block, transaction, index = self._locate(transaction_hash)
        receipts = self.block_receipts(block)
        serialized = serialize_transaction_receipt(
            block, receipts, transaction, index, False, self.chain.get_vm()
        )
        # eth-tester numbers logs per transaction; the JSON-RPC spec (and anvil, geth,
        # Besu) per block. (block, logIndex) must identify a log on every backend.
        offset = sum(len(receipt.logs) for receipt in receipts[:index])
        if offset:
            for entry in serialized["logs"]:
                entry["log_index"] += offset
        return serialized


class CallReverted(Exception):
    """An ``eth_call`` that reverted, with the raw revert data that eth-tester would
    flatten into a message. Deliberately not eth-tester's ``TransactionFailed``: web3's
    tester provider would catch that and keep only the message."""

    def __init__(self, data: bytes, message: str) -> None:
        super().__init__(message)
        self.data = data


def _call_reverting_with_data(backend: PyEVMBackend, transaction: Any, block_number: Any) -> Any:
    defaulted = dict(transaction)
    defaulted.setdefault("gas", backend._max_available_gas())
    unsigned = backend._get_normalized_and_unsigned_evm_transaction(defaulted, block_number)
    spoofed = EVMSpoofTransaction(unsigned, from_=transaction["from"])
    computation = _execute_and_revert_transaction(backend.chain, spoofed, block_number)
    if computation.is_error:
        data = bytes(computation.output) if isinstance(computation._error, Revert) else b""
        raise CallReverted(data, str(computation._error))
    return computation.output


class _LockedProvider(EthereumTesterProvider):
    """Serialises every request with block production, so readers never see half a block."""

    def __init__(self, chain: EmbeddedChain, tester: EthereumTester) -> None:
        endpoints = {namespace: dict(methods) for namespace, methods in API_ENDPOINTS.items()}
        endpoints["eth"]["chainId"] = static_return(chain.chain_id)
        endpoints["net"]["version"] = static_return(str(chain.chain_id))
        endpoints["eth"]["sendRawTransaction"] = lambda _tester, params: chain._send_one(
            HexBytes(params[0])
        )
        # Mining, snapshots and time travel go through EmbeddedChain's clock discipline.
        for namespace in ("evm", "testing"):
            endpoints[namespace] = {name: not_implemented for name in endpoints[namespace]}
        super().__init__(tester, endpoints)
        self._chain = chain

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        if method == "eth_sendRawTransaction":  # takes the locks itself
            return super().make_request(method, params)
        with self._chain._state_lock:
            try:
                return super().make_request(method, params)
            except CallReverted as exc:
                # Answer as a node does (code 3 + revert data), so web3 raises
                # ContractCustomError/ContractLogicError carrying the data.
                return cast(
                    RPCResponse,
                    {
                        "jsonrpc": "2.0",
                        "id": 0,
                        "error": {
                            "code": 3,
                            "message": "execution reverted",
                            "data": to_hex(exc.data),
                        },
                    },
                )


class EmbeddedChain(Chain):
    """A py-evm chain in this process, durable in ``db_path`` (``None``: in memory).

    On an empty file it creates genesis, funding a faucet account whose key it keeps next
    to the database (``faucet.key``); on an existing file it resumes at the stored head.
    The data directory is locked against a second process opening it.
    """

    def __init__(
        self,
        db_path: Path | None,
        *,
        block_period: float = 1.0,
        chain_id: int = DEFAULT_CHAIN_ID,
        gas_limit: int = GAS_LIMIT,
    ) -> None:
        self.block_period = block_period
        self._gas_limit = gas_limit
        self._chain_id = chain_id
        # _submit_lock orders block producers (and is held while waiting out the block
        # period); _state_lock guards py-evm state and is all readers ever wait for.
        self._submit_lock = threading.Lock()
        self._state_lock = threading.RLock()
        self._faucet_lock = threading.Lock()
        # Calls waiting for a block (:meth:`_mine_block`), under _pending_lock.
        self._pending: list[_Submission] = []
        self._pending_lock = threading.Lock()
        self._closed = False
        self._lock_file: int | None = None
        self._last_mined = float("-inf")

        if db_path is not None:
            db_path = Path(db_path)
            db_path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_file = _lock_directory(db_path.parent)
        #: The chain's file, for readers in other processes (``None``: in memory).
        self.db_path = None if db_path is None else db_path.resolve()
        try:
            self._db = SqliteDB(db_path)
            self._state = StateReader(self._db)
            faucet_key = _load_or_create_faucet_key(None if db_path is None else db_path.parent)
            self._faucet = TransactionSigner(faucet_key)
            self._evm = self._open_or_create(faucet_key)
        except BaseException:
            self._release()
            raise
        stored_offset = self._db.get(_TIME_OFFSET_KEY)
        self._time_offset = int(stored_offset) if stored_offset else 0
        self._set_head()
        self._backend = DurablePyEVMBackend(self._evm)
        self._tester = EthereumTester(backend=self._backend, auto_mine_transactions=False)
        self.w3 = Web3(_LockedProvider(self, self._tester))

    def _open_or_create(self, faucet_key: str) -> MiningChain:
        chain_class = _chain_class(self._chain_id)
        try:
            ChainDB(self._db).get_canonical_head()
        except CanonicalHeadNotFound:
            # Chain id first: a genesis on disk always has its chain id next to it.
            self._db[_CHAIN_ID_KEY] = str(self._chain_id).encode()
            genesis = get_default_genesis_params({"gas_limit": self._gas_limit})
            genesis["timestamp"] = int(_wall_clock())
            faucet = Address(to_canonical_address(Account.from_key(faucet_key).address))
            state = {faucet: AccountDetails(balance=FAUCET_BALANCE, nonce=0, code=b"", storage={})}
            return cast(MiningChain, chain_class.from_genesis(self._db, genesis, state))
        stored = self._db.get(_CHAIN_ID_KEY)
        if stored is not None and int(stored) != self._chain_id:
            raise LedgerError(
                f"the chain in this data directory has chain id {int(stored)}, not {self._chain_id}"
            )
        # MiningChain over an existing database resumes at the stored head.
        return chain_class(self._db)

    @property
    def chain_id(self) -> int:
        return self._chain_id

    @property
    def faucet_address(self) -> str:
        return self._faucet.address

    def latest_timestamp(self) -> int:
        return self._head[1]

    def next_timestamp(self) -> int:
        # What _build_block will stamp: the clock (moved by time travel), or just after
        # the head when a burst of blocks ran ahead of it.
        return max(int(_wall_clock()) + self._time_offset, self._head[1] + 1)

    def head_state(self) -> tuple[int, int, int, bytes]:
        """Head number, head time, the time-travel offset and the head's state root, as
        one reading: what a client in another process needs to answer chain-time
        questions and (with :attr:`db_path`) read state itself (ledger.chain.process)."""
        number, timestamp, root = self._head
        return number, timestamp, self._time_offset, bytes(root)

    def _block_param(self, block: int | str) -> Any:
        return block  # eth-tester takes numbers as numbers

    def head_number(self) -> int:
        return self._head[0]

    def _set_head(self) -> None:
        """Publish the head as one tuple: readers of number and time need no lock and
        never wait for a block being mined (nor see a half-mined one)."""
        head = self._evm.get_canonical_head()
        self._head = (int(head.block_number), int(head.timestamp), head.state_root)

    def storage_at(self, address: str, slot: int, block: int | str = "latest") -> int:
        # No state lock: trie nodes are content-addressed and never deleted, so the
        # state under a mined block's root can be read while the next block is built.
        if block == "latest":
            root = self._head[2]
        elif isinstance(block, int):
            root = self._evm.chaindb.get_canonical_block_header_by_number(
                BlockNumber(block)
            ).state_root
        else:
            raise ValueError(f"block must be 'latest' or a number, not {block!r}")
        return self._state.storage(root, address, slot)

    def send_raw_transactions(self, raw_txs: Sequence[bytes]) -> list[TxReceipt]:
        hashes = self.mine(raw_txs)
        return [self.w3.eth.get_transaction_receipt(HexBytes(h)) for h in hashes]

    def mine(self, raw_txs: Sequence[bytes]) -> list[bytes]:
        """:meth:`send_raw_transactions` answering the transactions' hashes only (the
        chain process's answer: its clients ask for the receipts they want)."""
        return self._mine_block(raw_txs) if raw_txs else []

    def get_logs(self, start: int, end: int, addresses: Sequence[str]) -> list[dict[str, Any]]:
        """Straight from py-evm's receipts, skipping blocks whose bloom rules the
        addresses out: eth-tester's log filter converts every address of every log on
        each call, and held the state lock while the next block waited for it."""
        wanted = {to_canonical_address(a) for a in addresses}
        chaindb = self._evm.chaindb
        out: list[dict[str, Any]] = []
        for number in range(max(start, 0), min(end, self._head[0]) + 1):
            header = chaindb.get_canonical_block_header_by_number(BlockNumber(number))
            bloom = BloomFilter(header.bloom)
            if not any(address in bloom for address in wanted):
                continue
            block = self._evm.get_canonical_block_by_number(BlockNumber(number))
            log_index = 0  # numbered per block, as JSON-RPC nodes do
            for tx, receipt in zip(
                block.transactions, self._backend.block_receipts(block), strict=True
            ):
                for entry in receipt.logs:
                    if entry.address in wanted:
                        out.append(
                            {
                                "address": to_checksum_address(entry.address),
                                "topics": [t.to_bytes(32, "big") for t in entry.topics],
                                "data": bytes(entry.data),
                                "blockNumber": number,
                                "blockHash": bytes(header.hash),
                                "logIndex": log_index,
                                "transactionHash": bytes(tx.hash),
                            }
                        )
                    log_index += 1
        return out

    def _send_one(self, raw_tx: bytes) -> str:
        return HexBytes(self._mine_block([raw_tx])[0]).to_0x_hex()

    def time_travel(self, seconds: int) -> None:
        if seconds < 0:
            raise ValueError("chain time cannot move backwards")
        with self._submit_lock, self._state_lock:
            self._check_open()
            # Measured from the head, which may be ahead of the clock after a burst of
            # blocks with block_period=0, so the head moves by at least ``seconds``.
            head = self._evm.get_canonical_head().timestamp
            now = int(_wall_clock())
            self._time_offset = max(self._time_offset + seconds, head + seconds - now)
            self._db[_TIME_OFFSET_KEY] = str(self._time_offset).encode()
        self._mine_block([])

    def fund(self, address: str, wei: int) -> None:
        """A transfer from the genesis faucet (one block)."""
        # Sign and send under one lock: two threads funding at once must not reach the
        # block in the opposite order of their nonces.
        with self._faucet_lock:
            tx = {"to": to_checksum_address(address), "value": wei, "gas": 21_000}
            try:
                self.send_raw_transactions([self._faucet.sign(self, tx)])
            except InvalidTransaction:
                self._faucet.resync()
                raise

    def _mine_block(self, raw_txs: Sequence[bytes]) -> list[bytes]:
        """Apply ``raw_txs`` to a block stamped now and mine it; all or nothing.

        Group commit: calls that arrive while a block waits for its slot or is being
        mined join the next block together (each relayer of ``consent serve --workers``
        sends its own batch; one block per period would otherwise serve one relayer), as
        far as the block's gas allows. A call's transactions stay together and in order;
        a call whose transaction a node would refuse fails alone."""
        entry = _Submission(list(raw_txs))
        with self._pending_lock:
            self._pending.append(entry)
        while not entry.done.is_set():
            with self._submit_lock:
                if entry.done.is_set():
                    break
                try:
                    self._check_open()
                    self.wait_for_slot()
                except BaseException as exc:
                    self._fail_pending(exc)
                    raise
                self._mine_group(self._take_group())
        return entry.result()

    def _take_group(self) -> list[_Submission]:
        """The waiting calls, oldest first, whose gas fits one block (the first always);
        a lone call is taken without decoding its transactions for their gas."""
        with self._pending_lock:
            if len(self._pending) <= 1:
                group, self._pending = self._pending, []
                return group
            group = [self._pending.pop(0)]
            gas = group[0].gas
            while self._pending and gas + self._pending[0].gas <= self._gas_limit:
                gas += self._pending[0].gas
                group.append(self._pending.pop(0))
        return group

    def _mine_group(self, group: list[_Submission]) -> None:
        """One block of ``group``'s transactions; a call refused by the build drops out
        and the rest are built again (nothing of a failed build is kept)."""
        while group:
            raw_txs = [raw for entry in group for raw in entry.raw_txs]
            # The period runs from stamp to stamp: a block that takes long to execute
            # does not add its own time to the next one's wait.
            started = _monotonic()
            with self._state_lock:
                try:
                    block = self._build_block(raw_txs)
                    # One SQLite transaction: header, head pointer, tx index. Until it
                    # commits the block does not exist, on disk or for readers.
                    self._evm.persist_block(block)
                except InvalidTransaction as exc:
                    failed, index = _locate_call(group, exc.index)
                    failed.fail(
                        InvalidTransaction(
                            f"transaction {index} of {len(failed.raw_txs)} refused: "
                            f"{exc.__cause__}",
                            index=index,
                        )
                    )
                    group.remove(failed)
                    continue
                except BaseException as exc:
                    for entry in group:
                        entry.fail(exc)
                    raise
                self._evm.header = self._evm.create_header_from_parent(block.header)
                self._set_head()
                self._last_mined = started
                self._notify_filters(block)
            hashes = iter(tx.hash for tx in block.transactions)
            for entry in group:
                entry.succeed([next(hashes) for _ in entry.raw_txs])
            return

    def _fail_pending(self, exc: BaseException) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, []
        for entry in pending:
            entry.fail(exc)

    def wait_for_slot(self, lead: float = 0.0) -> None:
        """Wait out ``block_period`` since the last block's stamp (less ``lead``: a caller
        that must still prepare its batch), and (up to one period) until the wall clock
        has passed the head's timestamp, so ``max(now, parent + 1)`` is ``now``: e.g.
        the first block after genesis, or after a restart."""
        if self.block_period <= 0:
            return
        head = self._head[1]
        wait = max(
            self._last_mined + self.block_period - lead - _monotonic(),
            head + 1 - self._time_offset - _wall_clock() - lead,
        )
        if wait > 0:
            _sleep(min(wait, self.block_period))

    def _build_block(self, raw_txs: Sequence[bytes]) -> BlockAPI:
        # Like MiningChain.mine_all (one pass; MiningChain.apply_transaction rebuilds the
        # transaction and receipt tries per transaction, quadratic in the batch), but it
        # stamps the block now and names the transaction a node would refuse.
        chain = self._evm
        parent = chain.get_canonical_head()
        timestamp = max(int(_wall_clock()) + self._time_offset, parent.timestamp + 1)
        header = chain.create_header_from_parent(parent, timestamp=timestamp)
        vm = chain.get_vm(header)
        builder = vm.get_transaction_builder()
        txs: list[SignedTransactionAPI] = []
        receipts: list[ReceiptAPI] = []
        for index, raw in enumerate(raw_txs):
            try:
                tx = builder.decode(bytes(raw))
                # py-evm does not check the chain id; a node must (replay protection).
                if tx.chain_id != self._chain_id:
                    raise ValidationError(
                        f"signed for chain id {tx.chain_id}, this chain is {self._chain_id}"
                    )
                receipt, _computation = vm.apply_transaction(header, tx)
            except _REFUSALS as exc:
                raise InvalidTransaction(
                    f"transaction {index} of {len(raw_txs)} refused: {exc}", index=index
                ) from exc
            header = vm.increment_blob_gas_used(vm.add_receipt_to_header(header, receipt), tx)
            txs.append(tx)
            receipts.append(receipt)
        block = vm.set_block_transactions_and_withdrawals(vm.get_block(), header, txs, receipts)
        # A fresh prevrandao per block, as eth-tester does after the merge.
        return vm.mine_block(block, mix_hash=os.urandom(32)).block

    def _notify_filters(self, block: BlockAPI) -> None:
        """Feed eth-tester's filters (``eth_newFilter`` etc.) as its own mining would."""
        tester = self._tester
        if not (tester._block_filters or tester._log_filters):
            return
        block_hash = HexBytes(block.hash).to_0x_hex()
        for block_filter in tester._block_filters.values():
            block_filter.add(block.hash)
        tester._process_block_logs(tester.get_block_by_hash(block_hash))

    def _check_open(self) -> None:
        if self._closed:
            raise LedgerError("the embedded chain is closed")

    def close(self) -> None:
        with self._submit_lock, self._state_lock:
            if self._closed:
                return
            self._closed = True
            self._release()

    def _release(self) -> None:
        with contextlib.suppress(AttributeError):
            self._db.close()
        if self._lock_file is not None:
            os.close(self._lock_file)  # releases the flock
            self._lock_file = None


class _Submission:
    """One :meth:`EmbeddedChain._mine_block` call waiting for its block."""

    def __init__(self, raw_txs: list[bytes]) -> None:
        self.raw_txs = raw_txs
        self.done = threading.Event()
        self._hashes: list[bytes] = []
        self._error: BaseException | None = None

    @functools.cached_property
    def gas(self) -> int:
        """What the call takes of a block at most: its transactions' own gas limits (a
        raw transaction that does not decode counts for nothing; the build refuses it)."""
        return sum(_gas_of(raw) for raw in self.raw_txs)

    def succeed(self, hashes: list[bytes]) -> None:
        self._hashes = hashes
        self.done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self.done.set()

    def result(self) -> list[bytes]:
        if self._error is not None:
            raise self._error
        return self._hashes


def _gas_of(raw: bytes) -> int:
    try:
        return int(_TX_DECODER.decode(bytes(raw)).gas)
    except _REFUSALS:
        return 0


def _locate_call(group: list[_Submission], index: int | None) -> tuple[_Submission, int]:
    """The call of ``group`` holding the merged block's transaction ``index``, and the
    transaction's index within that call."""
    if index is None:
        return group[0], 0
    for entry in group:
        if index < len(entry.raw_txs):
            return entry, index
        index -= len(entry.raw_txs)
    raise AssertionError("refused transaction index past the block")


def _lock_directory(directory: Path) -> int:
    fd = os.open(directory / "chain.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ChainLocked(f"{directory} is in use by another process") from None
    return fd


def _load_or_create_faucet_key(directory: Path | None) -> str:
    """The faucet key lives beside the chain: its genesis balance is the only money there."""
    if directory is None:
        return Account.create().key.to_0x_hex()
    path = directory / "faucet.key"
    if path.exists():
        return path.read_text().strip()
    key = Account.create().key.to_0x_hex()
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    return key

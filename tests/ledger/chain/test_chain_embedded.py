"""The embedded chain's own promises: one block per call, all or nothing, and a block
clock that tracks the wall clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from eth_account import Account
from web3 import Web3

import ledger.chain.embedded as embedded
from ledger.chain import open_chain
from ledger.chain.base import Chain, TransactionSigner
from ledger.chain.embedded import GAS_LIMIT, EmbeddedChain
from ledger.errors import InvalidTransaction

NewSigner = Callable[[Chain], TransactionSigner]


class FakeClock:
    """Wall and monotonic time that move only when told to."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(embedded, "_wall_clock", lambda: fake.now)
    monkeypatch.setattr(embedded, "_monotonic", lambda: fake.now)
    monkeypatch.setattr(embedded, "_sleep", fake.sleep)
    return fake


def transfer(chain: Chain, signer: TransactionSigner, to: str, value: int = 1) -> bytes:
    return signer.sign(chain, {"to": to, "value": value, "gas": 21_000})


def test_all_transactions_of_one_call_share_one_new_block(
    embedded_chain: EmbeddedChain, new_signer: NewSigner
) -> None:
    signer = new_signer(embedded_chain)
    head = embedded_chain.w3.eth.block_number
    to = Account.create().address
    raws = signer.sign_many(embedded_chain, [{"to": to, "value": 1, "gas": 21_000}] * 50)

    receipts = embedded_chain.send_raw_transactions(raws)

    assert {r["blockNumber"] for r in receipts} == {head + 1}
    assert [r["transactionIndex"] for r in receipts] == list(range(50))
    assert embedded_chain.w3.eth.block_number == head + 1
    assert embedded_chain.w3.eth.get_balance(to) == 50


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"nonce": 0}, id="used-nonce"),
        pytest.param({"value": 10**40}, id="no-funds"),
        pytest.param({"chainId": 1}, id="other-chain-id"),
        pytest.param({"gas": GAS_LIMIT + 1}, id="over-block-gas-limit"),
    ],
)
def test_refused_transaction_leaves_no_block_and_no_state(
    embedded_chain: EmbeddedChain, new_signer: NewSigner, bad: dict[str, int]
) -> None:
    signer = new_signer(embedded_chain)
    w3 = embedded_chain.w3
    to = Account.create().address
    head, nonce = w3.eth.block_number, w3.eth.get_transaction_count(signer.address)
    good = transfer(embedded_chain, signer, to)
    invalid = signer.sign(embedded_chain, {"to": to, "value": 1, "gas": 21_000, **bad})

    with pytest.raises(InvalidTransaction) as refused:
        embedded_chain.send_raw_transactions([good, invalid])

    assert refused.value.index == 1
    assert refused.value.receipts == []
    assert w3.eth.block_number == head
    assert w3.eth.get_transaction_count(signer.address) == nonce
    assert w3.eth.get_balance(to) == 0
    # The pending header was not left half-built: the good transaction mines on its own.
    signer.resync()
    (receipt,) = embedded_chain.send_raw_transactions([transfer(embedded_chain, signer, to)])
    assert receipt["blockNumber"] == head + 1
    assert w3.eth.get_balance(to) == 1


def test_garbage_bytes_are_refused(embedded_chain: EmbeddedChain) -> None:
    with pytest.raises(InvalidTransaction, match="transaction 0"):
        embedded_chain.send_raw_transactions([b"\x02not a transaction"])


def test_idle_chain_stamps_next_block_with_the_current_time(
    clock: FakeClock, tmp_path: object, new_signer: NewSigner
) -> None:
    with open_chain(block_period=1) as chain:
        signer = new_signer(chain)
        clock.advance(600)  # idle: py-evm's pending header still carries the old time
        (receipt,) = chain.send_raw_transactions(
            [transfer(chain, signer, Account.create().address)]
        )
        assert chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] == int(clock.now)
        assert chain.latest_timestamp() == int(clock.now)


def test_block_period_spaces_blocks_so_chain_time_does_not_run_ahead(
    clock: FakeClock, new_signer: NewSigner
) -> None:
    with open_chain(block_period=1) as chain:
        signer = new_signer(chain)
        to = Account.create().address
        for _ in range(20):  # back to back; the (fake) sleep waits out the period
            chain.send_raw_transactions([transfer(chain, signer, to)])
            assert chain.latest_timestamp() <= int(clock.now)


def test_without_block_period_timestamps_still_strictly_increase(
    clock: FakeClock, new_signer: NewSigner
) -> None:
    with open_chain(block_period=0) as chain:
        signer = new_signer(chain)
        first = chain.latest_timestamp()
        for _ in range(3):
            chain.send_raw_transactions([transfer(chain, signer, signer.address)])
        assert chain.latest_timestamp() == first + 3  # py-evm's parent + 1


def test_time_travel_offset_carries_over_to_later_blocks(
    clock: FakeClock, new_signer: NewSigner
) -> None:
    with open_chain(block_period=0) as chain:
        signer = new_signer(chain)
        clock.advance(10)
        chain.time_travel(86_400)
        assert chain.latest_timestamp() == int(clock.now) + 86_400
        clock.advance(5)
        chain.send_raw_transactions([transfer(chain, signer, signer.address)])
        assert chain.latest_timestamp() == int(clock.now) + 86_400


def test_w3_send_raw_transaction_is_mined_at_once(
    embedded_chain: EmbeddedChain, new_signer: NewSigner
) -> None:
    signer = new_signer(embedded_chain)
    to = Account.create().address
    tx_hash = embedded_chain.w3.eth.send_raw_transaction(transfer(embedded_chain, signer, to))
    receipt = embedded_chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=5)
    assert receipt["status"] == 1
    assert embedded_chain.w3.eth.get_balance(to) == 1


def test_old_transactions_are_found_by_hash_through_the_index(
    embedded_chain: EmbeddedChain, new_signer: NewSigner
) -> None:
    signer = new_signer(embedded_chain)
    (first,) = embedded_chain.send_raw_transactions(
        [transfer(embedded_chain, signer, signer.address)]
    )
    for _ in range(30):
        embedded_chain.send_raw_transactions([transfer(embedded_chain, signer, signer.address)])
    tx_hash = first["transactionHash"]
    assert embedded_chain.w3.eth.get_transaction_receipt(tx_hash) == first
    assert embedded_chain.w3.eth.get_transaction(tx_hash)["blockNumber"] == first["blockNumber"]


def test_readers_in_other_threads_never_see_a_half_mined_block(
    embedded_chain: EmbeddedChain, new_signer: NewSigner
) -> None:
    signer = new_signer(embedded_chain)
    to = Account.create().address
    w3 = embedded_chain.w3
    done = threading.Event()
    problems: list[str] = []

    def read() -> None:
        while not done.is_set():
            block = w3.eth.get_block("latest")
            balance = w3.eth.get_balance(to, block["number"])
            # Every block after the funding one carries exactly 10 transfers of 1 wei.
            if balance % 10:
                problems.append(f"block {block['number']} balance {balance}")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(6):
            raws = signer.sign_many(embedded_chain, [{"to": to, "value": 1, "gas": 21_000}] * 10)
            embedded_chain.send_raw_transactions(raws)
    finally:
        done.set()
        reader.join()
    assert problems == []
    assert w3.eth.get_balance(to) == 60


def test_concurrent_funding_from_several_threads_all_lands(embedded_chain: EmbeddedChain) -> None:
    addresses = [Account.create().address for _ in range(8)]
    threads = [
        threading.Thread(target=embedded_chain.fund, args=(address, 10**18))
        for address in addresses
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [embedded_chain.w3.eth.get_balance(a) for a in addresses] == [10**18] * 8


def _send_together(
    chain: EmbeddedChain, monkeypatch: pytest.MonkeyPatch, batches: list[list[bytes]]
) -> list[list[dict] | Exception]:
    """Each batch sent from its own thread while the first waits for the block slot: the
    slot's wait returns once every batch is waiting (no timing involved)."""
    chain.block_period = 60.0  # the signers' funding blocks were just mined: a slot to wait

    all_queued = threading.Event()

    def sleep(_seconds: float) -> None:
        deadline = time.monotonic() + 30
        while not all_queued.is_set() and time.monotonic() < deadline:
            time.sleep(0.001)  # waiting for the other threads to queue, not for chain time

    monkeypatch.setattr(embedded, "_sleep", sleep)
    results: list[list[dict] | Exception] = [[] for _ in batches]

    def send(i: int) -> None:
        try:
            results[i] = [dict(r) for r in chain.send_raw_transactions(batches[i])]
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(batches))]
    for queued, thread in enumerate(threads, start=1):
        thread.start()
        while len(chain._pending) < queued:
            time.sleep(0.001)  # each queued in turn, so the block's order is the threads'
    all_queued.set()
    for thread in threads:
        thread.join()
    return results


def test_calls_waiting_for_the_same_slot_share_one_block_each_call_in_order(
    embedded_chain: EmbeddedChain, new_signer: NewSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = new_signer(embedded_chain), new_signer(embedded_chain)
    to = Account.create().address
    head = embedded_chain.w3.eth.block_number

    results = _send_together(
        embedded_chain,
        monkeypatch,
        [
            first.sign_many(embedded_chain, [{"to": to, "value": 1, "gas": 21_000}] * 2),
            second.sign_many(embedded_chain, [{"to": to, "value": 1, "gas": 21_000}] * 3),
        ],
    )

    a, b = results
    assert isinstance(a, list) and isinstance(b, list)
    assert {r["blockNumber"] for r in a + b} == {head + 1}
    assert [r["transactionIndex"] for r in a] == [0, 1]
    assert [r["transactionIndex"] for r in b] == [2, 3, 4]
    assert embedded_chain.w3.eth.get_balance(to) == 5


def test_a_refused_call_fails_alone_and_the_others_of_its_block_are_mined(
    embedded_chain: EmbeddedChain, new_signer: NewSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = new_signer(embedded_chain), new_signer(embedded_chain)
    to = Account.create().address
    good = transfer(embedded_chain, second, to)
    used_nonce = second.sign(embedded_chain, {"to": to, "value": 7, "gas": 21_000, "nonce": 0})

    a, b = _send_together(
        embedded_chain,
        monkeypatch,
        [[transfer(embedded_chain, first, to)], [good, used_nonce]],
    )

    assert isinstance(a, list) and len(a) == 1
    assert isinstance(b, InvalidTransaction)
    assert b.index == 1  # its place in its own call, not in the merged block
    assert embedded_chain.w3.eth.get_balance(to) == 1  # nothing of the refused call


def test_calls_whose_gas_overflows_one_block_take_the_next(
    embedded_chain: EmbeddedChain, new_signer: NewSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = new_signer(embedded_chain), new_signer(embedded_chain)
    to = Account.create().address
    big = GAS_LIMIT * 3 // 5  # two of them do not fit one block

    a, b = _send_together(
        embedded_chain,
        monkeypatch,
        [
            [first.sign(embedded_chain, {"to": to, "value": 1, "gas": big})],
            [second.sign(embedded_chain, {"to": to, "value": 1, "gas": big})],
        ],
    )

    assert isinstance(a, list) and isinstance(b, list)
    assert b[0]["blockNumber"] == a[0]["blockNumber"] + 1


def test_in_memory_chain_when_no_data_dir_is_given(new_signer: NewSigner) -> None:
    with open_chain(chain_id=31337, block_period=0) as chain:
        assert isinstance(chain, EmbeddedChain)
        assert chain.w3.eth.chain_id == 31337
        signer = new_signer(chain)
        assert chain.w3.eth.get_balance(signer.address) == 100 * 10**18


def test_closed_chain_refuses_writes(tmp_path: object) -> None:
    chain = open_chain(block_period=0)
    chain.close()
    chain.close()  # idempotent
    with pytest.raises(Exception, match="closed"):
        chain.time_travel(1)


@pytest.mark.slow
def test_block_timestamps_stay_within_2s_of_wall_clock_under_sustained_load(
    new_signer: NewSigner,
) -> None:
    """Real time: 15 single-transaction blocks back to back with the default period."""
    with open_chain(block_period=1.0) as chain:
        signer = new_signer(chain)
        to = Account.create().address
        previous = chain.latest_timestamp()
        for _ in range(15):
            (receipt,) = chain.send_raw_transactions([transfer(chain, signer, to)])
            wall = time.time()
            stamp = chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
            assert abs(stamp - wall) <= 2, (stamp, wall)
            assert stamp > previous
            previous = stamp
        assert Web3.to_checksum_address(to) and chain.w3.eth.get_balance(to) == 15

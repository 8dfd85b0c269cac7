"""The embedded chain on disk: a mined block survives SIGKILL, and reopening resumes
where the chain stood without replaying it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from eth.vm.base import VM
from eth_account import Account
from eth_typing import ChecksumAddress, HexAddress, HexStr

from ledger.chain import open_chain
from ledger.chain.base import Chain, TransactionSigner
from ledger.chain.embedded import EmbeddedChain
from ledger.errors import ChainLocked, LedgerError

NewSigner = Callable[[Chain], TransactionSigner]
WORKER = Path(__file__).with_name("chain_worker.py")
RECIPIENT = ChecksumAddress(HexAddress(HexStr("0x000000000000000000000000000000000000c0DE")))
REPO = Path(__file__).resolve().parents[3]


def run_worker_until_killed(data_dir: Path, lines: int) -> tuple[int, str, int]:
    """Start the worker, SIGKILL it mid-stream after ``lines`` blocks; return the last one."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert worker.stdout is not None
    last = ""
    try:
        for _ in range(lines):
            line = worker.stdout.readline()
            if not line:
                raise AssertionError(f"worker died: {worker.communicate()[1]}")
            last = line
    finally:
        worker.send_signal(signal.SIGKILL)  # the worker is busy mining the next block
        worker.communicate()
    number, block_hash, balance = last.split()
    return int(number), block_hash, int(balance)


@pytest.mark.slow
def test_head_survives_sigkill(tmp_path: Path) -> None:
    mined_transfers = 0
    for lines in (5, 23, 11):  # kill at different points, resuming the same chain each time
        number, block_hash, balance = run_worker_until_killed(tmp_path, lines)

        with EmbeddedChain(tmp_path / "chain.sqlite3", block_period=0) as chain:
            w3 = chain.w3
            head = w3.eth.block_number
            assert head >= number
            assert w3.eth.get_block(number)["hash"].to_0x_hex() == block_hash
            assert w3.eth.get_balance(RECIPIENT, number) == balance
            # Every block after genesis carries exactly three transfers, none lost or torn.
            assert w3.eth.get_balance(RECIPIENT) == 3 * head
            assert balance > mined_transfers
            mined_transfers = balance
            # And the chain goes on from there.
            faucet = TransactionSigner((tmp_path / "faucet.key").read_text().strip())
            (receipt,) = chain.send_raw_transactions(
                [faucet.sign(chain, {"to": RECIPIENT, "value": 3, "gas": 21_000})]
            )
            assert receipt["blockNumber"] == head + 1


def test_close_and_reopen_keeps_head_state_and_timestamps(
    tmp_path: Path, new_signer: NewSigner
) -> None:
    to = Account.create().address
    with open_chain(data_dir=tmp_path, block_period=0) as chain:
        signer = new_signer(chain)
        for value in (1, 2, 3):
            chain.send_raw_transactions([signer.sign(chain, {"to": to, "value": value})])
        chain.time_travel(1000)
        head = chain.w3.eth.get_block("latest")
        blocks = [chain.w3.eth.get_block(n) for n in range(head["number"] + 1)]

    with open_chain(data_dir=tmp_path, block_period=0) as chain:
        assert chain.w3.eth.get_block("latest") == head
        assert [chain.w3.eth.get_block(n) for n in range(head["number"] + 1)] == blocks
        assert chain.latest_timestamp() == head["timestamp"]
        assert chain.w3.eth.get_balance(to) == 6
        # Nonce and time offset carry over: the next block follows on.
        (receipt,) = chain.send_raw_transactions(
            [TransactionSigner(signer.account).sign(chain, {"to": to, "value": 4})]
        )
        assert receipt["blockNumber"] == head["number"] + 1
        assert chain.latest_timestamp() >= int(time.time()) + 1000 - 2


def test_reopen_is_fast_and_does_not_replay_history(
    tmp_path: Path, new_signer: NewSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_chain(data_dir=tmp_path, block_period=0) as chain:
        signer = new_signer(chain)
        for _ in range(100):
            chain.send_raw_transactions([signer.sign(chain, {"to": signer.address, "gas": 21_000})])
        head = chain.w3.eth.block_number

    def no_replay(*args: object, **kwargs: object) -> None:
        raise AssertionError("reopening executed a transaction")

    monkeypatch.setattr(VM, "apply_transaction", no_replay)
    started = time.perf_counter()
    with open_chain(data_dir=tmp_path, block_period=0) as chain:
        assert chain.w3.eth.block_number == head
    assert time.perf_counter() - started < 0.5


def test_second_opener_of_a_data_dir_is_refused(tmp_path: Path) -> None:
    with open_chain(data_dir=tmp_path, block_period=0), pytest.raises(ChainLocked):
        open_chain(data_dir=tmp_path, block_period=0)
    # Released on close: a new opener succeeds.
    open_chain(data_dir=tmp_path, block_period=0).close()


def test_reopening_with_another_chain_id_is_refused(tmp_path: Path) -> None:
    open_chain(data_dir=tmp_path, chain_id=20260).close()
    with pytest.raises(LedgerError, match="chain id 20260"):
        open_chain(data_dir=tmp_path, chain_id=1)
    open_chain(data_dir=tmp_path, chain_id=20260).close()  # the lock was released

"""Behaviour every backend must share: the contract the rest of the ledger relies on."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account import Account
from eth_typing import ChecksumAddress
from web3 import Web3

from ledger.chain.base import DEFAULT_CHAIN_ID, Chain, TransactionSigner
from ledger.errors import ExecutionReverted, InvalidTransaction

NewSigner = Callable[[Chain], TransactionSigner]
Deploy = Callable[[Chain, TransactionSigner, str], ChecksumAddress]


def test_chain_id_is_the_configured_one(chain: Chain) -> None:
    assert chain.chain_id == DEFAULT_CHAIN_ID
    assert chain.w3.eth.chain_id == DEFAULT_CHAIN_ID


def test_batch_is_mined_with_receipts_in_submission_order(
    chain: Chain, new_signer: NewSigner
) -> None:
    signer = new_signer(chain)
    recipients = [Account.create().address for _ in range(5)]
    raws = signer.sign_many(chain, [{"to": r, "value": 7, "gas": 21_000} for r in recipients])

    receipts = chain.send_raw_transactions(raws)

    assert [r["transactionHash"] for r in receipts] == [Web3.keccak(raw) for raw in raws]
    assert all(r["status"] == 1 for r in receipts)
    assert [chain.w3.eth.get_balance(r) for r in recipients] == [7] * 5
    assert chain.w3.eth.block_number == max(r["blockNumber"] for r in receipts)


def test_empty_batch_mines_nothing(chain: Chain) -> None:
    head = chain.w3.eth.block_number
    assert chain.send_raw_transactions([]) == []
    assert chain.w3.eth.block_number == head


def test_time_travel_moves_chain_time_seen_by_later_transactions(
    chain: Chain, new_signer: NewSigner, deploy: Deploy
) -> None:
    signer = new_signer(chain)
    clock = deploy(chain, signer, "clock")
    before = chain.latest_timestamp()

    chain.time_travel(3600)

    assert chain.latest_timestamp() >= before + 3600
    (receipt,) = chain.send_raw_transactions([signer.sign(chain, {"to": clock, "gas": 100_000})])
    seen = int.from_bytes(chain.w3.eth.get_storage_at(clock, 0), "big")
    assert seen >= before + 3600
    assert seen == chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    (log,) = chain.w3.eth.get_logs({"address": clock, "fromBlock": receipt["blockNumber"]})
    assert int.from_bytes(log["topics"][1], "big") == seen


def test_fund_adds_wei_to_the_balance(chain: Chain) -> None:
    address = Account.create().address
    chain.fund(address, 5)
    chain.fund(address, 10**18)
    assert chain.w3.eth.get_balance(address) == 10**18 + 5


def test_reverting_transaction_is_mined_with_status_zero(
    chain: Chain, new_signer: NewSigner, deploy: Deploy
) -> None:
    signer = new_signer(chain)
    reverter = deploy(chain, signer, "reverter")
    ok_to = Account.create().address
    raws = signer.sign_many(
        chain, [{"to": reverter, "gas": 50_000}, {"to": ok_to, "value": 1, "gas": 21_000}]
    )

    failed, ok = chain.send_raw_transactions(raws)

    assert (failed["status"], ok["status"]) == (0, 1)
    assert chain.w3.eth.get_balance(ok_to) == 1


def test_stale_nonce_is_refused_and_resync_recovers(chain: Chain, new_signer: NewSigner) -> None:
    signer = new_signer(chain)
    to = Account.create().address
    chain.send_raw_transactions([signer.sign(chain, {"to": to, "value": 1, "gas": 21_000})])
    replay = signer.sign(chain, {"to": to, "value": 1, "gas": 21_000, "nonce": 0})

    with pytest.raises(InvalidTransaction, match="nonce") as refused:
        chain.send_raw_transactions([replay])
    assert refused.value.index == 0

    signer.resync()
    (receipt,) = chain.send_raw_transactions([signer.sign(chain, {"to": to, "value": 1})])
    assert receipt["status"] == 1
    assert chain.w3.eth.get_balance(to) == 2


def test_transaction_without_funds_is_refused(chain: Chain) -> None:
    pauper = TransactionSigner(Account.create().key)
    with pytest.raises(InvalidTransaction):
        chain.send_raw_transactions(
            [pauper.sign(chain, {"to": pauper.address, "value": 1, "gas": 21_000})]
        )


def test_signer_fills_chain_id_fees_and_estimated_gas(chain: Chain, new_signer: NewSigner) -> None:
    signer = new_signer(chain)
    raw = signer.sign(chain, {"to": Account.create().address, "value": 3})
    (receipt,) = chain.send_raw_transactions([raw])
    tx = chain.w3.eth.get_transaction(receipt["transactionHash"])
    assert tx["chainId"] == chain.chain_id
    assert tx["type"] == 2
    assert tx["gas"] >= 21_000
    assert tx["maxFeePerGas"] >= chain.w3.eth.get_block(receipt["blockNumber"])["baseFeePerGas"]


def test_log_indexes_count_across_the_whole_block(
    chain: Chain, new_signer: NewSigner, deploy: Deploy
) -> None:
    """JSON-RPC numbers logs per block; eth-tester alone would restart at 0 per tx."""
    signer = new_signer(chain)
    clock = deploy(chain, signer, "clock")
    raws = signer.sign_many(chain, [{"to": clock, "gas": 100_000}] * 3)
    receipts = chain.send_raw_transactions(raws)
    block = receipts[-1]["blockNumber"]
    logs = chain.w3.eth.get_logs(
        {"address": clock, "fromBlock": receipts[0]["blockNumber"], "toBlock": block}
    )
    indexes = [(log["blockNumber"], log["logIndex"]) for log in logs]
    assert len(set(indexes)) == 3
    from_receipts = [(r["blockNumber"], log["logIndex"]) for r in receipts for log in r["logs"]]
    assert sorted(from_receipts) == sorted(indexes)


def test_get_logs_agrees_with_web3_across_blocks_transactions_and_addresses(
    chain: Chain, new_signer: NewSigner, deploy: Deploy
) -> None:
    """The embedded chain reads logs from py-evm's receipts itself (bloom-skipping blocks):
    the same entries, numbered per block, as the node's ``eth_getLogs``."""
    signer = new_signer(chain)
    clocks = [deploy(chain, signer, "clock") for _ in range(2)]
    start = chain.head_number() + 1
    for _ in range(2):
        txs = [{"to": clocks[i % 2], "gas": 100_000} for i in range(3)]
        chain.send_raw_transactions(signer.sign_many(chain, txs))
    chain.send_raw_transactions([transfer_to_self(chain, signer)])  # a block without logs
    end = chain.head_number()

    for addresses in ([clocks[0]], clocks):
        ours = chain.get_logs(start, end, addresses)
        theirs = chain.w3.eth.get_logs(
            {"fromBlock": start, "toBlock": end, "address": addresses}  # type: ignore[typeddict-item]
        )
        assert [
            (e["blockNumber"], e["logIndex"], e["address"], e["topics"], e["transactionHash"])
            for e in ours
        ] == [
            (
                int(t["blockNumber"]),
                int(t["logIndex"]),
                t["address"],
                [bytes(x) for x in t["topics"]],
                bytes(t["transactionHash"]),
            )
            for t in theirs
        ]
    assert len(chain.get_logs(start, end, clocks)) == 6


def transfer_to_self(chain: Chain, signer: TransactionSigner) -> bytes:
    return signer.sign(chain, {"to": signer.address, "value": 1, "gas": 21_000})


def test_head_reads_agree_with_web3_and_follow_new_blocks(
    chain: Chain, new_signer: NewSigner
) -> None:
    signer = new_signer(chain)
    head = chain.head_number()
    assert head == chain.w3.eth.block_number

    (receipt,) = chain.send_raw_transactions(
        [signer.sign(chain, {"to": Account.create().address, "value": 1, "gas": 21_000})]
    )

    assert chain.head_number() == receipt["blockNumber"] > head
    assert chain.latest_timestamp() == chain.w3.eth.get_block("latest")["timestamp"]


def test_storage_at_reads_a_slot_now_and_at_an_earlier_block(
    chain: Chain, new_signer: NewSigner, deploy: Deploy
) -> None:
    signer = new_signer(chain)
    clock = deploy(chain, signer, "clock")
    before = chain.head_number()

    (receipt,) = chain.send_raw_transactions([signer.sign(chain, {"to": clock, "gas": 100_000})])

    stamped = chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert chain.storage_at(clock, 0) == stamped
    assert chain.storage_at(clock, 0, receipt["blockNumber"]) == stamped
    assert chain.storage_at(clock, 0, before) == 0
    assert chain.storage_at(clock, 1) == 0


def test_call_returns_output_and_raises_revert_data(
    chain: Chain, new_signer: NewSigner, deploy: Deploy
) -> None:
    signer = new_signer(chain)
    clock = deploy(chain, signer, "clock")
    reverter = deploy(chain, signer, "reverter")
    chain.send_raw_transactions([signer.sign(chain, {"to": clock, "gas": 100_000})])
    last_seen = Web3.keccak(text="lastSeen()")[:4]

    output = chain.call(clock, last_seen, sender=signer.address)

    assert int.from_bytes(output, "big") == chain.storage_at(clock, 0) > 0
    with pytest.raises(ExecutionReverted) as refused:
        chain.call(reverter, b"\x01\x02\x03\x04", sender=signer.address)
    assert refused.value.data == Web3.keccak(text="RevertProbeAlwaysReverts()")[:4]


def test_get_logs_and_block_stamp_have_one_shape_on_both_backends(
    chain: Chain, new_signer: NewSigner, deploy: Deploy
) -> None:
    signer = new_signer(chain)
    clock = deploy(chain, signer, "clock")
    (receipt,) = chain.send_raw_transactions([signer.sign(chain, {"to": clock, "gas": 100_000})])
    number = receipt["blockNumber"]

    (entry,) = chain.get_logs(number, number, [clock])

    block = chain.w3.eth.get_block(number)
    assert entry["address"] == clock
    assert entry["topics"][1] == chain.storage_at(clock, 0).to_bytes(32, "big")
    assert entry["data"] == b""
    assert (entry["blockNumber"], entry["logIndex"]) == (number, 0)
    assert entry["blockHash"] == bytes(block["hash"])
    assert entry["transactionHash"] == bytes(receipt["transactionHash"])
    assert chain.block_stamp(number) == (bytes(block["hash"]), block["timestamp"])

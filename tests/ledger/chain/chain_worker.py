"""Helper process for the SIGKILL test (not a test module).

Opens the embedded chain in ``argv[1]`` and mines forever: each block carries three
1-wei transfers from the faucet to a fixed recipient. After each
``send_raw_transactions`` returns it prints ``<number> <hash> <recipient balance>``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from eth_typing import ChecksumAddress, HexAddress, HexStr

from ledger.chain.base import TransactionSigner
from ledger.chain.embedded import EmbeddedChain

RECIPIENT = ChecksumAddress(HexAddress(HexStr("0x000000000000000000000000000000000000c0DE")))


def main() -> None:
    data_dir = Path(sys.argv[1])
    chain = EmbeddedChain(data_dir / "chain.sqlite3", block_period=0)
    faucet = TransactionSigner((data_dir / "faucet.key").read_text().strip())
    while True:
        raws = faucet.sign_many(chain, [{"to": RECIPIENT, "value": 1, "gas": 21_000}] * 3)
        (*_, receipt) = chain.send_raw_transactions(raws)
        balance = chain.w3.eth.get_balance(RECIPIENT)
        print(receipt["blockNumber"], receipt["blockHash"].to_0x_hex(), balance, flush=True)


if __name__ == "__main__":
    main()

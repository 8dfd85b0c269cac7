"""``StateReader`` answers every storage word as py-evm's ``AccountDB`` does, at any root."""

from __future__ import annotations

from collections.abc import Callable

from eth.db.account import AccountDB
from eth_account import Account
from eth_typing import ChecksumAddress
from eth_utils import to_canonical_address

from ledger.chain.base import Chain, TransactionSigner
from ledger.chain.embedded import EmbeddedChain
from ledger.chain.sqlite_db import SqliteDB
from ledger.chain.state_reader import StateReader

NewSigner = Callable[[Chain], TransactionSigner]
Deploy = Callable[[Chain, TransactionSigner, str], ChecksumAddress]


def _py_evm(db: SqliteDB, root: bytes, address: str, slot: int) -> int:
    return int(AccountDB(db, root).get_storage(to_canonical_address(address), slot))  # type: ignore[arg-type]


def _root(chain: EmbeddedChain, block: int) -> bytes:
    return bytes(chain._evm.chaindb.get_canonical_block_header_by_number(block).state_root)  # type: ignore[arg-type]


def test_every_word_read_at_every_root_equals_py_evms_answer(
    embedded_chain: EmbeddedChain, new_signer: NewSigner, deploy: Deploy
) -> None:
    chain = embedded_chain
    signer = new_signer(chain)
    clock = deploy(chain, signer, "clock")
    for _ in range(3):  # three blocks, each stamping slot 0 anew
        chain.time_travel(60)
        chain.send_raw_transactions([signer.sign(chain, {"to": clock, "gas": 100_000})])
    assert chain.db_path is not None
    reader_db = SqliteDB(chain.db_path, read_only=True)
    reader = StateReader(reader_db, nodes=4)  # a small cache: evictions are exercised
    try:
        stranger = Account.create().address
        seen = set()
        for block in range(chain.head_number() + 1):
            root = _root(chain, block)
            for address in (clock, signer.address, stranger):
                for slot in (0, 1, 2**255):
                    expected = _py_evm(reader_db, root, address, slot)
                    assert reader.storage(root, address, slot) == expected
                    seen.add(expected)
        # The probe's stamps differ block to block: the reader followed each root.
        assert len(seen) >= 4
    finally:
        reader_db.close()

"""Storage words read straight from the state trie under a root, its nodes remembered.

The relayer's admission reads a few storage words per intent (enrolment, the signer's
nonce bitmap, a department's status) at the head. py-evm's ``AccountDB`` answers them, but
builds journals and caches per instance and walks both tries from the database each time:
a fifth of a worker's CPU per grant under load. Here the two walks are ``HexaryTrie``
lookups over a remembered-node view of the database. Trie nodes are keyed by their own
hash and never deleted, so a remembered node is never stale, readers need no lock, and
the upper nodes every walk shares (the account trie's, the ledger's storage root) are
read from SQLite once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import rlp
from eth.abc import DatabaseAPI
from eth.constants import BLANK_ROOT_HASH
from eth.rlp.accounts import Account
from eth_utils import keccak, to_canonical_address
from trie import HexaryTrie

#: Trie nodes kept in memory (a few hundred bytes each: tens of MiB at most).
NODES_REMEMBERED = 1 << 16


class _Nodes:
    """The mapping ``HexaryTrie`` reads, over ``db`` with an LRU of found nodes (a node
    not found is not remembered: it is a caller's error, or a root not yet written)."""

    def __init__(self, db: DatabaseAPI, size: int) -> None:
        self._get: Callable[[bytes], bytes] = functools.lru_cache(maxsize=size)(db.__getitem__)

    def __getitem__(self, key: bytes) -> bytes:
        return self._get(key)

    def __contains__(self, key: object) -> bool:
        try:
            self._get(key)  # type: ignore[arg-type]
        except KeyError:
            return False
        return True


class StateReader:
    """``storage(root, address, slot)`` as py-evm's ``AccountDB(db, root).get_storage``
    answers it (a test holds the two equal), without its per-call set-up."""

    def __init__(self, db: DatabaseAPI, *, nodes: int = NODES_REMEMBERED) -> None:
        self._nodes = _Nodes(db, nodes)

    def storage(self, root: bytes, address: str, slot: int) -> int:
        storage_root = self._storage_root(root, to_canonical_address(address))
        if storage_root == BLANK_ROOT_HASH:
            return 0
        encoded = HexaryTrie(self._nodes, storage_root).get(keccak(slot.to_bytes(32, "big")))
        return int(rlp.decode(encoded, sedes=rlp.sedes.big_endian_int)) if encoded else 0

    @functools.lru_cache(maxsize=256)  # noqa: B019 (one reader per chain, kept for its life)
    def _storage_root(self, root: bytes, address: bytes) -> bytes:
        encoded = HexaryTrie(self._nodes, root).get(keccak(address))
        if not encoded:
            return BLANK_ROOT_HASH
        return bytes(rlp.decode(encoded, sedes=Account).storage_root)

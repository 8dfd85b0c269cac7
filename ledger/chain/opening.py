"""Opening a chain by what the operator gave: a node's URL, or the embedded chain's
directory. Apart from :mod:`ledger.chain.base` so the interface imports no backend."""

from __future__ import annotations

from pathlib import Path

from ledger.chain.base import DEFAULT_CHAIN_ID, Chain
from ledger.chain.embedded import EmbeddedChain
from ledger.chain.process import ProcessChain
from ledger.chain.rpc import RpcChain

#: A URL naming the embedded chain served from its own process (``consent serve`` with
#: workers): ``embedded+http://127.0.0.1:PORT``.
PROCESS_SCHEME = "embedded+"


def open_chain(
    *,
    data_dir: Path | None = None,
    url: str | None = None,
    block_period: float = 1.0,
    chain_id: int = DEFAULT_CHAIN_ID,
) -> Chain:
    """Connect to ``url`` if given, else open (or create) the embedded chain in ``data_dir``.

    With neither, the embedded chain lives in memory (handy for tests; gone on close).
    ``block_period`` and ``chain_id`` apply to the embedded chain; a node has its own.
    """
    if url is not None and url.startswith(PROCESS_SCHEME):
        return ProcessChain(url.removeprefix(PROCESS_SCHEME))
    if url is not None:
        return RpcChain(url)
    path = None if data_dir is None else Path(data_dir) / "chain.sqlite3"
    return EmbeddedChain(path, block_period=block_period, chain_id=chain_id)

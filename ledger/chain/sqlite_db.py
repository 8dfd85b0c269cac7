"""A SQLite-backed key-value store for py-evm, so the embedded chain survives restarts.

py-evm ships only an in-memory database. Its chain code writes content-addressed
trie nodes one by one and everything that makes a block canonical (header, head
pointer, transaction index) inside one ``atomic_batch``; mapping each batch onto one
SQLite transaction therefore makes "block mined" and "block on disk" the same event.
WAL with ``synchronous=NORMAL`` keeps every commit across a process kill (not
across a power cut, which would need ``FULL``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eth.abc import AtomicWriteBatchAPI, DatabaseAPI
from eth.db.backends.base import BaseAtomicDB, BaseDB

_DELETED = object()


class SqliteDB(BaseAtomicDB):
    """``AtomicDatabaseAPI`` over one SQLite file (``None`` or ``":memory:"``: in memory).

    ``read_only``: another process's chain file, read while that process writes it (WAL
    lets readers in other processes see each committed transaction whole)."""

    def __init__(self, path: Path | str | None = None, *, read_only: bool = False) -> None:
        self._lock = threading.RLock()
        if read_only:
            target = f"{Path(str(path)).resolve().as_uri()}?mode=ro"
        else:
            target = ":memory:" if path is None else str(path)
        self._conn = sqlite3.connect(
            target,
            isolation_level=None,  # autocommit; batches issue BEGIN/COMMIT themselves
            check_same_thread=False,  # every use is under self._lock
            uri=read_only,
        )
        if read_only:
            return
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID"
        )

    def __getitem__(self, key: bytes) -> bytes:
        with self._lock:
            row = self._conn.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def __setitem__(self, key: bytes, value: bytes) -> None:
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, value))

    def __delitem__(self, key: bytes) -> None:
        with self._lock:
            if self._conn.execute("DELETE FROM kv WHERE k = ?", (key,)).rowcount == 0:
                raise KeyError(key)

    def _exists(self, key: bytes) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM kv WHERE k = ?", (key,)).fetchone() is not None

    @contextmanager
    def atomic_batch(self) -> Iterator[AtomicWriteBatchAPI]:
        """Collect writes in memory; commit them as one SQLite transaction, or none on error."""
        batch = _WriteBatch(self)
        try:
            yield batch
            pending = batch.close()
            with self._lock:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    for key, value in pending.items():
                        if value is _DELETED:
                            self._conn.execute("DELETE FROM kv WHERE k = ?", (key,))
                        else:
                            self._conn.execute(
                                "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, value)
                            )
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
        finally:
            batch.close()

    def close(self) -> None:
        """Checkpoint the WAL and close the file; idempotent."""
        with self._lock:
            self._conn.close()


class _WriteBatch(BaseDB, AtomicWriteBatchAPI):
    """The readable view py-evm writes a batch into; unusable once its batch has ended."""

    def __init__(self, target: DatabaseAPI) -> None:
        self._target = target
        self._pending: dict[bytes, object] | None = {}

    def _live(self) -> dict[bytes, object]:
        if self._pending is None:
            raise RuntimeError("write batch used outside its atomic_batch() context")
        return self._pending

    def __getitem__(self, key: bytes) -> bytes:
        value = self._live().get(key)
        if value is _DELETED:
            raise KeyError(key)
        if value is None:
            return self._target[key]
        assert isinstance(value, bytes)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._live()[key] = value

    def __delitem__(self, key: bytes) -> None:
        if key not in self:
            raise KeyError(key)
        self._live()[key] = _DELETED

    def _exists(self, key: bytes) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def close(self) -> dict[bytes, object]:
        pending, self._pending = self._pending or {}, None
        return pending

"""SqliteDB: py-evm's atomic batches map onto SQLite transactions."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.chain.sqlite_db import SqliteDB


def test_writes_and_deletes_persist_across_reopen(tmp_path: Path) -> None:
    db = SqliteDB(tmp_path / "kv.sqlite3")
    db[b"a"] = b"1"
    db[b"b"] = b"2"
    del db[b"b"]
    db.close()

    db = SqliteDB(tmp_path / "kv.sqlite3")
    assert db[b"a"] == b"1"
    assert b"b" not in db
    with pytest.raises(KeyError):
        db[b"b"]
    with pytest.raises(KeyError):
        del db[b"b"]


def test_batch_reads_its_own_writes_and_commits_them_together() -> None:
    db = SqliteDB()
    db[b"old"] = b"x"
    with db.atomic_batch() as batch:
        batch[b"new"] = b"y"
        del batch[b"old"]
        assert batch[b"new"] == b"y"
        assert b"old" not in batch
        assert b"new" not in db  # invisible outside until commit
        assert db[b"old"] == b"x"
    assert db[b"new"] == b"y"
    assert b"old" not in db


def test_batch_that_raises_writes_nothing() -> None:
    db = SqliteDB()
    db[b"keep"] = b"1"
    with pytest.raises(RuntimeError), db.atomic_batch() as batch:
        batch[b"lost"] = b"2"
        del batch[b"keep"]
        raise RuntimeError("boom")
    assert db[b"keep"] == b"1"
    assert b"lost" not in db


def test_batch_cannot_be_used_after_its_context() -> None:
    db = SqliteDB()
    with db.atomic_batch() as batch:
        pass
    with pytest.raises(RuntimeError, match="outside"):
        batch[b"late"] = b"1"

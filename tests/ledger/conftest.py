"""Stores for the ledger's tests: a SQLite file, or a schema of its own on the test
PostgreSQL (required in CI, skipped elsewhere when no server answers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from ledger.store import Store
from tests.postgres import pg_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'read-model.sqlite3'}"
        else:
            url = stack.enter_context(pg_schema())
        store = Store(url)
        try:
            yield store
        finally:
            store.close()

"""The store: its uint64 columns, idempotent inserts on both dialects, the read model it
can drop, and the layout it records."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import StatementError

from api.tables import webhooks  # the API's tables, on the store's metadata
from ledger.store import (
    LAYOUT,
    READ_MODEL,
    Store,
    events,
    indexed_blocks,
    journal,
    record_versions,
    store_layout,
)

UINT64_TOP = 2**64 - 1


def test_a_uint64_column_keeps_order_and_refuses_sql_arithmetic(any_store: Store) -> None:
    values = [0, 1, 2**63 - 1, 2**63, 2**63 + 1, UINT64_TOP]
    with any_store.begin() as c:
        c.execute(
            record_versions.insert(),
            [
                {"resident": "0xR", "version": v, "root": "0x00", "block_number": 1}
                for v in reversed(values)
            ],
        )
    column = record_versions.c.version
    with any_store.connect() as c:
        ordered = c.execute(select(column).order_by(column)).scalars().all()
        above = c.execute(select(column).where(column >= 2**63).order_by(column)).scalars().all()
        chosen = c.execute(select(column).where(column.in_([1, UINT64_TOP]))).scalars().all()
        biggest = c.execute(select(func.max(column))).scalar()
    assert ordered == values
    assert above == [2**63, 2**63 + 1, UINT64_TOP]
    assert sorted(chosen) == [1, UINT64_TOP]
    assert biggest == UINT64_TOP
    with pytest.raises(TypeError, match="no SQL arithmetic"):
        column + 1
    with pytest.raises(StatementError, match="is not a uint64"), any_store.connect() as c:
        c.execute(select(column).where(column == 2**64))


def test_insert_or_ignore_keeps_the_first_row_on_both_dialects(any_store: Store) -> None:
    rows = [{"number": 7, "hash": "0x" + "aa" * 32, "timestamp": 1}]
    with any_store.begin() as c:
        c.execute(any_store.upsert_ignore(indexed_blocks), rows)
        c.execute(any_store.upsert_ignore(indexed_blocks), [{**rows[0], "hash": "0x" + "bb" * 32}])
    with any_store.connect() as c:
        assert c.execute(select(indexed_blocks.c.hash)).scalars().all() == ["0x" + "aa" * 32]


def test_a_new_database_records_the_current_layout_and_reopens_unchanged(any_store: Store) -> None:
    with any_store.connect() as c:
        assert c.execute(select(store_layout.c.layout)).scalar_one() == LAYOUT
    Store(any_store.url).close()
    with any_store.connect() as c:
        assert c.execute(select(func.count()).select_from(store_layout)).scalar_one() == 1


def test_dropping_the_read_model_keeps_nothing_derived(any_store: Store) -> None:
    with any_store.begin() as c:
        c.execute(indexed_blocks.insert().values(number=1, hash="0x01", timestamp=1))
    any_store.drop_read_model()
    with any_store.connect() as c:
        for table in READ_MODEL:
            assert c.execute(select(func.count()).select_from(table)).scalar_one() == 0
    assert events in READ_MODEL


def test_a_layout_2_database_gains_the_journal_owner_and_keeps_its_rows(any_store: Store) -> None:
    """Layout 3 adds ``journal.relayer`` and the webhooks' lease in place: rows written
    before keep everything and name no relayer (the first relayer to recover claims them)."""
    with any_store.begin() as c:
        c.execute(
            journal.insert().values(
                name="Grant", body="{}", side_effects="{}", state="queued", created_at=7
            )
        )
    with any_store.begin() as c:  # what layout 2 looked like
        c.execute(text("ALTER TABLE journal DROP COLUMN relayer"))
        c.execute(text("ALTER TABLE webhooks DROP COLUMN lease_owner"))
        c.execute(text("ALTER TABLE webhooks DROP COLUMN lease_until"))
        c.execute(update(store_layout).values(layout=2))
    url = any_store.url
    any_store.close()

    upgraded = Store(url)
    try:
        with upgraded.connect() as c:
            assert c.execute(select(store_layout.c.layout)).scalar_one() == LAYOUT == 3
            (row,) = c.execute(select(journal)).mappings().all()
        assert (row["state"], row["created_at"], row["relayer"]) == ("queued", 7, None)
        with upgraded.connect() as c:
            assert c.execute(select(webhooks.c.lease_owner, webhooks.c.lease_until)).all() == []
        Store(url).close()  # opening it again changes nothing
    finally:
        upgraded.close()

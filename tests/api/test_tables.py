"""The API's tables live in the API, on the store's metadata: the store creates them with
the same names, columns and indexes as when ``ledger.store`` defined them, so a
database of store layout 2 needs no migration."""

from __future__ import annotations

from sqlalchemy import inspect

from api.tables import challenges, revoked_tokens
from ledger.store import Store, metadata


def test_the_store_creates_the_apis_tables_as_the_ledger_defined_them() -> None:
    assert challenges.metadata is metadata is revoked_tokens.metadata
    store = Store("sqlite://")
    try:
        schema = inspect(store.engine)

        def columns(table: str) -> dict[str, tuple[str, bool]]:
            return {c["name"]: (str(c["type"]), c["nullable"]) for c in schema.get_columns(table)}

        assert columns("auth_challenges") == {
            "nonce": ("VARCHAR(64)", False),
            "address": ("VARCHAR(42)", False),
            "message": ("TEXT", False),
            "expires_at": ("BIGINT", False),
            "used": ("BOOLEAN", False),
        }
        assert schema.get_pk_constraint("auth_challenges")["constrained_columns"] == ["nonce"]
        indexes = {i["name"]: i["column_names"] for i in schema.get_indexes("auth_challenges")}
        assert indexes == {
            "ix_auth_challenges_address": ["address", "expires_at"],
            "ix_auth_challenges_expires": ["expires_at"],
        }
        assert columns("revoked_tokens") == {
            "digest": ("VARCHAR(64)", False),
            "subject": ("VARCHAR(42)", False),
            "expires_at": ("BIGINT", False),
        }
        assert schema.get_pk_constraint("revoked_tokens")["constrained_columns"] == ["digest"]
        assert [i["column_names"] for i in schema.get_indexes("revoked_tokens")] == [["expires_at"]]
    finally:
        store.close()

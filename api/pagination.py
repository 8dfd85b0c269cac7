"""Opaque cursors for ``{"data": [...], "next_cursor": ...}`` lists."""

from __future__ import annotations

import base64
import json
from typing import Any

from api.errors import BadRequest

DEFAULT_LIMIT = 100
#: Positions are block numbers, log indexes and consent ids as the database holds them.
MAX_POSITION = 2**63 - 1
MAX_LIMIT = 1000


def encode_cursor(position: list[Any]) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, length: int) -> list[Any] | None:
    """The position a cursor names; a garbled one is a 422 problem."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"invalid cursor {cursor!r}") from exc
    if not isinstance(position, list) or len(position) != length:
        raise BadRequest(f"invalid cursor {cursor!r}")
    if not all(
        isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= MAX_POSITION for p in position
    ):
        raise BadRequest(f"invalid cursor {cursor!r}")
    return position


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    return limit

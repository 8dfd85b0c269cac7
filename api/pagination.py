"""Opaque cursors for ``{"data": [...], "next_cursor": ...}`` lists.

Every list endpoint takes ``cursor`` (the previous page's ``next_cursor``) and ``limit``
(1 to :data:`MAX_LIMIT`, default :data:`DEFAULT_LIMIT`), declared once as
:data:`CursorQuery` and :data:`LimitQuery` so OpenAPI shows the same parameters
everywhere. A cursor is a keyset position (never an offset), so a page costs the same
however deep it is and rows added meanwhile neither repeat nor vanish.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Annotated, Any

from fastapi import Query

from api.errors import BadRequest

DEFAULT_LIMIT = 100
#: Positions are block numbers, log indexes and consent ids as the database holds them.
MAX_POSITION = 2**63 - 1
MAX_LIMIT = 1000
_HEX32 = re.compile(r"0x[0-9a-f]{64}")

CursorQuery = Annotated[
    str | None,
    Query(max_length=512, description="`next_cursor` of the previous page; omit for the first"),
]
LimitQuery = Annotated[
    int | None,
    Query(ge=1, le=MAX_LIMIT, description=f"Page size (default {DEFAULT_LIMIT})"),
]


def encode_cursor(position: list[Any]) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    cursor: str | None, length: int, *, hex_at: tuple[int, ...] = ()
) -> list[Any] | None:
    """The position a cursor names; a garbled one is a 422 problem. Positions are
    integers, except those at ``hex_at``: lower-case 0x-hex of 32 bytes (an id)."""
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
        (isinstance(p, str) and _HEX32.fullmatch(p) is not None)
        if i in hex_at
        else (isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= MAX_POSITION)
        for i, p in enumerate(position)
    ):
        raise BadRequest(f"invalid cursor {cursor!r}")
    return position


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    return limit

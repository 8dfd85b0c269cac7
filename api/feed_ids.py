"""Notification ids: chain positions, for events and for what is derived from them.

A feed is ordered by position ``(block, index)``. An event's index is its log index and
its id ``"<block>-<log index>"``. A notification derived from the chain (an expiry
reminder, a supervision anomaly) comes after the real events of the block it belongs to:
the ``k``-th reminder of block 12 is ``"12-r<k>"`` at index :data:`REMINDER_BASE` + k, the
``k``-th anomaly ``"12-a<k>"`` at :data:`ANOMALY_BASE` + k. So every id sorts as its
position, an event's id is what it always was, and a position is still two integers (a
cursor, a webhook's ``cursor_block``/``cursor_index``). No block holds 2**30 logs (one
costs at least 375 gas), so the ranges never meet; :data:`BLOCK_END` is a position after
everything a block can hold.
"""

from __future__ import annotations

import re

from api.errors import BadRequest
from api.pagination import MAX_POSITION

REMINDER_BASE = 2**30
ANOMALY_BASE = 2**30 + 2**29
#: The most derived notifications of one kind one block may hold.
MAX_ORDINAL = 2**29 - 2
BLOCK_END = 2**31 - 1

Position = tuple[int, int]

_ID = re.compile(r"^(\d{1,19})-(r|a)?(\d{1,10})$")
_BASES = {"": 0, "r": REMINDER_BASE, "a": ANOMALY_BASE}


def format_id(block: int, index: int) -> str:
    """The id of the notification at ``(block, index)``."""
    if index >= ANOMALY_BASE:
        return f"{block}-a{index - ANOMALY_BASE}"
    if index >= REMINDER_BASE:
        return f"{block}-r{index - REMINDER_BASE}"
    return f"{block}-{index}"


def parse_id(value: str) -> Position:
    """The position a notification id names (``Last-Event-ID``); 422 otherwise."""
    match = _ID.fullmatch(value.strip())
    if match is not None:
        block, prefix, number = int(match[1]), match[2] or "", int(match[3])
        limit = REMINDER_BASE - 1 if not prefix else MAX_ORDINAL
        if block <= MAX_POSITION and number <= limit:
            return block, _BASES[prefix] + number
    raise BadRequest(
        f"{value!r} is not a notification id (<block>-<log index>, <block>-r<n> or"
        " <block>-a<n>, e.g. 12-0)"
    )

"""Column types the read model and the vault need beyond SQLAlchemy's own."""

from __future__ import annotations

import operator
from typing import Any

from sqlalchemy import BigInteger, TypeDecorator
from sqlalchemy.engine import Dialect

UINT64_MAX = 2**64 - 1
_SHIFT = 2**63
_ARITHMETIC = frozenset(
    {
        operator.add,
        operator.sub,
        operator.mul,
        operator.truediv,
        operator.floordiv,
        operator.mod,
        operator.neg,
    }
)


class Uint64(TypeDecorator[int]):
    """An unsigned 64-bit integer kept exactly in a signed ``BIGINT`` as ``value - 2**63``.

    SQLite's and PostgreSQL's integers are signed 64-bit, so a plain column cannot hold
    the upper half of ``uint64`` — which any signer may choose for a version, a window or
    a duration. The shift keeps order, so ``ORDER BY``, comparisons, ``IN``, ``MIN`` and
    ``MAX`` in SQL mean what they say, with literals shifted alike; arithmetic in SQL
    would not, so building ``column + 1`` raises (do the sum in Python)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        number = operator.index(value)
        if not 0 <= number <= UINT64_MAX:
            raise ValueError(f"{number} is not a uint64")
        return number - _SHIFT

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value) + _SHIFT

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        if op in _ARITHMETIC:
            raise TypeError("no SQL arithmetic on a Uint64 column: it stores value - 2**63")
        return self

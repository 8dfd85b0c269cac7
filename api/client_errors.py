"""What the CLI's client of the HTTP API raises on purpose.

Errors::

    ClientError                 anything the client raises on purpose
    ├── ApiProblem              the API answered non-2xx (RFC 9457 problem document)
    ├── ApiUnreachable          no answer at all (connection refused, timeout)
    ├── ClientRefusal           the client will not do it (unknown department or field,
    │                           no identity to sign with, the server's EIP-712 types
    │                           differ from this wallet's)
    ├── RotationFailed          revoked on chain, but the key rotation after it failed
    └── RemovalRotationFailed   a delegate removed on chain, but the rotation after it failed

Errors of :mod:`wallets` (``InvalidRecord``, ``InvalidIntent``, ...) pass through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class ClientError(Exception):
    """Root of every error the client raises."""


class ApiProblem(ClientError):
    """A non-2xx answer, carrying its problem document (RFC 9457).

    ``reason`` is set for a refused access (``expired``, ``revoked``, ...) together with
    the denial's ``receipt``; ``error`` and ``arguments`` for a contract's refusal.
    """

    def __init__(self, status: int, document: Mapping[str, Any]) -> None:
        self.status = status
        self.document: dict[str, Any] = dict(document)
        self.type: str = str(document.get("type") or "about:blank")
        self.title: str = str(document.get("title") or f"HTTP {status}")
        self.detail: str | None = _opt_str(document.get("detail"))
        self.reason: str | None = _opt_str(document.get("reason"))
        self.error: str | None = _opt_str(document.get("error"))
        self.arguments: Any = document.get("arguments")
        receipt = document.get("receipt")
        #: Names for a sentence about it (:mod:`api.messages`), filled by whoever has
        #: them: the directory's department names, values the caller knows.
        self.departments: dict[str, str] | None = None
        self.context: dict[str, Any] = {}
        self.receipt: dict[str, Any] | None = None
        if isinstance(receipt, Mapping):
            self.receipt = dict(receipt)
        super().__init__(self.summary())

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiProblem:
        """Parse a problem document; a body that is not one still gives a readable problem."""
        document: dict[str, Any] = {}
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        if isinstance(parsed, Mapping):
            document = dict(parsed)
            if "detail" not in document and "error" in document and "title" not in document:
                document["detail"] = str(document["error"])  # e.g. {"error": "..."}
        else:
            text = response.text.strip()
            document = {
                "title": response.reason_phrase or f"HTTP {response.status_code}",
                "detail": text[:300] if text else None,
            }
        document.setdefault("status", response.status_code)
        return cls(response.status_code, document)

    def summary(self) -> str:
        """One line: status, title, what, and why (reason or contract error)."""
        parts = [f"{self.status} {self.title}"]
        if self.detail and self.detail != self.title:
            parts.append(self.detail)
        if self.reason:
            parts.append(f"reason: {self.reason}")
        if self.error and (not self.detail or self.error not in self.detail):
            parts.append(f"contract error: {self.error}")
        return ": ".join(parts[:2]) + "".join(f" ({p})" for p in parts[2:])


class ApiUnreachable(ClientError):
    """The API did not answer (connection refused, DNS, timeout)."""


class ClientRefusal(ClientError):
    """The client will not send this (unknown name, missing identity, type mismatch)."""


class RotationFailed(ClientError):
    """The revocation took effect on chain, but the key rotation after it did not finish;
    ``revoked`` is the revocation's answer, ``__cause__`` what went wrong."""

    def __init__(
        self,
        consent_id: int,
        revoked: Mapping[str, Any],
        cause: Exception,
        *,
        what: str = "consent",
    ) -> None:
        self.consent_id = consent_id
        self.revoked = dict(revoked)
        super().__init__(
            f"{what} {consent_id} is revoked, but rotating the exposed keys failed: {cause}"
            " (once fixed, rotate with `consent record rotate --field …`)"
        )


class RemovalRotationFailed(ClientError):
    """The delegate's removal took effect on chain, but the key rotation after it did not
    finish; ``removed`` is the removal's answer, ``__cause__`` what went wrong."""

    def __init__(self, delegate: str, removed: Mapping[str, Any], cause: Exception) -> None:
        self.delegate = delegate
        self.removed = dict(removed)
        super().__init__(
            f"delegate {delegate} is removed, but rotating the record's keys failed: {cause}"
            " (once fixed, rotate with `consent record rotate --field …`)"
        )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)

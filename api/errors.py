"""Errors of the HTTP API and their RFC 9457 problem+json rendering.

Hierarchy::

    ApiError                       status, title, detail, extra members
    ├── BadRequest        400/422  malformed input
    ├── Unauthorized      401      no, bad or expired token
    ├── Forbidden         403      not allowed (including refused access, with ``reason``)
    ├── NotFound          404
    ├── Conflict          409      nonce reused, already revoked, already exists
    ├── PayloadTooLarge   413      a body over its bound (see :mod:`api.http_bounds`)
    └── TooManyRequests   429      a rate limit, with ``Retry-After`` (see :mod:`api.limits`)

Routes raise these or domain errors (:class:`ledger.errors.LedgerError`,
:class:`wallets.errors.WalletError`); one handler maps them all, so a contract's custom
error reaches the client with its name and arguments and the right status. A chain that
cannot be reached is the ledger's :class:`~ledger.errors.ChainUnavailable`, never an API
class of its own; it, a transaction the node refused and a node that stopped answering
mid-call all answer 503 ``chain-unavailable`` (:func:`chain_unavailable`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import Timeout as RequestsTimeout
from sqlalchemy.exc import InterfaceError as SQLAlchemyInterfaceError
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger import contract_errors as ce
from ledger.codec import to_hex
from ledger.errors import (
    ChainUnavailable,
    ContractError,
    IntentRefused,
    InvalidTransaction,
    LedgerError,
    Unavailable,
)
from ledger.revert import decode_revert
from wallets.errors import WalletError

PROBLEM = "application/problem+json"
TYPE_BASE = "https://consent-ledger.example/problems/"


class ApiError(Exception):
    status = 500
    title = "Internal error"
    kind = "internal"
    #: Response headers the refusal needs (``Retry-After``, ``WWW-Authenticate``).
    headers: dict[str, str] = {}  # noqa: RUF012 (replaced per instance, never mutated)

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class BadRequest(ApiError):
    status, title, kind = 422, "Invalid request", "invalid-request"


class Unauthorized(ApiError):
    status, title, kind = 401, "Unauthorized", "unauthorized"


class Forbidden(ApiError):
    status, title, kind = 403, "Forbidden", "forbidden"


class AccessRefused(Forbidden):
    """The contract denied an access; carries ``reason`` and the denial's ``receipt``."""

    title, kind = "Access refused", "access-refused"


class NotFound(ApiError):
    status, title, kind = 404, "Not found", "not-found"


class Conflict(ApiError):
    status, title, kind = 409, "Conflict", "conflict"


class PayloadTooLarge(ApiError):
    status, title, kind = 413, "Request body too large", "payload-too-large"


class TooManyRequests(ApiError):
    status, title, kind = 429, "Too many requests", "too-many-requests"

    def __init__(self, detail: str, *, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extra)
        self.headers = {"Retry-After": str(retry_after)}


_CONFLICT = (
    ce.SignedIntentNonceUsed,
    ce.ConsentLedgerAlreadyRevoked,
    ce.ConsentLedgerResidentExists,
    ce.ConsentLedgerIdCommitmentUsed,
    ce.ConsentLedgerStaleVersion,
    ce.ConsentDirectoryDepartmentExists,
    ce.ConsentDirectoryFieldExists,
    ce.ConsentDirectoryPurposeExists,
    ce.ConsentDirectoryAttestationRecorded,  # a replayed attestation
    ce.ConsentDirectoryDepartmentRevoked,  # reinstating a department whose role was revoked
    ce.ConsentLedgerRequestAnswered,  # a request declined, withdrawn or granted already
    ce.ConsentLedgerBundleRevoked,
    ce.ConsentEmergencyAlreadyReviewed,
)
_FORBIDDEN = (
    ce.SignedIntentWrongSigner,
    ce.ConsentDirectoryUnauthorizedSigner,
    ce.ConsentLedgerUnauthorizedSigner,
    ce.ConsentLedgerInactiveDepartment,
    ce.ConsentLedgerNotConsentResident,
    ce.SignedIntentUnauthorizedRelayer,
    ce.AccessControlUnauthorizedAccount,
    ce.ConsentLedgerUnknownDepartment,  # the signer claims a department it is not
    ce.ConsentDirectoryUntrustedIssuer,
    ce.ConsentLedgerNotRequestDepartment,  # withdrawing another department's request
    ce.ConsentLedgerNotBundleResident,
    ce.ConsentEmergencyUnauthorizedSigner,  # a review by someone not an auditor
    ce.ConsentEmergencyInactiveDepartment,
    ce.ConsentEmergencyNotEmergencyDepartment,  # a directive for a department without the role
    # A delegate acting beyond its appointment, and who may appoint or remove one.
    ce.ConsentDelegatesMissingPower,
    ce.ConsentDelegatesExpired,
    ce.ConsentDelegatesRemoved,
    ce.ConsentDelegatesUnauthorizedSigner,
    ce.ConsentDelegatesGuardianship,
)
_NOT_FOUND = (
    ce.ConsentLedgerUnknownResident,
    ce.ConsentLedgerUnknownConsent,
    ce.ConsentLedgerUnknownRequest,
    ce.ConsentDirectoryUnknownDepartment,
    ce.ConsentLedgerUnknownBundle,
    ce.ConsentDirectoryUnknownService,
    ce.ConsentEmergencyUnknownResident,
    ce.ConsentEmergencyUnknownAccess,
    ce.ConsentDelegatesUnknownResident,
    ce.ConsentDelegatesNotDelegate,  # no appointment to remove (an ended one: 409, see the route)
)


def contract_status(error: ContractError) -> int:
    if isinstance(error, _CONFLICT):
        return 409
    if isinstance(error, _FORBIDDEN):
        return 403
    if isinstance(error, _NOT_FOUND):
        return 404
    return 422


def bundle_item_problem(exc: ce.ConsentLedgerBundleItemRefused) -> Problem:
    """A bundle refused for one item: the problem is that item's own error (its name,
    status and sentence), its arguments with the item's ``index``, and ``bundle_item``."""
    inner = decode_revert(exc.reason)
    index = int(exc.index)
    if not isinstance(inner, ContractError):
        return Problem(
            422,
            "Refused by the contract",
            "contract-error",
            str(exc),
            {"error": type(exc).__name__, "arguments": exc.arguments, "bundle_item": index},
        )
    return Problem(
        contract_status(inner),
        "Refused by the contract",
        "contract-error",
        f"bundle item {index} (from 0) does not fit: {inner}",
        {
            "error": type(inner).__name__,
            "arguments": {**inner.arguments, "index": index},
            "bundle_item": index,
        },
    )


@dataclass(frozen=True)
class Problem:
    """An RFC 9457 problem before it is rendered: the document's members and the headers
    its answer needs (``Retry-After``, ``WWW-Authenticate``)."""

    status: int
    title: str
    kind: str
    detail: str
    extra: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        body.update({k: _jsonable(v) for k, v in self.extra.items()})
        return body

    def response(self) -> JSONResponse:
        response = JSONResponse(self.document(), status_code=self.status, media_type=PROBLEM)
        response.headers.update(self.headers)
        return response


def problem(status: int, title: str, kind: str, detail: str, **extra: Any) -> JSONResponse:
    return Problem(status, title, kind, detail, extra).response()


def _unavailable(detail: str, *, retry_after: int) -> Problem:
    return Problem(
        503,
        "Chain unavailable",
        "chain-unavailable",
        detail,
        headers={"Retry-After": str(retry_after)},
    )


def chain_unavailable(detail: str, *, retry_after: int) -> JSONResponse:
    """The 503 of :class:`ledger.errors.ChainUnavailable`, with its ``Retry-After``."""
    return _unavailable(detail, retry_after=retry_after).response()


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return to_hex(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


#: What :func:`problem_of` renders (the app's handlers are registered for these).
HANDLED: tuple[type[Exception], ...] = (
    ApiError,
    LedgerError,
    WalletError,
    RequestsConnectionError,
    RequestsTimeout,
    SQLAlchemyOperationalError,
    SQLAlchemyInterfaceError,
)


def problem_of(exc: Exception) -> Problem | None:
    """The problem the API answers for ``exc`` raised while serving a request (a route,
    or one item of a batch: :mod:`api.routers.queries`); ``None`` for an exception no
    handler knows (a bug: 500)."""
    if isinstance(exc, ApiError):
        return Problem(exc.status, exc.title, exc.kind, exc.detail, exc.extra, exc.headers)
    if isinstance(exc, ce.ConsentLedgerBundleItemRefused):
        return bundle_item_problem(exc)
    if isinstance(exc, ContractError):
        return Problem(
            contract_status(exc),
            "Refused by the contract",
            "contract-error",
            str(exc),
            {"error": type(exc).__name__, "arguments": exc.arguments},
        )
    if isinstance(exc, ChainUnavailable):
        return _unavailable(str(exc), retry_after=exc.retry_after)
    if isinstance(exc, InvalidTransaction):
        # The node refused the relayer's transaction (its nonce was stale, and is
        # resynced): the same intent goes through on a later round.
        return _unavailable(str(exc), retry_after=1)
    if isinstance(exc, Unavailable):
        # The read model or the relayer's queue, not the chain (that one is above).
        return Problem(
            503,
            "Service unavailable",
            "service-unavailable",
            str(exc),
            {"error": type(exc).__name__},
            {"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, RequestsConnectionError | RequestsTimeout):
        # A JSON-RPC node that stopped answering, met outside the chain layer's own
        # translation (web3 calls made directly); it may come back.
        return _unavailable("the chain node is unreachable", retry_after=1)
    if isinstance(exc, SQLAlchemyOperationalError | SQLAlchemyInterfaceError):
        # The database went away (restart, network): nothing of this request was
        # committed, and the pool reconnects on a later request.
        return Problem(
            503,
            "Service unavailable",
            "service-unavailable",
            "the database is unavailable",
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, IntentRefused):
        return Problem(
            422,
            "Refused by the relayer",
            "intent-refused",
            str(exc),
            {"error": type(exc).__name__, "arguments": exc.arguments},
        )
    if isinstance(exc, LedgerError):
        return Problem(500, "Ledger error", "ledger-error", str(exc))
    if isinstance(exc, WalletError):
        return Problem(
            422, "Invalid request", "invalid-request", str(exc), {"error": type(exc).__name__}
        )
    return None


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    async def handled(_: Request, exc: Exception) -> JSONResponse:
        found = problem_of(exc)
        if found is None:  # registered only for what problem_of knows
            raise exc
        return found.response()

    for kind in HANDLED:
        app.add_exception_handler(kind, handled)

    @app.exception_handler(RequestValidationError)
    async def validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem(
            422,
            "Invalid request",
            "invalid-request",
            "the request does not validate",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        response = problem(exc.status_code, str(exc.detail), kind, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

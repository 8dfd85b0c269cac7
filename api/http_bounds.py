"""Size bounds on what a request may carry, and the middleware that enforces body sizes.

Every bound follows from the wire formats (DESIGN, "Wire formats"), so an honest wallet
never meets one:

- a record's envelopes and a grant's wrapped keys number at most :data:`MAX_FIELDS`,
  the bound :mod:`ledger.admission` sets on an intent's field list (the seeded schema
  has 12, the admin may add more);
- a wrapped key is an HPKE ``enc || ciphertext`` of a 32-byte key: exactly 80 bytes
  (X25519) or 1168 (ML-KEM-768 + X25519, :mod:`wallets.key_wrap`);
- an encryption key is 32 bytes (X25519) or 1216 (the hybrid's);
- a field's ciphertext is AES-256-GCM of ``{"value", "salt"}``: at least the empty
  value's 88 bytes plus the 16-byte tag, at most :data:`MAX_CIPHERTEXT` (16 KiB: a value
  of about 16,000 bytes of UTF-8); its nonce is 12 bytes;
- a department's name has at most :data:`MAX_NAME` characters, its code :data:`MAX_CODE`.

Bodies: ``settings.max_body_bytes`` (64 KiB) for every route, unless the route declares
a larger ``max_body_size`` (a record's envelopes, a grant's wrapped keys), sized as
:data:`MAX_FIELDS` of the largest member plus the default for the rest; a batch of
queries as :data:`MAX_QUERY_BATCH` of the largest signed ``Access`` (3.3 MB).
:class:`BodyLimit` refuses a ``Content-Length`` over the bound before the app runs and
counts a body without one while it is read, so an oversized body is never held.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from pydantic import AfterValidator, Field
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import BadRequest, PayloadTooLarge, problem
from ledger.admission import MAX_FIELDS, MAX_SERVICE_ITEMS
from wallets.field_cipher import NONCE_LENGTH, SALT_LENGTH
from wallets.key_wrap import (
    HYBRID_PUBLIC_KEY_LENGTH,
    HYBRID_WRAPPED_LENGTH,
    X25519_PUBLIC_KEY_LENGTH,
    X25519_WRAPPED_LENGTH,
)

WRAPPED_KEY_LENGTHS = (X25519_WRAPPED_LENGTH, HYBRID_WRAPPED_LENGTH)
ENCRYPTION_KEY_LENGTHS = (X25519_PUBLIC_KEY_LENGTH, HYBRID_PUBLIC_KEY_LENGTH)
_GCM_TAG = 16
MIN_CIPHERTEXT = (
    len(json.dumps({"value": "", "salt": "0x" + "00" * SALT_LENGTH}, separators=(",", ":")))
    + _GCM_TAG
)
MAX_CIPHERTEXT = 16 * 1024
MAX_NAME = 128
MAX_CODE = 32

DEFAULT_BODY_BYTES = 64 * 1024
_ENVELOPE_JSON = 2 * (MAX_CIPHERTEXT + NONCE_LENGTH + HYBRID_WRAPPED_LENGTH) + 160
#: ``PUT /residents/{address}/record``: a full record's envelopes.
RECORD_BODY_BYTES = MAX_FIELDS * _ENVELOPE_JSON + DEFAULT_BODY_BYTES
#: ``POST /consents``, ``PUT /consents/{id}/wrapped-keys``: a key per field.
GRANT_BODY_BYTES = MAX_FIELDS * (2 * HYBRID_WRAPPED_LENGTH + 80) + DEFAULT_BODY_BYTES
#: ``POST /bundles``: a grant's keys for each department of the largest service.
BUNDLE_BODY_BYTES = MAX_SERVICE_ITEMS * GRANT_BODY_BYTES

#: ``POST /queries/batch``: the most signed ``Access`` intents one request may carry.
MAX_QUERY_BATCH = 500
_LARGEST_UINT = 2**256 - 1
#: A signed ``Access`` at its largest, as a batch's item: :data:`MAX_FIELDS` field ids,
#: every number a ``uint256``, indented as a person's editor would (about 6.5 KB; an
#: honest query of a few fields, sent compact, is under 1 KB).
ACCESS_ITEM_BYTES = len(
    json.dumps(
        {
            "queries": [
                {
                    "message": {
                        "department": "0x" + "00" * 20,
                        "resident": "0x" + "00" * 20,
                        "consentId": _LARGEST_UINT,
                        "fields": ["0x" + "00" * 32] * MAX_FIELDS,
                        "nonce": _LARGEST_UINT,
                        "deadline": _LARGEST_UINT,
                    },
                    "signature": "0x" + "00" * 65,
                }
            ]
        },
        indent=4,
    )
)
#: ``POST /queries/batch``: :data:`MAX_QUERY_BATCH` of the largest items.
QUERY_BATCH_BODY_BYTES = MAX_QUERY_BATCH * ACCESS_ITEM_BYTES + DEFAULT_BODY_BYTES


def _hex_of(*lengths: int) -> Any:
    def check(value: str) -> str:
        if not value.startswith("0x"):
            raise ValueError("must be 0x-prefixed hex")
        try:
            raw = bytes.fromhex(value[2:])
        except ValueError:
            raise ValueError("not hex") from None
        if len(raw) not in lengths:
            raise ValueError(f"must be {' or '.join(map(str, lengths))} bytes, got {len(raw)}")
        return value

    return AfterValidator(check)


_HEX = r"^0x([0-9a-fA-F]{2})*$"
#: An HPKE-wrapped field key: 80 or 1168 bytes as 0x-hex.
WrappedKey = Annotated[
    str, Field(max_length=2 + 2 * HYBRID_WRAPPED_LENGTH), _hex_of(*WRAPPED_KEY_LENGTHS)
]
Ciphertext = Annotated[
    str, Field(pattern=_HEX, min_length=2 + 2 * MIN_CIPHERTEXT, max_length=2 + 2 * MAX_CIPHERTEXT)
]
Nonce = Annotated[str, Field(pattern=rf"^0x[0-9a-fA-F]{{{2 * NONCE_LENGTH}}}$")]


def check_sizes(name: str, message: Mapping[str, Any]) -> None:
    """422 unless a normalised intent's strings and encryption key are within bounds
    (its field list is :func:`ledger.admission.check_form`'s)."""
    for key, most in (("name", MAX_NAME), ("code", MAX_CODE)):
        text = message.get(key)
        if isinstance(text, str) and len(text) > most:
            raise BadRequest(f"{name}.{key} is {len(text)} characters; at most {most}")
    encryption_key = message.get("encryptionKey")
    if isinstance(encryption_key, bytes) and len(encryption_key) not in ENCRYPTION_KEY_LENGTHS:
        raise BadRequest(
            f"{name}.encryptionKey must be {X25519_PUBLIC_KEY_LENGTH} (X25519) or"
            f" {HYBRID_PUBLIC_KEY_LENGTH} (ML-KEM-768+X25519) bytes, got {len(encryption_key)}"
        )


# ------------------------------------------------------------------ body sizes


class BodyTooLarge(HTTPException):
    """Raised from ``receive``: an HTTPException, so FastAPI's body parsing lets it pass
    to the 413 handler instead of turning it into a 400."""

    def __init__(self, bound: int) -> None:
        super().__init__(413, f"the request body exceeds {bound} bytes")
        self.bound = bound


def too_large(bound: int) -> Any:
    exc = PayloadTooLarge(f"the request body exceeds {bound} bytes", max_bytes=bound)
    response = problem(exc.status, exc.title, exc.kind, exc.detail, **exc.extra)
    response.headers["Connection"] = "close"  # the rest of the body is not worth reading
    return response


class BodyLimit:
    """ASGI middleware: 413 problem+json for a body over its route's bound."""

    def __init__(self, app: ASGIApp, *, api: FastAPI, default: int) -> None:
        self.app = app
        self.api = api
        self.default = default
        self._larger: list[tuple[set[str], re.Pattern[str], int]] | None = None

    def bound(self, scope: Scope) -> int:
        if self._larger is None:  # routes are all included by the first request
            self._larger = []
            for route in iter_route_contexts(self.api.routes):
                size = getattr(route, "max_body_size", None)
                if route.path and size is not None and size > self.default:
                    regex = compile_path(route.path)[0]
                    self._larger.append((set(route.methods or ()), regex, size))
        for methods, regex, size in self._larger:
            if scope["method"] in methods and regex.match(scope["path"]):
                return size
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bound = self.bound(scope)
        length = _content_length(scope)
        if length is not None and length > bound:
            await too_large(bound)(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > bound:
                    raise BodyTooLarge(bound)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await too_large(bound)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def install(app: FastAPI) -> None:
    """Render a :class:`BodyTooLarge` met while parsing as the same 413 problem."""

    async def body_too_large(_: Any, exc: Exception) -> Any:
        bound = exc.bound if isinstance(exc, BodyTooLarge) else DEFAULT_BODY_BYTES
        return too_large(bound)

    app.add_exception_handler(BodyTooLarge, body_too_large)

"""Security headers on every answer, and 405 answers that say what is allowed.

Every answer is ``Cache-Control: no-store`` unless a route chose otherwise: tokens,
envelopes, wrapped keys, query answers and access logs are personal, and a shared
cache or the browser's disk must keep none of them (the public documents are cheap to
serve again). ``nosniff`` keeps a browser from reading JSON as a script;
``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` keep the pages out of frames;
``Referrer-Policy: no-referrer`` keeps addresses in paths out of other sites' logs;
JSON answers also get ``default-src 'none'`` (they are data, never a document), while
the HTML of ``/docs`` keeps its scripts. The portal's page at ``/`` carries its own
strict policy (:data:`CSP_PORTAL`: scripts, styles and connections from this origin
only, no inline script), which this middleware leaves as it is. HSTS is sent only when
the public URL is ``https`` (:attr:`api.settings.Settings.https`): over plain HTTP it
would be ignored, and a wrong one locks browsers out for its max-age.

Starlette's 405 names the methods of the first route whose path matched; a path served
by several routes (``GET`` and ``PUT /residents/{address}/record``) would then name only
one, so the ``Allow`` header is recomputed from every route matching the path.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem

HSTS = b"max-age=31536000"
_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_CSP_DATA = b"default-src 'none'; frame-ancestors 'none'"
_CSP_HTML = b"frame-ancestors 'none'"
#: The portal's page (:mod:`api.portal_assets`): nothing inline, nothing from elsewhere.
CSP_PORTAL = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self';"
    " object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeaders:
    """ASGI middleware adding the headers above to each response start."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                html = any(
                    n.lower() == b"content-type" and v.startswith(b"text/html") for n, v in headers
                )
                extra = [*_ALWAYS, (b"content-security-policy", _CSP_HTML if html else _CSP_DATA)]
                extra.append((b"cache-control", b"no-store"))
                if self.https:
                    extra.append((b"strict-transport-security", HSTS))
                headers += [(n, v) for n, v in extra if n not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route serves at ``path`` (``HEAD`` wherever ``GET`` is)."""
    methods: set[str] = set()
    for route in iter_route_contexts(app.routes):
        if route.path and compile_path(route.path)[0].match(path):
            methods |= set(route.methods or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def install(app: FastAPI) -> None:
    """405 problem+json with the full ``Allow`` header (RFC 9110 §15.5.6 requires it)."""

    async def method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
        allowed = allowed_methods(app, request.url.path)
        detail = exc.detail if isinstance(exc, HTTPException) else "Method Not Allowed"
        response = problem(
            405,
            "Method Not Allowed",
            "method-not-allowed",
            f"{request.method} is not served at {request.url.path}: {detail}",
            allowed=allowed,
        )
        response.headers["Allow"] = ", ".join(allowed)
        return response

    app.add_exception_handler(405, method_not_allowed)


class HeadAsGet:
    """``HEAD`` wherever ``GET`` is served (RFC 9110 §9.3.2): the route runs as ``GET``
    and the answer goes out with its status and headers but no body. The routes are
    declared for GET only, and ``Allow`` names HEAD beside them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)

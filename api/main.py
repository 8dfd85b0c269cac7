"""The FastAPI application, assembled from the routers.

Around the routers, outermost first: HEAD served as GET without a body and security
headers on every answer (:mod:`api.http_headers`), the per-IP rate limits
(:mod:`api.limits`), the body-size bound (:mod:`api.http_bounds`), the relayer's
acceptances added to write answers (:mod:`api.signed`); so a flood or an oversized body
is refused before any route reads it, and the refusal carries the same headers as any
answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

from api import docs_ui, errors, http_bounds, http_headers, openapi, portal_assets, signed
from api.anomalies import default_thresholds
from api.auth import install as install_auth
from api.limits import IpRateLimit, RateLimits
from api.node import Node, open_node
from api.notifications import FeedSettler
from api.routers import (
    access_requests,
    admin,
    anomalies,
    attestations,
    audit,
    auth,
    bundles,
    chain,
    consent_records,
    consents,
    delegates,
    emergency,
    fhir,
    notifications,
    public,
    queries,
    residents,
    webhooks,
)
from api.settings import Settings


def create_app(settings: Settings | None = None, *, node: Node | None = None) -> FastAPI:
    """An app over ``node`` (tests) or over a node opened from ``settings`` at startup.

    The app's limits, public URL and timeouts are ``settings``, else the node's."""
    config = settings or (node.settings if node is not None else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = node is None
        to_thread.current_default_thread_limiter().total_tokens = config.request_threads
        app.state.node = node or open_node(config)
        app.state.node.start()
        # Reminders and anomalies derived as blocks are indexed (the webhooks' feed too).
        served: Node = app.state.node
        settler = FeedSettler(served.store, default_thresholds(served.settings))
        settler.start()
        try:
            yield
        finally:
            settler.stop()
            if owned:
                app.state.node.close()

    app = FastAPI(
        title="Resident Consent Ledger",
        version="0.1.0",
        summary=(
            "Residents grant departments time-limited, field-scoped access;"
            " the chain records every access."
        ),
        lifespan=lifespan,
        docs_url=None,  # served from the npm lock by api.docs_ui, not from a CDN
        redoc_url=None,
    )
    app.state.settings = config
    app.state.limits = RateLimits(config)
    errors.install(app)
    install_auth(app)
    http_bounds.install(app)
    http_headers.install(app)
    for module in (
        public,
        auth,
        admin,
        residents,
        delegates,
        attestations,
        access_requests,
        consents,
        bundles,
        fhir,
        consent_records,
        queries,
        emergency,
        notifications,
        webhooks,
        audit,
        anomalies,
        chain,
    ):
        app.include_router(module.router)
    openapi.install(app)
    docs_ui.install(app)
    portal_assets.install(app)
    app.add_middleware(signed.Acceptances)  # innermost: sees the route's own answer
    app.add_middleware(http_bounds.BodyLimit, api=app, default=config.max_body_bytes)
    app.add_middleware(IpRateLimit, limits=app.state.limits)
    app.add_middleware(http_headers.SecurityHeaders, https=config.https)
    app.add_middleware(http_headers.HeadAsGet)  # outermost: HEAD is a GET without body
    return app

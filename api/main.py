"""The FastAPI application, assembled from the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

from api import errors, openapi
from api.auth import install as install_auth
from api.node import Node, open_node
from api.routers import (
    access_requests,
    admin,
    attestations,
    audit,
    auth,
    consent_records,
    consents,
    public,
    queries,
    residents,
)
from api.settings import Settings


def create_app(settings: Settings | None = None, *, node: Node | None = None) -> FastAPI:
    """An app over ``node`` (tests) or over a node opened from ``settings`` at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = node is None
        config = settings or Settings()
        to_thread.current_default_thread_limiter().total_tokens = config.request_threads
        app.state.node = node or open_node(config)
        app.state.node.start()
        try:
            yield
        finally:
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
    )
    errors.install(app)
    install_auth(app)
    for module in (
        public,
        auth,
        admin,
        residents,
        attestations,
        access_requests,
        consents,
        consent_records,
        queries,
        audit,
    ):
        app.include_router(module.router)
    openapi.install(app)
    return app

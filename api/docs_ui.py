"""``/docs``: Swagger UI from the npm lock (``api/portal/package-lock.json``), no CDN.

FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script, so
offline it shows nothing and under a strict Content-Security-Policy it would not run.
Here the assets come from ``swagger-ui-dist`` installed by ``./dev`` and the page starts
Swagger UI from a script file of its own.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = Path(__file__).resolve().parent / "portal" / "node_modules" / "swagger-ui-dist"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Resident Consent Ledger — API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script>
</body>
</html>
"""

_START = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
"""

_MISSING = (
    "Swagger UI's assets are not installed (api/portal/node_modules): run ./dev setup."
    " The OpenAPI document itself is at /openapi.json."
)


def install(app: FastAPI) -> None:
    """Serve the page, its start script and the assets (``docs_url=None`` on the app)."""
    app.mount("/docs/assets", StaticFiles(directory=ASSETS, check_dir=False), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        if not (ASSETS / "swagger-ui-bundle.js").exists():
            return Response(_MISSING, status_code=503, media_type="text/plain")
        return HTMLResponse(_PAGE)

    @app.get("/docs/start.js", include_in_schema=False)
    def start() -> Response:
        return Response(_START, media_type="text/javascript")

"""The portal at ``/``: the page and bundle ``api/portal/build.mjs`` writes to ``dist/``.

Static files only: every key and plaintext stays in the browser, and the page talks to
the same API the CLI does. The page carries :data:`api.http_headers.CSP_PORTAL`. Without
a build (``./dev setup`` runs it) ``/`` answers 503 with a page saying so, and the API
is unaffected.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from api.http_headers import CSP_PORTAL

DIST = Path(__file__).resolve().parent / "portal" / "dist"

_NOT_BUILT = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Portal not built</title></head>
<body>
<h1>The portal is not built</h1>
<p>api/portal/dist/ is missing: run <code>./dev setup</code> (it installs the npm lock and
runs <code>node api/portal/build.mjs</code>), then reload. The API itself is served:
<a href="/docs">/docs</a>, <a href="/openapi.json">/openapi.json</a>.</p>
</body>
</html>
"""


class _Assets(StaticFiles):
    """Static files that answer 404, not 500, while ``dist/`` does not exist yet."""

    async def check_config(self) -> None:
        if self.directory is not None and os.path.isdir(self.directory):
            await super().check_config()


def install(app: FastAPI) -> None:
    """``GET /`` and ``/assets/…``; neither path is one of the API's."""
    app.mount("/assets", _Assets(directory=DIST / "assets", check_dir=False), name="portal")

    @app.get("/", include_in_schema=False)
    def portal() -> Response:
        page = DIST / "index.html"
        headers = {"Content-Security-Policy": CSP_PORTAL}
        if not page.is_file():
            return HTMLResponse(_NOT_BUILT, status_code=503, headers=headers)
        return FileResponse(page, media_type="text/html; charset=utf-8", headers=headers)

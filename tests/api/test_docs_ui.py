"""``/docs`` works offline: Swagger UI from the npm lock, started by a script file, no
CDN and no inline script."""

from __future__ import annotations

import re

from tests.api.conftest import World


def test_docs_load_swagger_ui_from_the_service_itself(world: World) -> None:
    page = world.http.get("/docs")
    assert page.status_code == 200, page.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/docs/") for s in sources), sources
    assert not re.search(r"<script>(?!</script>)", page.text)  # no inline script
    for source in sources:
        asset = world.http.get(source)
        assert asset.status_code == 200, source
        assert len(asset.content) > 100
    bundle = world.http.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert world.http.get("/redoc").status_code == 404  # ReDoc would need a CDN

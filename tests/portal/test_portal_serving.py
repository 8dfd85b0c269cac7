"""``consent serve`` serves the built portal at ``/`` under a strict CSP, beside an API
whose paths and headers stay as they were; without a build ``/`` says what to run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import portal_assets
from api.http_headers import CSP_PORTAL
from api.main import create_app
from api.node import Node, open_node
from api.settings import Settings
from tests.portal.conftest import unavailable


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    opened = open_node(Settings(data_dir=tmp_path_factory.mktemp("node"), block_period=0))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def http(node: Node) -> Iterator[TestClient]:
    with TestClient(create_app(node=node)) as client:
        yield client


def test_the_page_and_its_assets_come_from_this_origin_under_a_strict_csp(
    http: TestClient,
) -> None:
    if not (portal_assets.DIST / "index.html").exists():
        unavailable("the portal is not built: run ./dev setup (node api/portal/build.mjs)")
    page = http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CSP_PORTAL
    assert page.headers["x-frame-options"] == "DENY"
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", page.text)  # no inline script
    assert not re.search(r"\sstyle=", page.text)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/assets/") for s in sources), sources
    for source in sources:
        asset = http.get(source)
        assert asset.status_code == 200, source
        assert asset.content
    script = http.get("/assets/app.js")
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert http.head("/").status_code == 200
    assert http.get("/assets/nothing-here.js").status_code == 404


def test_the_policy_allows_nothing_inline_and_no_other_origin() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CSP_PORTAL.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    for sources in directives.values():
        assert "unsafe" not in sources and "http" not in sources and "*" not in sources


def test_the_apis_paths_and_headers_are_unchanged(http: TestClient) -> None:
    health = http.get("/health")
    assert health.status_code == 200
    assert health.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    docs = http.get("/docs")
    assert docs.headers["content-security-policy"] == "frame-ancestors 'none'"
    missing = http.get("/no-such-path")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "/" not in http.get("/openapi.json").json()["paths"]


def test_without_a_build_the_page_says_what_to_run(
    node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(portal_assets, "DIST", tmp_path / "dist")
    with TestClient(create_app(node=node)) as http:
        page = http.get("/")
        assert page.status_code == 503
        assert "./dev setup" in page.text
        assert page.headers["content-security-policy"] == CSP_PORTAL
        assert http.get("/assets/app.js").status_code == 404
        assert http.get("/health").status_code == 200


def test_the_secret_check_finds_values_and_keys_but_not_digits_inside_hex() -> None:
    from types import SimpleNamespace

    from tests.portal.conftest import assert_nothing_secret_sent

    def sent(body: str) -> SimpleNamespace:
        return SimpleNamespace(requests=[{"url": "http://x/r", "headers": {}, "body": body}])

    key = "0x" + "ab12" * 16
    assert_nothing_secret_sent(sent('{"c":"0x970a13c4e061000321a3","t":1796161000}'), ["61000"])
    for leaked in ('{"income":"61000"}', '{"k":"' + key[2:] + '"}', '{"k":"00' + key[2:] + '11"}'):
        with pytest.raises(AssertionError):
            assert_nothing_secret_sent(sent(leaked), ["61000", key])

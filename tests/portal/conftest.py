"""The portal in Debian's chromium, driven by Playwright, on one served node per module.

Chromium comes from apt (``./dev test`` installs it as root), not from ``playwright
install``, which cannot download here. Without it, or without the portal's build, the
browser tests skip; in CI (``CI`` set) they fail instead, as the PostgreSQL fixture does.
Screenshots go to ``$PORTAL_ARTEFACTS`` or a temporary directory, never the repository.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import World
from tests.api.test_served import Served
from tests.portal.strings import strings

CHROMIUM = Path(os.environ.get("CONSENT_CHROMIUM", "/usr/bin/chromium"))
PORTAL = Path(__file__).resolve().parents[2] / "api" / "portal"
AXE = PORTAL / "node_modules" / "axe-core" / "axe.min.js"
#: The portal's strings, as the tests find controls by what a person reads.
ZH = strings("zh-CN")
EN = strings("en")
#: A phone's width (the portal must work at 375 px) and a tall enough page.
PHONE = {"width": 375, "height": 812}


#: The password of every key file the tests save (FAST_SCRYPT: scrypt's cost kept low).
PASSWORD = "correct horse battery"


@contextmanager
def admin_world(served: Served) -> Iterator[World]:
    """The served node's world by API, as its admin sets it up first: a registrar and the
    Housing Bureau (``world.dept``)."""
    with httpx.Client(base_url=served.url, timeout=60) as http:
        world = World(node=None, http=http, admin=served.admin())
        world.grant_role("registrar", "registrar")
        world.register_department("dept", "Housing Bureau", "HB")
        yield world


def unavailable(why: str) -> None:
    """Skip, or fail in CI, where a browser-test prerequisite is missing."""
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Debian chromium under Playwright, for one module (Playwright's own event
    loop lives no longer than the tests that use it)."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: apt-get install chromium (./dev test does as root)")
    if not (PORTAL / "dist" / "index.html").exists():
        unavailable("the portal is not built: run ./dev setup (node api/portal/build.mjs)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = Served(tmp_path_factory.mktemp("portal") / "data", "--block-period", "0").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("PORTAL_ARTEFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("portal-screens")
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Watched:
    """A page with everything it complained about and every request it sent."""

    page: Any
    url: str
    artefacts: Path
    console_errors: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def open(self) -> Any:
        return self.page.goto(self.url + "/")

    def go(self, screen: str) -> None:
        """Follow the navigation's link to ``screen`` (its ``nav.<screen>`` id), as a
        person would, and wait for the link to say it is the current page."""
        link = self.page.locator(f"#nav-{screen}")
        link.click()
        self.page.locator(f'#nav-{screen}[aria-current="page"]').wait_for(timeout=10_000)

    def csp_violations(self) -> list[str]:
        return list(self.page.evaluate("window.__cspViolations || []"))

    def progress_seen(self, label: str) -> list[float]:
        """The values a progress bar named ``label`` showed on this page so far."""
        return [v for name, v in self.page.evaluate("window.__progressSeen") if name == label]

    def assert_clean(self) -> None:
        assert self.console_errors == [], self.console_errors
        assert self.csp_violations() == []

    def axe(self, screen: str) -> None:
        """No serious or critical axe-core violation on the screen as it is now.

        axe is evaluated through the DevTools protocol: an injected ``<script>`` would
        itself be refused by the portal's CSP (no inline script)."""
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.evaluate(AXE.read_text(encoding="utf-8"))
        result = self.page.evaluate(
            "async () => (await axe.run(document)).violations"
            ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)}))"
        )
        bad = [v for v in result if v["impact"] in ("serious", "critical")]
        assert bad == [], f"{screen}: {bad}"

    def assert_fits_a_phone(self) -> None:
        """Nothing wider than the viewport: no sideways scrolling at 375 px."""
        assert self.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    def screenshot(self, name: str) -> None:
        self.page.screenshot(path=str(self.artefacts / f"{name}.png"), full_page=True)


def assert_nothing_secret_sent(views: Watched | list[Watched], secrets: list[str]) -> None:
    """No request any of ``views`` sent (URL, headers or body) holds any of ``secrets``,
    as given or without its 0x. A key (32 hex digits or more) is looked for anywhere; a
    short value (``61000``) as a token of its own, since any short string of digits turns
    up by chance inside a ciphertext's hex or a timestamp."""
    for view in views if isinstance(views, list) else [views]:
        for request in view.requests:
            everything = (request["url"] + json.dumps(request["headers"]) + request["body"]).lower()
            for secret in secrets:
                for form in (secret.lower(), secret.lower().removeprefix("0x")):
                    if _HEX_KEY.fullmatch(form):
                        found = form in everything
                    else:
                        token = rf"(?<![0-9a-z]){re.escape(form)}(?![0-9a-z])"
                        found = re.search(token, everything) is not None
                    assert not found, (request["url"], secret[:12])


#: A secret that is a key or digest in hex: found anywhere, even inside a longer hex run.
_HEX_KEY = re.compile(r"(0x)?[0-9a-f]{32,}")


#: Before any page script: CSP violations, and every progress bar state shown (scrypt may
#: finish faster than a test could look, the record stays).
_RECORD = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e =>
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
window.__progressSeen = [];
new MutationObserver(() => {
  for (const bar of document.querySelectorAll('progress')) {
    const state = [bar.getAttribute('aria-label'), bar.value];
    if (!window.__progressSeen.some(s => s[0] === state[0] && s[1] === state[1]))
      window.__progressSeen.push(state);
  }
}).observe(document, {subtree: true, childList: true, attributes: true});
"""


@pytest.fixture
def portal(chromium: Any, served: Served, artefacts: Path) -> Iterator[Watched]:
    """A fresh browser context at phone width on the served node's portal."""
    context = chromium.new_context(viewport=PHONE, accept_downloads=True)
    context.add_init_script(_RECORD)
    page = context.new_page()
    watched = Watched(page, served.url, artefacts)
    page.on(
        "console", lambda m: watched.console_errors.append(m.text) if m.type == "error" else None
    )
    page.on("pageerror", lambda e: watched.console_errors.append(str(e)))
    page.on(
        "request",
        lambda r: watched.requests.append(
            {"url": r.url, "headers": r.headers, "body": r.post_data or ""}
        ),
    )
    try:
        yield watched
    finally:
        context.close()

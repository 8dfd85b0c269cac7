"""The documentation stays true to the code: docs/design.md's intents table is
``ledger.intents.INTENTS`` (every intent, its exact EIP-712 type, signer, contract and a
served route), docs/api.md describes every route the app serves and none it does not,
and README.md and docs/ link only to files of this repository that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts

from api.main import create_app
from ledger.intents import INTENTS, encode_type

ROOT = Path(__file__).resolve().parent.parent
DESIGN = ROOT / "docs" / "design.md"
API = ROOT / "docs" / "api.md"
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))

_ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE)\s+(/[^`?\s]*)`")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_PARENT_PATH = re.compile(r"(?<![\w./-])\.\./[\w./-]+")


def served_routes() -> set[tuple[str, str]]:
    """Every (method, path) the app answers, documentation routes included; HEAD is
    implied by GET where the framework serves it."""
    app = create_app()
    return {
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        if route.path
        for method in route.methods or ()
        if method != "HEAD"
    }


def openapi_operations() -> set[tuple[str, str]]:
    paths = create_app().openapi()["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method in item}


def intent_rows(text: str) -> dict[str, list[str]]:
    """The rows of the table whose header starts ``| intent |``, by intent name."""
    rows: dict[str, list[str]] = {}
    in_table = False
    for line in text.splitlines():
        if line.startswith("| intent |"):
            in_table = True
            continue
        if in_table and not line.startswith("|"):
            break
        if in_table and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            name = cells[0].strip("`")
            assert name not in rows, f"{name} has two rows in the intents table"
            rows[name] = cells
    return rows


def test_design_intents_table_is_every_intent_with_its_exact_type() -> None:
    rows = intent_rows(DESIGN.read_text())
    assert rows, "docs/design.md has no intents table (a header row starting '| intent |')"
    assert sorted(rows) == sorted(INTENTS), (
        f"missing from the table: {sorted(set(INTENTS) - set(rows))};"
        f" not intents: {sorted(set(rows) - set(INTENTS))}"
    )
    served = served_routes()
    for name, intent in INTENTS.items():
        _, signer, contract, type_cell, sent_to = rows[name]
        expected = f"`{encode_type(name)}`"
        assert type_cell == expected, f"{name}: the type should be {expected}"
        assert contract == intent.contract, f"{name} is verified by {intent.contract}"
        if intent.signer_field:
            assert signer == f"`{intent.signer_field}`", (
                f"{name} is signed by its `{intent.signer_field}`"
            )
        else:
            assert "`" not in signer, f"{name}: no message field names its signer"
        route = _ROUTE.fullmatch(sent_to)
        assert route is not None and (route[1], route[2]) in served, (
            f"{name} is sent to {sent_to}, which the app does not serve"
        )


def test_api_doc_describes_every_served_path() -> None:
    described = {(m[1], m[2]) for m in _ROUTE.finditer(API.read_text())}
    served = served_routes()
    assert openapi_operations() <= served
    missing = sorted(served - described)
    assert not missing, f"docs/api.md does not describe {missing}"


def _template(path: str) -> str:
    """``/consents/{consent_id}`` and ``/consents/{id}`` name the same route."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_docs_name_no_route_the_app_does_not_serve() -> None:
    served = {(method, _template(path)) for method, path in served_routes()}
    for doc in (*DOCS, README):
        named = {(m[1], _template(m[2])) for m in _ROUTE.finditer(doc.read_text())}
        stale = sorted(named - served)
        assert not stale, f"{doc.relative_to(ROOT)} names routes nobody serves: {stale}"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {
        slug(line.lstrip("#"))
        for line in path.read_text().splitlines()
        if re.match(r"#{1,6} ", line)
    }


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_links_stay_inside_the_repository(doc: Path) -> None:
    text = doc.read_text()
    outside = _PARENT_PATH.findall(text) if doc == README else []
    outside += re.findall(r"(?<![\w.])/work/[\w./-]+", text)
    for target in _LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            outside.append(target)  # a URL or file: link: not in a clone
            continue
        path, _, fragment = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        if not resolved.is_relative_to(ROOT):
            outside.append(target)
            continue
        assert resolved.exists(), f"{doc.relative_to(ROOT)} links {target}, which does not exist"
        if fragment and resolved.suffix == ".md":
            assert fragment in anchors(resolved), (
                f"{doc.relative_to(ROOT)} links {target}: no such heading"
            )
    assert not outside, f"{doc.relative_to(ROOT)} points outside the repository: {outside}"


def test_readme_links_the_design_documentation() -> None:
    targets = {t.partition("#")[0] for t in _LINK.findall(README.read_text())}
    assert {"docs/design.md", "docs/api.md"} <= targets

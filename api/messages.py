"""Problems as sentences: the API's problem documents turned into what a person reads.

The sentences live in ``api/locale/en.json``, not here, because the portal shows the
same ones: a JSON file loads as it is in a browser (api/portal/src/app/problems.js is
the renderer written again), and ``zh-CN.json`` beside it is the Chinese translation,
one file per language as the portal's style asks. A template names its arguments with a kind,
``{validUntil:time}`` or ``{department:department}``, so the formatting rules are
explicit and small enough to write again in JavaScript:

- ``time``: Unix seconds as ``2026-01-31 12:00 UTC``;
- ``department``, ``account``: an address, with its directory name when known;
- ``field``, ``purpose``, ``role``: a ``bytes32`` id as its schema name;
- ``fields``: a list of those; ``consent``: an id; ``seconds``: a wait; ``text``: as is.

Lookup order for one problem: the contract's or service's ``error`` name, the denial
``reason``, the HTTP status; a template whose argument is missing is skipped, and the
problem's own ``detail`` is the last resort, so a sentence is never worse than the raw
answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from ledger.vocabulary import ROLE_NAMES, bytes32_label, role_id

LOCALE_DIR = Path(__file__).with_name("locale")
_PLACEHOLDER = re.compile(r"\{(\w+)(?::(\w+))?\}")


@cache
def catalogue(language: str = "en") -> dict[str, Any]:
    """The message file of ``language`` (``errors``, ``reasons``, ``statuses``)."""
    with (LOCALE_DIR / f"{language}.json").open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


@dataclass
class Names:
    """What the renderer can name: department addresses (the directory), any other
    addresses a caller knows (``accounts``), and role ids (the protocol's own)."""

    departments: Mapping[str, str] = field(default_factory=dict)
    accounts: Mapping[str, str] = field(default_factory=dict)

    def account(self, address: str, *, department: bool = False, language: str = "en") -> str:
        key = address.lower()
        for table in (self.departments, self.accounts):
            for known, name in table.items():
                if known.lower() == key:
                    return f"{name} ({short_address(address)})"
        if department:
            return _words(language)["department"].format(address=short_address(address))
        return short_address(address)


#: The few words a kind adds around its value, per language (the portal's renderer,
#: api/portal/src/app/problems.js, has the same; tests/portal/test_problems_in_node.py).
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "department": "the department {address}",
        "second": "{n} second",
        "seconds": "{n} seconds",
        "bundle_item": "Item {n} of the bundle: {sentence}",
    },
    "zh-CN": {
        "department": "部门 {address}",
        "second": "{n} 秒",
        "seconds": "{n} 秒",
        "bundle_item": "一次性授权第 {n} 项：{sentence}",  # noqa: RUF001
    },
}


def _words(language: str) -> dict[str, str]:
    return WORDS.get(language, WORDS["en"])


ROLE_BY_ID = {"0x" + role_id(name).hex(): name for name in ROLE_NAMES}


def short_address(address: str) -> str:
    text = str(address)
    return text if len(text) <= 14 else f"{text[:6]}…{text[-4:]}"


def date(timestamp: Any) -> str:
    try:
        moment = datetime.fromtimestamp(int(timestamp), tz=UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        return str(timestamp)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _id_label(value: Any) -> str:
    text = str(value)
    if len(text) == 66 and text.startswith("0x"):
        try:
            return bytes32_label(bytes.fromhex(text[2:]))
        except ValueError:
            return text
    return text


def format_value(kind: str | None, value: Any, names: Names, language: str = "en") -> str:
    if kind == "time":
        return date(value)
    if kind in ("department", "account"):
        return names.account(str(value), department=kind == "department", language=language)
    if kind in ("field", "purpose"):
        return f"`{_id_label(value)}`"
    if kind == "fields":
        items = value if isinstance(value, list | tuple) else [value]
        return ", ".join(f"`{_id_label(v)}`" for v in items)
    if kind == "role":
        text = str(value).lower()
        return ROLE_BY_ID.get(text, _id_label(value))
    if kind == "seconds":
        seconds = int(value)
        return _words(language)["second" if seconds == 1 else "seconds"].format(n=seconds)
    return str(value)


def render(
    template: str, values: Mapping[str, Any], names: Names, language: str = "en"
) -> str | None:
    """``template`` filled from ``values``; ``None`` if one of its arguments is missing."""
    missing = False

    def fill(found: re.Match[str]) -> str:
        nonlocal missing
        key, kind = found.group(1), found.group(2)
        if values.get(key) is None:
            missing = True
            return ""
        return format_value(kind, values[key], names, language)

    text = _PLACEHOLDER.sub(fill, template)
    return None if missing else text


def explain(
    document: Mapping[str, Any],
    *,
    status: int | None = None,
    names: Names | None = None,
    context: Mapping[str, Any] | None = None,
    language: str = "en",
) -> str:
    """One sentence for a problem document (as the API answers it).

    ``context`` adds values the caller knows (``consent_id``, ``department``);
    the document's ``arguments``, ``detail`` and ``retry_after`` come first."""
    table = catalogue(language)
    names = names or Names()
    arguments = document.get("arguments")
    values: dict[str, Any] = dict(context or {})
    values.update(arguments if isinstance(arguments, Mapping) else {})
    for key in ("detail", "retry_after", "reason"):
        if document.get(key) is not None:
            values.setdefault(key, document[key])
    code = status if status is not None else document.get("status")
    candidates = [
        table["errors"].get(str(document.get("error") or "")),
        table["reasons"].get(str(document.get("reason") or "")),
        table["statuses"].get(str(code)),
    ]
    sentence = str(document.get("detail") or document.get("title") or f"HTTP {code}")
    for template in candidates:
        if template:
            text = render(template, values, names, language)
            if text is not None:
                sentence = text
                break
    item = document.get("bundle_item")
    if isinstance(item, int) and not isinstance(item, bool):
        # One item refused the whole bundle: say which (counting from 1, as people do).
        return _words(language)["bundle_item"].format(n=item + 1, sentence=sentence)
    return sentence

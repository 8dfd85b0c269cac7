"""The portal's strings as the browser gets them: ``src/i18n/<lang>/<area>.json`` merged
(api/portal/src/app/i18n.js merges the same files)."""

from __future__ import annotations

import json
from pathlib import Path

I18N = Path(__file__).resolve().parents[2] / "api" / "portal" / "src" / "i18n"
LANGS = ("zh-CN", "en")


def areas(lang: str) -> dict[str, dict[str, str]]:
    """Each area's file of ``lang``, by area name."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((I18N / lang).glob("*.json"))
    }


def strings(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for table in areas(lang).values():
        merged.update(table)
    return merged

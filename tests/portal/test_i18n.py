"""The portal's strings: both languages say the same things, and every seeded field and
purpose has a name people read in each (the screens fall back to the raw id only for
names an admin added later)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from ledger.vocabulary import DECLINE_REASONS, SEED_FIELDS, SEED_PURPOSES
from tests.portal.strings import I18N, LANGS, areas, strings

I18N_JS = I18N.parent / "app" / "i18n.js"


def test_both_languages_have_the_same_areas_and_strings_in_each() -> None:
    zh, en = areas("zh-CN"), areas("en")
    assert set(zh) == set(en)
    assert {area: set(table) for area, table in zh.items()} == {
        area: set(table) for area, table in en.items()
    }


@pytest.mark.parametrize("lang", LANGS)
def test_no_string_is_defined_in_two_areas(lang: str) -> None:
    counts = Counter(key for table in areas(lang).values() for key in table)
    assert [key for key, n in counts.items() if n > 1] == []


@pytest.mark.parametrize("lang", LANGS)
def test_the_portal_imports_every_area_file(lang: str) -> None:
    imported = set(re.findall(rf'"\.\./i18n/{re.escape(lang)}/(\w+)\.json"', I18N_JS.read_text()))
    assert imported == set(areas(lang))


@pytest.mark.parametrize("lang", LANGS)
def test_every_placeholder_is_in_both_languages(lang: str) -> None:
    other = strings("en" if lang == "zh-CN" else "zh-CN")
    mine = strings(lang)
    differ = [
        key
        for key in mine
        if set(re.findall(r"\{(\w+)\}", mine[key])) != set(re.findall(r"\{(\w+)\}", other[key]))
    ]
    assert differ == []


@pytest.mark.parametrize("lang", LANGS)
def test_every_seeded_field_and_purpose_has_a_name(lang: str) -> None:
    table = strings(lang)
    missing = [f"field.{n}" for n in SEED_FIELDS if f"field.{n}" not in table]
    missing += [f"purpose.{p}" for p in SEED_PURPOSES if f"purpose.{p}" not in table]
    assert missing == []
    assert all(table[f"purpose.{p}"] != p for p in SEED_PURPOSES)


def test_the_portals_decline_reasons_are_the_ledgers_and_each_has_words() -> None:
    source = (I18N.parent / "app" / "requests.js").read_text(encoding="utf-8")
    listed = re.search(r"DECLINE_REASONS = \[([^\]]*)\]", source)
    assert listed is not None
    codes = re.findall(r'"(\w+)"', listed.group(1))
    assert codes == list(DECLINE_REASONS)
    for lang in LANGS:
        table = strings(lang)
        assert all(f"requests.reason.{code}" in table for code in codes)

"""Every language of the message table says every problem: ``api/locale/zh-CN.json`` has
exactly the keys of ``api/locale/en.json`` in each section, and each template the same
placeholders (name and kind), so a sentence added in English (a new contract error) must
be translated in the same change, and no translation drops or invents an argument."""

from __future__ import annotations

import re
from collections import Counter

from api.messages import LOCALE_DIR, catalogue, explain

PLACEHOLDER = re.compile(r"\{(\w+)(?::(\w+))?\}")
SECTIONS = ("errors", "reasons", "statuses")
LANGUAGES = sorted(path.stem for path in LOCALE_DIR.glob("*.json"))


def test_the_table_is_in_english_and_chinese() -> None:
    assert LANGUAGES == ["en", "zh-CN"]
    for language in LANGUAGES:
        assert catalogue(language)["language"] == language


def test_each_translation_has_the_english_keys_and_placeholders() -> None:
    english = catalogue("en")
    for language in LANGUAGES:
        table = catalogue(language)
        assert set(table) == set(english), language
        for section in SECTIONS:
            missing = sorted(set(english[section]) - set(table[section]))
            extra = sorted(set(table[section]) - set(english[section]))
            assert (missing, extra) == ([], []), f"translate into {language}.json: {missing}"
            for key, template in english[section].items():
                wanted = Counter(PLACEHOLDER.findall(template))
                assert Counter(PLACEHOLDER.findall(table[section][key])) == wanted, (
                    language,
                    section,
                    key,
                )


def test_the_chinese_sentences_are_chinese() -> None:
    """Translated, not copied: every template has Chinese characters, and the same problem
    reads differently in the two languages."""
    table = catalogue("zh-CN")
    for section in SECTIONS:
        for key, template in table[section].items():
            assert re.search(r"[\u4e00-\u9fff]", template), (section, key)
    revoked = {"status": 409, "error": "ConsentLedgerAlreadyRevoked", "arguments": {"consentId": 7}}
    assert explain(revoked) == "Consent 7 is already revoked."
    assert explain(revoked, language="zh-CN") == "同意书 7 已被撤销。"
    slow = {"status": 429, "retry_after": 1, "detail": "slow down"}
    assert explain(slow, language="zh-CN") == "此地址的请求过于频繁，请在 1 秒后重试。"  # noqa: RUF001

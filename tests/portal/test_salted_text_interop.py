"""The portal's salted texts (``api/portal/src/crypto/saltedText.js``, in Node: the module
the browser loads) against ``wallets/emergency.py``: the same tags, the same hash for the
same text and salt (a justification, review notes, Chinese and emoji, the longest text
allowed), the same refusals (empty, too long), a fresh salt per text, and a document one
side keeps is checked by the other."""

from __future__ import annotations

import secrets

from eth_utils import keccak

from ledger.codec import to_hex
from tests.portal.test_crypto_interop import node, ok
from wallets.emergency import (
    JUSTIFICATION,
    MAX_TEXT_BYTES,
    REVIEW_NOTES,
    SaltedText,
    salted_hash,
)

TEXTS = [
    "collapsed in the street, not responding",
    "患者昏迷 家属无法联系 😀",
    'quotes " and \\ back\nslash\ttab',
    "x" * MAX_TEXT_BYTES,
    "界" * (MAX_TEXT_BYTES // 3),  # 3 bytes each: the longest Chinese text allowed
]


def test_the_browser_uses_the_wallets_tags_and_limit() -> None:
    tags = ok(node("saltedText.mjs", "tags"))
    assert tags == {"justification": JUSTIFICATION, "notes": REVIEW_NOTES, "max": MAX_TEXT_BYTES}


def test_the_browsers_hash_is_pythons_salted_hash_for_the_same_salt() -> None:
    cases = [
        {"tag": tag, "text": text, "salt": to_hex(secrets.token_bytes(32))}
        for tag in (JUSTIFICATION, REVIEW_NOTES)
        for text in TEXTS
    ]
    js = ok(node("saltedText.mjs", "hash", cases=cases))
    python = [to_hex(salted_hash(c["tag"], c["text"], bytes.fromhex(c["salt"][2:]))) for c in cases]
    assert js == python
    # Neither the unsalted hash nor the other tag's gives the same digest.
    assert to_hex(keccak(text=TEXTS[0])) not in js
    assert len(set(js)) == len(js)


def test_a_text_salted_in_the_browser_is_one_the_wallet_checks_and_the_reverse() -> None:
    salt = secrets.token_bytes(32)
    cases = [{"tag": JUSTIFICATION, "text": f"  {t}\n", "salt": to_hex(salt)} for t in TEXTS[:3]]
    documents = ok(node("saltedText.mjs", "salt", cases=cases))
    for document, text in zip(documents, TEXTS[:3], strict=True):
        kept = SaltedText.from_json(document)
        assert kept.text == text  # trimmed, as SaltedText.new trims
        assert kept.matches(document["hash"])
        assert document == SaltedText(JUSTIFICATION, text, salt).to_json()
    # A document the CLI keeps is checked in the browser; a changed word or tag is not.
    python = SaltedText.new(REVIEW_NOTES, "the crew log confirms it")
    digest = to_hex(python.hash)
    altered = {**python.to_json(), "text": "the crew log confirms it."}
    other_tag = {**python.to_json(), "tag": JUSTIFICATION}
    cases_m = [
        {"document": python.to_json(), "digest": digest},
        {"document": altered, "digest": digest},
        {"document": other_tag, "digest": digest},
        {"document": {"tag": REVIEW_NOTES, "text": "x", "salt": "0x12"}, "digest": digest},
    ]
    assert ok(node("saltedText.mjs", "matches", cases=cases_m)) == [True, False, False, False]


def test_the_browser_refuses_what_the_wallet_refuses_and_salts_afresh() -> None:
    salt = to_hex(secrets.token_bytes(32))
    refusals = ok(
        node(
            "saltedText.mjs",
            "salt",
            cases=[
                {"tag": JUSTIFICATION, "text": " \n\t ", "salt": salt},
                {"tag": JUSTIFICATION, "text": "x" * (MAX_TEXT_BYTES + 1), "salt": salt},
                {"tag": JUSTIFICATION, "text": "界" * (MAX_TEXT_BYTES // 3 + 1), "salt": salt},
            ],
        )
    )
    assert refusals == [{"refused": "empty"}, {"refused": "too_long"}, {"refused": "too_long"}]
    for text in (" \n\t ", "x" * (MAX_TEXT_BYTES + 1)):
        try:
            SaltedText.new(JUSTIFICATION, text)
        except ValueError:
            continue
        raise AssertionError(f"the wallet took {text[:10]!r}")
    first, second = ok(node("saltedText.mjs", "fresh", tag=JUSTIFICATION, text="same words"))
    assert first["salt"] != second["salt"] and first["hash"] != second["hash"]
    assert all(SaltedText.from_json(d).matches(d["hash"]) for d in (first, second))

"""Texts behind an emergency access: a department's justification, an auditor's notes.

The chain keeps neither text, only a salted hash of it (``EmergencyAccess.justificationHash``,
``ReviewEmergency.notesHash``)::

    keccak256(abi.encode(string tag, string text, bytes32 salt))

with a fresh random 32-byte ``salt`` per text and ``tag`` naming what the text is
(:data:`JUSTIFICATION` or :data:`REVIEW_NOTES`), so a hash of one kind never passes for
the other. An unsalted hash of a short sentence ("patient unconscious after a fall") is
found by guessing sentences; a salted one is not. The writer keeps text and salt
(:meth:`SaltedText.to_json`) and shows them to whoever must check them, who recomputes
the hash and compares it with the chain's (:meth:`SaltedText.matches`).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_utils import keccak

from ledger.codec import from_hex, to_hex

#: The tags of the two kinds of text.
JUSTIFICATION = "consent-ledger/v1:emergency-justification"
REVIEW_NOTES = "consent-ledger/v1:emergency-review-notes"
SALT_LENGTH = 32
#: The longest text kept (UTF-8 bytes): a justification is a few sentences, not a file.
MAX_TEXT_BYTES = 4096


def salted_hash(tag: str, text: str, salt: bytes) -> bytes:
    """``keccak256(abi.encode(string tag, string text, bytes32 salt))``."""
    if len(salt) != SALT_LENGTH:
        raise ValueError(f"a salt is {SALT_LENGTH} bytes, got {len(salt)}")
    return bytes(keccak(encode(["string", "string", "bytes32"], [tag, text, salt])))


@dataclass(frozen=True)
class SaltedText:
    """A text, its salt and what kind of text it is; :attr:`hash` goes on chain."""

    tag: str
    text: str
    salt: bytes

    @classmethod
    def new(cls, tag: str, text: str) -> SaltedText:
        """``text`` (stripped) with a fresh salt; ValueError for an empty or huge text."""
        cleaned = text.strip()
        if not cleaned:
            raise ValueError("the text is empty: say why, in words")
        if len(cleaned.encode("utf-8")) > MAX_TEXT_BYTES:
            raise ValueError(f"the text is over {MAX_TEXT_BYTES} bytes")
        return cls(tag, cleaned, secrets.token_bytes(SALT_LENGTH))

    @property
    def hash(self) -> bytes:
        return salted_hash(self.tag, self.text, self.salt)

    def matches(self, digest: bytes | str) -> bool:
        """Whether this text and salt are what ``digest`` (the chain's) commits to."""
        return hmac.compare_digest(self.hash, from_hex(digest, length=32, what="hash"))

    def to_json(self) -> dict[str, str]:
        return {
            "tag": self.tag,
            "text": self.text,
            "salt": to_hex(self.salt),
            "hash": to_hex(self.hash),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> SaltedText:
        return cls(
            str(document["tag"]),
            str(document["text"]),
            from_hex(str(document["salt"]), length=SALT_LENGTH),
        )

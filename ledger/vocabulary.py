"""The schema's vocabulary: field ids, purpose codes, denial reasons and roles, how they
travel as ``bytes32``, and what they mean in plain words.

One table per kind, for the contracts' seed (:mod:`ledger.deployment`), the relayer's
checks, the API, the CLI, the demo and the portal. The chain knows names, not
meanings: an admin may add fields and purposes that have no entry here, so every
lookup has a fallback (:func:`describe`), and a test checks that every seeded name
is described. Terms are the few words of the protocol a user meets (intent, relayer,
record root, salted commitment), each said once in one line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from eth_utils import keccak

from ledger.codec import as_bytes, to_hex

SEED_FIELDS: tuple[str, ...] = (
    "name",
    "id_number",
    "birth_date",
    "household_registration",
    "address",
    "phone",
    "marital_status",
    "income",
    "social_insurance",
    "health_summary",
    "vehicle",
    "property",
)

SEED_PURPOSES: tuple[str, ...] = (
    "HOUSING",
    "SOCIAL_ASSISTANCE",
    "HEALTHCARE",
    "EDUCATION",
    "EMPLOYMENT",
    "PUBLIC_SECURITY",
    "TAXATION",
    "EMERGENCY",
)

#: Denial reasons, as ``AccessDenied`` carries them (``bytes32`` ASCII) and the API names them.
DENIAL_REASONS: tuple[str, ...] = (
    "unknown_consent",
    "not_granted",
    "revoked",
    "not_yet_valid",
    "expired",
    "uses_exhausted",
    "field_not_in_scope",
)

#: Why a resident declines an access request (``DeclineRequest.reason``, ``bytes32`` ASCII
#: like purposes); the ledger contract accepts exactly these (its ``declineReasons``).
DECLINE_REASONS: dict[str, str] = {
    "NOT_NEEDED": "the department does not need this to serve me",
    "TOO_MANY_FIELDS": "it asks for more fields than its purpose needs",
    "TOO_LONG": "it asks for access for longer than its purpose needs",
    "UNKNOWN_DEPARTMENT": "I do not know this department or did not expect its request",
    "OTHER": "another reason",
}

#: Why an emergency access was refused, as ``EmergencyDenied.refusal`` carries them
#: (``bytes32`` ASCII): the department lacks the emergency role; the resident left no
#: directive for it; the directive ran out; a field asked is not in the directive (or no
#: longer in the role); the resident's accesses for the day (UTC, chain time) are spent.
EMERGENCY_REFUSALS: tuple[str, ...] = (
    "no_emergency_role",
    "no_directive",
    "directive_expired",
    "field_not_in_directive",
    "daily_limit",
)
#: Reason codes an emergency department states (``EmergencyAccess.reason``). The chain
#: takes any non-zero code and records it; these are the ones the CLI and portal offer.
EMERGENCY_REASONS: dict[str, str] = {
    "UNCONSCIOUS": "the resident is unconscious or cannot answer",
    "CARDIAC_ARREST": "cardiac or respiratory arrest",
    "SEVERE_INJURY": "a severe injury (accident, fall, burn)",
    "ALLERGIC_REACTION": "a severe allergic reaction",
    "POISONING": "poisoning or an overdose",
    "OTHER": "another emergency (the justification says which)",
}
#: An auditor's verdict on an emergency access (``ReviewEmergency.outcome``).
REVIEW_OUTCOMES: tuple[str, ...] = ("justified", "unjustified")
#: ``ConsentEmergency``'s ``DAILY_LIMIT`` (served accesses per resident per UTC day of
#: chain time) and ``REVIEW_PERIOD`` (how long an auditor has); a test holds them equal.
EMERGENCY_DAILY_LIMIT = 3
EMERGENCY_REVIEW_PERIOD = 3 * 86_400

#: A request's status, derived from the chain: filed, then answered at most once (a grant
#: naming it, a decline, a withdrawal), or expired when no answer came in time.
REQUEST_STATUSES: tuple[str, ...] = ("pending", "granted", "declined", "withdrawn", "expired")
#: How long a grant may answer a request after the block that filed it: the ledger's
#: ``REQUEST_ANSWER_WINDOW`` (a test holds them equal); later it is shown expired and a
#: grant naming it is refused (``ConsentLedgerRequestExpired``).
REQUEST_ANSWER_WINDOW = 30 * 86_400


def request_status(answer: str | None, granted: bool, requested_at: int, now: int) -> str:
    """A request's status from its answer event (``declined``/``withdrawn``), whether a
    consent names it, and chain time."""
    if granted:
        return "granted"
    if answer is not None:
        return answer
    return "expired" if now >= requested_at + REQUEST_ANSWER_WINDOW else "pending"


@dataclass(frozen=True)
class Role:
    """One row of the role table. ``granted``: an AccessControl role the admin grants
    (``resident`` is enrolment, not a role, but ``rolesOf`` reports it as one more bit)."""

    name: str
    meaning: str
    granted: bool = True

    @property
    def id(self) -> bytes:
        return role_id(self.name)


#: Every role, in the bit order of the directory's ``rolesOf``.
ROLE_TABLE: tuple[Role, ...] = (
    Role("admin", "data-governance office: registers departments, grants roles"),
    Role("registrar", "enrols residents (a salted commitment to the ID number)"),
    Role("department", "asks residents for fields and reads them under consent"),
    Role("issuer", "vouches for field values it knows (attestations)"),
    Role("auditor", "reads, exports and verifies the whole log"),
    Role("relayer", "submits signed intents to the chain (the API's own account)"),
    Role("resident", "keeps a record and grants, narrows or revokes access to it", granted=False),
    Role("emergency", "reads a resident's emergency directive fields in an emergency (ambulance)"),
)
ROLE_BITS: tuple[str, ...] = tuple(r.name for r in ROLE_TABLE)
#: The roles an admin grants and revokes (``GrantRole``, ``RevokeRole``).
ROLE_NAMES: tuple[str, ...] = tuple(r.name for r in ROLE_TABLE if r.granted)


def role_id(name: str) -> bytes:
    """OpenZeppelin's convention: ``keccak256("REGISTRAR_ROLE")``; admin is ``bytes32(0)``."""
    if name == "admin":
        return b"\0" * 32
    return keccak(text=f"{name.upper()}_ROLE")


# ---------------------------------------------------------------------- bytes32 names


def is_schema_name(value: bytes) -> bool:
    """Whether 32 bytes can be a field id or purpose code at all (the contract's
    ``_checkName``: printable ASCII without spaces, right-padded with zero bytes)."""
    raw = value.rstrip(b"\0")
    return len(value) == 32 and bool(raw) and all(0x21 <= b <= 0x7E for b in raw)


def name_to_bytes32(name: str) -> bytes:
    """Field ids and purpose codes: short ASCII names right-padded into ``bytes32``."""
    raw = name.encode("ascii")
    if not raw or len(raw) > 32 or not all(0x21 <= b <= 0x7E for b in raw):
        raise ValueError(f"not a schema name (1-32 printable ASCII, no spaces): {name!r}")
    return raw.ljust(32, b"\0")


def bytes32_to_name(value: bytes) -> str:
    if len(value) != 32:
        raise ValueError("expected 32 bytes")
    return value.rstrip(b"\0").decode("ascii")


def bytes32_label(value: bytes) -> str:
    """How the read side shows a field id, purpose code or reason: its name when the bytes
    are one (what :func:`name_to_bytes32` makes), else ``0x``-hex. Never raises for 32
    bytes: the directory only defines names, but a query may name any ``bytes32`` and its
    refusal records it. The hex form is 66 characters, so it is never taken for a name."""
    if len(value) != 32:
        raise ValueError("expected 32 bytes")
    if is_schema_name(value):
        return value.rstrip(b"\0").decode("ascii")
    return to_hex(value)


def hex32_label(value: str) -> str:
    """:func:`bytes32_label` of a ``0x``-hex ``bytes32`` as the event args store it."""
    return bytes32_label(as_bytes(value))


def label_to_bytes32(label: str) -> bytes:
    """The inverse of :func:`bytes32_label`."""
    if len(label) == 66 and label.startswith("0x"):
        return as_bytes(label)
    return name_to_bytes32(label)


# ---------------------------------------------------------------------- meanings

FIELDS: dict[str, str] = {
    "name": "full legal name",
    "id_number": "national ID number (issued by public security)",
    "birth_date": "date of birth",
    "household_registration": "household registration (hukou): where the household is registered",
    "address": "home address",
    "phone": "phone number",
    "marital_status": "marital status",
    "income": "yearly income",
    "social_insurance": "social insurance number and contribution record",
    "health_summary": "health summary: conditions, allergies, medication",
    "vehicle": "vehicles registered to the resident",
    "property": "real estate owned by the resident",
}

PURPOSES: dict[str, str] = {
    "HOUSING": "housing assistance and public housing applications",
    "SOCIAL_ASSISTANCE": "social assistance and subsidies",
    "HEALTHCARE": "medical care and health insurance",
    "EDUCATION": "school enrolment and education support",
    "EMPLOYMENT": "employment services and unemployment benefits",
    "PUBLIC_SECURITY": "public security and identity checks",
    "TAXATION": "tax assessment",
    "EMERGENCY": "emergencies: reaching the resident or their family",
}


ROLES: dict[str, str] = {r.name: r.meaning for r in ROLE_TABLE if r.granted}

TERMS: dict[str, str] = {
    "intent": "a message signed in the wallet (EIP-712) saying what its signer wants done;"
    " the contract checks the signature, so nobody can act in someone else's name",
    "relayer": "the API's account that puts signed intents on chain and pays for them;"
    " it can submit, but not forge or alter, what others signed",
    "record root": "one hash (a Merkle root) over the encrypted fields of a record version,"
    " committed on chain, so a reader can prove a field belongs to that version",
    "salted commitment": "a hash of a value together with a random salt: it pins the value"
    " without revealing it (the salt stops anyone guessing it back)",
    "consent": "the resident's signed grant: which department, which fields, for which"
    " purpose, from when until when, how many uses",
    "access log": "every read and every refusal, recorded on chain as it happens",
}

_TABLES = {"field": FIELDS, "purpose": PURPOSES, "role": ROLES}


def describe(kind: str, name: str) -> str | None:
    """The plain meaning of a ``field``, ``purpose`` or ``role`` name (None if
    it has none: a name an admin added later)."""
    table = _TABLES[kind]
    return table.get(name) or table.get(name.lower()) or table.get(name.upper())


def match(name: str, known: Iterable[str]) -> str | None:
    """``name`` as one of ``known`` regardless of case (fields are lower case, purposes
    upper case: users type either)."""
    folded = {k.casefold(): k for k in known}
    return folded.get(name.strip().casefold())


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """The closest of ``known`` to a mistyped ``name`` (case ignored), if any is close."""
    folded = {k.casefold(): k for k in known}
    close = difflib.get_close_matches(name.strip().casefold(), list(folded), n=1, cutoff=0.6)
    return folded[close[0]] if close else None


def mismatches() -> dict[str, tuple[list[str], list[str]]]:
    """Per kind, the seeded names without a description and the described names that are
    not seeded; empty when the tables match the seed above (a test holds it so)."""
    found: dict[str, tuple[list[str], list[str]]] = {}
    for kind, seeded in (
        ("field", SEED_FIELDS),
        ("purpose", SEED_PURPOSES),
        ("role", ROLE_NAMES),
    ):
        table = _TABLES[kind]
        missing, extra = sorted(set(seeded) - set(table)), sorted(set(table) - set(seeded))
        if missing or extra:
            found[kind] = (missing, extra)
    return found

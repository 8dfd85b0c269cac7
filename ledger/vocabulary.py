"""What the schema's names mean, in plain words: one table for the CLI, the demo and the
portal, beside the seeded names of :mod:`ledger.intents` (which stay the only list of
what is seeded; this module only describes them).

The chain knows names, not meanings: an admin may add fields and purposes that have no
entry here, so every lookup has a fallback (:func:`describe`), and a test checks that
every seeded name is described. Terms are the few words of the protocol a user meets
(intent, relayer, record root, salted commitment), each said once in one line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from ledger.intents import ROLE_NAMES, SEED_FIELDS, SEED_PURPOSES

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

ROLES: dict[str, str] = {
    "admin": "data-governance office: registers departments, grants roles",
    "registrar": "enrols residents (a salted commitment to the ID number)",
    "department": "asks residents for fields and reads them under consent",
    "issuer": "vouches for field values it knows (attestations)",
    "auditor": "reads, exports and verifies the whole log",
    "relayer": "submits signed intents to the chain (the API's own account)",
}

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
    not seeded; empty when the tables match :mod:`ledger.intents` (a test holds it so)."""
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

"""A consent as an HL7 FHIR R5 ``Consent`` resource (``GET /consents/{id}/fhir``).

Health and social-care systems exchange consents as FHIR; this module says how one of the
ledger's consents reads in that vocabulary, as a pure function from the consent's view
(:class:`api.schemas.consents.ConsentOut`, status already derived from chain time) to a
JSON-ready dict. Nothing here imports a FHIR library: the tests validate every answer
with ``fhir.resources`` (R5 models), the service itself needs none.

The code systems and identifier systems are URLs under the service's public URL
(``{base}fhir/...``): each deployment has its own directory of fields and purposes, so
their codes are this ledger's, named where it answers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.schemas.consents import ConsentOut
from ledger.vocabulary import describe

#: The content type of a FHIR resource in JSON (FHIR R5 "JSON Representation").
FHIR_JSON = "application/fhir+json"

#: Consent.status (value set ``consent-state-codes``) for each derived status.
STATUS: dict[str, str] = {
    "active": "active",
    "not_yet_valid": "active",
    "revoked": "inactive",
    "expired": "inactive",
    "exhausted": "inactive",
}

_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_ACTION_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentaction"


def systems(base: str) -> dict[str, str]:
    """The URLs naming the ledger's own codes and identifiers, under ``base`` (the service's
    public URL, ending in ``/``)."""
    root = base.rstrip("/") + "/fhir/"
    return {
        "resident": root + "resident-address",
        "department": root + "department-address",
        "consent": root + "consent-id",
        "purpose": root + "CodeSystem/purpose",
        "field": root + "field",
        "receipt": root + "StructureDefinition/chain-receipt",
    }


def instant(seconds: int) -> str:
    """Chain time (Unix seconds) as a FHIR ``dateTime``/``instant`` in UTC."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def consent_resource(
    consent: ConsentOut, *, base: str, chain_id: int, ledger: str
) -> dict[str, Any]:
    """``consent`` as a FHIR R5 ``Consent``.

    - ``status``: active and not-yet-valid consents are ``active``; revoked, expired and
      used-up ones ``inactive``. A consent that starts later is ``active``, not ``draft``:
      FHIR's ``draft`` is a consent "in development ... not yet intended to be acted
      upon", one that may still change, while this one is signed, recorded and final (it
      can only be revoked); *when* it may be acted on is what ``period`` says, and R5
      puts the consent's effective time there. ``inactive`` is "terminated or replaced":
      revoked, past ``validUntil`` or out of uses, it permits nothing any more (the
      ledger's own ``status`` says which, in ``GET /consents/{id}``).
    - ``grantor`` and ``subject``: the resident, a logical ``Patient`` reference by its
      checksummed address; ``grantee``: the department (``Organization``, address and
      name). ``controller`` and ``manager`` are left out: the contract, not a FHIR actor,
      enforces the consent, and nobody else manages it.
    - ``date``: the day (UTC) the grant was recorded; ``period``: ``validFrom`` to
      ``validUntil`` as UTC instants.
    - ``provision``: ``permit`` (``decision``), action ``access``, ``purpose`` one Coding
      in the ledger's purpose code system, and one ``data`` entry per field. R5's
      ``provision.data`` is "the resources controlled by this provision if specific
      resources are referenced": each field is one specific item of this resident's
      record, so ``meaning`` is ``instance`` and ``reference`` a logical reference
      (``Reference.identifier``: the field system, the field's name, its meaning as
      ``display``), since the fields are no FHIR resources with a URL of their own.
      ``provision.code`` would match codes found *inside* resources and
      ``provision.resourceType`` FHIR types; neither names a field of an encrypted
      record.
    - The receipt: ``identifier`` is the consent id in the ledger's consent-id system and
      the URN ``GET /consents/{id}/record`` names it by (system ``urn:ietf:rfc:3986``,
      ``urn:consent-ledger:{chain id}:{ledger address}:{consent id}``);
      ``sourceAttachment`` is the consent's own page of the API (which carries the
      resident's signed ``Grant``); an extension (``chain-receipt``) holds the chain id,
      ledger contract, transaction hash, block and log index of the grant's event.
      ``maxUses`` and ``uses`` have no FHIR element and are left out
      (``GET /consents/{id}`` has them).
    """
    names = systems(base)
    resident = {
        "type": "Patient",
        "identifier": {"system": names["resident"], "value": consent.resident},
    }
    department: dict[str, Any] = {
        "type": "Organization",
        "identifier": {"system": names["department"], "value": consent.department},
    }
    if consent.department_name:
        department["display"] = consent.department_name
    purpose = {"system": names["purpose"], "code": consent.purpose}
    meaning = describe("purpose", consent.purpose)
    if meaning:
        purpose["display"] = meaning
    receipt = consent.receipt
    return {
        "resourceType": "Consent",
        "id": str(consent.consent_id),
        "identifier": [
            {"system": names["consent"], "value": str(consent.consent_id)},
            {
                "system": "urn:ietf:rfc:3986",
                "value": f"urn:consent-ledger:{chain_id}:{ledger}:{consent.consent_id}",
            },
        ],
        "status": STATUS[consent.status],
        "category": [
            {"coding": [{"system": _ACT_CODE, "code": "INFA", "display": "information access"}]}
        ],
        "subject": resident,
        "date": instant(consent.granted_at)[:10],
        "period": {"start": instant(consent.valid_from), "end": instant(consent.valid_until)},
        "grantor": [resident],
        "grantee": [department],
        "sourceAttachment": [
            {
                "contentType": "application/json",
                "url": base.rstrip("/") + f"/consents/{consent.consent_id}",
                "title": "The consent and the resident's signed Grant",
                "creation": instant(consent.granted_at),
            }
        ],
        "decision": "permit",
        "provision": [
            {
                "action": [{"coding": [{"system": _ACTION_SYSTEM, "code": "access"}]}],
                "purpose": [purpose],
                "data": [_data(names["field"], name) for name in consent.fields],
            }
        ],
        "extension": [
            {
                "url": names["receipt"],
                "extension": [
                    {"url": "chainId", "valueString": str(chain_id)},
                    {"url": "ledger", "valueString": ledger},
                    {"url": "transactionHash", "valueString": receipt.tx_hash},
                    {"url": "blockNumber", "valueInteger64": str(receipt.block_number)},
                    {"url": "logIndex", "valueInteger": receipt.log_index},
                ],
            }
        ],
    }


def _data(system: str, field: str) -> dict[str, Any]:
    reference: dict[str, Any] = {"identifier": {"system": system, "value": field}}
    meaning = describe("field", field)
    if meaning:
        reference["display"] = meaning
    return {"meaning": "instance", "reference": reference}


__all__ = ["FHIR_JSON", "STATUS", "consent_resource", "instant", "systems"]

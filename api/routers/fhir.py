"""``GET /consents/{id}/fhir``: a consent as an HL7 FHIR R5 ``Consent`` resource.

The same consent, read by the same people, as ``GET /consents/{id}`` (its lookup and its
reader check); only the form differs, and that is :mod:`api.fhir`'s mapping.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import CurrentActor, NodeDep
from api.fhir import FHIR_JSON, STATUS, consent_resource
from api.views import consent_out, department_names, ensure_consent_reader, require_consent

router = APIRouter(prefix="/consents", tags=["consents"])


class FhirJSONResponse(JSONResponse):
    media_type = FHIR_JSON


_CODING = {
    "type": "object",
    "required": ["system", "code"],
    "properties": {
        "system": {"type": "string", "format": "uri"},
        "code": {"type": "string"},
        "display": {"type": "string"},
    },
}
_REFERENCE = {
    "type": "object",
    "required": ["identifier"],
    "properties": {
        "type": {"type": "string"},
        "identifier": {
            "type": "object",
            "required": ["system", "value"],
            "properties": {"system": {"type": "string"}, "value": {"type": "string"}},
        },
        "display": {"type": "string"},
    },
}

#: What the answer holds, for the OpenAPI document; the full definition is FHIR R5's.
CONSENT_SCHEMA: dict[str, Any] = {
    "title": "FhirConsent",
    "description": "An HL7 FHIR R5 Consent resource (https://hl7.org/fhir/R5/consent.html):"
    " `status` active (also before `period.start`) or inactive (revoked, expired, used up),"
    " `grantor`/`subject` the resident, `grantee` the department, `period` validFrom to"
    " validUntil in UTC, `provision[0].purpose` the purpose code and `provision[0].data` one"
    " entry per field; `identifier`, `sourceAttachment` and the chain-receipt extension"
    " link to the grant on chain.",
    "type": "object",
    "required": [
        "resourceType",
        "id",
        "identifier",
        "status",
        "date",
        "period",
        "grantor",
        "grantee",
        "decision",
        "provision",
    ],
    "properties": {
        "resourceType": {"type": "string", "enum": ["Consent"]},
        "id": {"type": "string"},
        "identifier": {"type": "array", "items": {"type": "object"}},
        "status": {"type": "string", "enum": sorted(set(STATUS.values()))},
        "category": {"type": "array", "items": {"type": "object"}},
        "subject": _REFERENCE,
        "date": {"type": "string", "format": "date"},
        "period": {
            "type": "object",
            "required": ["start", "end"],
            "properties": {
                "start": {"type": "string", "format": "date-time"},
                "end": {"type": "string", "format": "date-time"},
            },
        },
        "grantor": {"type": "array", "items": _REFERENCE},
        "grantee": {"type": "array", "items": _REFERENCE},
        "sourceAttachment": {"type": "array", "items": {"type": "object"}},
        "decision": {"type": "string", "enum": ["permit"]},
        "provision": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "action": {"type": "array", "items": {"type": "object"}},
                    "purpose": {"type": "array", "items": _CODING},
                    "data": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["meaning", "reference"],
                            "properties": {
                                "meaning": {"type": "string", "enum": ["instance"]},
                                "reference": _REFERENCE,
                            },
                        },
                    },
                },
            },
        },
        "extension": {"type": "array", "items": {"type": "object"}},
    },
}


@router.get(
    "/{consent_id}/fhir",
    response_class=FhirJSONResponse,
    responses={
        200: {
            "description": "The consent as a FHIR R5 Consent",
            "content": {FHIR_JSON: {"schema": CONSENT_SCHEMA}},
        }
    },
)
def consent_fhir(consent_id: int, node: NodeDep, actor: CurrentActor) -> FhirJSONResponse:
    """A consent as an HL7 FHIR R5 `Consent` (`application/fhir+json`): for its resident,
    its department, auditors, as `GET /consents/{consent_id}`."""
    now = node.chain.next_timestamp()  # when a query sent now is judged
    with node.store.connect() as c:
        row = require_consent(c, consent_id)
        ensure_consent_reader(node, actor, row)
        consent = consent_out(row, now, department_names(c))
    _, base = node.settings.public_origin()
    return FhirJSONResponse(
        consent_resource(
            consent, base=base, chain_id=node.chain.chain_id, ledger=node.deployment.ledger
        )
    )

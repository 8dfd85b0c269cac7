"""Departments query under a consent; the contract judges each query at block time.

No ciphertext leaves before the chain has recorded an ``AccessLogged`` event for this
very query; a denial answers 403 with the contract's ``reason`` and the denial's receipt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from fastapi import APIRouter
from sqlalchemy import Connection, RowMapping

from api.deps import CurrentActor, NodeDep
from api.errors import AccessRefused
from api.schemas.queries import (
    AccessBody,
    AttestationOut,
    AttestationReceipt,
    QueriedField,
    QueryAnswer,
    RecordRef,
)
from api.signed import receipt_out, signed_intent
from api.vault import envelopes_by_version, newest_wrapped_keys, recorded_attestations
from api.views import consent_row, record_roots
from ledger.codec import to_hex
from ledger.types import ConsentTerms
from ledger.vocabulary import bytes32_to_name
from wallets.record import field_leaf, record_tree
from wallets.signing import normalize_message

router = APIRouter(prefix="/queries", tags=["departments"])


@router.post(
    "",
    response_model=QueryAnswer,
    responses={403: {"description": "access refused on chain; problem with `reason`"}},
)
def query(body: AccessBody, node: NodeDep, actor: CurrentActor) -> QueryAnswer:
    """Read fields under a consent (signed `Access`)."""
    consent_id = int(normalize_message("Access", body.message)["consentId"])
    with node.store.connect() as c:
        row = consent_row(c, consent_id)
    terms = ConsentTerms.from_row(row) if row is not None else ConsentTerms.empty()
    intent = signed_intent(body, terms)
    outcome = node.relayer.submit(intent, expected_signer=actor.address)
    event = outcome.unwrap()
    receipt = receipt_out(outcome.receipt)
    if event.name == "AccessDenied":
        reason = bytes32_to_name(event.args["reason"])
        raise AccessRefused(
            f"access to consent {consent_id} refused on chain: {reason}",
            reason=reason,
            receipt=receipt.model_dump(),
        )
    resident = intent.message["resident"]
    names = [bytes32_to_name(f) for f in intent.message["fields"]]
    with node.store.connect() as c:
        keys = newest_wrapped_keys(c, consent_id, names)
        missing = [n for n in names if n not in keys]
        if missing:  # a granted field always has a key: the relayer stores it with the grant
            raise RuntimeError(f"consent {consent_id} has no wrapped key for {missing}")
        record, fields = served_fields(
            c, resident, names, keys, now=outcome.receipt.block_timestamp
        )
    return QueryAnswer(consent_id=consent_id, receipt=receipt, record=record, fields=fields)


def served_fields(
    c: Connection,
    resident: str,
    names: list[str],
    keys: Mapping[str, RowMapping],
    *,
    now: int,
) -> tuple[RecordRef, dict[str, QueriedField]]:
    """What a logged access releases (a query's, an emergency access's): for each of
    ``names``, the envelope of the record version of its key in ``keys`` (rows with
    ``version`` and ``wrapped_key``, one per name), with its proof and attestations,
    and the newest of those versions with its root. A few queries for all the fields
    together, and one Merkle tree per record version, however many fields come from it."""
    versions = sorted({int(k["version"]) for k in keys.values()})
    envelope_rows = envelopes_by_version(c, resident, versions)
    roots = record_roots(c, resident, versions)
    trees = {
        v: record_tree({f: bytes(r["ciphertext"]) for f, r in rows.items()})
        for v, rows in envelope_rows.items()
    }
    attested = recorded_attestations(c, resident, names, max(versions), now)
    answer = {}
    for name in names:
        key = keys[name]
        version = int(key["version"])
        envelope = envelope_rows[version][name]
        proof = trees[version].get_proof(field_leaf(name, bytes(envelope["ciphertext"])))
        candidates = [
            _attestation_out(a) for a in attested if a["field"] == name and a["version"] <= version
        ]
        answer[name] = QueriedField(
            ciphertext=to_hex(envelope["ciphertext"]),
            nonce=to_hex(envelope["nonce"]),
            wrapped_key=to_hex(key["wrapped_key"]),
            version=version,
            root=roots[version],
            proof=[to_hex(p) for p in proof],
            attestations=candidates,
            attestation=candidates[0] if candidates else None,
        )
    newest = max(answer.values(), key=lambda f: f.version)
    return RecordRef(version=newest.version, root=newest.root), answer


def _attestation_out(row: RowMapping) -> AttestationOut:
    return AttestationOut(
        message=json.loads(row["message"]),
        signature=row["signature"],
        version=int(row["version"]),
        receipt=AttestationReceipt(
            tx_hash=row["tx_hash"],
            block_number=row["block_number"],
            log_index=row["log_index"],
            block_timestamp=row["recorded_at"],
            digest=row["digest"],
            recorded_at=row["recorded_at"],
        ),
    )

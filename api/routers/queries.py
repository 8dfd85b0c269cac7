"""Departments query under a consent; the contract judges each query at block time.

No ciphertext leaves before the chain has recorded an ``AccessLogged`` event for this
very query; a denial answers 403 with the contract's ``reason`` and the denial's receipt.

``POST /queries/batch`` takes up to :data:`~api.http_bounds.MAX_QUERY_BATCH` queries in
one request and answers each as ``POST /queries`` would, in order: the same parsing
(:func:`access_intent`), the same judging on chain and the same answer
(:func:`answer_access`), and the problem the single route would answer for a refused
one (:func:`api.errors.problem_of`). A batch that does not parse is one 422 that
changes nothing; otherwise the relayer takes all its queries at once
(:meth:`ledger.relayer.Relayer.submit_all`), so they share its rounds and blocks, and
one refused query does not hold back the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from fastapi import APIRouter, Request
from sqlalchemy import Connection, RowMapping

from api.deps import CurrentActor, NodeDep, UncountedActor, count_writes
from api.errors import AccessRefused, BadRequest, problem_of
from api.http_bounds import MAX_QUERY_BATCH, QUERY_BATCH_BODY_BYTES
from api.schemas.common import AcceptanceOut
from api.schemas.queries import (
    AccessBody,
    AttestationOut,
    AttestationReceipt,
    BatchRefused,
    BatchServed,
    QueriedField,
    QueryAnswer,
    QueryBatchAnswer,
    QueryBatchBody,
    RecordRef,
)
from api.signed import receipt_out, signed_intent
from api.vault import envelopes_by_version, newest_wrapped_keys, recorded_attestations
from api.views import consent_row, record_roots
from ledger.codec import to_hex
from ledger.relayer import Relayed
from ledger.types import ConsentTerms, Outcome, SignedIntent
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
    with node.store.connect() as c:
        intent = access_intent(c, body)
    outcome = node.relayer.submit(intent, expected_signer=actor.address)
    with node.store.connect() as c:
        return answer_access(c, outcome)


@router.post(
    "/batch",
    response_model=QueryBatchAnswer,
    max_body_size=QUERY_BATCH_BODY_BYTES,
    responses={
        413: {"description": f"the body is over {QUERY_BATCH_BODY_BYTES} bytes"},
        422: {
            "description": f"not 1 to {MAX_QUERY_BATCH} queries, or a query that does not"
            " parse (`batch_item` names it, from 0): nothing is relayed"
        },
    },
)
def query_batch(
    body: QueryBatchBody, request: Request, node: NodeDep, actor: UncountedActor
) -> QueryBatchAnswer:
    """Read under many consents at once (up to 500 signed `Access`): one answer per
    query, in order, each as `POST /queries` gives it with its `status` (200, or the
    problem of its refusal); a refused query does not fail the others."""
    count_writes(request, actor, len(body.queries))  # N queries are N writes
    intents = []
    with node.store.connect() as c:
        for index, item in enumerate(body.queries):
            try:
                intents.append(access_intent(c, item))
            except Exception as exc:
                found = problem_of(exc)
                if found is None:
                    raise
                raise BadRequest(
                    f"query {index} (from 0) of the batch: {found.detail}",
                    batch_item=index,
                    **found.extra,
                ) from exc
    relayed = node.relayer.submit_all(intents, expected_signer=actor.address)
    with node.store.connect() as c:
        return QueryBatchAnswer(answers=[_batch_answer(c, r) for r in relayed])


def access_intent(c: Connection, body: AccessBody) -> SignedIntent:
    """The body as an ``Access`` carrying its consent's terms as the read model holds
    them (none for a consent it does not know: the chain denies it ``unknown_consent``);
    a malformed one is the 422 of :func:`api.signed.signed_intent`."""
    consent_id = int(normalize_message("Access", body.message)["consentId"])
    row = consent_row(c, consent_id)
    terms = ConsentTerms.from_row(row) if row is not None else ConsentTerms.empty()
    return signed_intent(body, terms)


def answer_access(c: Connection, outcome: Outcome) -> QueryAnswer:
    """What a judged query answers: the fields its ``AccessLogged`` releases, or
    :class:`~api.errors.AccessRefused` for its ``AccessDenied`` (and the contract's
    error for an intent the chain rejected)."""
    event = outcome.unwrap()
    intent = outcome.intent
    consent_id = int(intent.message["consentId"])
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
    keys = newest_wrapped_keys(c, consent_id, names)
    missing = [n for n in names if n not in keys]
    if missing:  # a granted field always has a key: the relayer stores it with the grant
        raise RuntimeError(f"consent {consent_id} has no wrapped key for {missing}")
    record, fields = served_fields(c, resident, names, keys, now=outcome.receipt.block_timestamp)
    return QueryAnswer(consent_id=consent_id, receipt=receipt, record=record, fields=fields)


def _batch_answer(c: Connection, relayed: Relayed) -> BatchServed | BatchRefused:
    """One query's answer in a batch: as ``POST /queries`` answers it, acceptance
    included wherever that answer would carry one."""
    acceptance = (
        AcceptanceOut(**relayed.acceptance.to_json()) if relayed.acceptance is not None else None
    )
    try:
        if relayed.error is not None:
            raise relayed.error
        assert relayed.outcome is not None
        answer = answer_access(c, relayed.outcome)
    except Exception as exc:
        found = problem_of(exc)
        if found is None:
            raise
        document = found.document()
        retry = found.headers.get("Retry-After")
        if retry is not None:  # a header alone; in a batch, a member of its answer
            document.setdefault("retry_after", int(retry))
        if acceptance is not None:
            document["acceptance"] = acceptance.model_dump()
        return BatchRefused.model_validate(document)
    return BatchServed.model_construct(**dict(answer), status=200, acceptance=acceptance)


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

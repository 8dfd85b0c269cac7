"""Residents grant a whole service in one act and revoke it in one act; residents and
auditors read a bundle with its consents."""

from __future__ import annotations

from fastapi import APIRouter

from api.bundle_views import bundle_consents, bundle_out, bundle_row
from api.deps import CurrentActor, NodeDep, ensure_self_delegate_or_role
from api.errors import BadRequest, Conflict
from api.http_bounds import BUNDLE_BODY_BYTES
from api.provenance import signed_intent_at
from api.routers.consents import check_wrapped, granted_version
from api.schemas.services import (
    BundleGranted,
    BundleOut,
    BundleRevoked,
    GrantBundleBody,
    RevokeBundleBody,
)
from api.signed import receipt_out, settled, signed_intent
from ledger.codec import checksum, to_hex
from ledger.intents import POWER_READ
from ledger.types import ConsentTerms
from ledger.vocabulary import bytes32_to_name, is_schema_name

router = APIRouter(prefix="/bundles", tags=["bundles"])


@router.post("", response_model=BundleGranted, status_code=201, max_body_size=BUNDLE_BODY_BYTES)
def grant_bundle(body: GrantBundleBody, node: NodeDep, actor: CurrentActor) -> BundleGranted:
    """Grant every item of a service with one signature (signed `GrantBundle`): one consent
    per item, all or none, each no wider than its service item. `wrapped_keys` holds, per
    department, the keys of exactly the fields its items grant, wrapped for it."""
    intent = signed_intent(body)
    wanted: dict[str, set[str]] = {}  # department → the fields its items grant
    for index, item in enumerate(intent.message["items"]):
        for position, field_id in enumerate(item["fields"]):
            if not is_schema_name(field_id):  # no key can be named for it, no service holds it
                raise BadRequest(
                    f"items[{index}].fields[{position}] is {to_hex(field_id)}, not a field"
                    " name: no service item covers it"
                )
        fields = {bytes32_to_name(f) for f in item["fields"]}
        wanted.setdefault(item["department"], set()).update(fields)
    given: dict[str, dict[str, str]] = {}
    for department, held in body.wrapped_keys.items():
        try:
            given[str(checksum(department))] = held
        except ValueError as exc:
            raise BadRequest(f"wrapped_keys: {department!r} is not an address") from exc
    if set(given) != set(wanted):
        raise BadRequest(
            f"wrapped_keys must name exactly the bundle's departments {sorted(wanted)},"
            f" got {sorted(given)}"
        )
    keys: dict[str, dict[str, str]] = {
        d: check_wrapped(given[d], sorted(wanted[d])) for d in wanted
    }
    version = granted_version(node, intent.message["resident"], body.version)
    effects = {"kind": "bundle", "version": version, "wrapped_keys": keys}
    outcome = node.relayer.submit(intent, effects, expected_signer=actor.address)
    args = settled(outcome)
    first, count = int(args["firstConsentId"]), int(args["count"])
    return BundleGranted(
        bundle_id=int(args["bundleId"]),
        consent_ids=list(range(first, first + count)),
        tx_hash=outcome.receipt.tx_hash,
        block_number=outcome.receipt.block_number,
        receipt=receipt_out(outcome.receipt),
    )


@router.get("/{bundle_id}", response_model=BundleOut)
def get_bundle(bundle_id: int, node: NodeDep, actor: CurrentActor) -> BundleOut:
    """A bundle and its consents with their status: for its resident, its delegate holding
    the read power, and auditors."""
    now = node.chain.next_timestamp()  # when a query sent now is judged
    with node.store.connect() as c:
        row = bundle_row(c, bundle_id)
    ensure_self_delegate_or_role(node, actor, row["resident"], POWER_READ, "auditor")
    with node.store.connect() as c:
        answer = bundle_out(c, row, now)
    # The GrantBundle its resident signed, as for one consent: a wallet checks each item.
    for consent in answer.consents:
        receipt = consent.receipt
        consent.grant = signed_intent_at(node.client, receipt.tx_hash, receipt.log_index or 0)
    return answer


@router.post("/{bundle_id}/revoke", response_model=BundleRevoked)
def revoke_bundle(
    bundle_id: int, body: RevokeBundleBody, node: NodeDep, actor: CurrentActor
) -> BundleRevoked:
    """Revoke every consent of the bundle still in force, in one block (signed `RevokeBundle`)."""
    with node.store.connect() as c:
        row = bundle_row(c, bundle_id)
        members = bundle_consents(c, row)
    if len(members) != int(row["count"]):
        raise Conflict(f"bundle {bundle_id}'s consents are not all in the read model yet")
    intent = signed_intent(body, tuple(ConsentTerms.from_row(m) for m in members))
    if int(intent.message["bundleId"]) != bundle_id:
        raise BadRequest("message.bundleId differs from the path")
    outcome = node.relayer.submit(intent, expected_signer=actor.address)
    settled(outcome)
    revoked = [int(e.args["consentId"]) for e in outcome.extra_events if e.name == "ConsentRevoked"]
    return BundleRevoked(
        bundle_id=bundle_id, revoked=revoked, status="revoked", receipt=receipt_out(outcome.receipt)
    )

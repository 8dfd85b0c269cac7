"""What anyone may read: health, the EIP-712 types, the schema, the department directory."""

from __future__ import annotations

import weakref

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from api.bundle_views import list_services
from api.deps import NodeDep, OperatorDep, path_address
from api.intent_schemas import INTENT_RULES
from api.node import Node
from api.pagination import CursorQuery, LimitQuery, clamp_limit, decode_cursor, encode_cursor
from api.provenance import key_intents
from api.schemas.public import (
    DepartmentList,
    DepartmentOut,
    DepartmentStatus,
    Eip712,
    Health,
    Nonces,
    PurposePolicyOut,
    Schema,
)
from api.schemas.services import ServiceList
from ledger.codec import to_hex
from ledger.eip712 import domain
from ledger.intents import INTENTS, eip712_types
from ledger.types import DepartmentInfo
from ledger.vocabulary import ROLE_NAMES, bytes32_label, role_id

router = APIRouter(tags=["public"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The read model cannot advance"}},
)
def health(node: NodeDep) -> Health | JSONResponse:
    """``ok`` while the service can answer; 503 with ``status`` ``failing`` and the reason
    in ``indexer_failure`` while the indexer's last round failed (reads would be stale and
    writes are refused), so a load balancer or supervisor stops sending it traffic."""
    block = node.chain.w3.eth.get_block("latest")
    failure = node.indexer.failure
    indexed = node.indexer.last_block()
    answer = Health(
        status="ok" if failure is None else "failing",
        chain_id=node.chain.chain_id,
        block_number=int(block["number"]),
        block_timestamp=int(block["timestamp"]),
        next_block_timestamp=node.chain.next_timestamp(),
        contracts=node.deployment.contracts,
        relayer_queue_depth=node.relayer.queue_depth,
        indexer_block=indexed,
        indexer_lag=max(0, int(block["number"]) - indexed),
        indexer_failure=failure,
        relayer=node.relayer_key.address,
    )
    if failure is None:
        return answer
    return JSONResponse(answer.model_dump(), status_code=503)


@router.get("/eip712", response_model=Eip712)
def eip712(node: NodeDep) -> Eip712:
    chain_id = node.chain.chain_id
    return Eip712(
        intents={
            name: {
                "domain": domain(chain_id, node.client.verifying_contract(name)),
                "types": eip712_types(name),
                "primaryType": name,
            }
            for name in INTENTS
        },
        rules=INTENT_RULES,
    )


@router.get("/schema", response_model=Schema)
def schema(node: NodeDep) -> Schema:
    """The schema on chain: fields, purposes (each with its policy) and roles."""
    purposes = node.client.purposes()
    return Schema(
        fields={bytes32_label(f): to_hex(f) for f in node.client.fields()},
        purposes={bytes32_label(p): to_hex(p) for p in purposes},
        roles={name: to_hex(role_id(name)) for name in ROLE_NAMES},
        policies=_policies(node, purposes),
    )


#: Each node's purpose policies as of a head block (by ``id``, with a weak reference that
#: proves the node is the same one): ``GET /schema`` is public and polled, and one read
#: per purpose per request would make it the costliest read of the API.
_POLICIES: dict[int, tuple[weakref.ref[Node], int, dict[str, PurposePolicyOut]]] = {}


def _policies(node: Node, purposes: list[bytes]) -> dict[str, PurposePolicyOut]:
    """Every purpose's policy, read again whenever the head moved (a policy takes effect
    at the block that records it, so one read per head is never stale)."""
    head = node.chain.head_number()
    names = [bytes32_label(p) for p in purposes]
    cached = _POLICIES.get(id(node))
    if (
        cached is not None
        and cached[0]() is node
        and cached[1] == head
        and list(cached[2]) == names
    ):
        return cached[2]
    found = {name: _policy(node, p) for name, p in zip(names, purposes, strict=True)}
    _POLICIES[id(node)] = (weakref.ref(node), head, found)
    return found


def _policy(node: Node, purpose: bytes) -> PurposePolicyOut:
    fields, max_duration = node.client.purpose_policy(purpose)
    return PurposePolicyOut(fields=[bytes32_label(f) for f in fields], max_duration=max_duration)


@router.get("/services", response_model=ServiceList)
def list_services_route(node: NodeDep) -> ServiceList:
    """Every service (one life event several departments serve) with its items: each
    department by address and name, its fields and purpose by name, the longest window
    and the most uses a bundle may grant it."""
    with node.store.connect() as c:
        return ServiceList(services=list_services(c))


@router.get("/departments", response_model=DepartmentList)
def departments(
    node: NodeDep, cursor: CursorQuery = None, limit: LimitQuery = None
) -> DepartmentList:
    """The directory in registration order (the chain's list only grows, so a position
    in it is a stable cursor). Each key comes with the admin's signed intent that set it,
    for wallets that check it themselves rather than trust this answer."""
    size = clamp_limit(limit)
    position = decode_cursor(cursor, 1)
    start = 0 if position is None else position[0]
    listed = node.client.departments()
    page = listed[start : start + size]
    more = start + size < len(listed)
    with node.store.connect() as c:
        signed = key_intents(c, node.client, [d.address for d in page])
    return DepartmentList(
        data=[
            DepartmentOut(
                address=d.address,
                name=d.name,
                code=d.code,
                encryption_key=to_hex(d.encryption_key),
                active=d.active,
                status=_department_status(node, d),
                key_intent=signed[d.address],
                emergency_fields=node.client.emergency_fields(d.address),
            )
            for d in page
        ],
        next_cursor=encode_cursor([start + size]) if more else None,
    )


def _department_status(node: Node, department: DepartmentInfo) -> DepartmentStatus:
    """Suspended or revoked, for an inactive one: revoking its role switches it off for good."""
    if department.active:
        return "active"
    return "suspended" if node.client.has_role("department", department.address) else "revoked"


@router.get("/nonces/{address}", response_model=Nonces)
def nonces(address: str, node: NodeDep) -> Nonces:
    """The lowest unused nonce of ``address`` per verifying contract. Counting upwards
    from here keeps a signer's nonces in one storage word on chain (cheapest)."""
    signer = path_address(address)
    return Nonces(
        ConsentDirectory=node.client.next_nonce("RegisterDepartment", signer),
        ConsentLedger=node.client.next_nonce("Grant", signer),
        ConsentDelegates=node.client.next_nonce("AppointDelegate", signer),
        ConsentEmergency=node.client.next_nonce("EmergencyAccess", signer),
    )


@router.get("/metrics", include_in_schema=False)
def metrics(node: NodeDep, _operator: OperatorDep) -> Response:
    """Prometheus text format: chain head, relayer and indexer figures (operator only:
    ``Authorization: Bearer`` the metrics token)."""
    registry = CollectorRegistry()
    head = node.chain.head_number()
    indexed = node.indexer.last_block()
    stats = node.relayer.stats
    gauges = {
        "consent_chain_head_block": ("Head block number of the chain", head),
        "consent_indexer_block": ("Last block in the read model", indexed),
        "consent_indexer_lag_blocks": ("Blocks the read model is behind", max(0, head - indexed)),
        "consent_relayer_queue_depth": ("Intents waiting for a block", node.relayer.queue_depth),
        "consent_relayer_batches_total": ("Blocks of intents submitted", stats.batches),
        "consent_relayer_intents_total": ("Intents submitted", stats.intents),
        "consent_relayer_rejected_total": ("Intents the contracts refused", stats.rejected),
        "consent_relayer_failures_total": ("Batches that failed on the chain", stats.failures),
    }
    for name, (doc, value) in gauges.items():
        Gauge(name, doc, registry=registry).set(value)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

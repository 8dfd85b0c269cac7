"""What anyone may read: health, the EIP-712 types, the schema, the department directory."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import NodeDep
from api.schemas import DepartmentList, DepartmentOut, Eip712, Health, Schema
from ledger.intents import INTENTS, ROLE_NAMES, bytes32_to_name, domain, eip712_types, role_id

router = APIRouter(tags=["public"])


@router.get("/health", response_model=Health)
def health(node: NodeDep) -> Health:
    block = node.chain.w3.eth.get_block("latest")
    return Health(
        status="ok",
        chain_id=node.chain.chain_id,
        block_number=int(block["number"]),
        block_timestamp=int(block["timestamp"]),
        contracts=node.deployment.contracts,
    )


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
        }
    )


@router.get("/schema", response_model=Schema)
def schema(node: NodeDep) -> Schema:
    return Schema(
        fields={bytes32_to_name(f): "0x" + f.hex() for f in node.client.fields()},
        purposes={bytes32_to_name(p): "0x" + p.hex() for p in node.client.purposes()},
        roles={name: "0x" + role_id(name).hex() for name in ROLE_NAMES},
    )


@router.get("/departments", response_model=DepartmentList)
def departments(node: NodeDep) -> DepartmentList:
    return DepartmentList(
        data=[
            DepartmentOut(
                address=d.address,
                name=d.name,
                code=d.code,
                encryption_key="0x" + d.encryption_key.hex(),
                active=d.active,
            )
            for d in node.client.departments()
        ]
    )

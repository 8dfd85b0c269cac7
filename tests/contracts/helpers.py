"""Intent builders and small chain helpers shared by the contract tests.

Everything here signs through :meth:`tests.conftest.System.sign`, so a message may
override ``nonce`` and ``deadline`` like any other field.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils import keccak
from web3.exceptions import ContractLogicError
from web3.types import TxReceipt

from ledger.artifacts import load_artifact
from ledger.chain import TransactionSigner
from ledger.eip712 import SECP256K1_N
from ledger.errors import ContractError, TransactionFailed
from ledger.revert import decode_revert
from ledger.types import ConsentTerms, Event, SignedIntent
from ledger.vocabulary import role_id
from tests.conftest import ZERO32, System, b32, fields
from wallets.signing import intent_digest, intent_typed_data, recover_intent_signer, sign_intent

ZERO_ADDRESS = "0x" + "00" * 20
ADMIN_ROLE = ZERO32


def admin_signer(system: System) -> TransactionSigner:
    """The admin's own transaction signer (the fixture funds the admin)."""
    return TransactionSigner(system.admin)


def funded_stranger(system: System) -> tuple[LocalAccount, TransactionSigner]:
    """A fresh account holding ether and no role at all."""
    account = Account.create()
    system.chain.fund(account.address, 10**18)
    return account, TransactionSigner(account)


def receipt_events(system: System, receipt: TxReceipt) -> list[Event]:
    """The decoded ledger events of a receipt, in log order."""
    decoded = (system.client.decode_log(log) for log in receipt["logs"])
    return [event for event in decoded if event is not None]


def domain_of(system: System, name: str) -> dict[str, Any]:
    return {
        "chain_id": system.chain.chain_id,
        "verifying_contract": system.client.verifying_contract(name),
    }


def digest_of(system: System, intent: SignedIntent) -> bytes:
    """The EIP-712 digest of ``intent`` under the domain its contract verifies with."""
    return intent_digest(intent.name, intent.message, **domain_of(system, intent.name))


def struct_hash_of(system: System, name: str, message: Mapping[str, Any]) -> bytes:
    """``hashStruct(message)`` as eth-account computes it (the body of the signable)."""
    document = intent_typed_data(name, message, **domain_of(system, name))
    return bytes(encode_typed_data(full_message=document).body)


def recovered_by_contract(system: System, intent: SignedIntent) -> str:
    """The address the verifying contract recovers from ``intent``'s signature."""
    return recover_intent_signer(
        intent.name, intent.message, intent.signature, **domain_of(system, intent.name)
    )


def with_signature(intent: SignedIntent, signature: bytes) -> SignedIntent:
    return SignedIntent(intent.name, intent.message, signature, intent.terms)


def high_s(signature: bytes) -> bytes:
    """The malleable twin of a low-s signature: ``s' = n - s``, ``v`` flipped 27 <-> 28."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


def parties(department: str, resident: str) -> bytes:
    """``keccak256(abi.encode(department, resident))``, what ``requestParties`` stores."""
    return keccak(
        bytes(12) + bytes.fromhex(department[2:]) + bytes(12) + bytes.fromhex(resident[2:])
    )


# ---------------------------------------------------------------- intents


def register_intent(
    system: System,
    department: str,
    *,
    signer: LocalAccount | None = None,
    **overrides: Any,
) -> SignedIntent:
    message = {
        "department": department,
        "name": "Department of Tests",
        "code": "DT",
        "encryptionKey": secrets.token_bytes(32),
        **overrides,
    }
    return system.sign("RegisterDepartment", signer or system.admin, message)


def role_intent(
    system: System,
    role: str | bytes,
    account: str,
    field_ids: Iterable[bytes] = (),
    *,
    signer: LocalAccount | None = None,
    **overrides: Any,
) -> SignedIntent:
    message = {
        "role": role_id(role) if isinstance(role, str) else role,
        "account": account,
        "fields": list(field_ids),
        **overrides,
    }
    return system.sign("GrantRole", signer or system.admin, message)


def commit_intent(
    system: System,
    resident: LocalAccount,
    version: int,
    root: bytes | None = None,
    *,
    signer: LocalAccount | None = None,
    **overrides: Any,
) -> SignedIntent:
    message = {
        "resident": resident.address,
        "version": version,
        "root": root if root is not None else secrets.token_bytes(32),
        **overrides,
    }
    return system.sign("CommitRecord", signer or resident, message)


def request_intent(
    system: System,
    department: LocalAccount | None = None,
    resident: LocalAccount | None = None,
    names: tuple[str, ...] = ("income", "name"),
    *,
    signer: LocalAccount | None = None,
    **overrides: Any,
) -> SignedIntent:
    department = department or system.dept
    message = {
        "department": department.address,
        "resident": (resident or system.resident).address,
        "fields": fields(*names),
        "purpose": b32("HOUSING"),
        "duration": 7 * 86400,
        **overrides,
    }
    return system.sign("AccessRequest", signer or department, message)


def decline_intent(
    system: System,
    request_id: bytes,
    reason: str | bytes = "NOT_NEEDED",
    resident: LocalAccount | None = None,
    **overrides: Any,
) -> SignedIntent:
    resident = resident or system.resident
    message = {
        "resident": resident.address,
        "requestId": request_id,
        "reason": b32(reason) if isinstance(reason, str) else reason,
        **overrides,
    }
    return system.sign("DeclineRequest", resident, message)


def withdraw_intent(
    system: System, request_id: bytes, department: LocalAccount | None = None, **overrides: Any
) -> SignedIntent:
    department = department or system.dept
    message = {"department": department.address, "requestId": request_id, **overrides}
    return system.sign("WithdrawRequest", department, message)


def policy_intent(
    system: System,
    purpose: str = "HOUSING",
    names: Iterable[str] = ("income", "name"),
    max_duration: int = 7 * 86_400,
    *,
    signer: LocalAccount | None = None,
    **overrides: Any,
) -> SignedIntent:
    """``SetPurposePolicy``; ``names`` as field names (or raw ``bytes32``, in any order)."""
    message = {
        "purpose": b32(purpose),
        "fields": [b32(n) if isinstance(n, str) else n for n in names],
        "maxDuration": max_duration,
        **overrides,
    }
    return system.sign("SetPurposePolicy", signer or system.admin, message)


def revoke_intent(
    system: System,
    consent_id: int,
    terms: ConsentTerms,
    resident: LocalAccount | None = None,
    **overrides: Any,
) -> SignedIntent:
    resident = resident or system.resident
    message = {"resident": resident.address, "consentId": consent_id, **overrides}
    return system.sign("Revoke", resident, message, terms)


def attest_message(system: System, field: str = "income", **overrides: Any) -> dict[str, Any]:
    now = system.now()
    return {
        "issuer": system.issuer.address,
        "resident": system.resident.address,
        "field": b32(field),
        "commitment": secrets.token_bytes(32),
        "issuedAt": now,
        "expiresAt": now + 365 * 86400,
        **overrides,
    }


def sign_attest(system: System, signer: LocalAccount, message: Mapping[str, Any]) -> bytes:
    """An issuer's signature over an ``Attest`` message."""
    return sign_intent(signer.key, "Attest", message, **domain_of(system, "Attest"))


def attest_intent(
    system: System, field: str = "income", *, signer: LocalAccount | None = None, **overrides: Any
) -> SignedIntent:
    """A signed ``Attest`` by the fixture's issuer (or ``signer``), ready to record."""
    return system.sign(
        "Attest", signer or system.issuer, attest_message(system, field, **overrides)
    )


def active_intent(
    system: System, department: str, active: bool, *, signer: LocalAccount | None = None, **kw: Any
) -> SignedIntent:
    message = {"department": department, "active": active, **kw}
    return system.sign("SetDepartmentActive", signer or system.admin, message)


def revoke_role_intent(
    system: System,
    role: str | bytes,
    account: str,
    *,
    signer: LocalAccount | None = None,
    **kw: Any,
) -> SignedIntent:
    message = {"role": role_id(role) if isinstance(role, str) else role, "account": account, **kw}
    return system.sign("RevokeRole", signer or system.admin, message)


def distrust_intent(
    system: System,
    issuer: str,
    field_ids: Iterable[bytes],
    *,
    signer: LocalAccount | None = None,
    **kw: Any,
) -> SignedIntent:
    message = {"issuer": issuer, "fields": list(field_ids), **kw}
    return system.sign("DistrustIssuer", signer or system.admin, message)


def rotate_intent(
    system: System,
    department: str,
    key: bytes | None = None,
    *,
    signer: LocalAccount | None = None,
    **kw: Any,
) -> SignedIntent:
    message = {
        "department": department,
        "encryptionKey": key if key is not None else secrets.token_bytes(32),
        **kw,
    }
    return system.sign("RotateDepartmentKey", signer or system.admin, message)


# ---------------------------------------------------------------- state


def terms_digest(terms: ConsentTerms) -> bytes:
    """The digest of consent terms that the ledger stores, computed here from its definition:
    the first 24 bytes of keccak256(abi.encode(resident, department, keccak256(fields),
    purpose, validFrom, validUntil, maxUses))."""
    encoded = abi_encode(
        ["address", "address", "bytes32", "bytes32", "uint64", "uint64", "uint32"],
        [
            terms.resident,
            terms.department,
            keccak(b"".join(terms.fields)),
            terms.purpose,
            terms.valid_from,
            terms.valid_until,
            terms.max_uses,
        ],
    )
    return keccak(encoded)[:24]


def assert_consent_granted_log_is_canonical(system: System, tx_hash: str) -> None:
    """Every ConsentGranted log of the transaction, byte for byte as Solidity's `emit` of
    its arguments writes it: the event's topic, the three indexed arguments, then
    abi.encode of the others."""
    receipt = system.chain.w3.eth.get_transaction_receipt(HexStr(tx_hash))
    topic = keccak(
        text="ConsentGranted(uint256,address,address,bytes32[],bytes32,uint64,uint64,uint32,bytes32)"
    )
    logs = [log for log in receipt["logs"] if bytes(log["topics"][0]) == topic]
    assert logs
    for log in logs:
        event = system.client.decode_log(log)
        assert event is not None
        args = event.args
        assert [bytes(t) for t in log["topics"]] == [
            topic,
            int(args["consentId"]).to_bytes(32, "big"),
            bytes(12) + bytes.fromhex(args["resident"][2:]),
            bytes(12) + bytes.fromhex(args["department"][2:]),
        ]
        assert bytes(log["data"]) == abi_encode(
            ["bytes32[]", "bytes32", "uint64", "uint64", "uint32", "bytes32"],
            [
                list(args["fields"]),
                args["purpose"],
                args["validFrom"],
                args["validUntil"],
                args["maxUses"],
                args["requestId"],
            ],
        )


def mapping_slot(key: bytes, base: int) -> int:
    """Solidity's slot of ``mapping[key]`` (``key`` as its 32-byte word)."""
    return int.from_bytes(keccak(key.rjust(32, b"\0") + base.to_bytes(32, "big")), "big")


def set_storage(system: System, address: str, slot: int, value: int) -> None:
    """Write one storage word of a contract, in a block of its own: ``anvil_setStorageAt``
    on a node; on the embedded chain, a block mined over py-evm state changed beforehand.
    For states no intent can reach in a test's time (a use count at 2^32 - 1)."""
    from ledger.chain.embedded import EmbeddedChain
    from ledger.chain.rpc import RpcChain

    chain = system.chain
    if isinstance(chain, RpcChain):
        chain._rpc(
            "anvil_setStorageAt", [address, hex(slot), "0x" + value.to_bytes(32, "big").hex()]
        )
        chain.fund(system.relayer.address, 1)  # a new head: readers drop what they remembered
        return
    assert isinstance(chain, EmbeddedChain)
    with chain._submit_lock, chain._state_lock:
        evm = chain._evm
        parent = evm.get_canonical_head()
        header = evm.create_header_from_parent(parent, timestamp=parent.timestamp + 1)
        vm = evm.get_vm(header)
        vm.state.set_storage(bytes.fromhex(address[2:]), slot, value)
        block = vm.mine_block(vm.get_block(), mix_hash=secrets.token_bytes(32)).block
        evm.persist_block(block)
        evm.header = evm.create_header_from_parent(block.header)
        chain._set_head()
    assert chain.storage_at(address, slot) == value


# ---------------------------------------------------------------- constructors


def constructor_revert(
    system: System, contract: str, *args: Any
) -> ContractError | TransactionFailed:
    """The decoded error a deployment of ``contract`` with ``args`` reverts with (``eth_call``)."""
    artifact = load_artifact(contract)
    w3 = system.chain.w3
    data = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode).constructor(*args)
    call = {"from": system.relayer.address, "data": data.data_in_transaction, "gas": 6_000_000}
    try:
        w3.eth.call(call)  # type: ignore[arg-type]
    except ContractLogicError as exc:  # both backends: 0x-hex revert data
        assert isinstance(exc.data, str), exc.data
        return decode_revert(bytes.fromhex(exc.data.removeprefix("0x")))
    raise AssertionError(f"deploying {contract} with {args!r} did not revert")


__all__ = [
    "ADMIN_ROLE",
    "ZERO32",
    "ZERO_ADDRESS",
    "active_intent",
    "admin_signer",
    "attest_intent",
    "attest_message",
    "commit_intent",
    "constructor_revert",
    "digest_of",
    "distrust_intent",
    "domain_of",
    "funded_stranger",
    "high_s",
    "mapping_slot",
    "parties",
    "receipt_events",
    "recovered_by_contract",
    "register_intent",
    "request_intent",
    "revoke_intent",
    "revoke_role_intent",
    "role_intent",
    "rotate_intent",
    "set_storage",
    "sign_attest",
    "struct_hash_of",
    "with_signature",
]


# ---------------------------------------------------------------- delegates and emergencies


def appoint_intent(
    system: System,
    delegate: str,
    powers: int = 15,
    *,
    resident: LocalAccount | None = None,
    signer: LocalAccount | None = None,
    days: int = 30,
    **overrides: Any,
) -> SignedIntent:
    """``resident`` (default the first) appoints ``delegate``; ``signer`` defaults to the
    resident (a registrar signing makes a guardian)."""
    resident = resident or system.resident
    message = {
        "resident": resident.address,
        "delegate": delegate,
        "powers": powers,
        "validUntil": system.now() + days * 86_400,
        **overrides,
    }
    return system.sign("AppointDelegate", signer or resident, message)


def remove_delegate_intent(
    system: System,
    delegate: str,
    *,
    resident: LocalAccount | None = None,
    signer: LocalAccount | None = None,
    **overrides: Any,
) -> SignedIntent:
    resident = resident or system.resident
    message = {"resident": resident.address, "delegate": delegate, **overrides}
    return system.sign("RemoveDelegate", signer or resident, message)


def directive_intent(
    system: System,
    department: str,
    names: tuple[str, ...] = ("health_summary", "phone"),
    *,
    resident: LocalAccount | None = None,
    signer: LocalAccount | None = None,
    days: int = 365,
    **overrides: Any,
) -> SignedIntent:
    resident = resident or system.resident
    message = {
        "resident": resident.address,
        "department": department,
        "fields": fields(*names) if names else [],
        "validUntil": system.now() + days * 86_400,
        **overrides,
    }
    return system.sign("EmergencyDirective", signer or resident, message)


def emergency_intent(
    system: System,
    department: LocalAccount,
    names: tuple[str, ...] = ("health_summary",),
    *,
    resident: LocalAccount | None = None,
    reason: str | bytes = "UNCONSCIOUS",
    **overrides: Any,
) -> SignedIntent:
    message = {
        "department": department.address,
        "resident": (resident or system.resident).address,
        "fields": fields(*names),
        "reason": b32(reason) if isinstance(reason, str) else reason,
        "justificationHash": b"\x42" * 32,
        **overrides,
    }
    return system.sign("EmergencyAccess", department, message)


def review_intent(
    system: System,
    access_id: int,
    outcome: str = "justified",
    auditor: LocalAccount | None = None,
    **overrides: Any,
) -> SignedIntent:
    message = {
        "accessId": access_id,
        "outcome": b32(outcome),
        "notesHash": b"\x07" * 32,
        **overrides,
    }
    return system.sign("ReviewEmergency", auditor or system.admin, message)

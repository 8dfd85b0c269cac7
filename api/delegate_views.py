"""Read-model queries for delegates: a resident's appointments and removals folded into
one entry per delegate, and a resident's published key with the intents that set it.

Everything comes from the indexed ``DelegateAppointed``/``DelegateRemoved`` events (in
chain order, each with its receipt); whether an appointment is in force is judged at
the chain's latest block, as :func:`api.deps.ensure_self_delegate_or_role` judges a
delegate's reads."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, func, select

from api.provenance import signed_intent_at
from api.schemas.common import ReceiptOut, SignedIntentOut
from api.schemas.delegates import DelegateOut, DelegateStatus, DelegationEventOut
from api.vault import delegate_key_versions
from api.views import event_receipt
from ledger.client import LedgerClient
from ledger.codec import checksum
from ledger.intents import POWERS
from ledger.store import events, residents
from ledger.vocabulary import role_id

DELEGATION_EVENTS = ("DelegateAppointed", "DelegateRemoved")
_REGISTRAR = role_id("registrar")


def power_names(bits: int) -> list[str]:
    """The powers a ``uint8`` names, in bit order (grant, revoke, commit, read)."""
    return [name for name, bit in POWERS.items() if bits & bit]


def delegation_status(valid_until: int, removed: bool, now: int) -> DelegateStatus:
    """As ``ConsentDelegates.delegationError`` judges it at a block of time ``now``."""
    if removed:
        return "removed"
    return "expired" if now > valid_until else "active"


def encryption_keys(c: Connection, addresses: list[str]) -> dict[str, str]:
    """The residents' HPKE public keys as their enrolment published them."""
    if not addresses:
        return {}
    rows = c.execute(
        select(residents.c.address, residents.c.encryption_key).where(
            residents.c.address.in_(addresses)
        )
    ).all()
    return {address: key for address, key in rows}


def list_delegates(
    c: Connection, client: LedgerClient, resident: str, now: int
) -> list[DelegateOut]:
    """Every delegate the resident ever had, in first-appointment order (the chain's
    ``delegates(resident)`` order), each with its latest terms and its history."""
    rows = c.execute(
        select(events)
        .where(and_(events.c.resident == resident, events.c.name.in_(DELEGATION_EVENTS)))
        .order_by(events.c.block_number, events.c.log_index)
    ).mappings()
    folded: dict[str, dict[str, Any]] = {}
    for row in rows:
        args = json.loads(row["args"])
        delegate = str(checksum(args["delegate"]))
        receipt = event_receipt(row)
        intent = signed_intent_at(client, row["tx_hash"], row["log_index"])
        if row["name"] == "DelegateAppointed":
            bits = int(args["powers"])
            entry = folded.setdefault(delegate, {"history": []})
            entry.update(
                powers=bits,
                valid_until=int(args["validUntil"]),
                guardian=bool(args["guardian"]),
                appointed_by=str(checksum(args["appointedBy"])),
                removed=False,
                removed_by=None,
                receipt=receipt,
                removal_receipt=None,
            )
            entry["history"].append(
                DelegationEventOut(
                    type="DelegateAppointed",
                    by=entry["appointed_by"],
                    powers=power_names(bits),
                    power_bits=bits,
                    valid_until=entry["valid_until"],
                    guardian=entry["guardian"],
                    receipt=receipt,
                    intent=intent,
                )
            )
        elif delegate in folded:  # a removal always follows an appointment on chain
            entry = folded[delegate]
            by = str(checksum(args["removedBy"]))
            entry.update(removed=True, removed_by=by, removal_receipt=receipt)
            entry["history"].append(
                DelegationEventOut(type="DelegateRemoved", by=by, receipt=receipt, intent=intent)
            )
    keys = encryption_keys(c, list(folded))
    versions = delegate_key_versions(c, resident)
    return [
        DelegateOut(
            resident=resident,
            delegate=delegate,
            powers=power_names(entry["powers"]),
            power_bits=entry["powers"],
            valid_until=entry["valid_until"],
            guardian=entry["guardian"],
            appointed_by=entry["appointed_by"],
            removed=entry["removed"],
            removed_by=entry["removed_by"],
            status=delegation_status(entry["valid_until"], entry["removed"], now),
            encryption_key=keys.get(delegate),
            key_versions=versions.get(delegate, []),
            receipt=entry["receipt"],
            removal_receipt=entry["removal_receipt"],
            history=entry["history"],
        )
        for delegate, entry in folded.items()
    ]


def list_delegations(
    c: Connection, client: LedgerClient, delegate: str, now: int
) -> list[DelegateOut]:
    """Every appointment of ``delegate`` (by any resident or registrar), current and
    past, as each resident's :func:`list_delegates` entry for it: whom a delegate acts
    for, found from the indexed ``DelegateAppointed`` events that name it."""
    named = c.execute(
        select(events.c.resident)
        .where(
            and_(
                events.c.name == "DelegateAppointed",
                events.c.args.contains(f'"delegate":"{delegate}"', autoescape=True),
            )
        )
        .group_by(events.c.resident)
        .order_by(func.min(events.c.block_number), func.min(events.c.log_index))
    ).scalars()
    found: list[DelegateOut] = []
    for resident in named:
        found.extend(
            entry
            for entry in list_delegates(c, client, str(resident), now)
            if entry.delegate == delegate
        )
    return found


def enrolment(
    c: Connection, client: LedgerClient, resident: str
) -> tuple[RowMapping, ReceiptOut, SignedIntentOut | None, SignedIntentOut | None] | None:
    """The resident's row, where the chain logged its enrolment, the registrar's signed
    ``EnrollResident`` and the admin's signed ``GrantRole`` that made that registrar one
    (the latest before the enrolment); ``None`` for an address never enrolled."""
    row = c.execute(select(residents).where(residents.c.address == resident)).mappings().first()
    if row is None:
        return None
    enrolled = (
        c.execute(
            select(events).where(
                and_(events.c.name == "ResidentEnrolled", events.c.resident == resident)
            )
        )
        .mappings()
        .first()
    )
    if enrolled is None:
        return None
    key_intent = signed_intent_at(client, enrolled["tx_hash"], enrolled["log_index"])
    registrar = str(row["registrar"])
    granted = None
    for assigned in c.execute(
        select(events)
        .where(events.c.name == "RoleAssigned")
        .order_by(events.c.block_number, events.c.log_index)
    ).mappings():
        if (assigned["block_number"], assigned["log_index"]) > (
            enrolled["block_number"],
            enrolled["log_index"],
        ):
            break
        args = json.loads(assigned["args"])
        if checksum(args["account"]) == registrar and bytes.fromhex(args["role"][2:]) == _REGISTRAR:
            granted = assigned
    registrar_intent = (
        None
        if granted is None
        else signed_intent_at(client, granted["tx_hash"], granted["log_index"])
    )
    return row, event_receipt(enrolled), key_intent, registrar_intent

#!/usr/bin/env python3
"""Gas of one grant and one access, alone and batched, on a fresh embedded chain, and
of a three-department bundle against the three grants it replaces.

"Alone" is a batch of one (the relayer's path for a lone intent); "batched" is one
transaction carrying ``--batch`` intents, reported per intent. Residents have already
committed a record, as they must before granting, so their nonce word is warm as in
real use. Then py-evm's seconds per batched grant: ``--runs`` times, the relayer's batch
transaction of ``--batch`` grants sent straight to the chain, against a block of as many
plain transfers timed in turn (:func:`evm_seconds`). Writes the figures to
``bench/results.json`` under ``gas``, with the machine and the command
(``benchlib.results``).

    python scripts/bench_gas.py [--batch 100] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from statistics import median
from typing import Any

from benchlib.results import machine_info, write_results
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain import TransactionSigner, open_chain
from ledger.client import LedgerClient
from ledger.deployment import deploy
from ledger.types import ConsentTerms, SignedIntent
from ledger.vocabulary import name_to_bytes32, role_id
from wallets.signing import sign_intent


@dataclass
class Scenario:
    """A fresh embedded chain with a department and ``n + 1`` enrolled residents whose
    nonce word 0 is warm (each committed a record with nonce 0), ready to grant."""

    chain: Any
    client: LedgerClient
    admin: LocalAccount
    department: LocalAccount
    residents: list[LocalAccount]
    sign: Callable[..., SignedIntent]
    submit: Callable[[list[SignedIntent]], list[Any]]
    fields: list[bytes]
    now: int

    def grant(self, r: LocalAccount, nonce: int = 1) -> SignedIntent:
        """``r``'s grant of the three fields to the department, signed with ``nonce``."""
        now = self.now
        message = {
            "resident": r.address,
            "department": self.department.address,
            "fields": self.fields,
            "purpose": name_to_bytes32("HOUSING"),
            "validFrom": now,
            "validUntil": now + 30 * 86400,
            "maxUses": 0,
            "requestId": b"\0" * 32,
            "nonce": nonce,
            "deadline": now + 3600,
        }
        sig = sign_intent(
            r.key,
            "Grant",
            message,
            chain_id=self.chain.chain_id,
            verifying_contract=self.client.verifying_contract("Grant"),
        )
        return SignedIntent("Grant", message, sig)


def setup(n: int) -> Scenario:
    chain = open_chain(block_period=0)
    relayer = TransactionSigner(Account.create())
    admin, registrar = Account.create(), Account.create()
    department = Account.create()
    chain.fund(relayer.address, 10**24)
    client = LedgerClient(chain, deploy(chain, relayer, admin=admin.address), relayer)
    counter = iter(range(1, 10**9))

    def sign(
        name: str, key: LocalAccount, message: dict[str, Any], terms: Any = None
    ) -> SignedIntent:
        full = {"nonce": next(counter), "deadline": chain.latest_timestamp() + 3600, **message}
        sig = sign_intent(
            key.key,
            name,
            full,
            chain_id=chain.chain_id,
            verifying_contract=client.verifying_contract(name),
        )
        return SignedIntent(name, full, sig, terms)

    def submit(intents: list[SignedIntent]) -> list[Any]:
        outcomes = client.submit(intents)
        for outcome in outcomes:
            outcome.unwrap()
        return outcomes

    submit(
        [
            sign(
                "RegisterDepartment",
                admin,
                {
                    "department": department.address,
                    "name": "Housing Bureau",
                    "code": "HB",
                    "encryptionKey": secrets.token_bytes(32),
                },
            ),
            sign(
                "GrantRole",
                admin,
                {"role": role_id("registrar"), "account": registrar.address, "fields": []},
            ),
        ]
    )
    residents = [Account.create() for _ in range(n + 1)]
    submit(
        [
            sign(
                "EnrollResident",
                registrar,
                {
                    "resident": r.address,
                    "idCommitment": secrets.token_bytes(32),
                    "encryptionKey": secrets.token_bytes(32),
                },
            )
            for r in residents
        ]
    )
    # Residents count their nonces from 0 like the wallet does: word 0 is warm after this.
    commits = []
    for r in residents:
        full = {
            "resident": r.address,
            "version": 1,
            "root": secrets.token_bytes(32),
            "nonce": 0,
            "deadline": chain.latest_timestamp() + 3600,
        }
        commits.append(
            SignedIntent(
                "CommitRecord",
                full,
                sign_intent(
                    r.key,
                    "CommitRecord",
                    full,
                    chain_id=chain.chain_id,
                    verifying_contract=client.verifying_contract("CommitRecord"),
                ),
            )
        )
    submit(commits)
    fields = sorted(name_to_bytes32(f) for f in ("address", "income", "name"))
    return Scenario(
        chain, client, admin, department, residents, sign, submit, fields,
        chain.latest_timestamp(),
    )  # fmt: skip


def gas_of(scenario: Scenario, outcomes: list[Any]) -> int:
    receipt = scenario.chain.w3.eth.get_transaction_receipt(outcomes[0].receipt.tx_hash)
    return int(receipt["gasUsed"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument(
        "--runs", type=int, default=7, help="timed runs of the batched grant (0: none)"
    )
    args = parser.parse_args()
    n = args.batch
    s = setup(n)
    chain, client, department, residents, fields = (
        s.chain, s.client, s.department, s.residents, s.fields,
    )  # fmt: skip

    def gas(outcomes: list[Any]) -> int:
        return gas_of(s, outcomes)

    alone = s.submit([s.grant(residents[0])])
    started = time.perf_counter()
    batched = s.submit([s.grant(r) for r in residents[1:]])
    grant_seconds = time.perf_counter() - started
    terms = [ConsentTerms.from_event(o.event.args) for o in batched]
    ids = [int(o.event.args["consentId"]) for o in batched]

    def access(i: int) -> SignedIntent:
        return s.sign(
            "Access",
            department,
            {
                "department": department.address,
                "resident": residents[i + 1].address,
                "consentId": ids[i],
                "fields": fields[:2],
            },
            terms[i],
        )

    access_alone = s.submit([access(0)])
    access_batched = s.submit([access(i) for i in range(n)])
    bundle = bundle_gas(chain, client, s.admin, residents[:2], s.sign, s.submit, gas, s.now)
    figures: dict[str, Any] = {
        **bundle,
        "grant_alone": gas(alone),
        "grant_batched_per_intent": gas(batched) // n,
        "access_alone": gas(access_alone),
        "access_batched_per_intent": gas(access_batched) // n,
        "batch_size": n,
        "fields_per_grant": len(fields),
        "fields_per_access": 2,
    }
    if args.runs > 0:
        figures.update(evm_seconds(s, args.runs))
    print(json.dumps(figures, indent=2))
    print(f"(embedded chain: {n} grants submitted in {grant_seconds:.2f} s)")
    figures["chain"] = "embedded (py-evm, Prague)"
    print(f"written to {write_results('gas', {**figures, **machine_info()})}")


def evm_seconds(s: Scenario, runs: int) -> dict[str, Any]:
    """py-evm's time for the relayer's batch transaction of ``n`` grants (one per resident,
    a fresh nonce each run), sent straight to the embedded chain as the relayer signs it
    (``LedgerClient.batch_tx``) and mined in a block of its own; against the same for a
    block of ``n`` plain transfers from the relayer, timed in turn in the same process so
    that the machine's drift cancels in their ratio. CPU seconds of this process (the
    chain mines in the calling thread), so that time the shared machine gives others is
    not counted; medians over ``runs``."""
    chain, client = s.chain, s.client
    grantors = s.residents[1:]
    n = len(grantors)
    sinks = [Account.create().address for _ in range(n)]
    grant_times: list[float] = []
    transfer_times: list[float] = []
    for run in range(runs):
        batch = [s.grant(r, nonce=2 + run) for r in grantors]
        (raw,) = client.relayer.sign_many(chain, [client.batch_tx("Grant", batch)])
        transfers = client.relayer.sign_many(
            chain, [{"to": to, "value": 1, "gas": 21_000} for to in sinks]
        )
        started = time.process_time()
        (receipt,) = chain.send_raw_transactions([raw])
        grant_times.append(time.process_time() - started)
        started = time.process_time()
        chain.send_raw_transactions(transfers)
        transfer_times.append(time.process_time() - started)
        events = [client.decode_log(log) for log in receipt["logs"]]
        granted = sum(1 for e in events if e is not None and e.name == "ConsentGranted")
        if receipt["status"] != 1 or granted != n or len(events) != n:
            raise RuntimeError(f"timed batch run {run}: {granted} of {n} grants recorded")
    ratios = [g / t for g, t in zip(grant_times, transfer_times, strict=True)]
    return {
        "evm_runs": runs,
        "evm_grant_batch_cpu_ms_per_intent_median": round(median(grant_times) / n * 1000, 3),
        "evm_transfer_block_cpu_ms_per_tx_median": round(median(transfer_times) / n * 1000, 3),
        "evm_grant_batch_vs_transfer_block_ratio_median": round(median(ratios), 3),
    }


def bundle_gas(
    chain: Any,
    client: LedgerClient,
    admin: LocalAccount,
    residents: list[LocalAccount],
    sign: Any,
    submit: Any,
    gas_of: Any,
    now: int,
) -> dict[str, int]:
    """A three-department bundle (three fields each) against the three grants it replaces:
    one signature and one transaction against three of each, alone or in one batch; and
    its revocation against three revocations."""
    departments = [Account.create() for _ in range(3)]
    submit(
        [
            sign(
                "RegisterDepartment",
                admin,
                {
                    "department": d.address,
                    "name": f"Department {i}",
                    "code": f"D{i}",
                    "encryptionKey": secrets.token_bytes(32),
                },
            )
            for i, d in enumerate(departments)
        ]
    )
    fields = sorted(name_to_bytes32(f) for f in ("address", "income", "name"))
    purposes = [name_to_bytes32(p) for p in ("HOUSING", "HEALTHCARE", "SOCIAL_ASSISTANCE")]
    items = [
        {"department": d.address, "fields": fields, "purpose": p, "duration": 30 * 86400,
         "maxUses": 0}
        for d, p in zip(departments, purposes, strict=True)
    ]  # fmt: skip
    service = name_to_bytes32("NEWBORN_REGISTRATION")
    defined = submit([sign("DefineService", admin, {"service": service, "name": "Newborn",
                                                     "items": items})])  # fmt: skip
    bundler, granter = residents
    bundle_items = [
        {"department": i["department"], "fields": fields, "purpose": i["purpose"],
         "validUntil": now + 30 * 86400, "maxUses": 0}
        for i in items
    ]  # fmt: skip
    bundle = submit(
        [sign("GrantBundle", bundler, {"resident": bundler.address, "service": service,
                                       "items": bundle_items, "validFrom": now})]
    )  # fmt: skip

    def grant(item: dict[str, Any]) -> SignedIntent:
        return sign(
            "Grant",
            granter,
            {"resident": granter.address, "department": item["department"], "fields": fields,
             "purpose": item["purpose"], "validFrom": now, "validUntil": item["validUntil"],
             "maxUses": 0, "requestId": b"\0" * 32},
        )  # fmt: skip

    grants_alone = [submit([grant(item)]) for item in bundle_items]
    grants_batched = submit([grant(item) for item in bundle_items])
    terms = tuple(
        ConsentTerms.from_event(e.args)
        for e in bundle[0].extra_events
        if e.name == "ConsentGranted"
    )
    bundle_id = int(bundle[0].event.args["bundleId"])
    revoked = submit(
        [sign("RevokeBundle", bundler, {"resident": bundler.address, "bundleId": bundle_id}, terms)]
    )
    revokes = submit(
        [
            sign(
                "Revoke",
                granter,
                {"resident": granter.address, "consentId": int(o.event.args["consentId"])},
                ConsentTerms.from_event(o.event.args),
            )
            for o in grants_batched
        ]
    )
    return {
        "define_service_3_items": gas_of(defined),
        "bundle_3_items_alone": gas_of(bundle),
        "three_grants_alone_total": sum(gas_of(g) for g in grants_alone),
        "three_grants_one_batch_total": gas_of(grants_batched),
        "revoke_bundle_3": gas_of(revoked),
        "three_revokes_one_batch_total": gas_of(revokes),
    }


if __name__ == "__main__":
    main()

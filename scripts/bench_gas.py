#!/usr/bin/env python3
"""Gas of one grant and one access, alone and batched, on a fresh embedded chain.

"Alone" is a batch of one (the relayer's path for a lone intent); "batched" is one
transaction carrying ``--batch`` intents, reported per intent. Residents have already
committed a record, as they must before granting, so their nonce word is warm as in
real use. Writes the figures to ``bench/results.json`` under ``gas``, with the machine
and the command (``bench_common``).

    python scripts/bench_gas.py [--batch 100]
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from typing import Any

import bench_common as bc
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain import TransactionSigner, open_chain
from ledger.client import ConsentTerms, LedgerClient, SignedIntent
from ledger.deployment import deploy
from ledger.intents import name_to_bytes32, role_id
from wallets.signing import sign_intent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    n = args.batch

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
    now = chain.latest_timestamp()

    def grant(r: LocalAccount) -> SignedIntent:
        message = {
            "resident": r.address,
            "department": department.address,
            "fields": fields,
            "purpose": name_to_bytes32("HOUSING"),
            "validFrom": now,
            "validUntil": now + 30 * 86400,
            "maxUses": 0,
            "requestId": b"\0" * 32,
            "nonce": 1,
            "deadline": now + 3600,
        }
        sig = sign_intent(
            r.key,
            "Grant",
            message,
            chain_id=chain.chain_id,
            verifying_contract=client.verifying_contract("Grant"),
        )
        return SignedIntent("Grant", message, sig)

    def gas_of(outcomes: list[Any]) -> int:
        receipt = chain.w3.eth.get_transaction_receipt(outcomes[0].receipt.tx_hash)
        return int(receipt["gasUsed"])

    alone = submit([grant(residents[0])])
    started = time.perf_counter()
    batched = submit([grant(r) for r in residents[1:]])
    grant_seconds = time.perf_counter() - started
    terms = [ConsentTerms.from_event(o.event.args) for o in batched]
    ids = [int(o.event.args["consentId"]) for o in batched]

    def access(i: int) -> SignedIntent:
        return sign(
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

    access_alone = submit([access(0)])
    access_batched = submit([access(i) for i in range(n)])
    figures = {
        "grant_alone": gas_of(alone),
        "grant_batched_per_intent": gas_of(batched) // n,
        "access_alone": gas_of(access_alone),
        "access_batched_per_intent": gas_of(access_batched) // n,
        "batch_size": n,
        "fields_per_grant": len(fields),
        "fields_per_access": 2,
    }
    print(json.dumps(figures, indent=2))
    print(f"(embedded chain: {n} grants submitted in {grant_seconds:.2f} s)")
    figures["chain"] = "embedded (py-evm, Prague)"
    print(f"written to {bc.write_results('gas', {**figures, **bc.machine_info()})}")


if __name__ == "__main__":
    main()

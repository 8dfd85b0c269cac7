"""The contract client: its batch encoder is web3's, its routing and gas come from the
intent records, and a signer is recovered as the contracts recover it."""

from __future__ import annotations

import pytest
from eth_account import Account

from ledger import contract_errors as ce
from ledger.client import batch_calldata, scoped_args
from ledger.intents import INTENTS
from ledger.vocabulary import SEED_FIELDS, role_id
from tests.conftest import System, b32, fields
from tests.contracts.helpers import high_s, with_signature


def test_a_batch_encodes_as_web3_encodes_it(system: System) -> None:
    consent_id, terms = system.grant()
    grants = [system.grant_intent(), system.grant_intent(names=("address",))]
    accesses = [system.access_intent(consent_id, terms), system.access_intent(consent_id, terms)]
    twin = with_signature(grants[0], high_s(grants[0].signature))
    assert twin.signature[32] & 0x80  # an s the compact form cannot carry
    for batch in (accesses, [grants[1], twin]):
        spec = INTENTS[batch[0].name]
        contract = system.client.ledger
        args: list = [[i.as_abi() for i in batch], [i.signature for i in batch]]
        if spec.with_terms:
            args.append([i.terms_abi() for i in batch])
        expected = contract.encode_abi(spec.batch_function, args=args)
        assert "0x" + batch_calldata(spec.name, batch).hex() == expected


def test_a_grant_batch_goes_scoped_each_scope_once_signatures_compact(system: System) -> None:
    """Grants to the same department, fields and purpose share one scope, in the order of
    their first grant; each signature is EIP-2098's ``(r, vs)``; web3 encodes the same."""
    dept, other = system.departments[0], system.departments[1]
    batch = [
        system.grant_intent(department=dept),
        system.grant_intent(department=other, names=("address",)),
        system.grant_intent(department=dept, maxUses=3),
        system.grant_intent(department=other, names=("address",), resident=system.residents[1]),
    ]
    scopes = [
        (dept.address, fields("income", "name"), b32("HOUSING")),
        (other.address, fields("address"), b32("HOUSING")),
    ]
    own = []
    for intent, scope in zip(batch, (0, 1, 0, 1), strict=True):
        m, sig = intent.message, intent.signature
        s_and_v = bytes([sig[32] | (sig[64] - 27) << 7]) + sig[33:64]
        own.append(
            (m["resident"], scope, m["validFrom"], m["validUntil"], m["maxUses"],
             m["requestId"], m["nonce"], m["deadline"], sig[:32], s_and_v)
        )  # fmt: skip
    expected = system.client.ledger.encode_abi("grantScopedBatch", args=[scopes, own])
    assert "0x" + batch_calldata("Grant", batch).hex() == expected
    assert scoped_args("Grant", batch) == [scopes, own]


def test_the_gas_budget_covers_what_a_batch_uses(system: System) -> None:
    consent_id, terms = system.grant()
    batch = [system.access_intent(consent_id, terms, names=("income", "name")) for _ in range(5)]
    outcomes = system.submit(*batch)
    receipt = system.chain.w3.eth.get_transaction_receipt(outcomes[0].receipt.tx_hash)
    assert all(o.ok for o in outcomes)
    assert receipt["gasUsed"] < 80_000 + sum(i.gas() for i in batch)


def test_a_signer_is_recovered_by_openzeppelins_rules(system: System) -> None:
    intent = system.grant_intent()
    assert system.client.recover_signer(intent) == system.resident.address
    short = type(intent)(intent.name, intent.message, intent.signature[:64])
    with pytest.raises(ce.ECDSAInvalidSignatureLength):
        system.client.recover_signer(short)
    other = type(intent)(intent.name, {**intent.message, "maxUses": 9}, intent.signature)
    assert system.client.recover_signer(other) != system.resident.address


def test_issuers_granted_and_revoked_with_every_field_fit_their_batch(system: System) -> None:
    """Each field of an issuer opens (and its revocation closes) a trust window: budgets
    of 130k + 30k per field and 150k per revocation took whole batches down."""
    every = sorted(b32(name) for name in SEED_FIELDS)
    issuers = [Account.create() for _ in range(5)]
    grants = [
        system.sign(
            "GrantRole",
            system.admin,
            {"role": role_id("issuer"), "account": a.address, "fields": every},
        )
        for a in issuers
    ]
    assert [o.error for o in system.submit(*grants)] == [None] * 5
    revocations = [
        system.sign("RevokeRole", system.admin, {"role": role_id("issuer"), "account": a.address})
        for a in issuers
    ]
    assert [o.error for o in system.submit(*revocations)] == [None] * 5
    assert not any(system.client.has_role("issuer", a.address) for a in issuers)

"""Every intent's record agrees with the contracts it names: functions, batch functions,
events, signer field and role; and the records are all the relayer and audit route by."""

from __future__ import annotations

import pytest

from ledger.artifacts import load_artifact
from ledger.intents import BY_FUNCTION, INTENTS, IntentType, normalize_message
from ledger.vocabulary import ROLE_NAMES


def _abi(contract: str, kind: str) -> dict[str, dict]:
    return {e["name"]: e for e in load_artifact(contract).abi if e["type"] == kind}


@pytest.mark.parametrize("spec", INTENTS.values(), ids=list(INTENTS))
def test_each_record_names_functions_and_events_its_contract_has(spec: IntentType) -> None:
    functions = _abi(spec.contract, "function")
    single, batch = functions[spec.function], functions[spec.batch_function]
    struct = single["inputs"][0]
    assert struct["internalType"].endswith(f".{spec.name}")
    assert [c["name"] for c in struct["components"]] == list(spec.field_names)
    structs = dict(spec.structs)
    assert [c["type"] for c in struct["components"]] == [
        t.replace(t.rstrip("[]"), "tuple") if t.rstrip("[]") in structs else t
        for _, t in spec.fields
    ]
    for component in struct["components"]:  # each struct member as the record names it
        kind = component["internalType"].removeprefix("struct ").split(".")[-1].rstrip("[]")
        if kind in structs:
            assert [(c["name"], c["type"]) for c in component["components"]] == [
                (n, t) for n, t in structs[kind]
            ]
    assert [i["name"] for i in batch["inputs"]][:2] == ["intents", "signatures"]
    assert ("terms" in [i["name"] for i in batch["inputs"]]) is bool(spec.with_terms)
    assert set(spec.events) <= set(_abi(spec.contract, "event"))
    assert spec.signer_field in ("", *spec.field_names)
    assert spec.role in (*ROLE_NAMES, "resident")


@pytest.mark.parametrize(
    "spec", [s for s in INTENTS.values() if s.scoped_batch_function], ids=lambda s: s.name
)
def test_a_scoped_batch_splits_each_intent_into_its_scope_and_its_own_members(
    spec: IntentType,
) -> None:
    """``(scopes, intents)``: a scope carries the members :attr:`scope_fields` names, an
    intent the others, in the message's order, then its scope's index and its compact
    signature; with the types of the intent's own struct."""
    functions = _abi(spec.contract, "function")
    scoped = functions[spec.scoped_batch_function]
    scopes, intents = scoped["inputs"]
    assert (scopes["name"], intents["name"]) == ("scopes", "intents")
    types = dict(spec.fields)
    assert [(c["name"], c["type"]) for c in scopes["components"]] == [
        (n, types[n]) for n in spec.scope_fields
    ]
    own = [n for n in spec.field_names if n not in spec.scope_fields]
    members = [(c["name"], c["type"]) for c in intents["components"]]
    assert members == [(own[0], types[own[0]]), ("scope", "uint256")] + [
        (n, types[n]) for n in own[1:]
    ] + [("r", "bytes32"), ("vs", "bytes32")]
    assert BY_FUNCTION[spec.scoped_batch_function] is spec


def test_every_function_that_takes_signatures_is_some_intents() -> None:
    for contract in ("ConsentDirectory", "ConsentLedger"):
        for name, entry in _abi(contract, "function").items():
            takes_signatures = any(
                i["name"] in ("signature", "signatures") for i in entry["inputs"]
            )
            if takes_signatures and not name.startswith(("verify", "_")):
                assert name in BY_FUNCTION, f"{contract}.{name} carries signatures but no record"


def test_a_message_is_checked_against_its_types() -> None:
    message = {"resident": "0x" + "11" * 20, "consentId": 1, "nonce": 2, "deadline": 3}
    assert normalize_message("Revoke", message)["resident"] == "0x" + "11" * 20
    with pytest.raises(ValueError, match=r"missing \['deadline'\], unexpected \['extra'\]"):
        normalize_message(
            "Revoke", {**{k: v for k, v in message.items() if k != "deadline"}, "extra": 1}
        )
    with pytest.raises(ValueError, match=r"Revoke\.consentId"):
        normalize_message("Revoke", {**message, "consentId": -1})
    with pytest.raises(ValueError, match="unknown intent"):
        normalize_message("Forge", message)

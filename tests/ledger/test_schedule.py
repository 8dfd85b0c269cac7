"""The order rule of a round (``ledger.schedule``): conflicting intents run in the order
given, commuting ones share one batch per type."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.schedule import Schedule, conflict_keys
from ledger.types import ConsentTerms, SignedIntent

RESIDENTS = ["0x" + f"{i:040x}" for i in range(1, 4)]


def intent(name: str, resident: int = 0, consent: int | None = None) -> SignedIntent:
    message: dict[str, Any] = {"resident": RESIDENTS[resident]}
    if consent is not None:
        message["consentId"] = consent
    terms = None
    if name in ("Access", "Revoke"):
        terms = ConsentTerms(RESIDENTS[resident], RESIDENTS[0], (), b"\0" * 32, 0, 1, 0)
    if name == "GrantRole":
        message = {}
    return SignedIntent(name, message, b"", terms)


def schedule(intents: list[SignedIntent]) -> list[tuple[str, list[int]]]:
    plan = Schedule()
    for i, item in enumerate(intents):
        plan.add(i, item.name, conflict_keys(item))
    return plan.batches


def test_a_revocation_in_the_middle_splits_the_queries_around_it() -> None:
    intents = [intent("Access", 0, 7)] * 3 + [intent("Revoke", 0, 7)] + [intent("Access", 0, 7)] * 2
    assert schedule(intents) == [("Access", [0, 1, 2]), ("Revoke", [3]), ("Access", [4, 5])]


def test_intents_that_commute_share_one_batch_per_type() -> None:
    # grants and queries of different residents, interleaved: one batch of each type
    intents = [intent("Grant", i % 2) if i % 2 else intent("Access", 2, 9) for i in range(10)]
    assert schedule(intents) == [("Access", [0, 2, 4, 6, 8]), ("Grant", [1, 3, 5, 7, 9])]


def test_an_intent_joins_its_batch_past_intents_it_does_not_conflict_with() -> None:
    intents = [intent("Access", 0, 1), intent("Revoke", 1, 2), intent("Access", 0, 1)]
    assert schedule(intents) == [("Access", [0, 2]), ("Revoke", [1])]


def test_an_admin_intent_is_a_barrier_and_enrolment_is_not() -> None:
    intents = [intent("Access", 0, 1), intent("GrantRole"), intent("Access", 1, 2)]
    assert schedule(intents) == [("Access", [0]), ("GrantRole", [1]), ("Access", [2])]
    intents = [intent("Grant", 0), intent("EnrollResident", 1), intent("Grant", 2)]
    assert schedule(intents) == [("Grant", [0, 2]), ("EnrollResident", [1])]
    intents = [intent("EnrollResident", 1), intent("Grant", 1), intent("EnrollResident", 2)]
    assert schedule(intents) == [("EnrollResident", [0, 2]), ("Grant", [1])]


_NAMES = ("Access", "Revoke", "Grant", "CommitRecord", "GrantRole", "EnrollResident")


def conflict(a: SignedIntent, b: SignedIntent) -> bool:
    keys_a, keys_b = conflict_keys(a), conflict_keys(b)
    return keys_a is None or keys_b is None or bool(keys_a & keys_b)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(_NAMES), st.integers(0, 2), st.integers(1, 3)),
        max_size=40,
    )
)
def test_every_conflicting_pair_runs_in_the_order_given(spec: list[tuple[str, int, int]]) -> None:
    intents = [
        intent(name, resident, consent if name in ("Access", "Revoke") else None)
        for name, resident, consent in spec
    ]
    batches = schedule(intents)
    # where each intent runs: (batch, position in its batch)
    runs_at = {i: (b, p) for b, (_, idx) in enumerate(batches) for p, i in enumerate(idx)}
    assert sorted(runs_at) == list(range(len(intents)))
    assert all(intents[i].name == name for name, idx in batches for i in idx)
    for j in range(len(intents)):
        for i in range(j):
            if conflict(intents[i], intents[j]):
                assert runs_at[i] < runs_at[j], (i, j, batches)
    # and a type's new batch opens only when an earlier conflicting intent runs after
    # that type's previous batch: otherwise it would have joined it
    previous: dict[str, int] = {}
    for b, (name, idx) in enumerate(batches):
        if name in previous:
            j = idx[0]
            assert any(
                runs_at[i][0] > previous[name] and conflict(intents[i], intents[j])
                for i in range(j)
            ), (j, batches)
        previous[name] = b

"""``POST /queries/batch`` on the embedded chain: up to 500 signed ``Access`` intents in one
request, each judged and recorded on chain as ``POST /queries`` would judge it, answered
in order with ``POST /queries``' own answer or problem; an envelope that does not parse
(not a list, empty, over 500, a malformed query) is one 422 that records nothing, and a
body over the batch's bound is 413.

One world serves the module; each test makes the consents it queries and compares
before and after, never absolute counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from api.http_bounds import DEFAULT_BODY_BYTES, MAX_QUERY_BATCH, QUERY_BATCH_BODY_BYTES
from ledger.vocabulary import name_to_bytes32
from tests.api.conftest import World, ids, make_world
from tests.api.helpers_matrix import assert_problem, head, sign
from tests.api.test_limits import client, limited
from wallets.acceptance import verify_acceptance
from wallets.grants import open_granted_fields
from wallets.identity import Identity
from wallets.signing import intent_digest

#: What :func:`tests.api.conftest.populate` records for both residents.
INCOME = "0x" + name_to_bytes32("income").hex()
VALUES = {"name": "Li Wei", "income": "52000", "address": "1 Lake Rd", "phone": "138"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # Batches of hundreds, one after another: beyond the default burst of 100 writes a
    # second per address, which the rate-limit test sets low on an app of its own.
    yield from make_world(tmp_path_factory.mktemp("batch"), rate_limit_address="100000/second")


#: Per node and department: one past the highest nonce :func:`signed_queries` chose.
_signed_up_to: dict[tuple[int, str], int] = {}


def signed_queries(
    world: World,
    dept: Identity,
    queries: Sequence[tuple[Identity, int, list[str]]],
    *,
    signer: dict[int, Identity] | None = None,
    first_nonce: int | None = None,
) -> list[dict[str, Any]]:
    """Signed ``Access`` bodies, consecutive nonces from the department's lowest unused
    one but above every nonce this module signed before (a batch whose early items were
    refused leaves gaps below used nonces; the item at index ``i`` of ``signer`` is
    signed by that identity instead)."""
    if first_nonce is None:
        lowest = world.get(f"/nonces/{dept.address}", None).json()["ConsentLedger"]
        nonce = max(lowest, _signed_up_to.get((id(world.node), dept.address), 0))
        _signed_up_to[(id(world.node), dept.address)] = nonce + len(queries)
    else:
        nonce = first_nonce
    deadline = world.now() + 600
    bodies = []
    for index, (resident, consent_id, fields) in enumerate(queries):
        message = {
            "department": dept.address,
            "resident": resident.address,
            "consentId": consent_id,
            "fields": ids(*fields),
            "nonce": nonce + index,
            "deadline": deadline,
        }
        who = (signer or {}).get(index, dept)
        bodies.append(sign(world, who, "Access", message))
    return bodies


def post_batch(world: World, dept: Identity, bodies: list[dict[str, Any]]) -> Any:
    return world.post("/queries/batch", dept, {"queries": bodies})


def events(world: World, resident: Identity) -> list[dict[str, Any]]:
    answer = world.get(f"/residents/{resident.address}/access-log", resident, limit=1000)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def access_events(world: World) -> int:
    page = world.get("/audit/events", world.auditor, limit=1000).json()["data"]
    return sum(1 for e in page if e["type"] in ("AccessLogged", "AccessDenied"))


def test_a_mixed_batch_answers_each_query_in_order_and_logs_each_on_chain(world: World) -> None:
    resident, resident2 = world.resident, world.resident2
    served = world.grant(resident, world.dept, ["income", "name"])
    revoked = world.grant(resident, world.dept, ["income"])
    assert world.revoke(resident, revoked).status_code == 200
    others = world.grant(resident2, world.dept2, ["income"])
    served2 = world.grant(resident2, world.dept, ["address"])
    queries = [
        (resident, served, ["income", "name"]),
        (resident, revoked, ["income"]),
        (resident2, others, ["income"]),  # another department's consent
        (resident, served, ["phone"]),  # outside the consent
        (resident2, served2, ["address"]),
        (resident, 987_654, ["income"]),
        (resident, served, ["name"]),
    ]
    expected = [200, "revoked", "not_granted", "field_not_in_scope", 200, "unknown_consent", 200]
    bodies = signed_queries(world, world.dept, queries)
    log_before = {r.address: len(events(world, r)) for r in (resident, resident2)}

    answer = post_batch(world, world.dept, bodies)

    assert answer.status_code == 200, answer.text
    answers = answer.json()["answers"]
    assert len(answers) == len(queries)
    spec = world.http.get("/eip712").json()["intents"]["Access"]["domain"]
    for item, body, (who, consent_id, fields), want in zip(
        answers, bodies, queries, expected, strict=True
    ):
        if want == 200:
            assert item["status"] == 200, item
            assert item["consent_id"] == consent_id
            assert sorted(item["fields"]) == sorted(fields)
            record = world.records[who.address]
            values = open_granted_fields(
                item["fields"],
                resident=who.address,
                identity=world.dept,
                root={record.version: record.root},
            )
            assert {n: v.value for n, v in values.items()} == {n: VALUES[n] for n in fields}
        else:
            assert item["status"] == 403, item
            assert item["type"].endswith("/access-refused") and item["title"] == "Access refused"
            assert item["reason"] == want
            assert item["detail"] == f"access to consent {consent_id} refused on chain: {want}"
            assert "fields" not in item
        # Each one carries the relayer's acceptance of that very query, as alone it would.
        digest = intent_digest(
            "Access",
            body["message"],
            chain_id=spec["chainId"],
            verifying_contract=spec["verifyingContract"],
        )
        verify_acceptance(item["acceptance"], intent=digest, chain_id=spec["chainId"])

    # Every query is on chain, in the resident's log, with its receipt; all in one block.
    receipts = [item["receipt"] for item in answers]
    assert len({r["block_number"] for r in receipts}) == 1
    assert world.node is not None
    w3 = world.node.chain.w3
    for item, receipt, (who, consent_id, _) in zip(answers, receipts, queries, strict=True):
        mined = w3.eth.get_transaction_receipt(receipt["tx_hash"])
        log = next(e for e in mined["logs"] if e["logIndex"] == receipt["log_index"])
        event = world.node.client.decode_log(log)
        assert event is not None
        assert event.name == ("AccessLogged" if item["status"] == 200 else "AccessDenied")
        assert event.args["consentId"] == consent_id
        assert event.args["resident"] == who.address
    for who in (resident, resident2):
        logged = events(world, who)
        mine = [q for q in queries if q[0] == who]
        assert len(logged) == log_before[who.address] + len(mine)
        seen = {(e["receipt"]["tx_hash"], e["receipt"]["log_index"]) for e in logged}
        for item, query in zip(answers, queries, strict=True):
            if query[0] == who:
                assert (item["receipt"]["tx_hash"], item["receipt"]["log_index"]) in seen
    consent = world.get(f"/consents/{served}", resident).json()
    assert consent["uses"] == 2  # the two served queries of it, not the refused one


def test_the_same_query_alone_and_in_a_batch_answers_alike(world: World) -> None:
    consent_id = world.grant(world.resident, world.dept, ["income"])
    alone = world.query(world.dept, world.resident, consent_id, ["income"]).json()
    (batched,) = post_batch(
        world,
        world.dept,
        signed_queries(world, world.dept, [(world.resident, consent_id, ["income"])]),
    ).json()["answers"]
    assert batched.pop("status") == 200
    for answer in (alone, batched):
        answer.pop("receipt"), answer.pop("acceptance")
    assert batched == alone


@pytest.mark.parametrize("names", ["the caller", "itself"])
def test_a_query_signed_by_another_department_is_refused_and_the_others_served(
    world: World, names: str
) -> None:
    """Signed by another department, whether its message names the caller (a forgery)
    or that other department (its own query, sent under the caller's token)."""
    consent_id = world.grant(world.resident, world.dept, ["income"])
    bodies = signed_queries(world, world.dept, [(world.resident, consent_id, ["income"])] * 3)
    stranger = signed_queries(
        world, world.dept2, [(world.resident, consent_id, ["income"])], first_nonce=7_000_000
    )[0]
    if names == "the caller":
        message = {**bodies[1]["message"], "nonce": 7_000_000}
        stranger = sign(world, world.dept2, "Access", message)
    bodies[1] = stranger
    answers = post_batch(world, world.dept, bodies).json()["answers"]
    assert [a["status"] for a in answers] == [200, 403, 200]
    refused = answers[1]
    assert refused["type"].endswith("/contract-error")
    assert refused["error"] == "SignedIntentWrongSigner"
    assert refused["arguments"] == {
        "expected": world.dept.address,
        "recovered": world.dept2.address,
    }
    assert "acceptance" not in refused  # refused before relaying: nothing went on chain
    assert world.node is not None
    for signer in (world.dept, world.dept2):
        assert not world.node.client.is_nonce_used("Access", signer.address, 7_000_000)
    assert world.get(f"/consents/{consent_id}", world.resident).json()["uses"] == 2


def test_a_nonce_twice_in_one_batch_serves_the_first_and_refuses_the_second_409(
    world: World,
) -> None:
    consent_id = world.grant(world.resident, world.dept, ["income"])
    (body,) = signed_queries(world, world.dept, [(world.resident, consent_id, ["income"])])
    answers = post_batch(world, world.dept, [body, body]).json()["answers"]
    assert [a["status"] for a in answers] == [200, 409]
    assert answers[1]["error"] == "SignedIntentNonceUsed"
    assert world.get(f"/consents/{consent_id}", world.resident).json()["uses"] == 1


def test_queries_beyond_a_full_relayer_queue_answer_503_with_retry_after_the_rest_served(
    world: World,
) -> None:
    assert world.node is not None
    consent_id = world.grant(world.resident, world.dept, ["income"])
    bodies = signed_queries(world, world.dept, [(world.resident, consent_id, ["income"])] * 5)
    relayer, bound = world.node.relayer, world.node.relayer.max_queue
    relayer.max_queue = 2
    try:
        answers = post_batch(world, world.dept, bodies).json()["answers"]
    finally:
        relayer.max_queue = bound
    assert [a["status"] for a in answers] == [200, 200, 503, 503, 503]
    for busy in answers[2:]:
        assert busy["type"].endswith("/service-unavailable") and busy["error"] == "RelayerBusy"
        assert busy["retry_after"] >= 1 and "acceptance" not in busy
    assert world.get(f"/consents/{consent_id}", world.resident).json()["uses"] == 2
    # Nothing of the refused three was spent: sent again, they are served.
    again = post_batch(world, world.dept, bodies[2:]).json()["answers"]
    assert [a["status"] for a in again] == [200, 200, 200]


def assert_nothing_recorded(world: World, block: int, accesses: int) -> None:
    assert head(world) == block
    assert access_events(world) == accesses


@pytest.mark.parametrize(
    "envelope",
    [
        {"queries": []},
        {"queries": "not a list"},
        {"queries": {"message": {}, "signature": "0x"}},
        {},
        [],
    ],
    ids=["empty", "a string", "an object", "no queries", "a bare list"],
)
def test_a_batch_that_is_not_a_list_of_queries_is_422_and_records_nothing(
    world: World, envelope: Any
) -> None:
    world.headers(world.dept)  # signed in before counting blocks
    block, accesses = head(world), access_events(world)
    answer = world.post("/queries/batch", world.dept, envelope)
    body = assert_problem(answer, 422, "invalid-request")
    assert body["errors"], body
    assert_nothing_recorded(world, block, accesses)


def test_501_queries_are_422_and_none_is_recorded(world: World) -> None:
    consent_id = world.grant(world.resident, world.dept, ["income"])
    bodies = signed_queries(
        world, world.dept, [(world.resident, consent_id, ["income"])] * (MAX_QUERY_BATCH + 1)
    )
    block, accesses = head(world), access_events(world)
    answer = post_batch(world, world.dept, bodies)
    body = assert_problem(answer, 422, "invalid-request")
    assert [e["loc"] for e in body["errors"]] == [["body", "queries"]]
    assert_nothing_recorded(world, block, accesses)
    assert world.get(f"/consents/{consent_id}", world.resident).json()["uses"] == 0
    # The first 500 of them are a batch like any other.
    answers = post_batch(world, world.dept, bodies[:MAX_QUERY_BATCH]).json()["answers"]
    assert [a["status"] for a in answers] == [200] * MAX_QUERY_BATCH
    assert world.get(f"/consents/{consent_id}", world.resident).json()["uses"] == MAX_QUERY_BATCH
    assert len({a["receipt"]["block_number"] for a in answers}) <= 2


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("fields", [INCOME, INCOME], "ConsentLedgerUnsortedFields"),
        ("fields", ["0x" + "11" * 32], "ConsentDirectoryUnknownField"),
        ("fields", [], "ConsentLedgerEmptyFields"),
        ("consentId", "twelve", None),
        ("resident", "0x1234", None),
    ],
    ids=["duplicate field", "unknown field", "no field", "a word for a number", "a short address"],
)
def test_a_malformed_query_makes_the_batch_422_naming_it_and_records_nothing(
    world: World, field: str, value: Any, error: str | None
) -> None:
    consent_id = world.grant(world.resident, world.dept, ["income"])
    bodies = signed_queries(world, world.dept, [(world.resident, consent_id, ["income"])] * 3)
    bodies[2]["message"][field] = value
    block, accesses = head(world), access_events(world)
    answer = post_batch(world, world.dept, bodies)
    body = assert_problem(answer, 422, "invalid-request", detail="query 2 (from 0) of the batch")
    assert body["batch_item"] == 2
    if error is not None:
        assert body["error"] == error
    assert_nothing_recorded(world, block, accesses)
    assert world.get(f"/consents/{consent_id}", world.resident).json()["uses"] == 0


def test_a_batch_over_its_byte_bound_is_413_and_one_over_the_default_bound_is_served(
    world: World,
) -> None:
    world.headers(world.dept)
    block, accesses = head(world), access_events(world)
    filler = json.dumps({"queries": [], "pad": "x" * QUERY_BATCH_BODY_BYTES})
    answer = world.http.post(
        "/queries/batch",
        content=filler,
        headers={**world.headers(world.dept), "Content-Type": "application/json"},
    )
    body = assert_problem(answer, 413, "payload-too-large")
    assert body["max_bytes"] == QUERY_BATCH_BODY_BYTES
    assert_nothing_recorded(world, block, accesses)

    consent_id = world.grant(world.resident, world.dept, ["income", "name", "address"])
    bodies = signed_queries(
        world, world.dept, [(world.resident, consent_id, ["address", "income", "name"])] * 140
    )
    assert len(json.dumps({"queries": bodies})) > DEFAULT_BODY_BYTES
    answer = post_batch(world, world.dept, bodies)
    assert answer.status_code == 200, answer.text
    assert [a["status"] for a in answer.json()["answers"]] == [200] * 140


def test_a_batch_counts_one_write_per_query_against_the_address_limit(world: World) -> None:
    world.headers(world.dept)  # a token before counting
    consent_id = world.grant(world.resident, world.dept, ["income"])
    query = (world.resident, consent_id, ["income"])
    capped = client(world, limited(world, rate_limit_address="5/hour"))
    over = post_batch(capped, world.dept, signed_queries(world, world.dept, [query] * 3))
    assert [a["status"] for a in over.json()["answers"]] == [200] * 3
    assert capped.query(world.dept, world.resident, consent_id, ["income"]).status_code == 200
    block, accesses = head(world), access_events(world)
    refused = post_batch(capped, world.dept, signed_queries(world, world.dept, [query] * 2))
    assert_problem(refused, 429, "too-many-requests")  # 3 + 1 + 2 > 5
    assert refused.headers["retry-after"]
    assert_nothing_recorded(world, block, accesses)
    # A batch larger than a window counts as the whole window: it passes an empty one.
    larger = client(world, limited(world, rate_limit_address="5/hour"))
    first = post_batch(larger, world.dept, signed_queries(world, world.dept, [query] * 8))
    assert [a["status"] for a in first.json()["answers"]] == [200] * 8
    block, accesses = head(world), access_events(world)
    again = larger.query(world.dept, world.resident, consent_id, ["income"])
    assert_problem(again, 429, "too-many-requests")
    assert_nothing_recorded(world, block, accesses)


def test_audit_verify_holds_after_batches(world: World) -> None:
    consent_id = world.grant(world.resident2, world.dept2, ["income"])
    queries = [(world.resident2, consent_id, ["income"]), (world.resident2, consent_id, ["name"])]
    answers = post_batch(world, world.dept2, signed_queries(world, world.dept2, queries * 5))
    assert [a["status"] for a in answers.json()["answers"]] == [200, 403] * 5
    report = world.get("/audit/verify", world.auditor).json()
    assert report["ok"] is True, report["problems"]
    assert report["problems"] == []


def test_openapi_documents_the_batch_its_bounds_and_answers(world: World) -> None:
    spec = world.http.get("/openapi.json").json()
    operation = spec["paths"]["/queries/batch"]["post"]
    assert {"413", "422", "429", "401"} <= set(operation["responses"])
    assert str(QUERY_BATCH_BODY_BYTES) in operation["responses"]["413"]["description"]
    schemas = spec["components"]["schemas"]
    queries = schemas["QueryBatchBody"]["properties"]["queries"]
    assert (queries["minItems"], queries["maxItems"]) == (1, MAX_QUERY_BATCH)
    item = schemas["QueryBatchAnswer"]["properties"]["answers"]["items"]
    assert {ref["$ref"].rsplit("/", 1)[-1] for ref in item["anyOf"]} == {
        "BatchServed",
        "BatchRefused",
    }
    assert "reason" in schemas["BatchRefused"]["properties"]

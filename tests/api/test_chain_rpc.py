"""POST /chain: the node's read-only JSON-RPC window answers the reads a browser wallet
checks attestations with, exactly as the chain does, and refuses every other method,
contract and shape in JSON-RPC's own words, changing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from web3 import Web3
from web3.providers.base import JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from api.chain_view import ChainView
from api.routers.chain import MAX_BATCH, MAX_CALLDATA
from ledger.vocabulary import name_to_bytes32
from tests.api.conftest import World, make_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for the module: nothing here may change it (that is the point)."""
    yield from make_world(tmp_path_factory.mktemp("chain-rpc"))


def rpc(world: World, method: str, *params: Any, ident: Any = 1) -> dict[str, Any]:
    call = {"jsonrpc": "2.0", "id": ident, "method": method, "params": list(params)}
    answer = world.http.post("/chain", json=call)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


class ThroughTheApi(JSONBaseProvider):
    """A web3 provider that speaks to POST /chain (through the test client)."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        return rpc(self.world, str(method), *params)  # type: ignore[return-value]


@pytest.fixture
def view(world: World) -> ChainView:
    assert world.node is not None
    return ChainView(Web3(ThroughTheApi(world)), world.node.deployment.contracts)


def test_chain_id_and_head_are_the_nodes(world: World) -> None:
    health = world.http.get("/health").json()
    assert rpc(world, "eth_chainId")["result"] == hex(health["chain_id"])
    assert rpc(world, "net_version")["result"] == str(health["chain_id"])
    assert int(rpc(world, "eth_blockNumber")["result"], 16) == health["block_number"]


def test_the_clis_chain_view_reads_the_trust_list_and_records_through_it(
    world: World, view: ChainView
) -> None:
    """What ``consent query --chain-url`` checks, read through the window, is what the
    node's own client reads: issuer trust per field and the resident's record root."""
    assert world.node is not None
    client = world.node.client
    now = world.now()
    income, phone = name_to_bytes32("income"), name_to_bytes32("phone")
    assert view.is_trusted(world.issuer.address, income, now) is True
    assert view.is_trusted(world.issuer.address, phone, now) is False
    assert view.is_trusted(world.resident.address, income, now) is False
    version, root = view.record(world.resident.address)
    assert version == 1
    assert root == client.resident(world.resident.address).root
    assert (
        view.department_key(world.dept.address)
        == client.department(world.dept.address).encryption_key
    )
    assert view.attestation_recorded_at(b"\x07" * 32) == 0


def test_a_historical_block_answers_as_it_was(world: World) -> None:
    head = int(rpc(world, "eth_blockNumber")["result"], 16)
    assert world.node is not None
    directory = world.node.deployment.contracts["ConsentDirectory"]
    data = (
        Web3()
        .eth.contract(abi=_IS_TRUSTED)
        .encode_abi(
            "isTrustedIssuer", [world.issuer.address, name_to_bytes32("income"), world.now()]
        )
    )
    at_head = rpc(world, "eth_call", {"to": directory, "data": data}, hex(head))
    before_deployment = rpc(world, "eth_call", {"to": directory, "data": data}, "0x1")
    assert int(at_head["result"], 16) == 1
    assert before_deployment["result"] == "0x"  # no code at that address yet


_IS_TRUSTED = [
    {
        "type": "function",
        "name": "isTrustedIssuer",
        "stateMutability": "view",
        "inputs": [
            {"name": "issuer", "type": "address"},
            {"name": "field", "type": "bytes32"},
            {"name": "at", "type": "uint64"},
        ],
        "outputs": [{"name": "", "type": "bool"}],
    }
]


def test_a_batch_answers_each_call_in_order(world: World) -> None:
    calls = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": "two", "method": "eth_getBalance", "params": []},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_blockNumber"},
    ]
    answers = world.http.post("/chain", json=calls).json()
    assert [a["id"] for a in answers] == [1, "two", 3]
    assert "result" in answers[0] and "result" in answers[2]
    assert answers[1]["error"]["code"] == -32601


@pytest.mark.parametrize(
    "method",
    [
        "eth_sendRawTransaction",
        "eth_sendTransaction",
        "eth_getBalance",
        "eth_getLogs",
        "eth_getTransactionByHash",
        "evm_increaseTime",
        "evm_mine",
        "debug_traceTransaction",
    ],
)
def test_every_other_method_is_refused_and_changes_nothing(world: World, method: str) -> None:
    head = rpc(world, "eth_blockNumber")["result"]
    before = world.now()
    answer = rpc(world, method, "0x" + "00" * 32, 3600)
    assert answer["error"]["code"] == -32601
    assert "result" not in answer
    assert rpc(world, "eth_blockNumber")["result"] == head
    assert world.now() == before


def _directory(world: World) -> str:
    assert world.node is not None
    return world.node.deployment.contracts["ConsentDirectory"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ([{"to": "0x" + "11" * 20, "data": "0x"}], "deployed contracts"),
        ([{"data": "0x"}], "deployed contracts"),
        ([{"to": "DIRECTORY", "data": "0x" + "00" * (MAX_CALLDATA + 1)}], "over"),
        ([{"to": "DIRECTORY", "data": "0xabc"}], "hex"),
        ([{"to": "DIRECTORY", "data": "nothex"}], "hex"),
        ([{"to": "DIRECTORY", "data": "0x", "value": "0x1"}], "only"),
        ([{"to": "DIRECTORY", "data": "0x"}, "0xffffffff"], "beyond the head"),
        ([{"to": "DIRECTORY", "data": "0x"}, "earliest"], "tag"),
        ([{"to": "DIRECTORY", "data": "0x"}, "0x01"], "tag"),
        ([], "takes"),
        (["DIRECTORY"], "takes"),
    ],
)
def test_a_malformed_eth_call_is_refused_in_words(
    world: World, params: list[Any], says: str
) -> None:
    directory = _directory(world)
    filled = [
        {k: (directory if v == "DIRECTORY" else v) for k, v in p.items()}
        if isinstance(p, dict)
        else (directory if p == "DIRECTORY" else p)
        for p in params
    ]
    answer = rpc(world, "eth_call", *filled)
    assert answer["error"]["code"] == -32602
    assert says in answer["error"]["message"]


def test_a_reverting_call_answers_with_the_revert_data(world: World) -> None:
    answer = rpc(world, "eth_call", {"to": _directory(world), "data": "0xdeadbeef"})
    assert answer["error"]["code"] == 3
    assert answer["error"]["data"].startswith("0x")


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": 1, "method": "eth_chainId"}',
        b'{"jsonrpc": "1.0", "id": 1, "method": "eth_chainId"}',
        b'{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": {}}',
    ],
)
def test_a_call_that_is_not_json_rpc_2_gets_a_json_rpc_error(world: World, body: bytes) -> None:
    answer = world.http.post("/chain", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200
    assert answer.json()["error"]["code"] in (-32600, -32602)


@pytest.mark.parametrize(
    "body", [b"{not json", b"\xff", b"[]", b'"eth_chainId"', b"42", b"[[null, null]]", b"[{}, 1]"]
)
def test_a_body_that_is_no_request_or_batch_is_a_422_problem(world: World, body: bytes) -> None:
    answer = world.http.post("/chain", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_an_oversized_batch_is_refused_whole(world: World) -> None:
    call = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    answer = world.http.post("/chain", json=[call] * (MAX_BATCH + 1))
    assert answer.status_code == 422
    assert str(MAX_BATCH) in answer.json()["detail"]

"""A grant's window starts when its block is mined, not at the last block's time.

The chains mine only when something is sent, so after an idle spell the head block is
old. Here the chain's clock moves on without a block (the embedded chain's injected
wall clock; anvil's ``evm_increaseTime`` without ``evm_mine``), then a short grant
through the client: it must be accepted and last its whole duration.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

import ledger.chain.embedded as embedded
from api.client import ConsentApi
from ledger.chain.rpc import RpcChain
from tests.api import cli_helpers
from tests.api.cli_helpers import Served

served = cli_helpers.served
served_anvil = cli_helpers.served_anvil

IDLE = 3_600
SHORT = 0.001  # days: 86 seconds
#: Seconds between asking for the time and the block that records the grant.
SLACK = 5


def idle_embedded(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    def idle(seconds: int) -> None:
        clock = embedded._wall_clock
        monkeypatch.setattr(embedded, "_wall_clock", lambda: clock() + seconds)

    return idle


def idle_anvil(chain: RpcChain) -> Callable[[int], None]:
    def idle(seconds: int) -> None:
        chain._rpc("evm_increaseTime", [seconds])  # no evm_mine: the head stays put

    return idle


def grant_after_idle(s: Served, idle: Callable[[int], None]) -> None:
    world, chain = s.world, s.world.node.chain  # type: ignore[union-attr]
    head = chain.latest_timestamp()
    idle(IDLE)
    assert chain.latest_timestamp() == head  # no block was mined
    with ConsentApi(s.url, world.resident) as api:
        consent_id = int(api.grant(world.dept.address, ["income"], "HOUSING", SHORT)["consent_id"])
        consent = api.consent(consent_id)
    duration = round(SHORT * 86_400)
    assert consent["status"] == "active"
    assert consent["valid_until"] - consent["valid_from"] == duration
    # Its block came after the idle spell and the window is whole from there on.
    # (a burst of blocks may have run the head up to a minute ahead of the clock)
    assert consent["granted_at"] >= head + IDLE - 60
    assert consent["valid_from"] <= consent["granted_at"] <= consent["valid_from"] + SLACK
    assert consent["valid_until"] - consent["granted_at"] >= duration - SLACK


def test_a_short_grant_after_an_idle_spell_lasts_its_full_duration_on_the_embedded_chain(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    grant_after_idle(served, idle_embedded(monkeypatch))


@pytest.mark.slow
def test_a_short_grant_after_an_idle_spell_lasts_its_full_duration_on_anvil(
    served_anvil: Served,
) -> None:
    chain = served_anvil.world.node.chain  # type: ignore[union-attr]
    assert isinstance(chain, RpcChain)
    grant_after_idle(served_anvil, idle_anvil(chain))


def test_health_reports_the_next_blocks_time_not_the_heads(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    idle_embedded(monkeypatch)(IDLE)
    health = served.world.http.get("/health").json()
    assert health["next_block_timestamp"] >= int(time.time()) + IDLE - 1
    assert health["next_block_timestamp"] > health["block_timestamp"] + 60


def expired_after_idle(s: Served, idle: Callable[[int], None]) -> None:
    world = s.world
    with ConsentApi(s.url, world.resident) as api:
        consent_id = int(api.grant(world.dept.address, ["income"], "HOUSING", SHORT)["consent_id"])
    idle(IDLE)  # the window ends while no block is mined
    resident = world.get(f"/consents/{consent_id}", world.resident).json()
    assert resident["status"] == "expired", resident
    listed = world.get(f"/residents/{world.resident.address}/consents", world.resident).json()
    assert {c["consent_id"]: c["status"] for c in listed["data"]}[consent_id] == "expired"
    record = world.get(f"/consents/{consent_id}/record", world.resident).json()
    assert record["consent_status"] == "expired", record


def test_a_consent_reads_expired_once_its_window_ends_without_a_block_on_the_embedded_chain(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    expired_after_idle(served, idle_embedded(monkeypatch))


@pytest.mark.slow
def test_a_consent_reads_expired_once_its_window_ends_without_a_block_on_anvil(
    served_anvil: Served,
) -> None:
    chain = served_anvil.world.node.chain  # type: ignore[union-attr]
    assert isinstance(chain, RpcChain)
    expired_after_idle(served_anvil, idle_anvil(chain))

"""Compiled contract artifacts, as ``scripts/compile_contracts.py`` wrote and committed them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from eth_utils import event_abi_to_log_topic

from ledger.codec import as_bytes

#: The deployed contracts, in deployment order.
CONTRACT_NAMES = ("ConsentDirectory", "ConsentLedger", "ConsentDelegates", "ConsentEmergency")


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    deployed_bytecode: bytes
    #: State variable name -> storage slot (solc's storage layout).
    storage_slots: dict[str, int]

    def events_by_topic(self) -> dict[bytes, dict[str, Any]]:
        return {
            event_abi_to_log_topic(item): item  # type: ignore[arg-type]
            for item in self.abi
            if item["type"] == "event"
        }


@cache
def load_artifact(name: str) -> Artifact:
    if name not in CONTRACT_NAMES:
        raise KeyError(f"no artifact named {name!r}")
    text = resources.files("ledger").joinpath("artifacts", f"{name}.json").read_text()
    data = json.loads(text)
    return Artifact(
        name=name,
        abi=data["abi"],
        bytecode=as_bytes(data["bytecode"]),
        deployed_bytecode=as_bytes(data["deployedBytecode"]),
        storage_slots=dict(data["storageSlots"]),
    )

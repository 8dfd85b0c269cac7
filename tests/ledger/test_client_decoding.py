"""Decoding what the chain carries never raises on bytes a sender chose: a department
name that is not UTF-8 (possible for anyone who sends to the contract directly) is read
with its bad bytes replaced, so the indexer and the audit keep going."""

from __future__ import annotations

from eth_abi import encode
from eth_utils import keccak

from tests.conftest import System


def test_a_department_name_that_is_not_utf8_decodes_with_replacement(system: System) -> None:
    client = system.client
    signature = "DepartmentRegistered(address,address,string,string,bytes)"
    department, admin = system.dept.address, system.admin.address
    # ABI encodes `string` as `bytes`: what a direct sender can put in the name.
    data = encode(["bytes", "bytes", "bytes"], [b"Bad\xff\xfeName", b"HB", b"\x01" * 32])
    log = {
        "address": client.directory.address,
        "topics": [
            keccak(text=signature),
            bytes(12) + bytes.fromhex(department[2:]),
            bytes(12) + bytes.fromhex(admin[2:]),
        ],
        "data": data,
        "logIndex": 0,
    }
    event = client.decode_log(log)
    assert event is not None and event.name == "DepartmentRegistered"
    assert event.args["name"] == "Bad\ufffd\ufffdName"
    assert event.args["code"] == "HB"
    assert event.args["department"] == department

"""Rotation against grants in flight: a resident rotates the record's keys (a new
version, keys re-wrapped for live consents) while grants to another department are being
mined in the same rounds. Whichever side of the rotation a grant lands on, its
department reads the field's value: a grant that missed the re-wrap is served the newest
version whose key it holds, never a ciphertext it cannot open."""

from __future__ import annotations

import secrets
import threading

import httpx

from api.client import ConsentApi
from tests.api import cli_helpers
from tests.api.cli_helpers import Served

served = cli_helpers.served


def test_grants_mined_around_a_rotation_all_read_the_value(served: Served) -> None:
    world = served.world
    resident, dept2 = world.resident, world.dept2
    before = world.grant(resident, world.dept, ["income"])  # a live consent to re-wrap
    bodies = []
    for _ in range(12):
        body = world.grant_body(resident, dept2, ["income"])
        message = {**body["message"], "nonce": secrets.randbits(64)}
        bodies.append(
            world.body(
                resident,
                "Grant",
                message,
                wrapped_keys=body["wrapped_keys"],
                version=body["version"],
            )
        )
    headers = world.headers(resident)
    granted: list[int] = []
    lock = threading.Lock()

    def grant(body: dict[str, object]) -> None:
        answer = httpx.post(served.url + "/consents", json=body, headers=headers, timeout=60)
        assert answer.status_code == 201, answer.text
        with lock:
            granted.append(int(answer.json()["consent_id"]))

    def rotate() -> None:
        with ConsentApi(served.url, resident) as api:
            api.rotate([])

    threads = [threading.Thread(target=grant, args=(b,)) for b in bodies[:6]]
    threads.append(threading.Thread(target=rotate))
    threads += [threading.Thread(target=grant, args=(b,)) for b in bodies[6:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(granted) == 12
    versions = world.get(f"/residents/{resident.address}/record", resident).json()
    assert max(int(v) for v in _versions(versions)) == 2  # the rotation committed
    with ConsentApi(served.url, world.dept) as api:
        assert api.query(before, resident.address, ["income"], is_trusted=None).version == 2
    served_versions = []
    with ConsentApi(served.url, dept2) as api:
        for consent_id in granted:
            result = api.query(consent_id, resident.address, ["income"], is_trusted=None)
            assert result.values == {"income": "52000"}, consent_id
            served_versions.append(result.version)
    assert set(served_versions) <= {1, 2}


def _versions(record: dict[str, object]) -> list[object]:
    if "versions" in record:
        return list(record["versions"])  # type: ignore[arg-type]
    return [record["version"]]


def test_a_grant_wrapped_before_a_rotation_and_sent_after_it_still_reads(served: Served) -> None:
    world = served.world
    resident, dept2 = world.resident, world.dept2
    body = world.grant_body(resident, dept2, ["income"])  # keys of version 1
    message = {**body["message"], "nonce": secrets.randbits(64)}  # the rotation signs too
    body = world.body(
        resident, "Grant", message, wrapped_keys=body["wrapped_keys"], version=body["version"]
    )
    with ConsentApi(served.url, resident) as api:
        api.rotate([])  # version 2, nothing live to re-wrap
    answer = world.post("/consents", resident, body)
    if answer.status_code != 201:  # refused because the keys are for an older version
        assert answer.status_code == 409, answer.text
        return
    consent_id = int(answer.json()["consent_id"])
    with ConsentApi(served.url, dept2) as api:
        result = api.query(consent_id, resident.address, ["income"], is_trusted=None)
    assert result.values == {"income": "52000"}

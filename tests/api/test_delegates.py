"""Delegates and guardians through the HTTP API (DESIGN, "Delegates and guardians").

A resident appoints a delegate with the record's keys wrapped for it, lists and removes
it; the delegate signs in as itself and acts for the resident with exactly the powers
its appointment names (grant, revoke, commit, read) until it expires or is removed —
every other act refused with the chain's named error, nothing changed; a registrar
appoints a guardian who keeps a child's record and grants for it; removing a delegate
rotates the record so the keys it held open nothing new. The story tests run on the
embedded chain and on anvil.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.client import ConsentApi
from api.client_errors import ClientRefusal
from ledger.codec import from_hex
from ledger.vocabulary import name_to_bytes32
from tests.api.bundles import SERVICE, bundle_body, bundle_items, define_service
from tests.api.conftest import World, ids, make_world
from tests.api.test_requests_and_policies import file_request
from wallets.delegation import open_as_delegate, wrap_keys_for_delegate
from wallets.errors import InvalidRecord
from wallets.field_cipher import decrypt_field
from wallets.grants import open_granted_fields, wrap_keys_for_department
from wallets.identity import Identity
from wallets.record import RecordVersion
from wallets.signing import recover_intent_signer, signed_intent_body

DAY = 86_400
GRANT, REVOKE, COMMIT, READ = 1, 2, 4, 8
ALL = GRANT | REVOKE | COMMIT | READ
RECORD = {"name": "Li Wei", "income": "52000", "address": "1 Lake Rd", "phone": "138"}


@pytest.fixture(params=["embedded", "anvil"])
def chain_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """``world`` on the embedded chain, and on the module's anvil node."""
    url = None if request.param == "embedded" else request.getfixturevalue("anvil_node_url")
    yield from make_world(tmp_path, chain_url=url)


@pytest.fixture(params=["world", "pg_world"], ids=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest) -> Iterator[World]:
    """``world`` with its vault and read model on SQLite, and on PostgreSQL."""
    yield request.getfixturevalue(request.param)


# ---------------------------------------------------------------------------- helpers


def signed(world: World, who: Identity, name: str, message: dict[str, Any], **extra: Any) -> Any:
    """A signed body for ``name`` with ``who``'s next nonce of the intent's own contract."""
    spec = world.http.get("/eip712").json()["intents"][name]
    contract = spec["domain"]["verifyingContract"]
    contracts = world.http.get("/health").json()["contracts"]
    key = next(n for n, a in contracts.items() if a == contract)
    nonce = world.http.get(f"/nonces/{who.address}").json()[key]
    full = {"nonce": nonce, "deadline": world.now() + 600, **message}
    body = signed_intent_body(
        who.account.key, name, full, chain_id=spec["domain"]["chainId"], verifying_contract=contract
    )
    return {**body, **extra}


def appoint(
    world: World,
    resident: Identity,
    delegate: Identity,
    powers: int,
    *,
    signer: Identity | None = None,
    days: float = 30,
    valid_until: int | None = None,
    keys: bool = True,
) -> Any:
    """``POST /residents/{r}/delegates``, with every field's key wrapped for the delegate
    (when the resident signs and has a record)."""
    signer = signer or resident
    record = world.records.get(resident.address)
    extra: dict[str, Any] = {}
    if keys and signer is resident and record is not None:
        extra = {
            "wrapped_keys": wrap_keys_for_delegate(
                record,
                delegate=delegate.address,
                delegate_public_key=delegate.encryption_public_key,
            ),
            "version": record.version,
        }
    until = valid_until if valid_until is not None else world.now() + round(days * DAY)
    message = {
        "resident": resident.address,
        "delegate": delegate.address,
        "powers": powers,
        "validUntil": until,
    }
    return world.post(
        f"/residents/{resident.address}/delegates",
        signer,
        signed(world, signer, "AppointDelegate", message, **extra),
    )


def remove(
    world: World, resident: Identity, delegate: Identity, signer: Identity | None = None
) -> Any:
    signer = signer or resident
    return world.post(
        f"/residents/{resident.address}/delegates/{delegate.address}/remove",
        signer,
        signed(
            world,
            signer,
            "RemoveDelegate",
            {"resident": resident.address, "delegate": delegate.address},
        ),
    )


def listed(
    world: World, resident: Identity, reader: Identity | None = None
) -> list[dict[str, Any]]:
    answer = world.get(f"/residents/{resident.address}/delegates", reader or resident)
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def grant_as(
    world: World, signer: Identity, resident: Identity, dept: Identity, fields: list[str]
) -> Any:
    """``POST /consents``: a ``Grant`` naming ``resident``, signed by ``signer``, the keys
    wrapped for ``dept`` from the resident's current record."""
    now = world.now()
    record = world.records[resident.address]
    message = {
        "resident": resident.address,
        "department": dept.address,
        "fields": ids(*fields),
        "purpose": name_to_bytes32("HOUSING"),
        "validFrom": now,
        "validUntil": now + 30 * DAY,
        "maxUses": 0,
        "requestId": "0x" + "00" * 32,
    }
    keys = wrap_keys_for_department(
        record, fields, department=dept.address, department_public_key=dept.encryption_public_key
    )
    body = world.body(signer, "Grant", message, wrapped_keys=keys, version=record.version)
    return world.post("/consents", signer, body)


def revoke_as(world: World, signer: Identity, resident: Identity, consent_id: int) -> Any:
    message = {"resident": resident.address, "consentId": consent_id}
    return world.post(
        f"/consents/{consent_id}/revoke", signer, world.body(signer, "Revoke", message)
    )


def commit_as(
    world: World, signer: Identity, resident: Identity, values: dict[str, str], **extra: Any
) -> tuple[Any, RecordVersion]:
    """``PUT /residents/{r}/record``: the next version, encrypted for the resident's key,
    its ``CommitRecord`` signed by ``signer``."""
    current = world.records.get(resident.address)
    record = RecordVersion.build(
        values,
        resident=resident.address,
        version=(current.version if current else 0) + 1,
        owner_public_key=resident.encryption_public_key,
    )
    message = {"resident": resident.address, "version": record.version, "root": record.root}
    answer = world.put(
        f"/residents/{resident.address}/record",
        signer,
        world.body(signer, "CommitRecord", message, fields=record.envelopes(), **extra),
    )
    if answer.status_code == 200:
        world.records[resident.address] = record
    return answer, record


def decline_as(world: World, signer: Identity, resident: Identity, request_id: str) -> Any:
    message = {
        "resident": resident.address,
        "requestId": request_id,
        "reason": name_to_bytes32("NOT_NEEDED"),
    }
    return world.post(
        f"/access-requests/{request_id}/decline",
        signer,
        world.body(signer, "DeclineRequest", message),
    )


def reads(world: World, reader: Identity, resident: Identity) -> dict[str, Any]:
    """The status of each read a resident makes about itself, made by ``reader``."""
    base = f"/residents/{resident.address}"
    return {
        path: world.get(base + path, reader)
        for path in ("/record", "/consents", "/access-requests", "/access-log")
    }


def refused(answer: Any, status: int, error: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert body["error"] == error, body
    return body


def consent_ids(world: World, resident: Identity) -> list[int]:
    answer = world.get(f"/residents/{resident.address}/consents", resident)
    assert answer.status_code == 200, answer.text
    return [int(c["consent_id"]) for c in answer.json()["data"]]


def read_fields(
    world: World, dept: Identity, resident: Identity, consent_id: int, fields: list[str]
) -> dict[str, str]:
    answer = world.query(dept, resident, consent_id, fields)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    opened = open_granted_fields(
        body["fields"],
        resident=resident.address,
        identity=dept,
        root={body["record"]["version"]: bytes.fromhex(body["record"]["root"][2:])},
    )
    return {name: value.value for name, value in opened.items()}


# ---------------------------------------------------------------------------- appoint, list, remove


def test_a_resident_appoints_lists_and_removes_a_delegate(chain_world: World) -> None:
    w = chain_world
    resident, delegate = w.resident, w.resident2

    answer = appoint(w, resident, delegate, GRANT | READ, days=10)

    assert answer.status_code == 201, answer.text
    appointed = answer.json()
    assert appointed["powers"] == ["grant", "read"] and appointed["power_bits"] == GRANT | READ
    assert (appointed["delegate"], appointed["appointed_by"], appointed["guardian"]) == (
        delegate.address, resident.address, False,
    )  # fmt: skip
    assert appointed["wrapped_fields"] == sorted(RECORD) and appointed["version"] == 1
    assert appointed["acceptance"]["journal_id"] > 0
    (entry,) = listed(w, resident)
    assert entry["status"] == "active" and entry["removed"] is False
    assert entry["valid_until"] == appointed["valid_until"]
    assert entry["encryption_key"] == "0x" + delegate.encryption_public_key.hex()
    assert entry["key_versions"] == [1]
    assert entry["receipt"] == appointed["receipt"]
    assert [e["type"] for e in entry["history"]] == ["DelegateAppointed"]
    assert entry["history"][0]["intent"]["type"] == "AppointDelegate"
    # the delegate and auditors read the list too; a department or a stranger does not
    assert listed(w, resident, delegate) == listed(w, resident, w.auditor) == [entry]
    assert w.get(f"/residents/{resident.address}/delegates", w.dept).status_code == 403
    assert w.get(f"/residents/{resident.address}/delegates", None).status_code == 401
    # chain view and list agree
    powers, until, guardian, removed, by = w.node.client.simulate(
        "ConsentDelegates", "delegation", resident.address, delegate.address
    )
    assert (powers, until, guardian, removed, by) == (
        GRANT | READ,
        entry["valid_until"],
        False,
        False,
        resident.address,
    )

    gone = remove(w, resident, delegate)

    assert gone.status_code == 200, gone.text
    assert (gone.json()["status"], gone.json()["removed_by"]) == ("removed", resident.address)
    (after,) = listed(w, resident)
    assert (after["status"], after["removed"], after["removed_by"]) == (
        "removed",
        True,
        resident.address,
    )
    assert after["removal_receipt"] == gone.json()["receipt"]
    assert [e["type"] for e in after["history"]] == ["DelegateAppointed", "DelegateRemoved"]
    assert after["key_versions"] == []  # the keys stored for it went with it
    # a past delegate acts and reads no more, told why by the chain's error
    refused(grant_as(w, delegate, resident, w.dept, ["income"]), 403, "ConsentDelegatesRemoved")
    for answer in reads(w, delegate, resident).values():
        refused(answer, 403, "ConsentDelegatesRemoved")
    assert w.get(f"/residents/{resident.address}/delegates", delegate).status_code == 403
    # the same delegate may be appointed again, with new terms
    again = appoint(w, resident, delegate, READ, days=1)
    assert again.status_code == 201, again.text
    (back,) = listed(w, resident)
    assert (back["status"], back["powers"], len(back["history"])) == ("active", ["read"], 3)


def test_each_power_lets_a_delegate_do_exactly_its_acts(world: World) -> None:
    """Every power granted and missing: a delegate holding one power does that power's acts
    for the resident, and each other act is refused 403 ``ConsentDelegatesMissingPower``
    naming the powers it holds and the one needed, with nothing changed."""
    w = world
    resident, delegate = w.resident, w.resident2
    standing = w.grant(resident, w.dept, ["name"])  # for the revocations to try

    def attempt(powers: int) -> dict[str, Any]:
        before = consent_ids(w, resident)
        version = w.records[resident.address].version
        request_id = file_request(w, w.dept, resident)
        outcomes = {
            "grant": grant_as(w, delegate, resident, w.dept, ["income"]),
            "decline": decline_as(w, delegate, resident, request_id),
            "commit": commit_as(w, delegate, resident, {**RECORD, "phone": "139"})[0],
            "read": w.get(f"/residents/{resident.address}/record", delegate),
        }
        outcomes["revoke"] = revoke_as(w, delegate, resident, standing)
        granted = outcomes["grant"].status_code == 201
        assert len(consent_ids(w, resident)) == len(before) + granted
        committed = outcomes["commit"].status_code == 200
        assert w.records[resident.address].version == version + committed
        return outcomes

    needs = {"grant": GRANT, "decline": GRANT, "commit": COMMIT, "read": READ, "revoke": REVOKE}
    for held in (GRANT, COMMIT, READ, REVOKE):  # revoke last: it ends the standing consent
        answer = appoint(w, resident, delegate, held)
        assert answer.status_code == 201, answer.text
        for act, outcome in attempt(held).items():
            if needs[act] == held:
                assert outcome.status_code in (200, 201), (held, act, outcome.text)
            else:
                body = refused(outcome, 403, "ConsentDelegatesMissingPower")
                assert body["arguments"] == {
                    "resident": resident.address,
                    "delegate": delegate.address,
                    "powers": held,
                    "needed": needs[act],
                }, (held, act)
    # the delegate's one grant is the resident's consent, its Grant signed by the delegate
    mine = w.get(f"/residents/{resident.address}/consents", resident).json()["data"]
    domain = w.http.get("/eip712").json()["intents"]["Grant"]["domain"]
    signers = {
        c["consent_id"]: recover_intent_signer(
            "Grant",
            c["grant"]["message"],
            c["grant"]["signature"],
            chain_id=domain["chainId"],
            verifying_contract=domain["verifyingContract"],
        )
        for c in mine
    }
    assert sorted(signers.values()) == sorted([resident.address, delegate.address])
    assert signers[standing] == resident.address
    assert all(c["resident"] == resident.address for c in mine)
    assert w.get(f"/consents/{standing}", resident).json()["status"] == "revoked"


def test_a_delegate_reads_the_residents_record_and_log_only_with_the_read_power(
    world: World,
) -> None:
    w = world
    resident, delegate = w.resident, w.resident2
    stranger = w.enroll("stranger")
    granted = w.grant(resident, w.dept, ["income"])
    one = f"/consents/{granted}"
    assert appoint(w, resident, delegate, GRANT).status_code == 201
    for answer in reads(w, delegate, resident).values():
        refused(answer, 403, "ConsentDelegatesMissingPower")
    for path in (one, f"{one}/record", f"{one}/fhir"):  # one consent, as the list
        refused(w.get(path, delegate), 403, "ConsentDelegatesMissingPower")
        assert w.get(path, stranger).status_code == 403
    for answer in reads(w, stranger, resident).values():
        assert answer.status_code == 403, answer.text
        assert "error" not in answer.json()  # a stranger learns of no appointment

    assert appoint(w, resident, delegate, GRANT | READ).status_code == 201
    answers = reads(w, delegate, resident)

    assert {path: a.status_code for path, a in answers.items()} == dict.fromkeys(answers, 200)
    own = w.get(f"/residents/{resident.address}/record", resident).json()
    record = answers["/record"].json()
    assert record["fields"] == own["fields"] and own["wrapped_keys"] is None
    assert sorted(record["wrapped_keys"]) == sorted(RECORD)
    opened = open_as_delegate(
        record["fields"],
        record["wrapped_keys"],
        delegate,
        resident=resident.address,
        version=record["version"],
        owner_public_key=resident.encryption_public_key,
        root=record["root"],
    )
    assert {n: v.value for n, v in opened.values().items()} == RECORD
    assert (
        answers["/consents"].json()
        == w.get(f"/residents/{resident.address}/consents", resident).json()
    )
    for path in (one, f"{one}/record", f"{one}/fhir"):
        shown = w.get(path, delegate)
        assert shown.status_code == 200, shown.text
        assert shown.json() == w.get(path, resident).json()
    # nothing else: not another resident's, not the delegate's power to re-wrap consents
    assert w.get(f"/residents/{stranger.address}/record", delegate).status_code == 403
    consent_id = consent_ids(w, resident)[0]
    rewrap = w.put(
        f"/consents/{consent_id}/wrapped-keys", delegate, {"version": 1, "wrapped_keys": {}}
    )
    refused(rewrap, 403, "ConsentDelegatesMissingPower")
    # another resident's delegate is no delegate of this one
    assert appoint(w, stranger, w.resident2, READ).status_code == 201
    assert w.get(f"/residents/{stranger.address}/consents", delegate).status_code == 200
    assert w.get(f"/residents/{stranger.address}/record", delegate).status_code == 404  # none yet
    assert w.get(f"/residents/{resident.address}/record", stranger).status_code == 403


def test_after_its_appointment_expires_a_delegate_acts_and_reads_no_more(
    chain_world: World,
) -> None:
    w = chain_world
    resident, delegate = w.resident, w.resident2
    assert appoint(w, resident, delegate, ALL, valid_until=w.now() + 600).status_code == 201
    assert grant_as(w, delegate, resident, w.dept, ["income"]).status_code == 201
    assert w.get(f"/residents/{resident.address}/record", delegate).status_code == 200

    assert w.node is not None
    w.node.chain.time_travel(3600)

    body = refused(
        grant_as(w, delegate, resident, w.dept, ["name"]), 403, "ConsentDelegatesExpired"
    )
    assert body["arguments"]["validUntil"] == listed(w, resident)[0]["valid_until"]
    for answer in reads(w, delegate, resident).values():
        refused(answer, 403, "ConsentDelegatesExpired")
    assert listed(w, resident)[0]["status"] == "expired"
    assert len(consent_ids(w, resident)) == 1
    # an expired appointment may still be removed, and renewed
    assert remove(w, resident, delegate).status_code == 200


# ---------------------------------------------------------------------------- guardians


def test_a_delegate_finds_whom_it_acts_for_and_only_it_and_auditors_read_that(
    world: World,
) -> None:
    w = world
    delegate, child = w.resident2, w.enroll("child")
    assert appoint(w, w.resident, delegate, GRANT | READ).status_code == 201
    assert appoint(w, child, delegate, ALL, signer=w.registrar).status_code == 201
    other = w.enroll("other")
    assert appoint(w, other, w.resident, READ).status_code == 201  # names someone else
    assert remove(w, child, delegate, signer=w.registrar).status_code == 200

    path = f"/residents/{delegate.address}/delegations"
    answer = w.get(path, delegate)

    assert answer.status_code == 200, answer.text
    found = answer.json()["data"]
    assert [(e["resident"], e["powers"], e["guardian"], e["status"]) for e in found] == [
        (w.resident.address, ["grant", "read"], False, "active"),
        (child.address, ["grant", "revoke", "commit", "read"], True, "removed"),
    ]
    assert found[0] == listed(w, w.resident)[0]  # the resident's own entry for it
    assert w.get(path, w.auditor).json() == answer.json()
    for stranger in (w.resident, w.dept):
        assert w.get(path, stranger).status_code == 403
    assert w.get(f"/residents/{other.address}/delegations", other).json() == {
        "data": [],
        "next_cursor": None,
    }


def test_a_guardian_a_registrar_appointed_keeps_a_childs_record_and_grants_for_it(
    chain_world: World,
) -> None:
    w = chain_world
    child, guardian = w.enroll("child"), w.enroll("guardian")

    answer = appoint(w, child, guardian, ALL, signer=w.registrar, days=365)

    assert answer.status_code == 201, answer.text
    assert (answer.json()["guardian"], answer.json()["appointed_by"]) == (True, w.registrar.address)
    assert answer.json()["wrapped_fields"] == []  # a registrar holds no keys of the child's
    # the child cannot end or replace what a registrar set up
    refused(remove(w, child, guardian), 403, "ConsentDelegatesGuardianship")
    refused(appoint(w, child, guardian, READ), 403, "ConsentDelegatesGuardianship")
    # the guardian keeps the child's record: encrypted for the child, its keys for itself
    record = RecordVersion.build(
        {"name": "Li Xiaoming", "birth_date": "2020-01-01"},
        resident=child.address,
        version=1,
        owner_public_key=child.encryption_public_key,
    )
    own_keys = wrap_keys_for_delegate(
        record, delegate=guardian.address, delegate_public_key=guardian.encryption_public_key
    )
    committed = w.put(
        f"/residents/{child.address}/record",
        guardian,
        w.body(
            guardian,
            "CommitRecord",
            {"resident": child.address, "version": 1, "root": record.root},
            fields=record.envelopes(),
            delegate_keys={guardian.address: own_keys},
        ),
    )
    assert committed.status_code == 200, committed.text
    w.records[child.address] = record
    stored = w.get(f"/residents/{child.address}/record", guardian).json()
    assert stored["wrapped_keys"] == own_keys

    granted = grant_as(w, guardian, child, w.dept, ["birth_date"])

    assert granted.status_code == 201, granted.text
    consent_id = granted.json()["consent_id"]
    mine = w.get(f"/residents/{child.address}/consents", child).json()["data"]
    assert [(c["consent_id"], c["resident"], c["fields"]) for c in mine] == [
        (consent_id, child.address, ["birth_date"])
    ]
    assert w.get(f"/residents/{child.address}/consents", guardian).json()["data"] == mine
    assert read_fields(w, w.dept, child, consent_id, ["birth_date"]) == {"birth_date": "2020-01-01"}
    # only a registrar ends the guardianship
    assert remove(w, child, guardian, signer=w.registrar).status_code == 200
    assert listed(w, child)[0]["removed_by"] == w.registrar.address


# ---------------------------------------------------------------------------- rotation


def test_removing_a_delegate_rotates_the_record_so_its_cached_keys_open_nothing_new(
    any_store: World,
) -> None:
    w = any_store
    resident, leaving, staying = w.resident, w.resident2, w.enroll("staying")
    transport = w.http._transport  # the TestClient's: the app in process
    with (
        ConsentApi("http://testserver", resident, transport=transport) as mine,
        ConsentApi("http://testserver", leaving, transport=transport) as theirs,
        ConsentApi("http://testserver", staying, transport=transport) as kept,
    ):
        mine.appoint_delegate(leaving.address, "grant,read", days=30)
        mine.appoint_delegate(staying.address, ["read"], days=30)
        consent = mine.grant(w.dept.address, ["income"], "HOUSING", 30)["consent_id"]
        cached = theirs.as_delegate_for(resident.address).open_record()  # what it keeps
        assert {n: v.value for n, v in cached.values().items()} == RECORD

        result = mine.remove_delegate(leaving.address)

        assert result.rotated_version == 2 and set(result.fresh_salt_fields) == set(RECORD)
        assert sorted(result.rewrapped) == [consent]
        new = w.get(f"/residents/{resident.address}/record", resident).json()
        assert new["version"] == 2
        for name, envelope in new["fields"].items():
            for aad_version in (1, 2):  # v1's key of the field opens nothing of v2
                with pytest.raises(InvalidRecord):
                    decrypt_field(
                        cached.field_key(name),
                        nonce=from_hex(envelope["nonce"]),
                        ciphertext=from_hex(envelope["ciphertext"]),
                        resident=resident.address,
                        field=name,
                        version=aad_version,
                    )
        refused(
            w.get(f"/residents/{resident.address}/record", leaving), 403, "ConsentDelegatesRemoved"
        )
        # the remaining delegate holds the new version's keys; the live consent reads it
        view = kept.as_delegate_for(resident.address)
        assert view.open_record().version == 2
        assert {n: v.value for n, v in view.restore_record().items()} == RECORD
        (entry,) = [d for d in mine.delegates() if d["delegate"] == staying.address]
        assert entry["key_versions"] == [1, 2]
        assert read_fields(w, w.dept, resident, consent, ["income"]) == {"income": "52000"}
        assert w.query(w.dept, resident, consent, ["income"]).json()["record"]["version"] == 2


# ---------------------------------------------------------------------------- bad input


def test_bad_appointments_and_removals_are_refused_and_change_nothing(world: World) -> None:
    w = world
    resident, delegate = w.resident, w.resident2
    path = f"/residents/{resident.address}/delegates"
    until = w.now() + DAY

    def body(signer: Identity = resident, **message: Any) -> Any:
        terms = {"resident": resident.address, "delegate": delegate.address, "powers": READ,
                 "validUntil": until, **message}  # fmt: skip
        return signed(w, signer, "AppointDelegate", terms)

    other = f"/residents/{w.resident2.address}/delegates"
    assert w.post(other, resident, body()).status_code == 422  # path and message differ
    refused(w.post(path, resident, body(powers=0)), 422, "ConsentDelegatesInvalidPowers")
    refused(w.post(path, resident, body(powers=16)), 422, "ConsentDelegatesInvalidPowers")
    refused(
        w.post(path, resident, body(delegate=resident.address)),
        422,
        "ConsentDelegatesSelfDelegation",
    )
    refused(
        w.post(path, resident, body(validUntil=w.now() - 1)), 422, "ConsentDelegatesInvalidValidity"
    )
    nobody = Identity.create()
    refused(
        w.post(path, resident, body(delegate=nobody.address)),
        404,
        "ConsentDelegatesUnknownResident",
    )
    refused(w.post(path, w.dept, body(w.dept)), 403, "ConsentDelegatesUnauthorizedSigner")
    refused(w.post(path, delegate, body(delegate)), 403, "ConsentDelegatesUnauthorizedSigner")
    assert w.post(path, resident, {"message": {}, "signature": "0x"}).status_code == 422
    assert w.post(path, None, body()).status_code == 401
    # keys for fields the record does not have, or that are not HPKE-wrapped keys
    stray = {**body(), "wrapped_keys": {"vehicle": "0x" + "11" * 80}, "version": 1}
    assert w.post(path, resident, stray).status_code == 422
    short = {**body(), "wrapped_keys": {"income": "0x1234"}, "version": 1}
    assert w.post(path, resident, short).status_code == 422
    late = {**body(), "wrapped_keys": {"income": "0x" + "11" * 80}, "version": 9}
    assert w.post(path, resident, late).status_code == 422
    assert listed(w, resident) == []

    # removals: never appointed 404, path and message differ 422, twice 409
    refused(remove(w, resident, delegate), 404, "ConsentDelegatesNotDelegate")
    assert appoint(w, resident, delegate, READ).status_code == 201
    crossed = signed(
        w, resident, "RemoveDelegate", {"resident": resident.address, "delegate": w.dept.address}
    )
    assert w.post(f"{path}/{delegate.address}/remove", resident, crossed).status_code == 422
    assert w.post(f"{path}/0x1234/remove", resident, crossed).status_code == 422
    refused(
        remove(w, resident, delegate, signer=delegate), 403, "ConsentDelegatesUnauthorizedSigner"
    )
    assert listed(w, resident)[0]["status"] == "active"
    assert remove(w, resident, delegate).status_code == 200
    refused(remove(w, resident, delegate), 409, "ConsentDelegatesNotDelegate")

    # a record version's keys only for delegates in force, only of its fields
    answer, _ = commit_as(w, resident, resident, RECORD, delegate_keys={delegate.address: {}})
    assert answer.status_code == 422 and "not a delegate" in answer.json()["detail"]
    assert appoint(w, resident, delegate, READ).status_code == 201
    answer, _ = commit_as(
        w,
        resident,
        resident,
        RECORD,
        delegate_keys={delegate.address: {"vehicle": "0x" + "11" * 80}},
    )
    assert answer.status_code == 422
    answer, _ = commit_as(w, resident, resident, RECORD, delegate_keys={"0x12": {}})
    assert answer.status_code == 422
    assert w.get(f"/residents/{resident.address}/record", resident).json()["version"] == 1

    # a resident's published key: for signed-in callers; 404 for an address not enrolled
    key = w.get(f"/residents/{delegate.address}/encryption-key", resident)
    assert key.status_code == 200 and key.json()["key_intent"]["type"] == "EnrollResident"
    assert w.get(f"/residents/{nobody.address}/encryption-key", resident).status_code == 404
    assert w.get(f"/residents/{delegate.address}/encryption-key", None).status_code == 401
    assert w.get("/residents/0x12/encryption-key", resident).status_code == 422


def test_a_replayed_removal_is_told_as_a_replay_and_applies_once(world: World) -> None:
    """The very body that removed a delegate, sent again: 409 ``SignedIntentNonceUsed``
    (the route answered "removed already" before the relayer saw the spent nonce); a
    fresh removal of the ended appointment stays 409 ``ConsentDelegatesNotDelegate``."""
    w = world
    resident, delegate = w.resident, w.resident2
    assert appoint(w, resident, delegate, READ).status_code == 201
    path = f"/residents/{resident.address}/delegates/{delegate.address}/remove"
    terms = {"resident": resident.address, "delegate": delegate.address}
    body = signed(w, resident, "RemoveDelegate", terms)
    assert w.post(path, resident, body).status_code == 200
    history = listed(w, resident)[0]["history"]

    refused(w.post(path, resident, body), 409, "SignedIntentNonceUsed")
    refused(remove(w, resident, delegate), 409, "ConsentDelegatesNotDelegate")
    assert listed(w, resident)[0]["history"] == history


def test_a_delegate_spends_its_own_nonces(world: World) -> None:
    w = world
    resident, delegate = w.resident, w.resident2
    assert appoint(w, resident, delegate, GRANT).status_code == 201
    before = w.http.get(f"/nonces/{resident.address}").json()
    theirs = w.http.get(f"/nonces/{delegate.address}").json()
    assert grant_as(w, delegate, resident, w.dept, ["income"]).status_code == 201
    assert w.http.get(f"/nonces/{resident.address}").json() == before
    after = w.http.get(f"/nonces/{delegate.address}").json()
    assert after["ConsentLedger"] == theirs["ConsentLedger"] + 1
    assert after["ConsentDelegates"] == theirs["ConsentDelegates"]


# ---------------------------------------------------------------------------- the wallet's client


def test_a_delegate_acts_for_the_resident_through_the_client(world: World) -> None:
    """``ConsentApi.as_delegate_for``: grants, a bundle, a decline, a revocation with its
    rotation, all signed by the delegate in the resident's name with the keys wrapped
    for it; the resident's wallet accepts what its delegate signed (it signed the
    appointment) and opens the version its delegate committed."""
    w = world
    resident, delegate = w.resident, w.resident2
    assert define_service(w).status_code == 200
    transport = w.http._transport  # the TestClient's: the app in process
    with (
        ConsentApi("http://testserver", resident, transport=transport) as mine,
        ConsentApi("http://testserver", delegate, transport=transport) as theirs,
    ):
        mine.appoint_delegate(delegate.address, "all", days=30)
        view = theirs.as_delegate_for(resident.address)
        assert view.principal == resident.address and theirs.principal == delegate.address

        granted = view.grant(w.dept.address, ["income"], "HOUSING", 30)["consent_id"]
        kept = view.grant(w.dept2.address, ["name"], "TAXATION", 30)["consent_id"]
        bundle = view.grant_bundle(SERVICE, view.service_items(view.service(SERVICE)))
        request_id = file_request(w, w.dept, resident)
        view.decline_request(request_id, "NOT_NEEDED")

        assert read_fields(w, w.dept, resident, granted, ["income"]) == {"income": "52000"}
        assert mine.checked_consent(granted)["resident"] == resident.address
        assert len(mine.checked_bundle(bundle["bundle_id"])["consents"]) == 3
        assert view.bundle(bundle["bundle_id"])["resident"] == resident.address
        assert {c["consent_id"] for c in view.consents()} == {
            c["consent_id"] for c in mine.consents()
        }
        assert [r["status"] for r in view.access_requests()] == ["declined"]

        result = view.revoke(granted, rotate=True)  # the delegate commits version 2

        assert result.rotated_version == 2 and kept in result.rewrapped
        assert mine.open_record().version == 2  # its own wallet accepts its delegate's commit
        assert {n: v.value for n, v in mine.restore_record().items()} == RECORD
        assert read_fields(w, w.dept2, resident, kept, ["name"]) == {"name": "Li Wei"}
        assert view.open_record().version == 2  # the delegate kept keys of what it committed
        assert w.get(f"/consents/{granted}", resident).json()["status"] == "revoked"
        # it appoints and removes no one in the resident's name
        with pytest.raises(ClientRefusal, match="a delegate cannot appoint others"):
            view.appoint_delegate(w.dept.address, "read", days=1)
        view.close()  # a view leaves the session open
        assert theirs.delegates(resident.address)[0]["status"] == "active"


def test_a_guardian_keeps_a_childs_record_through_the_client(world: World) -> None:
    w = world
    child, guardian = w.enroll("child"), w.enroll("guardian")
    assert appoint(w, child, guardian, ALL, signer=w.registrar).status_code == 201
    transport = w.http._transport
    with ConsentApi("http://testserver", guardian, transport=transport) as theirs:
        view = theirs.as_delegate_for(child.address)
        committed = view.upload_record({"name": "Li Xiaoming", "birth_date": "2020-01-01"})
        assert committed["version"] == 1
        consent_id = view.grant(w.dept.address, ["birth_date"], "EDUCATION", 30)["consent_id"]
    # encrypted for the child's own key: the child opens it (it signed nothing)
    stored = w.get(f"/residents/{child.address}/record", child).json()
    opened = RecordVersion.open(stored["fields"], child, resident=child.address, version=1)
    assert {n: v.value for n, v in opened.values().items()} == {
        "name": "Li Xiaoming",
        "birth_date": "2020-01-01",
    }
    assert consent_ids(w, child) == [consent_id]
    assert read_fields(w, w.dept, child, consent_id, ["birth_date"]) == {"birth_date": "2020-01-01"}


def test_a_delegate_reads_a_bundle_only_with_the_read_power(world: World) -> None:
    w = world
    resident, delegate = w.resident, w.resident2
    assert define_service(w).status_code == 200
    granted = w.post("/bundles", resident, bundle_body(w, resident, bundle_items(w)))
    assert granted.status_code == 201, granted.text
    path = f"/bundles/{granted.json()['bundle_id']}"
    assert appoint(w, resident, delegate, GRANT).status_code == 201
    refused(w.get(path, delegate), 403, "ConsentDelegatesMissingPower")
    assert appoint(w, resident, delegate, READ).status_code == 201
    assert w.get(path, delegate).json() == w.get(path, resident).json()
    assert w.get(path, w.enroll("stranger")).status_code == 403

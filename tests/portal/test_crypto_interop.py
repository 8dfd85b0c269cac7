"""The portal's crypto core (``api/portal/src/crypto``) against the Python wallets, both ways.

Each test makes something with the real Python code and opens it with the JavaScript
modules in Node (the same files the browser loads, through WebCrypto), and the
reverse: a field encrypted, a key wrapped, a record built, an identity saved, an
intent signed. The negative checks move one thing (AAD, ``info``, version, root,
password, signer) and expect both sides to refuse. Node runs the harnesses in
``tests/portal/node``; it is on every machine ``./dev`` sets up and in CI, so nothing
here skips.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger import eip712
from ledger.acceptance import sign_acceptance
from ledger.codec import from_hex, to_hex
from ledger.eip712 import domain
from ledger.intents import INTENTS, eip712_types
from ledger.vocabulary import name_to_bytes32
from tests.api.conftest import World, make_world
from wallets.attestation import commitment
from wallets.errors import InvalidRecord, WrongPassword
from wallets.field_cipher import FieldValue, decrypt_field, field_aad, unsafe_encrypt_field
from wallets.identity import Identity
from wallets.key_wrap import X25519_WRAPPED_LENGTH, unwrap_key, wrap_key
from wallets.keystore import ENCRYPTION_KEY_FILE, SIGNING_KEY_FILE
from wallets.record import RecordVersion, record_root, verify_field_proof
from wallets.signing import intent_digest, recover_intent_signer, sign_intent

REPO = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).resolve().parent / "node"
FAST_SCRYPT = 2**10
PASSWORD = "密码 correct horse"
CHAIN_ID = 31337
CONTRACTS = {
    "ConsentDirectory": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    "ConsentLedger": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
    "ConsentDelegates": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
    "ConsentEmergency": "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9",
}
VALUES = {
    "name": "张伟",
    "income": "85000",
    "address": 'Flat "7B"\\Block 3\n\tRoom ✓ 😀',
    "marital_status": "",
}


def node(script: str, op: str, **request: Any) -> dict[str, Any]:
    """Run ``tests/portal/node/<script>`` on one request; its answer (ok or a named error)."""
    executable = shutil.which("node")
    assert executable is not None, "node is required (./dev setup installs it)"
    assert (REPO / "api" / "portal" / "node_modules" / "@hpke" / "core").is_dir(), (
        "the portal's npm packages are missing: npm ci in api/portal"
    )
    result = subprocess.run(
        [executable, str(HARNESS / script)],
        input=json.dumps({"op": op, **request}),
        cwd=REPO,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def js_eip712(
    action: str, name: str, message: Any, *, document: Any = None, **args: Any
) -> dict[str, Any]:
    """``eip712.mjs`` on a ``name`` intent: ``sign`` (``privateKey``) or ``recover``
    (``signature``) against the served ``/eip712`` document (or ``document``)."""
    return node(
        "eip712.mjs",
        action,
        eip712=document if document is not None else eip712_document(),
        name=name,
        message=message,
        **args,
    )


def ok(answer: dict[str, Any]) -> Any:
    assert "ok" in answer, answer
    return answer["ok"]


def refused(answer: dict[str, Any], kind: str, saying: str = "") -> None:
    assert answer.get("error") == kind, answer
    assert saying in answer["message"], answer


def address() -> str:
    return Identity.create().address


def wire(message: dict[str, Any]) -> dict[str, Any]:
    """Integers as decimal strings for the harness's stdin (JSON numbers lose precision
    above 2**53 in JavaScript; the portal holds them as BigInt)."""
    return {k: str(v) if isinstance(v, int) else v for k, v in message.items()}


def eip712_document() -> dict[str, Any]:
    """``GET /eip712`` as api/routers/public.py builds it, for fixed contracts."""
    return {
        "intents": {
            name: {
                "domain": domain(CHAIN_ID, CONTRACTS[INTENTS[name].contract]),
                "types": eip712_types(name),
                "primaryType": name,
            }
            for name in INTENTS
        }
    }


@pytest.fixture(scope="module")
def resident() -> Identity:
    return Identity.create()


# -- field encryption ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["85000", "浙江省杭州市西湖区", "", 'a "quoted"\\ \n\u0001 😀'])
def test_field_encrypted_in_python_opens_in_js_and_the_same_bytes_come_out(value: str) -> None:
    key, nonce, salt = secrets.token_bytes(32), secrets.token_bytes(12), secrets.token_bytes(32)
    where: dict[str, Any] = {"resident": address(), "field": "income", "version": 7}
    ciphertext = unsafe_encrypt_field(key, FieldValue(value, salt), nonce=nonce, **where)
    opened = ok(
        node(
            "field.mjs",
            "decrypt",
            key=to_hex(key),
            nonce=to_hex(nonce),
            ciphertext=to_hex(ciphertext),
            **where,
        )
    )
    assert opened == {"value": value, "salt": to_hex(salt)}
    # Same key, nonce and AAD: WebCrypto must produce Python's ciphertext exactly.
    sealed = ok(
        node(
            "field.mjs",
            "encrypt",
            key=to_hex(key),
            value=value,
            salt=to_hex(salt),
            nonce=to_hex(nonce),
            **where,
        )
    )
    assert sealed["ciphertext"] == to_hex(ciphertext)


def test_field_encrypted_in_js_opens_in_python() -> None:
    key, salt = secrets.token_bytes(32), secrets.token_bytes(32)
    where: dict[str, Any] = {
        "resident": address(),
        "field": "household_registration",
        "version": 2**64 - 1,
    }
    sealed = ok(
        node(
            "field.mjs",
            "encrypt",
            key=to_hex(key),
            value="西湖区",
            salt=to_hex(salt),
            **{**where, "version": str(where["version"])},
        )
    )
    nonce, ciphertext = from_hex(sealed["nonce"], length=12), from_hex(sealed["ciphertext"])
    opened = decrypt_field(key, nonce=nonce, ciphertext=ciphertext, **where)
    assert (opened.value, opened.salt) == ("西湖区", salt)


@pytest.mark.parametrize("moved", [{"resident": None}, {"field": "phone"}, {"version": 2}])
def test_a_field_under_another_aad_is_refused_both_ways(moved: dict[str, Any]) -> None:
    key, salt = secrets.token_bytes(32), secrets.token_bytes(32)
    where: dict[str, Any] = {"resident": address(), "field": "income", "version": 1}
    other: dict[str, Any] = {
        **where,
        **{k: (address() if v is None else v) for k, v in moved.items()},
    }
    nonce, value = secrets.token_bytes(12), FieldValue("85000", salt)
    python_sealed = unsafe_encrypt_field(key, value, nonce=nonce, **where)
    refused(
        node(
            "field.mjs",
            "decrypt",
            key=to_hex(key),
            nonce=to_hex(nonce),
            ciphertext=to_hex(python_sealed),
            **other,
        ),
        "InvalidRecord",
    )
    js = ok(
        node("field.mjs", "encrypt", key=to_hex(key), value="85000", salt=to_hex(salt), **where)
    )
    with pytest.raises(InvalidRecord):
        decrypt_field(
            key, nonce=from_hex(js["nonce"]), ciphertext=from_hex(js["ciphertext"]), **other
        )
    # And with the right AAD both open it: the refusals above are the AAD's doing.
    assert (
        decrypt_field(
            key, nonce=from_hex(js["nonce"]), ciphertext=from_hex(js["ciphertext"]), **where
        ).value
        == "85000"
    )


@pytest.mark.parametrize(
    "plaintext",
    ['{"value":"a","salt":"%s","value":"b"}', '{"value":"a","salt":"%s","extra":1}', '["a","%s"]'],
)
def test_a_plaintext_python_would_not_read_is_refused_in_js(plaintext: str) -> None:
    """Strict reading on both sides: duplicate or extra members are not a field value."""
    key, nonce = secrets.token_bytes(32), secrets.token_bytes(12)
    where: dict[str, Any] = {"resident": address(), "field": "income", "version": 1}
    raw = (plaintext % to_hex(secrets.token_bytes(32))).encode()
    ciphertext = AESGCM(key).encrypt(nonce, raw, field_aad(**where))
    with pytest.raises(InvalidRecord):
        decrypt_field(key, nonce=nonce, ciphertext=ciphertext, **where)
    answer = node(
        "field.mjs",
        "decrypt",
        key=to_hex(key),
        nonce=to_hex(nonce),
        ciphertext=to_hex(ciphertext),
        **where,
    )
    refused(answer, "InvalidRecord")


# -- key wrapping --------------------------------------------------------------------


def test_key_wrapped_in_python_unwraps_in_js_and_the_reverse() -> None:
    private = x25519.X25519PrivateKey.generate()
    recipient, key = address(), secrets.token_bytes(32)
    where: dict[str, Any] = {"recipient": recipient, "field": "income", "version": 3}
    wrapped = wrap_key(key, private.public_key(), **where)
    answer = ok(
        node(
            "field.mjs",
            "unwrap",
            wrapped=to_hex(wrapped),
            privateKey=to_hex(private.private_bytes_raw()),
            **where,
        )
    )
    assert answer["key"] == to_hex(key)

    js = ok(
        node(
            "field.mjs",
            "wrap",
            key=to_hex(key),
            publicKey=to_hex(private.public_key().public_bytes_raw()),
            **where,
        )
    )
    js_wrapped = from_hex(js["wrapped"])
    assert len(js_wrapped) == X25519_WRAPPED_LENGTH == 80
    assert unwrap_key(js_wrapped, private, **where) == key


@pytest.mark.parametrize("moved", [{"recipient": None}, {"field": "phone"}, {"version": 4}])
def test_a_key_wrapped_under_another_info_is_refused_both_ways(moved: dict[str, Any]) -> None:
    private = x25519.X25519PrivateKey.generate()
    key = secrets.token_bytes(32)
    where: dict[str, Any] = {"recipient": address(), "field": "income", "version": 3}
    other: dict[str, Any] = {
        **where,
        **{k: (address() if v is None else v) for k, v in moved.items()},
    }
    wrapped = wrap_key(key, private.public_key(), **where)
    refused(
        node(
            "field.mjs",
            "unwrap",
            wrapped=to_hex(wrapped),
            privateKey=to_hex(private.private_bytes_raw()),
            **other,
        ),
        "InvalidRecord",
    )
    js = ok(
        node(
            "field.mjs",
            "wrap",
            key=to_hex(key),
            publicKey=to_hex(private.public_key().public_bytes_raw()),
            **where,
        )
    )
    with pytest.raises(InvalidRecord):
        unwrap_key(from_hex(js["wrapped"]), private, **other)


# -- key files -----------------------------------------------------------------------


def _files(directory: Path) -> dict[str, Any]:
    return {
        "signing": json.loads((directory / SIGNING_KEY_FILE).read_text()),
        "encryption": json.loads((directory / ENCRYPTION_KEY_FILE).read_text()),
    }


@pytest.mark.parametrize("hybrid", [False, True])
def test_identity_saved_by_python_opens_in_js(tmp_path: Path, hybrid: bool) -> None:
    identity = Identity.create(hybrid=hybrid)
    identity.save(tmp_path, PASSWORD, scrypt_n=FAST_SCRYPT)
    opened = ok(node("keystore.mjs", "openIdentity", password=PASSWORD, **_files(tmp_path)))
    assert opened["address"] == identity.address
    assert opened["privateKey"] == to_hex(identity.account.key)
    assert opened["x25519"] == {
        "privateKey": to_hex(identity.x25519_private_key.private_bytes_raw()),
        "publicKey": to_hex(identity.encryption_public_key),
    }
    hybrid_key = identity.hybrid_private_key
    assert opened["hybrid"] == (None if hybrid_key is None else to_hex(hybrid_key.to_bytes()))


def test_identity_files_refused_in_js_for_a_wrong_password_or_another_owner(
    tmp_path: Path,
) -> None:
    Identity.create().save(tmp_path / "a", PASSWORD, scrypt_n=FAST_SCRYPT)
    Identity.create().save(tmp_path / "b", PASSWORD, scrypt_n=FAST_SCRYPT)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    refused(node("keystore.mjs", "openIdentity", password="wrong", **a), "WrongPassword")
    refused(
        node(
            "keystore.mjs",
            "openIdentity",
            password=PASSWORD,
            signing=a["signing"],
            encryption=b["encryption"],
        ),
        "CorruptKeystore",
    )
    # A cheaper scrypt cost written into the header changes the AAD: the file is refused.
    downgraded = json.loads(json.dumps(a["encryption"]))
    downgraded["crypto"]["kdfparams"]["n"] = FAST_SCRYPT // 2
    refused(
        node(
            "keystore.mjs",
            "openIdentity",
            password=PASSWORD,
            signing=a["signing"],
            encryption=downgraded,
        ),
        "WrongPassword",
    )


def test_identity_created_in_js_loads_in_python(tmp_path: Path) -> None:
    made = ok(node("keystore.mjs", "createIdentity", password=PASSWORD, scryptN=FAST_SCRYPT))
    (tmp_path / SIGNING_KEY_FILE).write_text(json.dumps(made["files"]["signing"]))
    (tmp_path / ENCRYPTION_KEY_FILE).write_text(json.dumps(made["files"]["encryption"]))
    identity = Identity.load(tmp_path, PASSWORD)
    assert identity.address == made["address"]
    assert to_hex(identity.account.key) == made["privateKey"]
    assert to_hex(identity.encryption_public_key) == made["x25519"]["publicKey"]
    with pytest.raises(WrongPassword):
        Identity.load(tmp_path, PASSWORD + "!")


# -- records and roots ---------------------------------------------------------------


def test_record_built_in_python_opens_in_js(resident: Identity) -> None:
    record = RecordVersion.build(
        VALUES,
        resident=resident.address,
        version=5,
        owner_public_key=resident.encryption_public_key,
    )
    private = to_hex(resident.x25519_private_key.private_bytes_raw())
    opened = ok(
        node(
            "record.mjs",
            "open",
            fields=record.envelopes(),
            privateKey=private,
            resident=resident.address,
            version=5,
            root=to_hex(record.root),
        )
    )
    assert opened["root"] == to_hex(record.root)
    for name, value in record.values().items():
        assert opened["values"][name] == {
            "value": value.value,
            "salt": to_hex(value.salt),
            "key": to_hex(record.field_key(name)),
        }
        assert opened["proofs"][name] == [to_hex(p) for p in record.proof(name)]
    # A root the envelopes do not hash to, or the wrong version, is refused.
    refused(
        node(
            "record.mjs",
            "open",
            fields=record.envelopes(),
            privateKey=private,
            resident=resident.address,
            version=5,
            root=to_hex(b"\1" * 32),
        ),
        "InvalidRecord",
    )
    refused(
        node(
            "record.mjs",
            "open",
            fields=record.envelopes(),
            privateKey=private,
            resident=resident.address,
            version=6,
        ),
        "InvalidRecord",
    )


def test_record_built_in_js_opens_in_python(resident: Identity) -> None:
    salt = secrets.token_bytes(32)
    built = ok(
        node(
            "record.mjs",
            "build",
            values=VALUES,
            resident=resident.address,
            version=9,
            ownerPublicKey=to_hex(resident.encryption_public_key),
            salts={"income": to_hex(salt)},
        )
    )
    assert record_root(built["fields"]) == from_hex(built["root"])
    record = RecordVersion.open(
        built["fields"], resident, resident=resident.address, version=9, root=built["root"]
    )
    assert {n: v.value for n, v in record.values().items()} == VALUES
    assert record.values()["income"].salt == salt
    for name, envelope in built["fields"].items():
        proof = built["proofs"][name]
        assert verify_field_proof(built["root"], name, from_hex(envelope["ciphertext"]), proof)
        assert not verify_field_proof(
            built["root"], "phone", from_hex(envelope["ciphertext"]), proof
        )
    with pytest.raises(InvalidRecord):
        RecordVersion.open(built["fields"], resident, resident=resident.address, version=8)
    with pytest.raises(InvalidRecord):
        RecordVersion.open(built["fields"], Identity.create(), resident=resident.address, version=9)


def test_roots_and_proofs_agree(resident: Identity) -> None:
    record = RecordVersion.build(
        VALUES,
        resident=resident.address,
        version=1,
        owner_public_key=resident.encryption_public_key,
    )
    answer = ok(node("record.mjs", "root", fields=record.envelopes()))
    assert answer["root"] == to_hex(record.root)
    name = "income"
    ciphertext = to_hex(record.field(name).envelope.ciphertext)
    proof = [to_hex(p) for p in record.proof(name)]
    assert (
        ok(
            node(
                "record.mjs",
                "verifyProof",
                root=to_hex(record.root),
                field=name,
                ciphertext=ciphertext,
                proof=proof,
            )
        )["valid"]
        is True
    )
    assert (
        ok(
            node(
                "record.mjs",
                "verifyProof",
                root=to_hex(record.root),
                field="name",
                ciphertext=ciphertext,
                proof=proof,
            )
        )["valid"]
        is False
    )


def test_commit_record_body_from_js_is_what_the_api_checks(resident: Identity) -> None:
    """The body's signature recovers to the resident over the message the API parses,
    and its envelopes hash to the root it commits (the route's own two checks)."""
    answer = ok(
        node(
            "record.mjs",
            "commitBody",
            values=VALUES,
            resident=resident.address,
            version=2,
            ownerPublicKey=to_hex(resident.encryption_public_key),
            privateKey=to_hex(resident.account.key),
            eip712=eip712_document(),
            nonce=str(2**255 + 3),
            deadline=1_767_225_600,
        )
    )
    body = json.loads(answer["body"])
    assert set(body) == {"message", "signature", "fields"}
    message = body["message"]
    assert message["nonce"] == 2**255 + 3 and message["version"] == 2
    signer = recover_intent_signer(
        "CommitRecord",
        message,
        body["signature"],
        chain_id=CHAIN_ID,
        verifying_contract=CONTRACTS["ConsentLedger"],
    )
    assert signer == resident.address
    assert record_root(body["fields"]) == from_hex(message["root"])
    opened = RecordVersion.open(
        body["fields"], resident, resident=resident.address, version=2, root=message["root"]
    )
    assert opened.values()["name"].value == "张伟"


def test_a_field_granted_to_a_department_opens_with_its_key(resident: Identity) -> None:
    department = Identity.create()
    record = RecordVersion.build(
        VALUES,
        resident=resident.address,
        version=4,
        owner_public_key=resident.encryption_public_key,
    )
    sealed = record.field("income")
    wrapped = wrap_key(
        sealed.key,
        department.encryption_public_key,
        recipient=department.address,
        field="income",
        version=4,
    )
    served = {
        "ciphertext": to_hex(sealed.envelope.ciphertext),
        "nonce": to_hex(sealed.envelope.nonce),
        "wrapped_key": to_hex(wrapped),
        "version": 4,
    }
    key = to_hex(department.x25519_private_key.private_bytes_raw())
    opened = ok(
        node(
            "record.mjs",
            "openGranted",
            served=served,
            privateKey=key,
            reader=department.address,
            resident=resident.address,
            field="income",
        )
    )
    assert opened == {"value": "85000", "salt": to_hex(sealed.value.salt)}
    refused(
        node(
            "record.mjs",
            "openGranted",
            served=served,
            privateKey=key,
            reader=resident.address,
            resident=resident.address,
            field="income",
        ),
        "InvalidRecord",
    )


def test_attestation_commitment_matches() -> None:
    salt = secrets.token_bytes(32)
    answer = ok(
        node(
            "record.mjs",
            "commitment",
            field="id_number",
            value="330106199001011234",
            salt=to_hex(salt),
        )
    )
    expected = commitment(name_to_bytes32("id_number"), "330106199001011234", salt)
    assert answer["commitment"] == to_hex(expected)


# -- intents -------------------------------------------------------------------------


def _grant(resident: str) -> dict[str, Any]:
    return {
        "resident": resident,
        "department": address(),
        "fields": sorted(to_hex(name_to_bytes32(n)) for n in ("income", "name")),
        "purpose": to_hex(name_to_bytes32("HOUSING")),
        "validFrom": 1_767_225_600,
        "validUntil": 1_767_225_600 + 86_400 * 30,
        "maxUses": 3,
        "requestId": to_hex(b"\0" * 32),
        "nonce": 2**64 + 1,
        "deadline": 1_767_226_200,
    }


def test_intent_signed_in_python_recovers_in_js(resident: Identity) -> None:
    message = _grant(resident.address)
    where: dict[str, Any] = {"chain_id": CHAIN_ID, "verifying_contract": CONTRACTS["ConsentLedger"]}
    signature = to_hex(resident.sign_intent("Grant", message, **where))
    document = eip712_document()
    recovered = ok(
        js_eip712("recover", "Grant", wire(message), signature=signature, document=document)
    )
    assert recovered["signer"] == resident.address
    digest = ok(node("eip712.mjs", "digest", eip712=document, name="Grant", message=wire(message)))
    assert digest["digest"] == to_hex(intent_digest("Grant", message, **where))
    # One field changed: the signature names someone else.
    other = ok(
        js_eip712(
            "recover",
            "Grant",
            wire({**message, "maxUses": 4}),
            signature=signature,
            document=document,
        )
    )
    assert other["signer"] != resident.address
    # The malleable twin (n - s, v flipped) is refused, as OpenZeppelin's ECDSA does.
    raw = from_hex(signature)
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    twin = raw[:32] + (n - int.from_bytes(raw[32:64], "big")).to_bytes(32, "big")
    twin += bytes([55 - raw[64]])
    refused(
        js_eip712("recover", "Grant", wire(message), signature=to_hex(twin), document=document),
        "InvalidIntent",
        "malleable",
    )


def test_intent_signed_in_js_recovers_in_python(resident: Identity) -> None:
    message = _grant(resident.address)
    signed = ok(js_eip712("sign", "Grant", wire(message), privateKey=to_hex(resident.account.key)))
    where: dict[str, Any] = {"chain_id": CHAIN_ID, "verifying_contract": CONTRACTS["ConsentLedger"]}
    assert signed["message"] == message
    assert (
        recover_intent_signer("Grant", signed["message"], signed["signature"], **where)
        == resident.address
    )
    # Deterministic (RFC 6979) on both sides: the very same bytes.
    assert from_hex(signed["signature"]) == sign_intent(resident.account, "Grant", message, **where)
    # Signed for another contract, the signature names someone else.
    elsewhere = recover_intent_signer(
        "Grant",
        signed["message"],
        signed["signature"],
        chain_id=CHAIN_ID,
        verifying_contract=CONTRACTS["ConsentDirectory"],
    )
    assert elsewhere != resident.address


def test_a_malformed_message_is_not_signed_in_js(resident: Identity) -> None:
    message = {**_grant(resident.address), "maxUses": 2**32}
    refused(
        js_eip712("sign", "Grant", wire(message), privateKey=to_hex(resident.account.key)),
        "InvalidIntent",
    )
    extra = {**_grant(resident.address), "note": "x"}
    refused(
        js_eip712("sign", "Grant", wire(extra), privateKey=to_hex(resident.account.key)),
        "InvalidIntent",
    )


def test_relayer_acceptance_checked_in_js() -> None:
    relayer = Identity.create()
    intent = secrets.token_bytes(32)
    acceptance = sign_acceptance(
        bytes(relayer.account.key),
        intent=intent,
        chain_id=CHAIN_ID,
        journal_id=42,
        accepted_at=1_767_225_600,
    ).to_json()
    expect = {"intent": to_hex(intent), "chainId": CHAIN_ID, "relayer": relayer.address}
    checked = ok(node("eip712.mjs", "acceptance", acceptance=acceptance, expect=expect))
    assert checked["relayer"] == relayer.address and checked["journalId"] == 42
    for wrong in (
        {"intent": to_hex(secrets.token_bytes(32))},
        {"chainId": 1},
        {"relayer": address()},
    ):
        refused(
            node("eip712.mjs", "acceptance", acceptance=acceptance, expect={**expect, **wrong}),
            "InvalidAcceptance",
        )
    forged = {**acceptance, "relayer": address()}
    refused(node("eip712.mjs", "acceptance", acceptance=forged), "InvalidAcceptance")
    later = {**acceptance, "accepted_at": acceptance["accepted_at"] + 1}
    refused(node("eip712.mjs", "acceptance", acceptance=later), "InvalidAcceptance")


# -- through the API -----------------------------------------------------------------


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def test_through_the_api_a_js_record_reads_in_python_and_a_python_record_in_js(
    world: World,
) -> None:
    """The route takes the portal's body as it takes the CLI's; what each side commits
    the other opens from what the API serves, and a department opens a granted field."""
    resident, dept = world.resident, world.dept
    nonce = world.http.get(f"/nonces/{resident.address}").json()["ConsentLedger"]
    made = ok(
        node(
            "record.mjs",
            "commitBody",
            values=VALUES,
            resident=resident.address,
            version=2,
            ownerPublicKey=to_hex(resident.encryption_public_key),
            privateKey=to_hex(resident.account.key),
            eip712=world.http.get("/eip712").json(),
            nonce=str(nonce),
            deadline=str(world.now() + 600),
        )
    )
    headers = {**world.headers(resident), "Content-Type": "application/json"}
    path = f"/residents/{resident.address}/record"
    answer = world.http.put(path, content=made["body"], headers=headers)
    assert answer.status_code == 200, answer.text
    # The relayer's acceptance of the portal's intent holds in the portal.
    commit = world.http.get("/eip712").json()["intents"]["CommitRecord"]["domain"]
    message = json.loads(made["body"])["message"]
    digest = intent_digest(
        "CommitRecord",
        message,
        chain_id=commit["chainId"],
        verifying_contract=commit["verifyingContract"],
    )
    expect = {"intent": to_hex(digest), "chainId": commit["chainId"]}
    acceptance = answer.json()["acceptance"]
    accepted = ok(node("eip712.mjs", "acceptance", acceptance=acceptance, expect=expect))
    assert accepted["journalId"] == acceptance["journal_id"]

    served = world.get(path, resident).json()
    assert served["version"] == 2
    opened = RecordVersion.open(
        served["fields"], resident, resident=resident.address, version=2, root=served["root"]
    )
    assert {n: v.value for n, v in opened.values().items()} == VALUES

    first = world.get(path, resident, version=1).json()  # built by Python (populate)
    private = to_hex(resident.x25519_private_key.private_bytes_raw())
    js = ok(
        node(
            "record.mjs",
            "open",
            fields=first["fields"],
            privateKey=private,
            resident=resident.address,
            version=1,
            root=first["root"],
        )
    )
    assert js["values"]["income"]["value"] == "52000"

    world.records[resident.address] = opened  # grant from the portal's version
    consent = world.grant(resident, dept, ["income", "name"])
    read = world.query(dept, resident, consent, ["income"])
    assert read.status_code == 200, read.text
    granted = ok(
        node(
            "record.mjs",
            "openGranted",
            served=read.json()["fields"]["income"],
            privateKey=to_hex(dept.x25519_private_key.private_bytes_raw()),
            reader=dept.address,
            resident=resident.address,
            field="income",
        )
    )
    assert granted["value"] == VALUES["income"]
    assert granted["salt"] == to_hex(opened.values()["income"].salt)


# -- intents with nested structs (DESIGN "Intents added": DefineService, GrantBundle) --

_SERVICE_ITEM: eip712.Fields = (
    ("department", "address"),
    ("fields", "bytes32[]"),
    ("purpose", "bytes32"),
    ("duration", "uint64"),
    ("maxUses", "uint32"),
)
_DEFINE_SERVICE: eip712.Fields = (
    ("service", "bytes32"),
    ("name", "string"),
    ("items", "ServiceItem[]"),
    ("nonce", "uint256"),
    ("deadline", "uint256"),
)
_NESTED: eip712.Structs = (("ServiceItem", _SERVICE_ITEM),)


def _nested_document() -> dict[str, Any]:
    """A ``/eip712`` document serving ``DefineService`` with its ``ServiceItem`` type,
    as the API serves the types of an intent that carries an array of structs."""
    types = eip712.typed_data(
        "DefineService",
        _DEFINE_SERVICE,
        _define_service(),
        chain_id=CHAIN_ID,
        verifying_contract=CONTRACTS["ConsentDirectory"],
        structs=_NESTED,
    )["types"]
    return {
        "intents": {
            "DefineService": {
                "domain": domain(CHAIN_ID, CONTRACTS["ConsentDirectory"]),
                "types": types,
                "primaryType": "DefineService",
            }
        }
    }


def _define_service(items: int = 3) -> dict[str, Any]:
    return {
        "service": to_hex(name_to_bytes32("NEWBORN_REGISTRATION")),
        "name": "新生儿出生登记 Newborn registration",
        "items": [
            {
                "department": address(),
                "fields": sorted(to_hex(name_to_bytes32(f)) for f in ("name", f"f{i}")),
                "purpose": to_hex(name_to_bytes32("BIRTH")),
                "duration": 86_400 * (30 + i),
                "maxUses": 2**32 - 1 - i,
            }
            for i in range(items)
        ],
        "nonce": 2**64 + 7,
        "deadline": 1_767_226_200,
    }


def _deep_wire(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return [_deep_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: _deep_wire(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("items", [0, 1, 3])
def test_a_nested_struct_array_signed_by_ethers_recovers_in_python(items: int) -> None:
    admin = Identity.create()
    message = _define_service(items)
    document = _nested_document()
    where: dict[str, Any] = {
        "chain_id": CHAIN_ID,
        "verifying_contract": CONTRACTS["ConsentDirectory"],
        "structs": _NESTED,
    }
    expected = eip712.digest("DefineService", _DEFINE_SERVICE, message, **where)

    digest = ok(
        node(
            "eip712.mjs",
            "digest",
            eip712=document,
            name="DefineService",
            message=_deep_wire(message),
        )
    )
    signed = ok(
        js_eip712(
            "sign",
            "DefineService",
            _deep_wire(message),
            privateKey=to_hex(admin.account.key),
            document=document,
        )
    )

    assert digest["digest"] == to_hex(expected)
    assert signed["message"] == message
    assert eip712.recover(expected, from_hex(signed["signature"])) == admin.address
    # the very bytes Python signs (RFC 6979 on both sides)
    assert from_hex(signed["signature"]) == eip712.sign(expected, bytes(admin.account.key))


def test_a_python_signed_nested_struct_recovers_in_ethers_and_one_item_changed_does_not() -> None:
    admin = Identity.create()
    message = _define_service(2)
    where: dict[str, Any] = {
        "chain_id": CHAIN_ID,
        "verifying_contract": CONTRACTS["ConsentDirectory"],
        "structs": _NESTED,
    }
    signature = to_hex(
        eip712.sign(
            eip712.digest("DefineService", _DEFINE_SERVICE, message, **where),
            bytes(admin.account.key),
        )
    )
    document = _nested_document()

    def signer(m: dict[str, Any]) -> str:
        answer = js_eip712(
            "recover", "DefineService", _deep_wire(m), signature=signature, document=document
        )
        return str(ok(answer)["signer"])

    assert signer(message) == admin.address
    first = message["items"][0]
    narrowed = {**first, "maxUses": first["maxUses"] - 1}
    changed = {**message, "items": [narrowed, *message["items"][1:]]}
    assert changed != message and signer(changed) != admin.address
    reordered = {**message, "items": list(reversed(message["items"]))}
    assert signer(reordered) != admin.address


def test_a_malformed_nested_item_is_not_signed_in_js() -> None:
    key = to_hex(Identity.create().account.key)
    message = _define_service(1)
    item = message["items"][0]
    for bad in (
        {k: v for k, v in item.items() if k != "maxUses"},
        {**item, "extra": 1},
        {**item, "duration": 2**64},
        to_hex(name_to_bytes32("NOT_A_STRUCT")),
    ):
        refused(
            js_eip712(
                "sign",
                "DefineService",
                _deep_wire({**message, "items": [bad]}),
                privateKey=key,
                document=_nested_document(),
            ),
            "InvalidIntent",
            "DefineService.items[0]",
        )

"""What a wallet checks instead of trusting the server: pinned anchors and signed intents.

A compromised server could hand a resident its own encryption key as a department's
and read every field granted for it, or show a resident a record or a consent it never
signed. Each of those values was set by an intent someone signed, and the API serves
that intent from the chain's calldata (:mod:`api.provenance`); the checks here need
nothing from the server but the intent itself:

- a department's key: the admin's ``RegisterDepartment`` or ``RotateDepartmentKey``
  must recover to an admin pinned in the wallet, in the domain of the pinned chain and
  directory, and name that department and exactly that key (:func:`check_department_key`);
- the resident's record: the Merkle root recomputed from the served envelopes must be
  the one the resident's own ``CommitRecord`` of that version signs (:func:`check_record`);
- a consent's terms: each must be what the resident's ``Grant`` says (:func:`check_consent`);
- a delegate's key (a resident's, as its enrolment published it): the registrar's
  ``EnrollResident`` must name that resident and exactly that key, and the admin's
  ``GrantRole`` that made its signer a registrar must recover to a pinned admin
  (:func:`check_resident_key`).

Pins live in ``trust.json`` in the wallet directory (:class:`Pins`): the admin address(es),
the chain id and the deployment's contracts. They are set explicitly (``consent wallet
pin``: the directory and ledger) or on first use, as ssh's ``known_hosts`` is — the notice
says so — and a later mismatch is an error, never a silent re-pin. Every failure is
:class:`Untrusted`, a sentence saying what did not match.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.codec import checksum_address, from_hex, to_hex
from ledger.vocabulary import label_to_bytes32, role_id
from wallets.errors import WalletError
from wallets.record import record_root
from wallets.signing import recover_intent_signer

PINS_FILE = "trust.json"
KEY_INTENTS = frozenset({"RegisterDepartment", "RotateDepartmentKey"})
DIRECTORY, LEDGER = "ConsentDirectory", "ConsentLedger"
ZERO32 = b"\0" * 32
_REGISTRAR_ROLE = role_id("registrar")

Notice = Callable[[str], None]


class Untrusted(WalletError):
    """What the server served does not hold up against what its signer signed, or
    against the anchors pinned in the wallet; nothing was signed or wrapped for it."""


@dataclass
class Pins:
    """The anchors a wallet trusts: admins, chain id, contracts (``None``/empty: not yet
    pinned). ``path`` is where they are kept (``None``: for this session only)."""

    admins: list[str] = field(default_factory=list)
    chain_id: int | None = None
    contracts: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    #: The newest record version this wallet committed: a server that serves an older
    #: one as the latest (with its genuine signature) is rolling the record back.
    record_version: int = 0
    #: Each department's keys this wallet has wrapped for, oldest first: a server that
    #: serves a superseded one again (with its genuine signed intent) is rolling the
    #: department's key back to one it may hold the private half of.
    department_keys: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, wallet: Path) -> Pins:
        path = Path(wallet) / PINS_FILE
        if not path.exists():
            return cls(path=path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                admins=[checksum_address(a) for a in document.get("admins", [])],
                chain_id=None if document.get("chain_id") is None else int(document["chain_id"]),
                contracts={
                    str(k): checksum_address(v) for k, v in document.get("contracts", {}).items()
                },
                path=path,
                record_version=int(document.get("record_version", 0)),
                department_keys={
                    checksum_address(k): [str(key).lower() for key in v]
                    for k, v in document.get("department_keys", {}).items()
                },
            )
        except (ValueError, TypeError, AttributeError) as exc:
            raise Untrusted(f"{path} is not a readable pin file: {exc}") from exc

    def to_json(self) -> dict[str, Any]:
        return {
            "admins": self.admins,
            "chain_id": self.chain_id,
            "contracts": self.contracts,
            "record_version": self.record_version,
            "department_keys": self.department_keys,
        }

    def committed(self, version: int) -> None:
        """Remember that the chain recorded this wallet's commitment of ``version``."""
        if version > self.record_version:
            self.record_version = version
            self.save()

    def admit_department_key(self, department: str, key: bytes, name: str) -> None:
        """Remember ``key`` as ``department``'s newest; :class:`Untrusted` if it is one
        this wallet saw superseded."""
        seen = self.department_keys.setdefault(department, [])
        served = to_hex(key)
        if seen and seen[-1] == served:
            return
        if served in seen:
            raise Untrusted(
                f"the API serves {name}'s key {short_hex(key)}, which this wallet saw"
                f" replaced by {seen[-1][:10]}…: the server may be rolling the key back;"
                " not wrapping keys for it (--chain-url URL reads the current one)"
            )
        seen.append(served)
        self.save()

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        os.replace(partial, self.path)

    @property
    def where(self) -> str:
        return str(self.path) if self.path is not None else "this session"

    def check_domain(self, chain_id: int, contracts: Mapping[str, str], notice: Notice) -> None:
        """The server's chain and contracts must be the pinned ones; unpinned ones are
        pinned now (first use), with a notice."""
        served = {name: checksum_address(address) for name, address in contracts.items()}
        if self.chain_id is not None and self.chain_id != chain_id:
            raise Untrusted(
                f"the API is on chain {chain_id}, but this wallet is pinned to chain"
                f" {self.chain_id} ({self.where}): it is not the ledger you trust"
            )
        # The directory and ledger first, then the deployment's other contracts
        # (delegates, emergency), each pinned on the first use that serves it.
        names = [DIRECTORY, LEDGER, *sorted(set(served) - {DIRECTORY, LEDGER})]
        for name in names:
            pinned, theirs = self.contracts.get(name), served.get(name)
            if pinned is not None and theirs is not None and pinned != theirs:
                raise Untrusted(
                    f"the API's {name} is {theirs}, but this wallet is pinned to {pinned}"
                    f" ({self.where}): it is not the ledger you trust"
                )
        added = [f"chain {chain_id}"] if self.chain_id is None else []
        added += [
            f"{name} {served[name]}"
            for name in names
            if name not in self.contracts and name in served
        ]
        if not added:
            return
        self.chain_id = chain_id
        for name in names:
            if name in served:
                self.contracts.setdefault(name, served[name])
        self.save()
        notice(
            f"first use: pinned {', '.join(added)} in {self.where}, as the API reports them;"
            " compare them with the operator's published values (`consent wallet pin`"
            " sets them yourself). A later change is refused."
        )

    def admit_admin(self, signer: str, what: str, notice: Notice) -> None:
        """``signer`` (who signed ``what``) must be a pinned admin; with none pinned yet it
        becomes the one, with a notice."""
        if not self.admins:
            self.admins = [signer]
            self.save()
            notice(
                f"first use: pinned admin {signer} (it signed {what}) in {self.where};"
                " compare it with the operator's published admin address (`consent wallet"
                " pin --admin ADDRESS` sets it yourself). A key signed by anyone else is refused."
            )
            return
        if signer not in self.admins:
            raise Untrusted(
                f"{what} is signed by {signer}, not by the admin pinned in this wallet"
                f" ({', '.join(self.admins)}, {self.where}): refusing to trust it. If the"
                f" admin really changed, `consent wallet pin --admin {signer} --replace`"
            )


def intent_signer(intent: Mapping[str, Any], *, chain_id: int, verifying_contract: str) -> str:
    """Who signed a served ``{"type", "message", "signature"}`` in that domain."""
    try:
        return recover_intent_signer(
            str(intent["type"]),
            intent["message"],
            intent["signature"],
            chain_id=chain_id,
            verifying_contract=verifying_contract,
        )
    except (KeyError, TypeError, WalletError) as exc:
        raise Untrusted(
            f"the served {intent.get('type', 'intent')} cannot be checked: {exc}"
        ) from exc


def _pinned_contract(pins: Pins, name: str) -> tuple[int, str]:
    if pins.chain_id is None or name not in pins.contracts:
        raise Untrusted(f"no chain and {name} pinned yet: cannot check signatures")
    return pins.chain_id, pins.contracts[name]


def check_department_key(
    entry: Mapping[str, Any], *, pins: Pins, notice: Notice = lambda _text: None
) -> bytes:
    """The department's key from a ``GET /departments`` entry, once the admin's signed
    intent that set it checks out; :class:`Untrusted` otherwise."""
    name = entry.get("name") or entry.get("address")
    served = from_hex(entry["encryption_key"], what="encryption key")
    intent = entry.get("key_intent")
    if not intent:
        raise Untrusted(
            f"the API serves no signed registration for {name}'s key, so it cannot be checked;"
            " not wrapping keys for it (--chain-url URL checks it on chain instead)"
        )
    if intent.get("type") not in KEY_INTENTS:
        raise Untrusted(f"{name}'s key comes with a {intent.get('type')}, not a registration")
    chain_id, directory = _pinned_contract(pins, DIRECTORY)
    signer = intent_signer(intent, chain_id=chain_id, verifying_contract=directory)
    message = intent["message"]
    department = checksum_address(entry["address"])
    if checksum_address(message.get("department", "")) != department:
        raise Untrusted(
            f"the API's signed {intent['type']} for {name} names another department"
            f" ({message.get('department')}): not wrapping keys for {department}"
        )
    signed_key = from_hex(message.get("encryptionKey", ""), what="signed key")
    if signed_key != served:
        raise Untrusted(
            f"the API serves {name}'s key as {short_hex(served)}, but the admin's signed"
            f" {intent['type']} sets {short_hex(signed_key)}: the server may be substituting"
            " a key of its own; not wrapping keys for it"
        )
    pins.admit_admin(signer, f"{name}'s key", notice)
    pins.admit_department_key(department, served, str(name))
    return served


def check_resident_key(
    entry: Mapping[str, Any], *, pins: Pins, notice: Notice = lambda _text: None
) -> bytes:
    """A resident's key from ``GET /residents/{a}/encryption-key``, once the registrar's
    signed ``EnrollResident`` sets exactly it for that resident and the admin's signed
    ``GrantRole`` made that registrar one (or the registrar is a pinned admin itself);
    :class:`Untrusted` otherwise. What a wallet wraps a delegate's keys for."""
    resident = checksum_address(entry["resident"])
    served = from_hex(entry["encryption_key"], what="encryption key")
    enrolment = entry.get("key_intent")
    if not enrolment or enrolment.get("type") != "EnrollResident":
        raise Untrusted(
            f"the API serves no signed enrolment for {resident}'s key, so it cannot be"
            " checked; not wrapping keys for it"
        )
    chain_id, ledger = _pinned_contract(pins, LEDGER)
    registrar = intent_signer(enrolment, chain_id=chain_id, verifying_contract=ledger)
    message = enrolment["message"]
    if checksum_address(message.get("resident", "")) != resident:
        raise Untrusted(
            f"the API's signed enrolment for {resident} names another resident"
            f" ({message.get('resident')}): not wrapping keys for it"
        )
    signed_key = from_hex(message.get("encryptionKey", ""), what="signed key")
    if signed_key != served:
        raise Untrusted(
            f"the API serves {resident}'s key as {short_hex(served)}, but the registrar's"
            f" signed enrolment sets {short_hex(signed_key)}: the server may be substituting"
            " a key of its own; not wrapping keys for it"
        )
    if registrar in pins.admins:
        return served
    appointment = entry.get("registrar_intent")
    if not appointment or appointment.get("type") != "GrantRole":
        raise Untrusted(
            f"{resident}'s enrolment is signed by {registrar}, and the API serves no admin's"
            " signed GrantRole making it a registrar: not wrapping keys for it"
        )
    _, directory = _pinned_contract(pins, DIRECTORY)
    admin = intent_signer(appointment, chain_id=chain_id, verifying_contract=directory)
    granted = appointment["message"]
    if (
        checksum_address(granted.get("account", "")) != registrar
        or label_to_bytes32(str(granted.get("role", ""))) != _REGISTRAR_ROLE
    ):
        raise Untrusted(
            f"the API's signed GrantRole for {resident}'s registrar {registrar} does not make"
            " it a registrar: not wrapping keys for it"
        )
    pins.admit_admin(admin, f"the registrar role of {registrar}", notice)
    return served


def check_record(
    stored: Mapping[str, Any],
    *,
    resident: str,
    pins: Pins,
    latest: bool = False,
    signers: Iterable[str] = (),
) -> bytes:
    """The root of a served record (``GET /residents/{a}/record``), recomputed from its
    envelopes, once the resident's own ``CommitRecord`` of that version signs it (or one
    of ``signers``: the delegates the wallet accepts as committing for it), and, served
    as the ``latest``, it is no older than what this wallet last committed."""
    resident = checksum_address(resident)
    accepted = {resident} | {checksum_address(s) for s in signers}
    version = int(stored["version"])
    if latest and version < pins.record_version:
        raise Untrusted(
            f"the API serves version {version} as your latest record, but this wallet"
            f" committed version {pins.record_version}: the server is rolling it back"
        )
    try:
        root = record_root(stored["fields"])
    except WalletError as exc:
        raise Untrusted(f"the record the API served cannot be hashed: {exc}") from exc
    if to_hex(root) != str(stored.get("root", "")).lower():
        raise Untrusted(
            f"the API's envelopes of version {version} hash to {short_hex(root)}, not to the"
            f" root it reports ({stored.get('root')}): the record was altered"
        )
    commit = stored.get("commit")
    if not commit or commit.get("type") != "CommitRecord":
        raise Untrusted(
            f"the API serves no signed commitment of version {version}, so the record cannot be"
            " checked against your own signature (--chain-url URL checks it on chain instead)"
        )
    chain_id, ledger = _pinned_contract(pins, LEDGER)
    signer = intent_signer(commit, chain_id=chain_id, verifying_contract=ledger)
    message = commit["message"]
    signed_root = from_hex(message.get("root", ""), what="signed root")
    if signer not in accepted or checksum_address(message.get("resident", "")) != resident:
        by = resident if len(accepted) == 1 else f"{resident} or a delegate committing for it"
        raise Untrusted(f"the commitment of version {version} was not signed by {by}")
    if int(message.get("version", -1)) != version or signed_root != root:
        raise Untrusted(
            f"the record the API served (version {version}, root {short_hex(root)}) is not the"
            f" one you committed (version {message.get('version')}, root"
            f" {short_hex(signed_root)}): the envelopes were altered or swapped"
        )
    return root


#: A consent's terms as ``GET /consents/{id}`` names them, and the ``Grant`` member each is.
_TERMS = (
    ("resident", "resident"),
    ("department", "department"),
    ("fields", "fields"),
    ("purpose", "purpose"),
    ("valid_from", "validFrom"),
    ("valid_until", "validUntil"),
    ("max_uses", "maxUses"),
    ("request_id", "requestId"),
)


def check_consent(
    consent: Mapping[str, Any],
    *,
    pins: Pins,
    resident: str | None = None,
    signers: Iterable[str] = (),
) -> None:
    """Each term of a served consent must be what its resident's signed ``Grant`` says
    (and that resident ``resident``, the wallet's own, where given); the ``Grant`` is
    signed by the resident, or by one of ``signers`` (the delegates the wallet accepts as
    granting for it)."""
    consent_id = consent.get("consent_id")
    grant = consent.get("grant")
    if not grant or grant.get("type") not in ("Grant", "GrantBundle"):
        raise Untrusted(
            f"the API serves no signed Grant for consent {consent_id}, so its terms cannot be"
            " checked against the resident's signature"
        )
    chain_id, ledger = _pinned_contract(pins, LEDGER)
    signer = intent_signer(grant, chain_id=chain_id, verifying_contract=ledger)
    message = grant["message"]
    served = _served_terms(consent)
    if grant["type"] == "GrantBundle":
        # One consent per item: the served terms must be one item's, from the bundle's start.
        items = [_signed_terms(_bundle_item_grant(message, item)) for item in _items(message)]
        signed = next((t for t in items if t == served), items[0] if items else {})
    else:
        signed = _signed_terms(message)
    differing = [term for term, _ in _TERMS if served.get(term) != signed.get(term)]
    if differing:
        term = differing[0]
        raise Untrusted(
            f"consent {consent_id}: the API says {term} is {_shown(served.get(term))}, but the"
            f" Grant its resident signed says {_shown(signed.get(term))}"
            + (f" (also {', '.join(differing[1:])} differ)" if differing[1:] else "")
        )
    accepted = {signed["resident"]} | {checksum_address(s) for s in signers}
    if signer not in accepted:
        raise Untrusted(f"consent {consent_id}'s Grant was signed by {signer}, not its resident")
    if resident is not None and signed["resident"] != checksum_address(resident):
        raise Untrusted(f"consent {consent_id} is {signed['resident']}'s, not yours ({resident})")


def _items(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = message.get("items")
    if not isinstance(items, list):
        raise Untrusted("the served GrantBundle has no items")
    return items


def _bundle_item_grant(message: Mapping[str, Any], item: Mapping[str, Any]) -> dict[str, Any]:
    """A bundle item's terms in a ``Grant``'s members (a bundle names no request)."""
    return {
        **dict(item),
        "resident": message.get("resident"),
        "validFrom": message.get("validFrom"),
        "requestId": "0x" + "00" * 32,
    }


def _served_terms(consent: Mapping[str, Any]) -> dict[str, Any]:
    try:
        request = consent.get("request_id")
        return {
            "resident": checksum_address(consent["resident"]),
            "department": checksum_address(consent["department"]),
            "fields": sorted(label_to_bytes32(f) for f in consent["fields"]),
            "purpose": label_to_bytes32(consent["purpose"]),
            "valid_from": int(consent["valid_from"]),
            "valid_until": int(consent["valid_until"]),
            "max_uses": int(consent["max_uses"]),
            "request_id": from_hex(request, length=32) if request else ZERO32,
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise Untrusted(f"the API's consent cannot be read: {exc}") from exc


def _signed_terms(message: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return {
            "resident": checksum_address(message["resident"]),
            "department": checksum_address(message["department"]),
            "fields": sorted(from_hex(f, length=32) for f in message["fields"]),
            "purpose": from_hex(message["purpose"], length=32),
            "valid_from": int(message["validFrom"]),
            "valid_until": int(message["validUntil"]),
            "max_uses": int(message["maxUses"]),
            "request_id": from_hex(message["requestId"], length=32),
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise Untrusted(f"the served Grant cannot be read: {exc}") from exc


def _shown(value: Any) -> str:
    from ledger.vocabulary import bytes32_label

    if isinstance(value, bytes) and len(value) == 32:
        return bytes32_label(value)
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return str(value)


def short_hex(value: bytes) -> str:
    text = to_hex(value)
    return text if len(text) <= 22 else f"{text[:12]}…{text[-8:]}"

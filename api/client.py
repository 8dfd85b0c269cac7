"""A wallet's client of the HTTP API: sign in, sign intents, call every endpoint.

:class:`ConsentApi` speaks DESIGN's "HTTP API" over httpx. It signs in on first need
(``POST /auth/challenge`` → EIP-191 ``personal_sign`` → ``POST /auth/token``) and again
when the token runs out or the server answers 401; it caches ``GET /eip712`` and
``GET /schema``; :meth:`ConsentApi.sign` fills ``nonce`` and ``deadline`` and signs with
the identity for the intent's own domain. Each endpoint has one method returning the
parsed JSON; the wallet-level helpers (:meth:`~ConsentApi.upload_record`,
:meth:`~ConsentApi.restore_record`, :meth:`~ConsentApi.grant`,
:meth:`~ConsentApi.revoke`, :meth:`~ConsentApi.query`) do the cryptography of
:mod:`wallets` around them, so plaintext and field keys never leave the process.

Errors::

    ClientError                 anything this module raises on purpose
    ├── ApiProblem              the API answered non-2xx (RFC 9457 problem document)
    ├── ApiUnreachable          no answer at all (connection refused, timeout)
    ├── ClientRefusal           the client will not do it (unknown department or field,
    │                           no identity to sign with, the server's EIP-712 types
    │                           differ from this wallet's)
    └── RotationFailed          revoked on chain, but the key rotation after it failed

Errors of :mod:`wallets` (``InvalidRecord``, ``InvalidIntent``, ...) pass through.

Trust: the department checks attestations against the *chain's* record of them and
its trust list and, when it can, the record root against the *chain's* commitment, never
against what the API says. :class:`ChainView` reads all three through any web3
provider; :meth:`ConsentApi.query` takes its ``is_trusted`` and
``attestation_recorded_at`` (or ``None``: attestations are then reported "unverified").

Nor does a wallet take the server's word for what it encrypts for or reads back
(:mod:`wallets.trust`, with the anchors pinned in ``pins``): it wraps keys only for a
department key the pinned admin signed (or that the chain holds, with ``chain``), opens
its record only when the envelopes hash to the root of its own signed ``CommitRecord``,
and reads a consent's terms only as its resident's ``Grant`` signs them
(:meth:`~ConsentApi.checked_consent`); it signs only for the pinned chain and contracts.
Every signed write's answer carries the relayer's acceptance (:mod:`wallets.acceptance`),
checked against the intent sent and kept through ``keep_acceptance``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ledger.intents import DOMAIN_NAME, DOMAIN_VERSION, INTENTS, eip712_types, name_to_bytes32
from ledger.vocabulary import did_you_mean, match
from wallets.acceptance import Acceptance, InvalidAcceptance, verify_acceptance
from wallets.attestation import IsTrusted, RecordedAt, attest, commitment, pick_attestation
from wallets.encoding import checksum_address, from_hex, to_hex
from wallets.errors import InvalidAttestation, WalletError
from wallets.field_cipher import FieldValue
from wallets.grants import open_granted_fields, wrap_keys_for_department
from wallets.identity import Identity
from wallets.record import RecordVersion, record_root, restore
from wallets.rotation import ActiveConsent, rotate_after_revocation
from wallets.signing import intent_digest, message_to_json
from wallets.trust import (
    Pins,
    Untrusted,
    check_consent,
    check_department_key,
    check_record,
    short_hex,
)

DEFAULT_API = "http://127.0.0.1:8000"
#: How long a signed intent stays valid (DESIGN: deadline; chain time).
DEADLINE_SECONDS = 600
#: Sign in again this many seconds before the token would expire.
TOKEN_MARGIN = 30
DAY = 86_400
ZERO32 = b"\0" * 32

#: Paths anyone may read: no sign-in for these.
PUBLIC_PATHS = frozenset(
    {"/health", "/eip712", "/schema", "/departments", "/auth/challenge", "/auth/token"}
)
#: Consent states in which a department can still read (and so needs re-wrapped keys).
LIVE_STATES = frozenset({"active", "not_yet_valid"})

RecordRoot = Callable[[str], tuple[int, bytes]]
#: Told what the wallet pinned on first use, or a receipt that did not verify.
Notice = Callable[[str], None]
#: Keeps the relayer's acceptance of an intent (its type, the acceptance).
KeepAcceptance = Callable[[str, Acceptance], None]


# ---------------------------------------------------------------------------- errors


class ClientError(Exception):
    """Root of every error this module raises."""


class ApiProblem(ClientError):
    """A non-2xx answer, carrying its problem document (RFC 9457).

    ``reason`` is set for a refused access (``expired``, ``revoked``, ...) together with
    the denial's ``receipt``; ``error`` and ``arguments`` for a contract's refusal.
    """

    def __init__(self, status: int, document: Mapping[str, Any]) -> None:
        self.status = status
        self.document: dict[str, Any] = dict(document)
        self.type: str = str(document.get("type") or "about:blank")
        self.title: str = str(document.get("title") or f"HTTP {status}")
        self.detail: str | None = _opt_str(document.get("detail"))
        self.reason: str | None = _opt_str(document.get("reason"))
        self.error: str | None = _opt_str(document.get("error"))
        self.arguments: Any = document.get("arguments")
        receipt = document.get("receipt")
        #: Names for a sentence about it (:mod:`api.messages`), filled by whoever has
        #: them: the directory's department names, values the caller knows.
        self.departments: dict[str, str] | None = None
        self.context: dict[str, Any] = {}
        self.receipt: dict[str, Any] | None = None
        if isinstance(receipt, Mapping):
            self.receipt = dict(receipt)
        super().__init__(self.summary())

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiProblem:
        """Parse a problem document; a body that is not one still gives a readable problem."""
        document: dict[str, Any] = {}
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        if isinstance(parsed, Mapping):
            document = dict(parsed)
            if "detail" not in document and "error" in document and "title" not in document:
                document["detail"] = str(document["error"])  # e.g. {"error": "..."}
        else:
            text = response.text.strip()
            document = {
                "title": response.reason_phrase or f"HTTP {response.status_code}",
                "detail": text[:300] if text else None,
            }
        document.setdefault("status", response.status_code)
        return cls(response.status_code, document)

    def summary(self) -> str:
        """One line: status, title, what, and why (reason or contract error)."""
        parts = [f"{self.status} {self.title}"]
        if self.detail and self.detail != self.title:
            parts.append(self.detail)
        if self.reason:
            parts.append(f"reason: {self.reason}")
        if self.error and (not self.detail or self.error not in self.detail):
            parts.append(f"contract error: {self.error}")
        return ": ".join(parts[:2]) + "".join(f" ({p})" for p in parts[2:])


class ApiUnreachable(ClientError):
    """The API did not answer (connection refused, DNS, timeout)."""


class ClientRefusal(ClientError):
    """The client will not send this (unknown name, missing identity, type mismatch)."""


class RotationFailed(ClientError):
    """The revocation took effect on chain, but the key rotation after it did not finish;
    ``revoked`` is the revocation's answer, ``__cause__`` what went wrong."""

    def __init__(self, consent_id: int, revoked: Mapping[str, Any], cause: Exception) -> None:
        self.consent_id = consent_id
        self.revoked = dict(revoked)
        super().__init__(
            f"consent {consent_id} is revoked, but rotating the exposed keys failed: {cause}"
            " (once fixed, rotate with `consent record rotate --field …`)"
        )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def id_commitment(id_number: str, salt: bytes) -> bytes:
    """The salted ID commitment a registrar enrols: the attestation commitment of the
    ``id_number`` field (``keccak256(abi.encode(bytes32 "id_number", string, bytes32 salt))``).
    Use a salt of its own, not the record's, so it matches no attestation."""
    return commitment(name_to_bytes32("id_number"), id_number, salt)


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class FieldAnswer:
    """One field a department received and opened.

    ``attestation`` is ``"verified"`` (one of the field's attestations holds: signature,
    commitment to this value, window, the chain's record of it and its trust list),
    ``"unverified"`` (all but the chain hold; the chain was not or could not be read),
    ``"invalid"`` (none holds; ``problem`` says why for the closest) or ``"absent"``.
    """

    name: str
    value: FieldValue
    version: int
    attestation: str
    issuer: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class QueryResult:
    consent_id: int
    receipt: dict[str, Any]
    version: int
    root: str
    #: Whether every field was checked against the root committed on chain (else the
    #: root the API reported).
    root_on_chain: bool
    fields: dict[str, FieldAnswer]

    @property
    def values(self) -> dict[str, str]:
        return {name: answer.value.value for name, answer in self.fields.items()}


@dataclass(frozen=True)
class RevokeResult:
    """A revocation and, with ``rotate=True``, the new record version and re-wrapped grants."""

    revoked: dict[str, Any]
    rotated_version: int | None = None
    fresh_salt_fields: frozenset[str] = frozenset()
    rewrapped: dict[int, dict[str, Any]] = field(default_factory=dict)


# ---------------------------------------------------------------------------- chain


class ChainView:
    """Reads the contracts directly: the issuer trust list and record commitments.

    ``w3`` is any ``web3.Web3`` (an HTTP provider for an external node, or the embedded
    chain's own); ``contracts`` maps ``ConsentDirectory``/``ConsentLedger`` to addresses;
    ``caller`` is a funded address to call from (eth-tester needs one, nodes do not).
    """

    def __init__(self, w3: Any, contracts: Mapping[str, str], *, caller: str | None = None) -> None:
        from ledger.artifacts import load_artifact

        self._directory = w3.eth.contract(
            address=checksum_address(contracts["ConsentDirectory"]),
            abi=load_artifact("ConsentDirectory").abi,
        )
        self._ledger = w3.eth.contract(
            address=checksum_address(contracts["ConsentLedger"]),
            abi=load_artifact("ConsentLedger").abi,
        )
        # eth-tester wants a funded sender even for views (``caller``); nodes need none.
        self._call: dict[str, Any] = {} if caller is None else {"from": checksum_address(caller)}

    @classmethod
    def connect(cls, url: str, contracts: Mapping[str, str], *, timeout: float = 30) -> ChainView:
        from web3 import Web3

        return cls(Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout})), contracts)

    def is_trusted(self, issuer: str, field_id: bytes, at: int) -> bool:
        """``ConsentDirectory.isTrustedIssuer(issuer, field, at)``."""
        fn = self._directory.functions.isTrustedIssuer(checksum_address(issuer), field_id, at)
        return bool(fn.call(self._call))

    def attestation_recorded_at(self, digest: bytes) -> int:
        """``ConsentDirectory.attestationRecordedAt(digest)``: when the chain recorded the
        attestation (and judged its issuer's trust); 0 if it never did."""
        return int(self._directory.functions.attestationRecordedAt(digest).call(self._call))

    def record(self, resident: str) -> tuple[int, bytes]:
        """``(version, root)`` of the resident's latest commitment on chain."""
        _commitment, root, version = self._ledger.functions.resident(
            checksum_address(resident)
        ).call(self._call)
        return int(version), bytes(root)

    def department_key(self, department: str) -> bytes:
        """The encryption key ``ConsentDirectory.department(department)`` publishes."""
        entry = self._directory.functions.department(checksum_address(department)).call(self._call)
        return bytes(entry[2])


# ---------------------------------------------------------------------------- client


class ConsentApi:
    """The HTTP API as a wallet sees it. Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        base_url: str,
        identity: Identity | None = None,
        *,
        timeout: float = 60,
        transport: httpx.BaseTransport | None = None,
        pins: Pins | None = None,
        chain: ChainView | None = None,
        notice: Notice | None = None,
        keep_acceptance: KeepAcceptance | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.identity = identity
        #: The anchors trusted instead of the server (in memory only unless loaded from
        #: a wallet: then trust-on-first-use lasts for this session alone).
        self.pins = pins if pins is not None else Pins()
        #: A node of the caller's choosing: keys and roots are then read from it.
        self.chain = chain
        self.notice: Notice = notice or (lambda _text: None)
        self.keep_acceptance = keep_acceptance
        #: The relayer's acceptances of this client's intents, verified, in order.
        self.acceptances: list[Acceptance] = []
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json, application/problem+json"},
        )
        self._token: str | None = None
        self._token_expires = 0.0
        self._roles: list[str] = []
        self._eip712: dict[str, Any] | None = None
        self._schema: dict[str, Any] | None = None
        self._nonce_floor: dict[str, int] = {}

    # -- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ConsentApi:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        who = self.identity.address if self.identity else "anonymous"
        return f"ConsentApi({self.base_url!r}, {who})"

    @property
    def address(self) -> str:
        return self._require_identity().address

    def _require_identity(self) -> Identity:
        if self.identity is None:
            raise ClientRefusal("this needs a wallet (an identity to sign with)")
        return self.identity

    # -- transport ------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        auth: bool | None = None,
    ) -> Any:
        """One call; parsed JSON (``None`` for an empty body); :class:`ApiProblem` if non-2xx.

        ``auth`` defaults to "yes unless the path is public"; a 401 on an authenticated
        call signs in again once and retries.
        """
        if auth is None:
            auth = path not in PUBLIC_PATHS and self.identity is not None
        response = self._send(method, path, json=json, params=params, auth=auth)
        if response.status_code == 401 and auth:
            self._token = None
            response = self._send(method, path, json=json, params=params, auth=auth)
        if not response.is_success:
            raise ApiProblem.from_response(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ApiProblem(
                response.status_code,
                {"title": "Not JSON", "detail": f"{method} {path} answered non-JSON: {exc}"},
            ) from exc

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        params: Mapping[str, Any] | None,
        auth: bool,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token()}"} if auth else {}
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            return self._http.request(method, path, json=json, params=clean, headers=headers)
        except httpx.TimeoutException as exc:
            raise ApiUnreachable(f"{method} {self.base_url}{path}: timed out") from exc
        except httpx.TransportError as exc:
            raise ApiUnreachable(f"cannot reach the API at {self.base_url}: {exc}") from exc

    def _get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def _stream(self, path: str, params: Mapping[str, Any]) -> Iterator[bytes]:
        clean = {k: v for k, v in params.items() if v is not None}
        try:
            for attempt in (1, 2):
                headers = {"Authorization": f"Bearer {self.token()}"}
                with self._http.stream("GET", path, params=clean, headers=headers) as response:
                    if response.status_code == 401 and attempt == 1:
                        self._token = None
                        continue
                    if not response.is_success:
                        response.read()
                        raise ApiProblem.from_response(response)
                    yield from response.iter_bytes()
                    return
        except httpx.TimeoutException as exc:
            raise ApiUnreachable(f"GET {self.base_url}{path}: timed out") from exc
        except httpx.TransportError as exc:
            raise ApiUnreachable(f"cannot reach the API at {self.base_url}: {exc}") from exc

    # -- sign-in --------------------------------------------------------------------

    def token(self) -> str:
        """A valid bearer token, signing in if there is none or it is about to expire."""
        if self._token is None or time.monotonic() >= self._token_expires:
            self.sign_in()
        assert self._token is not None
        return self._token

    def sign_in(self) -> dict[str, Any]:
        """Challenge, ``personal_sign``, token. Returns the token answer (with ``roles``)."""
        identity = self._require_identity()
        challenge = self.request(
            "POST", "/auth/challenge", json={"address": identity.address}, auth=False
        )
        message = str(challenge["message"])
        signature = identity.sign_text(message)  # in the agent, if the key is there
        answer: dict[str, Any] = self.request(
            "POST",
            "/auth/token",
            json={
                "address": identity.address,
                "message": message,
                "signature": to_hex(signature),
            },
            auth=False,
        )
        self._token = str(answer["access_token"])
        lifetime = float(answer.get("expires_in") or 0)
        self._token_expires = time.monotonic() + max(lifetime - TOKEN_MARGIN, lifetime / 2)
        self._roles = [str(r) for r in answer.get("roles") or []]
        return answer

    @property
    def roles(self) -> list[str]:
        """The roles the last sign-in reported (signs in if needed)."""
        self.token()
        return list(self._roles)

    # -- public reads ---------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.request("GET", "/health")
        return answer

    def now(self) -> int:
        """Chain time now: the time the next block will carry, which ``GET /health``
        reports as ``next_block_timestamp``.

        Not the head's timestamp: a chain mines only when something is sent, so after an
        idle spell the head is old and a window measured from it is short by the idle
        time (or already over). A server without the field: ``max(wall clock, head + 1)``,
        the rule a node stamps blocks by."""
        health = self.health()
        ahead = health.get("next_block_timestamp")
        if ahead is not None:
            return int(ahead)
        return max(int(time.time()), int(health["block_timestamp"]) + 1)

    def eip712(self, *, refresh: bool = False) -> dict[str, Any]:
        if self._eip712 is None or refresh:
            self._eip712 = self.request("GET", "/eip712")
        return self._eip712

    def schema(self, *, refresh: bool = False) -> dict[str, Any]:
        if self._schema is None or refresh:
            self._schema = self.request("GET", "/schema")
        return self._schema

    def departments(self) -> list[dict[str, Any]]:
        """The directory (every page)."""
        return list(self.pages("/departments"))

    def department(self, who: str) -> dict[str, Any]:
        """A department by address, code or name (case-insensitive for code and name)."""
        wanted = who.strip()
        for entry in self.departments():
            if wanted.lower() in (
                str(entry["address"]).lower(),
                str(entry.get("code", "")).lower(),
                str(entry.get("name", "")).lower(),
            ):
                return entry
        names = [str(e.get(k, "")) for e in self.departments() for k in ("code", "name")]
        guess = did_you_mean(wanted, [n for n in names if n])
        hint = f": did you mean `{guess}`?" if guess else " (`consent departments` lists them)"
        raise ClientRefusal(f"no department {who!r} in the directory{hint}")

    def nonces(self, address: str | None = None) -> dict[str, int]:
        """The lowest unused nonce per contract (``GET /nonces/{address}``)."""
        answer = self.request("GET", f"/nonces/{address or self.address}")
        return {str(k): int(v) for k, v in answer.items()}

    # -- schema names ---------------------------------------------------------------

    def field_id(self, name: str) -> bytes:
        return self._schema_id("fields", name)

    def purpose_id(self, name: str) -> bytes:
        return self._schema_id("purposes", name)

    def role_id(self, name: str) -> bytes:
        return self._schema_id("roles", name)

    def schema_name(self, kind: str, name: str) -> str:
        """``name`` as the chain spells it (``income``, ``HOUSING``), whatever its case;
        a near miss is refused with the closest name ("did you mean `income`?")."""
        table = self.schema()[kind]
        found = match(name, table)
        if found is None:
            table = self.schema(refresh=True)[kind]
            found = match(name, table)
        if found is None:
            singular = kind.removesuffix("s")
            guess = did_you_mean(name, table)
            hint = f"did you mean `{guess}`?" if guess else f"known: {', '.join(sorted(table))}"
            raise ClientRefusal(f"{name!r} is not a {singular} on chain: {hint}")
        return found

    def _schema_id(self, kind: str, name: str) -> bytes:
        table = self.schema()[kind]
        return from_hex(table[self.schema_name(kind, name)], length=32, what=f"{kind} id")

    def field_names(self, names: Iterable[str]) -> list[str]:
        """Field names as the chain spells them, de-duplicated and sorted."""
        return sorted({self.schema_name("fields", n) for n in names})

    def field_ids(self, names: Iterable[str]) -> list[bytes]:
        """Field ids, de-duplicated and strictly ascending (as the contracts require)."""
        return sorted({self.field_id(n) for n in names})

    # -- signing --------------------------------------------------------------------

    def intent_domain(self, name: str) -> tuple[int, str]:
        """``(chain_id, verifying_contract)`` of an intent, after checking the server's
        published types are this wallet's (otherwise the signature would be for a
        different message than the contract checks)."""
        spec = self.eip712()["intents"].get(name)
        if spec is None:
            raise ClientRefusal(f"the API publishes no EIP-712 type {name!r}")
        ours = eip712_types(name)
        theirs = spec.get("types", {})
        if theirs.get(name) != ours[name] or spec.get("primaryType", name) != name:
            raise ClientRefusal(f"the API's EIP-712 type {name} differs from this wallet's")
        domain = spec["domain"]
        if domain.get("name") != DOMAIN_NAME or str(domain.get("version")) != DOMAIN_VERSION:
            raise ClientRefusal(f"the API's EIP-712 domain for {name} is not {DOMAIN_NAME} v1")
        chain_id, contract = int(domain["chainId"]), checksum_address(domain["verifyingContract"])
        self.check_domain()
        if self.pins.contracts.get(INTENTS[name].contract) != contract:
            raise Untrusted(
                f"the API's {name} is signed for {contract}, not the pinned"
                f" {INTENTS[name].contract} {self.pins.contracts.get(INTENTS[name].contract)}"
            )
        return chain_id, contract

    def check_domain(self) -> None:
        """The API's chain and both contracts must be the pinned ones (pinned now if not
        yet): before any signature is checked against them or made for them."""
        intents = self.eip712()["intents"]
        served: dict[str, str] = {}
        chain_ids = set()
        for spec in intents.values():
            domain = spec.get("domain", {})
            contract = INTENTS.get(str(spec.get("primaryType")))
            if contract is not None and "verifyingContract" in domain:
                served.setdefault(contract.contract, checksum_address(domain["verifyingContract"]))
                chain_ids.add(int(domain["chainId"]))
        if len(chain_ids) != 1:
            raise Untrusted(f"the API's EIP-712 domains name chains {sorted(chain_ids)}, not one")
        self.pins.check_domain(chain_ids.pop(), served, self.notice)

    def connect_chain(self, url: str) -> ChainView:
        """A :class:`ChainView` of the node at ``url`` on the pinned contracts (the API's,
        pinned on first use), used from now on for keys and record roots."""
        self.check_domain()
        self.chain = ChainView.connect(url, self.pins.contracts)
        return self.chain

    def next_nonce(self, name: str) -> int:
        """The next unused nonce for this intent's contract: the server's lowest unused one,
        never below what this client already used (intents may still be in flight)."""
        contract = INTENTS[name].contract
        server = self.nonces().get(contract, 0)
        nonce = max(server, self._nonce_floor.get(contract, 0))
        self._nonce_floor[contract] = nonce + 1
        return nonce

    def sign(self, name: str, message: Mapping[str, Any]) -> dict[str, Any]:
        """``{"message", "signature"}`` for ``name``, with ``nonce`` and ``deadline`` filled
        in when the intent has them and ``message`` does not (deadline: chain time + 10 min).
        """
        identity = self._require_identity()
        if name not in INTENTS:
            raise ClientRefusal(f"unknown intent {name!r}")
        full = dict(message)
        names = INTENTS[name].field_names
        if "deadline" in names and "deadline" not in full:
            full["deadline"] = self.now() + DEADLINE_SECONDS
        if "nonce" in names and "nonce" not in full:
            full["nonce"] = self.next_nonce(name)
        chain_id, contract = self.intent_domain(name)
        signature = identity.sign_intent(name, full, chain_id=chain_id, verifying_contract=contract)
        return {"message": message_to_json(name, full), "signature": to_hex(signature)}

    def _post_signed(
        self, method: str, path: str, name: str, message: Mapping[str, Any], **extra: Any
    ) -> Any:
        body = self.sign(name, message)
        body.update(extra)
        chain_id, contract = self.intent_domain(name)
        digest = intent_digest(
            name, body["message"], chain_id=chain_id, verifying_contract=contract
        )
        try:
            answer = self.request(method, path, json=body)
        except ApiProblem as problem:
            self._accepted(name, digest, chain_id, problem.document.get("acceptance"))
            raise
        if isinstance(answer, Mapping):
            self._accepted(name, digest, chain_id, answer.get("acceptance"))
        return answer

    def _accepted(self, name: str, digest: bytes, chain_id: int, document: Any) -> None:
        """Check the relayer's acceptance of the intent just sent; keep it if it holds."""
        if not isinstance(document, Mapping):
            return
        try:
            acceptance = verify_acceptance(document, intent=digest, chain_id=chain_id)
        except InvalidAcceptance as exc:
            self.notice(f"the relayer's acceptance of this {name} does not hold: {exc}")
            return
        self.acceptances.append(acceptance)
        if self.keep_acceptance is not None:
            self.keep_acceptance(name, acceptance)

    # -- pagination -----------------------------------------------------------------

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a ``{"data", "next_cursor"}`` list, following the cursor (a
        bare JSON list, from a server without pagination there, is one whole page)."""
        cursor = params.pop("cursor", None)
        while True:
            page = self._get(path, cursor=cursor, **params)
            if isinstance(page, list):
                yield from page
                return
            yield from page.get("data", [])
            cursor = page.get("next_cursor")
            if not cursor:
                return

    # -- admin ----------------------------------------------------------------------

    def register_department(
        self, department: str, name: str, code: str, encryption_key: bytes | str
    ) -> dict[str, Any]:
        """``POST /admin/departments`` (admin) → ``{"department", "receipt"}``."""
        message = {
            "department": checksum_address(department),
            "name": name,
            "code": code,
            "encryptionKey": from_hex(encryption_key, what="encryption key"),
        }
        answer: dict[str, Any] = self._post_signed(
            "POST", "/admin/departments", "RegisterDepartment", message
        )
        return answer

    def grant_role(self, role: str, account: str, fields: Iterable[str] = ()) -> dict[str, Any]:
        """``POST /admin/roles`` (admin): registrar, issuer (with ``fields``) or auditor."""
        message = {
            "role": self.role_id(role),
            "account": checksum_address(account),
            "fields": self.field_ids(fields),
        }
        answer: dict[str, Any] = self._post_signed("POST", "/admin/roles", "GrantRole", message)
        return answer

    def set_department_active(self, department: str, active: bool) -> dict[str, Any]:
        """``POST /admin/departments/{a}/active`` (admin): suspend or reinstate."""
        address = checksum_address(department)
        message = {"department": address, "active": bool(active)}
        answer: dict[str, Any] = self._post_signed(
            "POST", f"/admin/departments/{address}/active", "SetDepartmentActive", message
        )
        return answer

    def rotate_department_key(self, department: str, encryption_key: bytes | str) -> dict[str, Any]:
        """``PUT /admin/departments/{a}/encryption-key`` (admin): publish a new key."""
        address = checksum_address(department)
        message = {
            "department": address,
            "encryptionKey": from_hex(encryption_key, what="encryption key"),
        }
        answer: dict[str, Any] = self._post_signed(
            "PUT", f"/admin/departments/{address}/encryption-key", "RotateDepartmentKey", message
        )
        return answer

    def revoke_role(self, role: str, account: str) -> dict[str, Any]:
        """``POST /admin/roles/revoke`` (admin): registrar, issuer, auditor or department."""
        message = {"role": self.role_id(role), "account": checksum_address(account)}
        answer: dict[str, Any] = self._post_signed(
            "POST", "/admin/roles/revoke", "RevokeRole", message
        )
        return answer

    def distrust_issuer(self, issuer: str, fields: Iterable[str]) -> dict[str, Any]:
        """``POST /admin/issuers/{a}/distrust`` (admin): end its trust for ``fields``."""
        address = checksum_address(issuer)
        message = {"issuer": address, "fields": self.field_ids(fields)}
        answer: dict[str, Any] = self._post_signed(
            "POST", f"/admin/issuers/{address}/distrust", "DistrustIssuer", message
        )
        return answer

    # -- registrar ------------------------------------------------------------------

    def enroll_resident(
        self, resident: str, id_commitment: bytes | str, encryption_key: bytes | str
    ) -> dict[str, Any]:
        """``POST /residents`` (registrar) → ``{"resident", "receipt"}``."""
        message = {
            "resident": checksum_address(resident),
            "idCommitment": from_hex(id_commitment, length=32, what="id commitment"),
            "encryptionKey": from_hex(encryption_key, what="encryption key"),
        }
        answer: dict[str, Any] = self._post_signed("POST", "/residents", "EnrollResident", message)
        return answer

    # -- resident: record -----------------------------------------------------------

    def commit_record(self, record: RecordVersion) -> dict[str, Any]:
        """``PUT /residents/{a}/record``: the envelopes and the signed ``CommitRecord``."""
        message = {"resident": record.resident, "version": record.version, "root": record.root}
        answer: dict[str, Any] = self._post_signed(
            "PUT",
            f"/residents/{record.resident}/record",
            "CommitRecord",
            message,
            fields=record.envelopes(),
        )
        if self.identity is not None and record.resident == self.identity.address:
            self.pins.committed(record.version)
        return answer

    def record(self, resident: str | None = None, version: int | None = None) -> dict[str, Any]:
        """``GET /residents/{a}/record[?version=n]`` → envelopes, version, root."""
        answer: dict[str, Any] = self._get(
            f"/residents/{resident or self.address}/record", version=version
        )
        return answer

    def latest_version(self) -> int:
        """The resident's latest record version on the API (0: none yet)."""
        try:
            return int(self.record()["version"])
        except ApiProblem as problem:
            if problem.status == 404:
                return 0
            raise

    def upload_record(
        self,
        values: Mapping[str, str],
        version: int | None = None,
        *,
        salts: Mapping[str, bytes] | None = None,
    ) -> dict[str, Any]:
        """Encrypt ``{field: value}`` for the resident's own key, commit and upload.

        ``version`` defaults to one above the latest; ``salts`` carries salts over (an
        issuer's, so its attestation matches). Returns ``{"version", "root", "receipt"}``.
        """
        identity = self._require_identity()
        values = {self.schema_name("fields", name): value for name, value in values.items()}
        if salts:
            salts = {self.schema_name("fields", name): salt for name, salt in salts.items()}
        record = RecordVersion.build(
            values,
            resident=identity.address,
            version=self.latest_version() + 1 if version is None else version,
            owner_public_key=identity.encryption_public_key,
            salts=salts,
        )
        return self.commit_record(record)

    def open_record(self, version: int | None = None) -> RecordVersion:
        """The resident's record with its field keys, opened from the API's envelopes
        once they are the ones the resident committed (:meth:`check_record`)."""
        identity = self._require_identity()
        stored = self.record(version=version)
        self.check_record(stored, latest=version is None)
        return RecordVersion.open(
            stored["fields"],
            identity,
            resident=identity.address,
            version=int(stored["version"]),
            root=stored["root"],
        )

    def restore_record(self, version: int | None = None) -> dict[str, FieldValue]:
        """Values and salts from the stored envelopes and this wallet's keys alone, once
        the envelopes are the ones the resident committed (:meth:`check_record`)."""
        identity = self._require_identity()
        stored = self.record(version=version)
        self.check_record(stored, latest=version is None)
        return restore(
            stored["fields"],
            identity,
            identity.address,
            int(stored["version"]),
            root=stored["root"],
        )

    def check_record(self, stored: Mapping[str, Any], *, latest: bool = False) -> None:
        """The served record's envelopes must hash to the root of the resident's own
        signed ``CommitRecord`` of that version; with :attr:`chain`, to the root the
        chain holds (and, for ``latest``, be the chain's latest version).
        :class:`~wallets.trust.Untrusted` otherwise."""
        identity = self._require_identity()
        self.check_domain()
        if self.chain is None:
            check_record(stored, resident=identity.address, pins=self.pins, latest=latest)
            return
        version = int(stored["version"])
        chain_version, chain_root = self.chain.record(identity.address)
        if version != chain_version:
            if latest:
                raise Untrusted(
                    f"the API serves version {version} as your latest record, but the chain's"
                    f" latest is {chain_version}"
                )
            check_record(stored, resident=identity.address, pins=self.pins)
            return
        root = record_root(stored["fields"])
        if root != chain_root:
            raise Untrusted(
                f"the API's envelopes of version {version} hash to {short_hex(root)}, but the"
                f" chain holds root {short_hex(chain_root)}: the record was altered"
            )

    def department_key(self, entry: Mapping[str, Any]) -> bytes:
        """A directory entry's encryption key, once it is the department's: on
        :attr:`chain` when given, else by the pinned admin's signed registration or
        rotation (:func:`wallets.trust.check_department_key`)."""
        self.check_domain()
        if self.chain is None:
            return check_department_key(entry, pins=self.pins, notice=self.notice)
        served = from_hex(entry["encryption_key"], what="encryption key")
        on_chain = self.chain.department_key(entry["address"])
        if on_chain != served:
            raise Untrusted(
                f"the API serves {entry.get('name')}'s key as {short_hex(served)}, but the"
                f" chain's directory holds {short_hex(on_chain)}: not wrapping keys for it"
            )
        return on_chain

    # -- issuer ---------------------------------------------------------------------

    def attest(
        self,
        resident: str,
        field_name: str,
        value: str,
        salt: bytes | str,
        version: int,
        *,
        valid_for: int = 365 * DAY,
        issued_at: int | None = None,
    ) -> dict[str, Any]:
        """Sign an ``Attest`` over the salted commitment and ``POST /attestations``."""
        identity = self._require_identity()
        chain_id, directory = self.intent_domain("Attest")
        start = self.now() if issued_at is None else issued_at
        attestation = attest(
            identity,
            resident=checksum_address(resident),
            field=self.field_id(field_name),
            value=value,
            salt=from_hex(salt, length=32, what="salt"),
            issued_at=start,
            expires_at=start + valid_for,
            chain_id=chain_id,
            directory=directory,
        )
        body = attestation.to_json()
        body["version"] = version
        answer: dict[str, Any] = self.request("POST", "/attestations", json=body)
        return answer

    # -- department: requests and queries --------------------------------------------

    def request_access(
        self, resident: str, fields: Iterable[str], purpose: str, duration: int
    ) -> dict[str, Any]:
        """``POST /access-requests`` → ``{"request_id", "receipt"}``."""
        message = {
            "department": self.address,
            "resident": checksum_address(resident),
            "fields": self.field_ids(fields),
            "purpose": self.purpose_id(purpose),
            "duration": duration,
        }
        answer: dict[str, Any] = self._post_signed(
            "POST", "/access-requests", "AccessRequest", message
        )
        return answer

    def access_requests(self, resident: str | None = None) -> list[dict[str, Any]]:
        """``GET /residents/{a}/access-requests`` (every page)."""
        return list(self.pages(f"/residents/{resident or self.address}/access-requests"))

    def department_requests(self) -> list[dict[str, Any]]:
        """``GET /access-requests``: the signed-in department's own requests (every page)."""
        return list(self.pages("/access-requests"))

    def access(self, consent_id: int, resident: str, fields: Iterable[str]) -> dict[str, Any]:
        """``POST /queries`` (signed ``Access``): the raw answer; refusal is an ApiProblem
        with ``reason`` and ``receipt``."""
        message = {
            "department": self.address,
            "resident": checksum_address(resident),
            "consentId": int(consent_id),
            "fields": self.field_ids(fields),
        }
        answer: dict[str, Any] = self._post_signed("POST", "/queries", "Access", message)
        return answer

    def query(
        self,
        consent_id: int,
        resident: str,
        fields: Iterable[str],
        *,
        is_trusted: IsTrusted | None,
        recorded_at: RecordedAt | None = None,
        record_root: RecordRoot | None = None,
    ) -> QueryResult:
        """Query, open each field against the committed root, check its attestations.

        ``is_trusted(issuer, field_id, at)`` reads the chain's trust list and
        ``recorded_at(digest)`` when the chain recorded an attestation (both from a node
        the caller chooses, e.g. :class:`ChainView`; without both, attestations that
        otherwise hold are "unverified"). Of a field's attestations the one its value and
        salt open is kept. ``record_root`` (``resident → (version, root)`` from the chain)
        replaces the root the API reports for that version. Raises :class:`ApiProblem`
        if the chain refused the access and :class:`~wallets.errors.InvalidRecord` if a
        field does not open or verify.
        """
        identity = self._require_identity()
        resident = checksum_address(resident)
        answer = self.access(consent_id, resident, fields)
        entries: dict[str, dict[str, Any]] = answer["fields"]
        api_version = int(answer["record"]["version"])
        roots: dict[int, bytes | str] = {api_version: answer["record"]["root"]}
        on_chain = False
        if record_root is not None:
            chain_version, chain_root = record_root(resident)
            roots[chain_version] = chain_root
            on_chain = all(int(e["version"]) == chain_version for e in entries.values())
        values = open_granted_fields(entries, resident=resident, identity=identity, root=roots)
        chain_id, directory = self.intent_domain("Attest")
        checked = is_trusted is not None and recorded_at is not None
        check = {
            "resident": resident,
            "chain_id": chain_id,
            "directory": directory,
            # Without the chain, everything but the chain is checked: "unverified" at best.
            "is_trusted": is_trusted if checked else (lambda *_: True),
            "recorded_at": recorded_at if checked else (lambda _digest: 1),
            "now": int(answer["receipt"]["block_timestamp"]),
        }
        opened = {
            name: self._check_attestations(name, entries[name], value, checked, check)
            for name, value in values.items()
        }
        return QueryResult(
            consent_id=int(answer["consent_id"]),
            receipt=dict(answer["receipt"]),
            version=api_version,
            root=str(answer["record"]["root"]),
            root_on_chain=on_chain,
            fields=opened,
        )

    def _check_attestations(
        self,
        name: str,
        entry: Mapping[str, Any],
        value: FieldValue,
        checked: bool,
        check: Mapping[str, Any],
    ) -> FieldAnswer:
        version = int(entry["version"])
        candidates = entry.get("attestations")
        if candidates is None:  # an API of DESIGN's first shape: one attestation at most
            candidates = [entry["attestation"]] if entry.get("attestation") else []
        if not candidates:
            return FieldAnswer(name, value, version, "absent")
        try:
            _, issuer = pick_attestation(
                candidates, field=self.field_id(name), value=value.value, salt=value.salt, **check
            )
        except InvalidAttestation as exc:
            return FieldAnswer(name, value, version, "invalid", problem=str(exc))
        except Exception as exc:  # the chain could not say: "cannot tell" is not "untrusted"
            return FieldAnswer(
                name, value, version, "unverified", None, f"the chain is unreadable: {exc}"
            )
        if not checked:
            return FieldAnswer(
                name, value, version, "unverified", issuer, "not checked against the chain"
            )
        return FieldAnswer(name, value, version, "verified", issuer)

    # -- resident: consents -----------------------------------------------------------

    def create_consent(
        self,
        *,
        department: str,
        fields: Iterable[str],
        purpose: str,
        valid_from: int,
        valid_until: int,
        max_uses: int,
        request_id: bytes | str | None,
        version: int,
        wrapped_keys: Mapping[str, str],
    ) -> dict[str, Any]:
        """``POST /consents``: a signed ``Grant`` and the granted fields' wrapped keys."""
        message = {
            "resident": self.address,
            "department": checksum_address(department),
            "fields": self.field_ids(fields),
            "purpose": self.purpose_id(purpose),
            "validFrom": valid_from,
            "validUntil": valid_until,
            "maxUses": max_uses,
            "requestId": ZERO32 if request_id is None else from_hex(request_id, length=32),
        }
        answer: dict[str, Any] = self._post_signed(
            "POST",
            "/consents",
            "Grant",
            message,
            version=version,
            wrapped_keys=dict(wrapped_keys),
        )
        return answer

    def grant(
        self,
        department: str,
        fields: Iterable[str],
        purpose: str,
        days: float,
        max_uses: int = 0,
        request_id: bytes | str | None = None,
    ) -> dict[str, Any]:
        """Grant ``department`` (address, code or name) ``fields`` for ``days`` from now.

        Opens the resident's latest record to get the field keys, wraps them for the
        department's published key, signs and posts. → ``{"consent_id", ...}``.
        """
        names = self.field_names(fields)
        if not names:
            raise ClientRefusal("a grant covers at least one field")
        entry = self.department(department)
        if not entry.get("active", True):
            raise ClientRefusal(f"department {entry['name']} is suspended")
        record = self.open_record()
        missing = sorted(set(names) - set(record.field_names))
        if missing:
            raise ClientRefusal(f"your record (version {record.version}) has no {missing}")
        wrapped = wrap_keys_for_department(
            record,
            names,
            department=entry["address"],
            department_public_key=self.department_key(entry),
        )
        now = self.now()
        return self.create_consent(
            department=entry["address"],
            fields=names,
            purpose=purpose,
            valid_from=now,
            valid_until=now + round(days * DAY),
            max_uses=max_uses,
            request_id=request_id,
            version=record.version,
            wrapped_keys=wrapped,
        )

    def revoke_consent(self, consent_id: int) -> dict[str, Any]:
        """``POST /consents/{id}/revoke`` (signed ``Revoke``)."""
        message = {"resident": self.address, "consentId": int(consent_id)}
        answer: dict[str, Any] = self._post_signed(
            "POST", f"/consents/{int(consent_id)}/revoke", "Revoke", message
        )
        return answer

    def put_wrapped_keys(
        self, consent_id: int, version: int, wrapped_keys: Mapping[str, str]
    ) -> dict[str, Any]:
        """``PUT /consents/{id}/wrapped-keys``: a still-active consent's keys for a new version."""
        answer: dict[str, Any] = self.request(
            "PUT",
            f"/consents/{int(consent_id)}/wrapped-keys",
            json={"version": version, "wrapped_keys": dict(wrapped_keys)},
        )
        return answer

    def consent(self, consent_id: int) -> dict[str, Any]:
        answer: dict[str, Any] = self._get(f"/consents/{int(consent_id)}")
        return answer

    def checked_consent(self, consent_id: int) -> dict[str, Any]:
        """:meth:`consent`, once every term is what its resident's signed ``Grant`` says
        (:func:`wallets.trust.check_consent`)."""
        answer = self.consent(consent_id)
        self.check_domain()
        check_consent(answer, pins=self.pins)
        return answer

    def consents(self, resident: str | None = None) -> list[dict[str, Any]]:
        """``GET /residents/{a}/consents`` (every page)."""
        return list(self.pages(f"/residents/{resident or self.address}/consents"))

    def department_consents(self) -> list[dict[str, Any]]:
        """``GET /consents``: the consents given to the signed-in department (every page)."""
        return list(self.pages("/consents"))

    @property
    def is_department(self) -> bool:
        """Whether this wallet signs in as a department (its lists are its own, not a
        resident's)."""
        return "department" in self.roles

    def revoke(self, consent_id: int, *, rotate: bool = False) -> RevokeResult:
        """Revoke; with ``rotate`` also make a new record version with fresh keys (and fresh
        salts for the fields the consent exposed) and re-wrap keys for live consents."""
        # Unchecked before revoking: ending a consent is never refused for the server's
        # sake. The fields whose salts must change are then the ones the Grant signs.
        consent = self.consent(consent_id) if rotate else None
        revoked = self.revoke_consent(consent_id)
        if consent is None:
            return RevokeResult(revoked)
        try:
            self.check_domain()
            check_consent(consent, pins=self.pins)
            rotated = self.rotate(consent["fields"], revoked_consent=int(consent_id))
        except (ClientError, WalletError) as exc:
            raise RotationFailed(int(consent_id), revoked, exc) from exc
        return RevokeResult(revoked, *rotated)

    def rotate(
        self, exposed: Iterable[str], *, revoked_consent: int | None = None
    ) -> tuple[int, frozenset[str], dict[int, dict[str, Any]]]:
        """A new record version with fresh keys for every field and fresh salts for the
        ``exposed`` ones; re-wraps the new keys for every live consent (except
        ``revoked_consent``). Returns ``(version, fresh_salt_fields, {consent_id: answer})``.
        """
        record = self.open_record()
        survivors = [
            c
            for c in self.consents()
            if c["status"] in LIVE_STATES and int(c["consent_id"]) != revoked_consent
        ]
        directory = {d["address"]: d for d in self.departments()}
        # Every key checked before anything is committed: one substituted key refuses all.
        needed = {c["department"] for c in survivors if set(c["fields"]) & set(record.field_names)}
        keys = {
            address: self.department_key(directory[address])
            for address in sorted(needed)
            if address in directory
        }
        active = [
            ActiveConsent(
                consent_id=int(c["consent_id"]),
                department=c["department"],
                department_public_key=keys[c["department"]],
                fields=tuple(f for f in c["fields"] if f in record.field_names),
            )
            for c in survivors
            if c["department"] in keys and set(c["fields"]) & set(record.field_names)
        ]
        unknown = sorted(set(exposed) - set(record.field_names))
        if unknown and revoked_consent is None:
            raise ClientRefusal(f"your record (version {record.version}) has no {unknown}")
        in_record = [f for f in exposed if f in record.field_names]
        rotation = rotate_after_revocation(record, exposed=in_record, active_consents=active)
        self.commit_record(rotation.record)
        rewrapped = {
            other: self.put_wrapped_keys(other, rotation.version, wrapped)
            for other, wrapped in rotation.wrapped_keys.items()
            if wrapped
        }
        return rotation.version, rotation.fresh_salt_fields, rewrapped

    def access_log(self, resident: str | None = None, *, limit: int | None = None) -> list[Any]:
        """``GET /residents/{a}/access-log``, newest first (every page)."""
        return list(self.pages(f"/residents/{resident or self.address}/access-log", limit=limit))

    # -- auditor --------------------------------------------------------------------

    def audit_events(
        self,
        *,
        resident: str | None = None,
        department: str | None = None,
        type: str | None = None,
        since: int | None = None,
        until: int | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """One page of ``GET /audit/events`` → ``{"data", "next_cursor"}``."""
        answer: dict[str, Any] = self._get(
            "/audit/events",
            resident=resident,
            department=department,
            type=type,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
        )
        return answer

    def audit_export(self, format: str = "jsonl", **filters: Any) -> Iterator[bytes]:
        """``GET /audit/export?format=csv|jsonl``, streamed in chunks."""
        if format not in ("csv", "jsonl"):
            raise ClientRefusal(f"export format must be csv or jsonl, not {format!r}")
        return self._stream("/audit/export", {"format": format, **filters})

    def audit_verify(self) -> dict[str, Any]:
        """``GET /audit/verify`` → ``{"ok", "events", "signatures_verified", "problems"}``."""
        answer: dict[str, Any] = self._get("/audit/verify")
        return answer

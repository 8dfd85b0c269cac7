"""Signing intents for the pinned chain and contracts, and the reads it stands on.

:class:`SigningSession` reads what the API publishes (chain time from ``GET /health``,
``GET /eip712`` and ``GET /schema``, both cached, the directory, nonces), turns names
into the chain's schema ids, and signs an intent with ``nonce`` and ``deadline`` filled
for the intent's own domain — once that domain's types are this wallet's and its chain
and contracts the pinned ones (:mod:`wallets.trust`). Every signed write's answer
carries the relayer's acceptance (:mod:`ledger.acceptance`), checked against the
intent sent and kept through ``keep_acceptance``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import httpx

from api.chain_view import ChainView
from api.client_errors import ApiProblem, ClientRefusal
from api.client_sign_in import ApiSession
from ledger.acceptance import Acceptance
from ledger.codec import checksum_address, from_hex, to_hex
from ledger.eip712 import DOMAIN_NAME, DOMAIN_VERSION
from ledger.intents import INTENTS, eip712_types
from ledger.vocabulary import did_you_mean, match
from wallets.acceptance import InvalidAcceptance, verify_acceptance
from wallets.identity import Identity
from wallets.signing import intent_digest, message_to_json
from wallets.trust import Pins, Untrusted

#: How long a signed intent stays valid (DESIGN: deadline; chain time).
DEADLINE_SECONDS = 600

#: Told what the wallet pinned on first use, or a receipt that did not verify.
Notice = Callable[[str], None]
#: Keeps the relayer's acceptance of an intent (its type, the acceptance).
KeepAcceptance = Callable[[str, Acceptance], None]


class SigningSession(ApiSession):
    """A session that signs intents only for the anchors in ``pins``."""

    #: The resident this wallet signs and reads for: ``None`` for itself, else the
    #: resident it is a delegate of (:meth:`~api.client_delegates.DelegateFlows.as_delegate_for`).
    acting_for: str | None = None

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
        super().__init__(base_url, identity, timeout=timeout, transport=transport)
        #: The anchors trusted instead of the server (in memory only unless loaded from
        #: a wallet: then trust-on-first-use lasts for this session alone).
        self.pins = pins if pins is not None else Pins()
        #: A node of the caller's choosing: keys and roots are then read from it.
        self.chain = chain
        self.notice: Notice = notice or (lambda _text: None)
        self.keep_acceptance = keep_acceptance
        #: The relayer's acceptances of this client's intents, verified, in order.
        self.acceptances: list[Acceptance] = []
        self._eip712: dict[str, Any] | None = None
        self._schema: dict[str, Any] | None = None
        self._nonce_floor: dict[str, int] = {}

    @property
    def principal(self) -> str:
        """Whose intents this wallet signs and whose record it reads: the resident it acts
        for as a delegate, else its own address."""
        return self.acting_for or self.address

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
        return self.next_nonces(name, 1)[0]

    def next_nonces(self, name: str, count: int) -> list[int]:
        """``count`` consecutive nonces for this intent's contract from :meth:`next_nonce`'s
        (one read of ``GET /nonces``): for intents signed together, each its own."""
        contract = INTENTS[name].contract
        server = self.nonces().get(contract, 0)
        first = max(server, self._nonce_floor.get(contract, 0))
        self._nonce_floor[contract] = first + count
        return list(range(first, first + count))

    def sign(self, name: str, message: Mapping[str, Any]) -> dict[str, Any]:
        """``{"message", "signature"}`` for ``name``, with ``nonce`` and ``deadline`` filled
        in when the intent has them and ``message`` does not (deadline: chain time + 10 min).
        """
        return self.sign_many(name, [message])[0]

    def sign_many(self, name: str, messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """:meth:`sign` for several messages of one intent at once: one read of chain time
        and of the nonces for all of them, consecutive nonces where a message has none."""
        identity = self._require_identity()
        if name not in INTENTS:
            raise ClientRefusal(f"unknown intent {name!r}")
        names = INTENTS[name].field_names
        fulls = [dict(m) for m in messages]
        if "deadline" in names and any("deadline" not in f for f in fulls):
            deadline = self.now() + DEADLINE_SECONDS
            for full in fulls:
                full.setdefault("deadline", deadline)
        unnumbered = [f for f in fulls if "nonce" not in f] if "nonce" in names else []
        if unnumbered:
            for full, nonce in zip(
                unnumbered, self.next_nonces(name, len(unnumbered)), strict=True
            ):
                full["nonce"] = nonce
        chain_id, contract = self.intent_domain(name)
        signed = []
        for full in fulls:
            signature = identity.sign_intent(
                name, full, chain_id=chain_id, verifying_contract=contract
            )
            signed.append({"message": message_to_json(name, full), "signature": to_hex(signature)})
        return signed

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

"""A department's side of sharing: ask for access, query a consent, check what it got.

:meth:`QueryFlows.query` opens each field against the committed root (the chain's, when
``record_root`` reads it) and checks the field's attestations against the chain's record
of them and its trust list (``is_trusted`` and ``recorded_at``, e.g. from a
:class:`~api.chain_view.ChainView`), never against what the API says; without both,
attestations that otherwise hold are reported "unverified". :meth:`QueryFlows.query_many`
does the same for many queries through ``POST /queries/batch``, each answered on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from api.client_errors import ApiProblem, ClientRefusal
from api.client_signing import SigningSession
from ledger.codec import checksum_address, from_hex, to_hex
from ledger.vocabulary import name_to_bytes32
from wallets.attestation import IsTrusted, RecordedAt, pick_attestation
from wallets.errors import InvalidAttestation, InvalidRecord
from wallets.field_cipher import FieldValue
from wallets.grants import open_granted_fields
from wallets.signing import intent_digest

#: ``resident → (version, root)`` of the resident's latest commitment on chain.
RecordRoot = Callable[[str], tuple[int, bytes]]

#: The most queries ``POST /queries/batch`` takes (the server's
#: ``api.http_bounds.MAX_QUERY_BATCH``; a test holds them equal): a longer list is sent
#: in batches of this many.
MAX_BATCH = 500
#: How often a batch refused 429 is sent again, and the longest wait for it (seconds).
BATCH_RETRIES = 5
MAX_RETRY_WAIT = 60


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
class AccessQuery:
    """One query of a batch: the fields of ``resident``'s record to read under consent
    ``consent_id`` (names as the schema spells them, in any order)."""

    resident: str
    consent_id: int
    fields: tuple[str, ...]


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


class QueryFlows(SigningSession):
    """Access requests (asked and listed) and queries of a granted consent."""

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

    def decline_request(self, request_id: str, reason: str) -> dict[str, Any]:
        """``POST /access-requests/{id}/decline`` (signed ``DeclineRequest``, by the
        resident or its delegate) with a reason code of ``ledger.vocabulary.DECLINE_REASONS``."""
        wanted = from_hex(request_id, length=32, what="request id")
        message = {
            "resident": self.principal,
            "requestId": wanted,
            "reason": name_to_bytes32(reason),
        }
        answer: dict[str, Any] = self._post_signed(
            "POST", f"/access-requests/{to_hex(wanted)}/decline", "DeclineRequest", message
        )
        return answer

    def withdraw_request(self, request_id: str) -> dict[str, Any]:
        """``POST /access-requests/{id}/withdraw`` (signed ``WithdrawRequest``, by the
        department that filed it)."""
        wanted = from_hex(request_id, length=32, what="request id")
        message = {"department": self.address, "requestId": wanted}
        answer: dict[str, Any] = self._post_signed(
            "POST", f"/access-requests/{to_hex(wanted)}/withdraw", "WithdrawRequest", message
        )
        return answer

    def access_requests(self, resident: str | None = None) -> list[dict[str, Any]]:
        """``GET /residents/{a}/access-requests`` (every page)."""
        return list(self.pages(f"/residents/{resident or self.principal}/access-requests"))

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

    def access_many(
        self, queries: Sequence[AccessQuery], *, per_request: int = MAX_BATCH
    ) -> list[dict[str, Any]]:
        """``POST /queries/batch``: each query signed as :meth:`access` signs it, with
        consecutive nonces, sent ``per_request`` at a time; the raw answers in order,
        each with its ``status`` (200, or the problem of its refusal). Each answer's
        acceptance is checked and kept as a single query's is.

        A request refused as a whole relayed none of its queries: 429 (a batch of N is N
        writes to the address's rate limit) is waited out and sent again, up to
        :data:`BATCH_RETRIES` times; any other refusal becomes each of its queries'
        answer, and the next requests still go, so what was recorded is still told."""
        answers: list[dict[str, Any]] = []
        chain_id, contract = self.intent_domain("Access")
        for start in range(0, len(queries), per_request):
            chunk = queries[start : start + per_request]
            messages = [
                {
                    "department": self.address,
                    "resident": checksum_address(q.resident),
                    "consentId": int(q.consent_id),
                    "fields": self.field_ids(q.fields),
                }
                for q in chunk
            ]
            bodies = self.sign_many("Access", messages)
            try:
                items = self._post_batch(bodies)
            except ApiProblem as problem:
                answers.extend({**problem.document, "status": problem.status} for _ in chunk)
                continue
            for body, item in zip(bodies, items, strict=True):
                digest = intent_digest(
                    "Access", body["message"], chain_id=chain_id, verifying_contract=contract
                )
                self._accepted("Access", digest, chain_id, item.get("acceptance"))
                answers.append(dict(item))
        return answers

    def _post_batch(self, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for attempt in range(BATCH_RETRIES + 1):
            try:
                answer = self.request("POST", "/queries/batch", json={"queries": bodies})
                break
            except ApiProblem as problem:
                wait = problem.document.get("retry_after")
                if problem.status != 429 or attempt == BATCH_RETRIES or not isinstance(wait, int):
                    raise
                wait = min(max(wait, 1), MAX_RETRY_WAIT)
                self.notice(f"{len(bodies)} queries are over the rate limit: sending in {wait} s")
                time.sleep(wait)
        items = answer.get("answers") if isinstance(answer, Mapping) else None
        if not isinstance(items, list) or len(items) != len(bodies):
            raise ClientRefusal(
                f"the API answered a batch of {len(bodies)} queries with"
                f" {len(items) if isinstance(items, list) else 'no'} answers"
            )
        return items

    def query_many(
        self,
        queries: Sequence[AccessQuery],
        *,
        is_trusted: IsTrusted | None,
        recorded_at: RecordedAt | None = None,
        record_root: RecordRoot | None = None,
    ) -> list[QueryResult | ApiProblem | InvalidRecord]:
        """:meth:`query` for many queries in batches (:meth:`access_many`), in order: each
        one's :class:`QueryResult` opened and checked as :meth:`query` does, or the API's
        refusal of it (an :class:`~api.client_errors.ApiProblem` with its ``status``), or
        the :class:`~wallets.errors.InvalidRecord` of a served answer that does not open
        or verify. One query's failure is its own: the others are still answered."""
        results: list[QueryResult | ApiProblem | InvalidRecord] = []
        for query, answer in zip(queries, self.access_many(queries), strict=True):
            status = int(answer.get("status", 200))
            if status != 200:
                results.append(ApiProblem(status, answer))
                continue
            resident = checksum_address(query.resident)
            try:
                version, root, on_chain, opened = self.open_answer(
                    answer,
                    resident,
                    is_trusted=is_trusted,
                    recorded_at=recorded_at,
                    record_root=record_root,
                )
            except InvalidRecord as exc:
                results.append(exc)
                continue
            results.append(
                QueryResult(
                    consent_id=int(answer["consent_id"]),
                    receipt=dict(answer["receipt"]),
                    version=version,
                    root=root,
                    root_on_chain=on_chain,
                    fields=opened,
                )
            )
        return results

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
        the caller chooses, e.g. :class:`~api.chain_view.ChainView`; without both,
        attestations that otherwise hold are "unverified"). Of a field's attestations the
        one its value and salt open is kept. ``record_root`` (``resident → (version,
        root)`` from the chain) replaces the root the API reports for that version. Raises
        :class:`~api.client_errors.ApiProblem` if the chain refused the access and
        :class:`~wallets.errors.InvalidRecord` if a field does not open or verify.
        """
        resident = checksum_address(resident)
        answer = self.access(consent_id, resident, fields)
        version, root, on_chain, opened = self.open_answer(
            answer,
            resident,
            is_trusted=is_trusted,
            recorded_at=recorded_at,
            record_root=record_root,
        )
        return QueryResult(
            consent_id=int(answer["consent_id"]),
            receipt=dict(answer["receipt"]),
            version=version,
            root=root,
            root_on_chain=on_chain,
            fields=opened,
        )

    def open_answer(
        self,
        answer: Mapping[str, Any],
        resident: str,
        *,
        is_trusted: IsTrusted | None,
        recorded_at: RecordedAt | None,
        record_root: RecordRoot | None,
    ) -> tuple[int, str, bool, dict[str, FieldAnswer]]:
        """Open the ``fields`` of an answer that released them (``POST /queries``, ``POST
        /emergency-accesses``) as :meth:`query` describes: ``(version, root,
        root_on_chain, {name: FieldAnswer})``, the version and root as the API reported."""
        identity = self._require_identity()
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
        return api_version, str(answer["record"]["root"]), on_chain, opened

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

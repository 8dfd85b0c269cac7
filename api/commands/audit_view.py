"""The auditor's log in names: departments by name, fields, purposes and denial reasons as
their schema names, beside the addresses and ids the chain records.

Used by ``consent audit events`` (the table, ``--json``) and ``consent audit export``
(CSV and JSON lines, rewritten line by line as they stream, so memory stays flat). An
event's own record is kept whole: names are added beside it (``names`` in JSON, extra
columns in CSV), never put in its place, so an export still re-checks against the chain.

Residents have no names on chain (only a salted commitment to their ID number), so they
stay addresses. A consent's purpose is in its ``ConsentGranted`` event; for the accesses
under it the purpose comes from that event when the export has passed it, else from
``GET /consents/{id}`` once per consent.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

from api.client import ConsentApi
from api.client_errors import ClientError
from api.export_marker import CSV_COLUMNS, CSV_END
from ledger.vocabulary import hex32_label

#: Columns a CSV export gains, after the API's own.
NAME_COLUMNS = ("department_name", "field_names", "purpose_name", "reason_name")


class Namer:
    """Names for events, from the directory and the consents seen or looked up."""

    def __init__(
        self,
        departments: dict[str, str],
        consent_purpose: Callable[[int], str | None] | None = None,
    ) -> None:
        self.departments = {a.lower(): n for a, n in departments.items()}
        self._purposes: dict[int, str | None] = {}
        self._lookup = consent_purpose

    @classmethod
    def for_client(cls, client: ConsentApi) -> Namer:
        def purpose(consent_id: int) -> str | None:
            try:
                return str(client.consent(consent_id)["purpose"])
            except ClientError:
                return None

        departments = {d["address"]: d["name"] for d in client.departments()}
        return cls(departments, purpose)

    def names(self, event: dict[str, Any]) -> dict[str, Any]:
        """``{"department", "fields", "purpose", "reason"}`` for one event (``None`` where
        it has none)."""
        args = event.get("args") or {}
        fields = args.get("fields")
        if fields is None and args.get("field") is not None:
            fields = [args["field"]]
        purpose = _label(args.get("purpose"))
        consent_id = event.get("consent_id")
        if consent_id not in (None, ""):  # CSV: an empty cell
            consent_id = int(consent_id)
            if event.get("type") == "ConsentGranted" and purpose:
                self._purposes[consent_id] = purpose
            elif purpose is None:
                purpose = self._purpose(consent_id)
        department = event.get("department")
        return {
            "department": self.departments.get(str(department).lower()) if department else None,
            "fields": [_label(f) for f in fields] if isinstance(fields, list) else None,
            "purpose": purpose,
            "reason": _label(args.get("reason")),
        }

    def _purpose(self, consent_id: int) -> str | None:
        if consent_id not in self._purposes:
            self._purposes[consent_id] = self._lookup(consent_id) if self._lookup else None
        return self._purposes[consent_id]


def _label(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    if len(text) == 66 and text.startswith("0x"):
        try:
            return hex32_label(text)
        except ValueError:
            return text
    return text


def named_lines(fmt: str, chunks: Iterator[bytes], namer: Namer) -> Iterator[bytes]:
    """The export's lines with names added: each event line of JSON lines gains
    ``"names"``, each CSV row gains :data:`NAME_COLUMNS`; the CSV header names them; the
    end marker passes unchanged (so the written file is checked as the API's is)."""
    partial = b""
    first = True
    for chunk in chunks:
        *complete, partial = (partial + chunk).split(b"\n")
        out = []
        for line in complete:
            out.append(_named(fmt, line, namer, header=first) + b"\n")
            first = False
        if out:
            yield b"".join(out)
    if partial:
        yield partial  # a cut line stays as it came (the checker reports the cut)


def _named(fmt: str, line: bytes, namer: Namer, *, header: bool) -> bytes:
    text = line.decode("utf-8").rstrip("\r")
    if fmt == "jsonl":
        try:
            event = json.loads(text)
        except ValueError:
            return line  # not an event: left for the end-marker check to judge
        if not isinstance(event, dict) or set(event) == {"end", "events"}:
            return line
        event["names"] = namer.names(event)
        return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    row = next(csv.reader(io.StringIO(text)), [])
    if header:
        row = [*row, *NAME_COLUMNS]
    elif row and row[0] == CSV_END:
        return line
    else:
        event = dict(zip(CSV_COLUMNS, row, strict=False))
        event["args"] = json.loads(event.get("args") or "{}")
        named = namer.names(event)
        row = [
            *row,
            named["department"] or "",
            " ".join(named["fields"] or []),
            named["purpose"] or "",
            named["reason"] or "",
        ]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(row)
    return buffer.getvalue().encode()

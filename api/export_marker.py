"""The end marker of ``GET /audit/export``, shared by the server and the CLI.

A streamed export that breaks off (a server error after the first bytes, a dropped
connection, a proxy's timeout) can end on a whole line and look complete. So a complete
export ends with a marker that counts its events, and a reader that does not find it,
or finds another count, knows the export is cut:

- JSON lines: the last line is ``{"end":true,"events":N}``;
- CSV: the last row has ``end`` in its first column (``block_number``, which no event
  row holds so) and N in its second; the other columns are empty.

The module stays free of the server's dependencies so the CLI can import it.
"""

from __future__ import annotations

import csv
import io
import json

CSV_COLUMNS = (
    "block_number",
    "log_index",
    "tx_hash",
    "block_timestamp",
    "contract",
    "type",
    "resident",
    "department",
    "consent_id",
    "args",
    "bundle_id",
    "service",
    "service_name",
)
CSV_END = "end"


class ExportIncomplete(ValueError):
    """The export does not end with its end marker, or the marker's count is not the
    number of events before it."""


def end_line(count: int) -> str:
    """The last line of a complete JSON-lines export."""
    return json.dumps({"end": True, "events": count}, separators=(",", ":")) + "\n"


def end_row(count: int) -> list[str]:
    """The last row of a complete CSV export."""
    return [CSV_END, str(count)] + [""] * (len(CSV_COLUMNS) - 2)


class ExportChecker:
    """Follows an export's bytes as they stream and tells at the end whether it is whole.

    Keeps only the line in progress and the last complete one, so memory stays flat.
    Neither format has a raw newline inside a record: args are compact JSON, which
    escapes control characters, and the other columns are hex, numbers and names."""

    def __init__(self, format: str) -> None:
        if format not in ("csv", "jsonl"):
            raise ValueError(f"export format must be csv or jsonl, not {format!r}")
        self.format = format
        self._partial = b""
        self._last: bytes | None = None
        self._lines = 0

    def feed(self, chunk: bytes) -> None:
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        if complete:
            self._lines += len(complete)
            self._last = complete[-1]

    def events(self) -> int:
        """The event count the end marker gives, checked; :class:`ExportIncomplete` if the
        marker is missing or does not match."""
        if self._partial.strip(b"\r") or self._last is None:
            raise ExportIncomplete("the export stops in the middle of a line: it was cut short")
        count = self._marker_count(self._last.rstrip(b"\r").decode("utf-8", "replace"))
        if count is None:
            raise ExportIncomplete("the export has no end marker: it was cut short")
        records = self._lines - 1 - (1 if self.format == "csv" else 0)  # end, CSV header
        if count != records:
            raise ExportIncomplete(
                f"the end marker counts {count} events but {records} came before it"
            )
        return count

    def _marker_count(self, last: str) -> int | None:
        if self.format == "csv":
            row = next(csv.reader(io.StringIO(last)), [])
            ok = len(row) == len(CSV_COLUMNS) and row[0] == CSV_END and row[1].isdigit()
            return int(row[1]) if ok else None
        try:
            marker = json.loads(last)
        except ValueError:
            return None
        if not isinstance(marker, dict) or set(marker) != {"end", "events"}:
            return None
        count = marker["events"]
        ok = marker["end"] is True and isinstance(count, int) and not isinstance(count, bool)
        return count if ok else None

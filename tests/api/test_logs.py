"""Structured logs are one JSON object per line, extras and exceptions included."""

from __future__ import annotations

import json
import logging

from api.logs import JsonFormatter


def test_log_record_becomes_one_json_line_with_extras_and_exception() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "relayer", logging.ERROR, __file__, 1, "batch %s failed", (7,), None
        )
        import sys

        record.exc_info = sys.exc_info()
    record.block = 42
    record.color_message = "\x1b[1mignored\x1b[0m"
    line = JsonFormatter().format(record)
    assert "\n" not in line.replace("\\n", "")
    entry = json.loads(line)
    assert entry["level"] == "error"
    assert entry["logger"] == "relayer"
    assert entry["message"] == "batch 7 failed"
    assert entry["block"] == 42
    assert "color_message" not in entry
    assert "ValueError: boom" in entry["exc"]
    assert entry["ts"].endswith("Z")

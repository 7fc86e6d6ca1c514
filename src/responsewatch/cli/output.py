"""JSON and CSV writing for every command (the documents themselves: app/report.py)."""

from __future__ import annotations

import csv
import io
import re
import sys
from datetime import UTC, datetime
from typing import Any

from responsewatch.app.json_out import iterencode
from responsewatch.app.leave_app import LeaveReport
from responsewatch.app.report import analysis_json
from responsewatch.core.models import Analysis
from responsewatch.core.safe_text import csv_cell

__all__ = ["analysis_csv", "emit_json", "leave_json"]

_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def emit_json(doc: Any) -> None:
    # Chunks are streamed: a large report is never held twice as one string. JSON escapes
    # C0 controls itself; C1 controls and bidi overrides from mail are escaped too (the
    # value a parser reads is unchanged), so a document shown on a terminal is inert.
    write = sys.stdout.write
    for chunk in iterencode(doc):  # JSONEncoder(ensure_ascii=False, indent=2)'s text
        write(_JSON_UNSAFE.sub(_json_escape, chunk) if _JSON_UNSAFE.search(chunk) else chunk)
    write("\n")


_CSV_FIELDS = (
    "client",
    "client_messages",
    "turns",
    "replied",
    "replied_within_sla",
    "acknowledged",
    "awaiting",
    "overdue",
    "breaches",
    "median_reply_seconds",
    "p90_reply_seconds",
    "median_business_reply_seconds",
    "after_hours_replies",
    "my_turns",
    "client_replied",
    "client_median_reply_seconds",
)


# Only when some client has a reporting cadence; empty for the clients without one.
_CADENCE_FIELDS = ("last_update_at", "update_due_at", "updates_late")


def analysis_csv(a: Analysis) -> str:
    """One row per client (the per-client table of the JSON document)."""
    out = io.StringIO()
    fields = _CSV_FIELDS + (_CADENCE_FIELDS if a.cadence else ())
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in analysis_json(a)["clients"]:
        writer.writerow({k: "" if row.get(k) is None else csv_cell(row[k]) for k in fields})
    return out.getvalue()


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def leave_json(report: LeaveReport) -> dict[str, Any]:
    return {
        "periods": [
            {"from": _iso(s.start), "to": _iso(s.end), "label": s.label, "source": s.source}
            for s in report.periods
        ],
        "merged": [{"from": _iso(a), "to": _iso(b)} for a, b in report.merged.periods()],
        "client_absences": [
            {"client": client, "from": _iso(a), "to": _iso(b)}
            for client, leave in sorted(report.absences.items())
            for a, b in leave.periods()
        ],
    }

"""`responsewatch leave`: the leave periods in force and where each came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from responsewatch.adapters.store import SqliteStore
from responsewatch.app.terminal import cell, lit
from responsewatch.config import load_settings
from responsewatch.core.absence import client_absences, my_leave_spans
from responsewatch.core.leave import Leave, LeaveSpan
from responsewatch.core.models import Message

__all__ = ["LeaveReport", "leave_json", "leave_report", "print_leave"]


@dataclass(frozen=True, slots=True)
class LeaveReport:
    periods: tuple[LeaveSpan, ...]  # as found, sorted by start
    merged: Leave  # what the clocks subtract
    absences: dict[str, Leave]  # per client, from their auto-replies (when enabled)
    timezone: str


def _stored_messages(path: Path) -> dict[str, Message]:
    if not path.exists():
        return {}
    store = SqliteStore.open(path, readonly=True)
    try:
        return {m.message_id: m for m in store.messages() if m.auto_reply}
    finally:
        store.close()


def leave_report(config: Path) -> LeaveReport:
    settings = load_settings(config)
    rules = settings.rules
    reads = rules.leave.from_my_auto_replies or rules.leave.from_client_auto_replies
    messages = _stored_messages(settings.store_path) if reads else {}
    spans = sorted(my_leave_spans(messages, rules), key=lambda s: (s.start, s.end, s.source))
    return LeaveReport(
        periods=tuple(spans),
        merged=Leave.of((s.start, s.end) for s in spans),
        absences=client_absences(messages, rules),
        timezone=settings.timezone,
    )


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


def print_leave(report: LeaveReport, console: Console) -> None:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(report.timezone)

    def local(t: datetime) -> str:
        return f"{t.astimezone(tz):%Y-%m-%d %H:%M}"

    table = Table(title=f"Leave periods ({report.timezone}; 'to' is exclusive)")
    for column in ("From", "To", "Label", "Source"):
        table.add_column(column)
    for s in report.periods:
        table.add_row(local(s.start), local(s.end), cell(s.label), cell(s.source))
    console.print(table)
    if not report.periods:
        console.print("no leave configured")
    for client, leave in sorted(report.absences.items()):
        for a, b in leave.periods():
            console.print(f"{lit(client)}: away {local(a)} -> {local(b)}", highlight=False)

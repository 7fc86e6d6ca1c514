"""`responsewatch leave`: the leave periods in force and where each came from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from responsewatch.adapters.store import SqliteStore
from responsewatch.config import load_settings
from responsewatch.core.absence import client_absences, my_leave_spans
from responsewatch.core.leave import Leave, LeaveSpan
from responsewatch.core.models import Message

__all__ = ["LeaveReport", "leave_report"]


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

"""The JSON contract of `analyze`/`threads`/`report` (DESIGN.md) as plain data.

Shared by the CLI (cli/output.py writes it) and the status page; no rendering here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from responsewatch.core.models import Analysis, ClientReply, Conversation, Reply

__all__ = ["analysis_json", "client_reply_json", "reply_json", "threads_json"]


def _iso(value: datetime) -> str:
    """ISO 8601 in UTC, like every time inside (DESIGN.md "Time of a message")."""
    return value.astimezone(UTC).isoformat()


def _num(value: float | None) -> float | int | None:
    """Whole seconds print as integers; fractions (medians, --now with microseconds) stay."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def reply_json(r: Reply) -> dict[str, Any]:
    return {
        "thread_id": r.thread_id,
        "client": r.client,
        "message_id": r.message_id,
        "reply_message_id": r.reply_message_id,
        "received_at": _iso(r.received_at),
        "replied_at": _iso(r.replied_at),
        "latency_seconds": _num(r.latency_seconds),
        "business_latency_seconds": _num(r.business_latency_seconds),
        "within_sla": r.within_sla,
    }


def client_reply_json(r: ClientReply) -> dict[str, Any]:
    return {
        "thread_id": r.thread_id,
        "client": r.client,
        "message_id": r.message_id,
        "reply_message_id": r.reply_message_id,
        "latency_seconds": _num(r.latency_seconds),
    }


def analysis_json(a: Analysis) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "now": _iso(a.now),
        "sla": {
            "reply_within_seconds": _num(a.reply_within_seconds),
            "warn_at_seconds": _num(a.warn_at_seconds),
            "clock": a.clock,
        },
        "totals": {
            "messages": a.totals.messages,
            "conversations": a.totals.conversations,
            "automated": a.totals.automated,
            "undated": a.totals.undated,
            # Only when non-zero: documents on ordinary mail stay exactly as before.
            **({"suspicious": a.totals.suspicious} if a.totals.suspicious else {}),
        },
        "clients": [
            {
                "client": c.client,
                "client_messages": c.client_messages,
                "turns": c.turns,
                "replied": c.replied,
                "replied_within_sla": c.replied_within_sla,
                "acknowledged": c.acknowledged,
                "awaiting": c.awaiting,
                "overdue": c.overdue,
                "breaches": c.breaches,
                "median_reply_seconds": _num(c.median_reply_seconds),
                "p90_reply_seconds": _num(c.p90_reply_seconds),
                "median_business_reply_seconds": _num(c.median_business_reply_seconds),
                "after_hours_replies": c.after_hours_replies,
                "my_turns": c.my_turns,
                "client_replied": c.client_replied,
                "client_median_reply_seconds": _num(c.client_median_reply_seconds),
            }
            for c in a.clients
        ],
        "awaiting": [
            {
                "thread_id": w.thread_id,
                "client": w.client,
                "subject": w.subject,
                "first_unanswered_message_id": w.first_unanswered_message_id,
                "since": _iso(w.since),
                "age_seconds": _num(w.age_seconds),
                "business_age_seconds": _num(w.business_age_seconds),
                "state": w.state.value,
            }
            for w in a.awaiting
        ],
        "replies": [reply_json(r) for r in a.replies],
        "client_replies": [client_reply_json(r) for r in a.client_replies],
    }
    if a.cadence:
        _add_cadence(doc["clients"], a)
    return doc


def _add_cadence(clients: list[dict[str, Any]], a: Analysis) -> None:
    """DESIGN "Reporting cadence": three keys, only on the clients that have a cadence."""
    found = {c.client: c for c in a.cadence}
    for row in clients:
        cadence = found.get(row["client"])
        if cadence is not None:
            last, due = cadence.last_update_at, cadence.update_due_at
            row["last_update_at"] = _iso(last) if last is not None else None
            row["update_due_at"] = _iso(due) if due is not None else None
            row["updates_late"] = cadence.updates_late


def threads_json(conversations: list[Conversation], messages: int, skipped: int) -> dict[str, Any]:
    return {
        "threads": [
            {"thread_id": c.thread_id, "message_ids": list(c.message_ids)} for c in conversations
        ],
        "messages": messages,
        "skipped": skipped,
    }

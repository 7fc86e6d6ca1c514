"""Rendering of an Analysis: the JSON contract, CSV, and rich tables for humans."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from responsewatch.app.terminal import cell, lit
from responsewatch.core.models import Analysis, ClientCadence, Conversation
from responsewatch.core.safe_text import csv_cell

__all__ = ["analysis_csv", "analysis_json", "print_analysis", "threads_json"]


def _iso(value: datetime) -> str:
    """ISO 8601 in UTC, like every time inside (DESIGN.md "Time of a message")."""
    return value.astimezone(UTC).isoformat()


def _num(value: float | None) -> float | int | None:
    """Whole seconds print as integers; fractions (medians, --now with microseconds) stay."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


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
        "replies": [
            {
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
            for r in a.replies
        ],
        "client_replies": [
            {
                "thread_id": r.thread_id,
                "client": r.client,
                "message_id": r.message_id,
                "reply_message_id": r.reply_message_id,
                "latency_seconds": _num(r.latency_seconds),
            }
            for r in a.client_replies
        ],
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


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _last_update(cadence: ClientCadence | None, now: datetime) -> str:
    """Days since my last proactive update, and a late marker once the next one is overdue."""
    if cadence is None:
        return "—"
    if cadence.last_update_at is None:
        text = "none"
    else:
        text = f"{max(0, (now - cadence.last_update_at).days)} d"
    return f"[bold red]{text} (late)[/]" if cadence.late else text


_STATE_STYLE = {"ok": "green", "due_soon": "yellow", "overdue": "bold red", "on_leave": "cyan"}


def print_analysis(a: Analysis, console: Console, *, timezone: str = "UTC") -> None:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(timezone)
    console.print(
        f"[bold]responsewatch[/] as of {a.now.astimezone(tz):%Y-%m-%d %H:%M %Z} — "
        f"{a.totals.messages} messages, {a.totals.conversations} conversations, "
        f"{a.totals.automated} automated, {a.totals.undated} undated"
        f"{f', {a.totals.suspicious} suspicious' if a.totals.suspicious else ''}; "
        f"reply within {_duration(a.reply_within_seconds)} ({a.clock} clock)"
    )
    if a.awaiting:
        table = Table(title="Awaiting my reply (oldest first)", title_justify="left")
        for column in ("State", "Client", "Age", "Business age", "Since", "Subject", "Thread"):
            table.add_column(column, overflow="fold")
        for w in a.awaiting:
            table.add_row(
                f"[{_STATE_STYLE[w.state.value]}]{w.state.value}[/]",
                cell(w.client),
                _duration(w.age_seconds),
                _duration(w.business_age_seconds),
                f"{w.since.astimezone(tz):%Y-%m-%d %H:%M}",
                cell(w.subject, 60),
                cell(w.thread_id),
            )
        console.print(table)
    else:
        console.print("[green]Nothing awaits a reply.[/]")
    mine = Table(title="My replies, per client", title_justify="left")
    for column in (
        "Client",
        "Msgs",
        "Turns",
        "Replied",
        "In SLA",
        "Awaiting",
        "Overdue",
        "Breaches",
        "Median",
        "p90",
    ):
        mine.add_column(column, justify="left" if column == "Client" else "right")
    cadence = {c.client: c for c in a.cadence}
    if cadence:
        mine.add_column("Last update", justify="right")
    theirs = Table(title="Hours and the clients' side", title_justify="left")
    for column in (
        "Client",
        "Median (business)",
        "After hours",
        "My turns",
        "They replied",
        "Their median",
    ):
        theirs.add_column(column, justify="left" if column == "Client" else "right")
    for c in a.clients:
        extra = [_last_update(cadence.get(c.client), a.now)] if cadence else []
        mine.add_row(
            cell(c.client),
            str(c.client_messages),
            str(c.turns),
            str(c.replied),
            str(c.replied_within_sla),
            str(c.awaiting),
            str(c.overdue),
            f"[red]{c.breaches}[/]" if c.breaches else "0",
            _duration(c.median_reply_seconds),
            _duration(c.p90_reply_seconds),
            *extra,
        )
        theirs.add_row(
            cell(c.client),
            _duration(c.median_business_reply_seconds),
            str(c.after_hours_replies),
            str(c.my_turns),
            str(c.client_replied),
            _duration(c.client_median_reply_seconds),
        )
    console.print(mine)
    console.print(theirs)


def print_insights(doc: dict[str, Any], console: Console) -> None:
    """The `insights` of `report`, as short lines under the tables."""
    lines: list[str] = []
    for item in doc.get("owed_to_me", [])[:10]:
        lines.append(
            f"[cyan]owed to me[/] {lit(item['client'])}: {lit(item['subject'], 60)} "
            f"({_duration(item['age_seconds'])})"
        )
    for item in doc.get("after_hours", []):
        if item["current"]:
            lines.append(
                f"[yellow]after hours[/] {lit(item['client'])}: {item['current']} replies in "
                "4 weeks "
                f"(before: {item['previous']}, {item['trend']})"
            )
    for item in doc.get("long_missions", []):
        lines.append(
            f"[yellow]long mission[/] {lit(item['client'])}: {item['days_over']} days past its "
            f"planned {item['length_days']} days"
        )
    for item in doc.get("quiet", []):
        since = item["last_contact"][:10] if item["last_contact"] else "never"
        lines.append(f"[blue]quiet[/] {lit(item['client'])}: last contact {lit(since)}")
    for item in doc.get("rising", []):
        if item["signal"] == "report_requests":
            lines.append(
                f"[red]rising[/] {lit(item['client'])}: requests for reports or meetings "
                f"{item['previous']:.1f} -> {item['current']:.1f} a week while my updates "
                "are late"
            )
            continue
        lines.append(
            f"[red]rising[/] {lit(item['client'])}: {lit(item['signal'])} {item['previous']} -> "
            f"{item['current']}"
        )
    for item in doc.get("out_of_office", []):
        lines.append(
            f"[magenta]away[/] {lit(item['client'])} ({lit(item['address'])}) until "
            f"{lit((item['return_date'] or '?')[:10])}"
        )
    mine = doc.get("my_latency") or {}
    if mine.get("current_median_seconds") is not None:
        lines.append(
            f"my median reply: {_duration(mine['current_median_seconds'])} over 4 weeks "
            f"(before: {_duration(mine.get('previous_median_seconds'))}, {mine['trend']})"
        )
    if lines:
        console.print("[bold]Insights[/]")
        for line in lines:
            console.print("  " + line, highlight=False)

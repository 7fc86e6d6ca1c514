"""What the commands print around their tables: headers, insights, warnings, verdicts."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console

from responsewatch.adapters.files import ReadStats
from responsewatch.app.commands import CheckReport, SyncOutcome, ThreadsResult
from responsewatch.app.leave_app import LeaveReport
from responsewatch.cli import tables
from responsewatch.cli.terminal import lit
from responsewatch.core.durations import short
from responsewatch.core.models import Analysis

__all__ = [
    "print_analysis",
    "print_check",
    "print_entries",
    "print_insights",
    "print_leave",
    "print_sync",
    "print_threads",
    "warn_read",
]


def print_analysis(a: Analysis, console: Console, *, timezone: str = "UTC") -> None:
    tz = ZoneInfo(timezone)
    console.print(
        f"[bold]responsewatch[/] as of {a.now.astimezone(tz):%Y-%m-%d %H:%M %Z} — "
        f"{a.totals.messages} messages, {a.totals.conversations} conversations, "
        f"{a.totals.automated} automated, {a.totals.undated} undated"
        f"{f', {a.totals.suspicious} suspicious' if a.totals.suspicious else ''}; "
        f"reply within {short(a.reply_within_seconds)} ({a.clock} clock)"
    )
    if not a.awaiting:
        console.print("[green]Nothing awaits a reply.[/]")
    for grid in tables.analysis_grids(a, tables.dates_for(console, tz)):
        tables.render(grid, console)


def print_insights(doc: dict[str, Any], console: Console) -> None:
    """The `insights` of `report`, as short lines under the tables."""
    lines: list[str] = []
    for item in doc.get("owed_to_me", [])[:10]:
        lines.append(
            f"[cyan]owed to me[/] {lit(item['client'])}: {lit(item['subject'], 60)} "
            f"({short(item['age_seconds'])})"
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
            f"my median reply: {short(mine['current_median_seconds'])} over 4 weeks "
            f"(before: {short(mine.get('previous_median_seconds'))}, {mine['trend']})"
        )
    if lines:
        console.print("[bold]Insights[/]")
        for line in lines:
            console.print("  " + line, highlight=False)


def warn_read(stats: ReadStats, console: Console) -> None:
    for problem in stats.problems[:20]:
        console.print(f"[yellow]skipped:[/] {lit(problem)}", highlight=False)
    if stats.skipped > 20:
        console.print(f"[yellow]… {stats.skipped - 20} more skipped[/]")


def print_threads(result: ThreadsResult, console: Console) -> None:
    tables.render(tables.threads_grid(result, tables.dates_for(console, ZoneInfo("UTC"))), console)


def print_leave(report: LeaveReport, console: Console) -> None:
    date = tables.dates_for(console, ZoneInfo(report.timezone))
    tables.render(tables.leave_grid(report, date), console)
    if not report.periods:
        console.print("no leave configured")
    for client, leave in sorted(report.absences.items()):
        for a, b in leave.periods():
            console.print(f"{lit(client)}: away {date(a)} -> {date(b)}", highlight=False)


def print_entries(entries: list[dict[str, Any]], console: Console) -> None:
    tables.render(tables.archive_grid(entries), console)


def print_sync(outcome: SyncOutcome, console: Console) -> None:
    for r in outcome.reports:
        if r.error:
            console.print(f"[red]{lit(r.account)}: failed[/] — {lit(r.error)}", highlight=False)
        else:
            console.print(
                f"{lit(r.account)}: {r.fetched} read, {r.added} new, {r.skipped} skipped",
                highlight=False,
            )
    for miss in outcome.missing:
        console.print(
            f"[bold red]warning[/] {lit(miss.account)}: {lit(miss.text())}", highlight=False
        )


def print_check(report: CheckReport, console: Console) -> None:
    console.print(
        f"[green]ok[/] configuration {lit(report.config)}: {report.accounts} account(s), "
        f"{report.clients} client(s), store {lit(report.store)}"
    )
    for ok, account, text in report.lines:
        verdict = "[green]ok[/]" if ok else "[red]fail[/]"
        console.print(f"{verdict} account {lit(account)}: {lit(text)}", highlight=False)

"""Every table the CLI prints, sized to the terminal it is printed on.

A table is first built as a :class:`Grid` (columns and already-inert cells), then
:func:`render` fits it: no value is ever wrapped; when the terminal is too narrow, the
least useful columns go first (each column's ``drop`` rank), and only free-text columns
(subjects, phrases) are cut, with an ellipsis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from responsewatch.app.commands import ThreadsResult
from responsewatch.app.leave_app import LeaveReport
from responsewatch.cli.terminal import cell
from responsewatch.core.durations import short
from responsewatch.core.models import Analysis, ClientCadence, message_time

__all__ = [
    "Column",
    "Grid",
    "analysis_grids",
    "archive_grid",
    "dates_for",
    "leave_grid",
    "render",
    "threads_grid",
]

NARROW = 100  # below this many columns, dates print as "19/11 12:30"
FREE_MIN = 12  # a free-text column is never squeezed under this (header permitting)


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    drop: int = 0  # 0: always shown; otherwise the highest rank is dropped first
    free: bool = False  # free text: may be cut (ellipsis), never wrapped
    right: bool = False


@dataclass(frozen=True, slots=True)
class Grid:
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Text, ...], ...]


def _width(grid: Grid, i: int) -> int:
    return max([cell_len(grid.columns[i].header), *(cell_len(r[i].plain) for r in grid.rows)])


def _layout(grid: Grid, width: int) -> tuple[list[int], dict[int, int]]:
    """The columns kept (in order) and the width granted to each free-text column."""
    natural = [_width(grid, i) for i in range(len(grid.columns))]

    def least(i: int) -> int:
        header = cell_len(grid.columns[i].header)
        return max(header, min(natural[i], FREE_MIN)) if grid.columns[i].free else natural[i]

    kept = list(range(len(grid.columns)))
    # Heavy-head box, padding 1: each column costs its width + 3, the table 1 more.
    while sum(least(i) + 3 for i in kept) + 1 > width:
        droppable = [i for i in kept if grid.columns[i].drop]
        if not droppable:
            break
        kept.remove(max(droppable, key=lambda i: (grid.columns[i].drop, i)))
    spare = width - 1 - sum(natural[i] + 3 for i in kept if not grid.columns[i].free)
    free = [i for i in kept if grid.columns[i].free]
    granted: dict[int, int] = {}
    for n, i in enumerate(free):
        share = (spare - sum(w + 3 for w in granted.values())) // (len(free) - n) - 3
        granted[i] = max(least(i), min(natural[i], share))
    return kept, granted


def render(grid: Grid, console: Console) -> None:
    kept, granted = _layout(grid, console.width)
    table = Table(title=grid.title, title_justify="left")
    for i in kept:
        col = grid.columns[i]
        table.add_column(
            col.header,
            justify="right" if col.right else "left",
            no_wrap=True,
            overflow="ellipsis" if col.free else "crop",
            min_width=None if col.free else _width(grid, i),
            max_width=granted.get(i),
        )
    for row in grid.rows:
        table.add_row(*(row[i] for i in kept))
    console.print(table)


def dates_for(console: Console, tz: ZoneInfo) -> Callable[[datetime], str]:
    """Local times, short ("19/11 12:30") on a narrow terminal."""
    pattern = "%d/%m %H:%M" if console.width < NARROW else "%Y-%m-%d %H:%M"
    return lambda t: t.astimezone(tz).strftime(pattern)


def _t(value: str, style: str = "") -> Text:
    return Text(value, style=style)


def _rows(rows: Iterable[Sequence[Text]]) -> tuple[tuple[Text, ...], ...]:
    return tuple(tuple(r) for r in rows)


_STATE_STYLE = {"ok": "green", "due_soon": "yellow", "overdue": "bold red", "on_leave": "cyan"}


def _last_update(cadence: ClientCadence | None, now: datetime) -> Text:
    """Days since my last proactive update, and a late marker once the next one is overdue."""
    if cadence is None:
        return _t("—")
    if cadence.last_update_at is None:
        text = "none"
    else:
        text = f"{max(0, (now - cadence.last_update_at).days)} d"
    return _t(f"{text} (late)", "bold red") if cadence.late else _t(text)


def analysis_grids(a: Analysis, date: Callable[[datetime], str]) -> list[Grid]:
    """Awaiting (when any), my replies per client, hours and the clients' side."""
    grids: list[Grid] = []
    if a.awaiting:
        columns = (
            Column("State"),
            Column("Client"),
            Column("Age"),
            Column("Business age", drop=2),
            Column("Since"),
            Column("Subject", free=True),
            Column("Thread", drop=3),
        )
        rows = (
            (
                _t(w.state.value, _STATE_STYLE[w.state.value]),
                cell(w.client),
                _t(short(w.age_seconds)),
                _t(short(w.business_age_seconds)),
                _t(date(w.since)),
                cell(w.subject, 60),
                cell(w.thread_id),
            )
            for w in a.awaiting
        )
        grids.append(Grid("Awaiting my reply (oldest first)", columns, _rows(rows)))
    cadence = {c.client: c for c in a.cadence}
    mine = [Column("Client")] + [
        Column(header, drop=drop, right=True)
        for header, drop in (
            ("Msgs", 6),
            ("Turns", 5),
            ("Replied", 2),
            ("In SLA", 0),
            ("Awaiting", 4),  # the awaiting table above lists them one by one
            ("Overdue", 0),
            ("Breaches", 0),
            ("Median", 0),
            ("p90", 3),
        )
    ]
    if cadence:
        mine.append(Column("Last update", right=True))
    mine_rows = (
        (
            cell(c.client),
            _t(str(c.client_messages)),
            _t(str(c.turns)),
            _t(str(c.replied)),
            _t(str(c.replied_within_sla)),
            _t(str(c.awaiting)),
            _t(str(c.overdue)),
            _t(str(c.breaches), "red") if c.breaches else _t("0"),
            _t(short(c.median_reply_seconds)),
            _t(short(c.p90_reply_seconds)),
            *([_last_update(cadence.get(c.client), a.now)] if cadence else []),
        )
        for c in a.clients
    )
    grids.append(Grid("My replies, per client", tuple(mine), _rows(mine_rows)))
    ranked = [("Median (business)", 0), ("After hours", 1), ("My turns", 3)]
    ranked += [("They replied", 2), ("Their median", 0)]
    theirs = (Column("Client"), *(Column(h, drop=d, right=True) for h, d in ranked))
    theirs_rows = (
        (
            cell(c.client),
            _t(short(c.median_business_reply_seconds)),
            _t(str(c.after_hours_replies)),
            _t(str(c.my_turns)),
            _t(str(c.client_replied)),
            _t(short(c.client_median_reply_seconds)),
        )
        for c in a.clients
    )
    grids.append(Grid("Hours and the clients' side", theirs, _rows(theirs_rows)))
    return grids


def threads_grid(result: ThreadsResult, date: Callable[[datetime], str]) -> Grid:
    columns = (
        Column("Thread", drop=1),
        Column("Messages", right=True),
        Column("First"),
        Column("Subject", free=True),
    )
    rows = []
    for conv in result.conversations:
        first = result.corpus.messages[conv.message_ids[0]]
        when = message_time(first, result.me)
        rows.append(
            (
                cell(conv.thread_id),
                _t(str(len(conv.message_ids))),
                _t(date(when) if when else "undated"),
                cell(first.subject, 70),
            )
        )
    title = f"{len(result.conversations)} conversations, {result.messages} messages"
    return Grid(title, columns, _rows(rows))


def leave_grid(report: LeaveReport, date: Callable[[datetime], str]) -> Grid:
    columns = (Column("From"), Column("To"), Column("Label", free=True), Column("Source"))
    rows = (
        (_t(date(s.start)), _t(date(s.end)), cell(s.label), cell(s.source)) for s in report.periods
    )
    return Grid(f"Leave periods ({report.timezone}; 'to' is exclusive)", columns, _rows(rows))


def archive_grid(entries: Sequence[dict[str, Any]]) -> Grid:
    columns = (
        Column("received_at"),
        Column("client"),
        Column("phrase", free=True),
        Column("message_id", free=True),
        Column("dkim"),
        Column("sha256", drop=1),
    )
    rows = (
        (
            cell(str(e["received_at"] or "")[:16]),
            cell(e["client"]),
            cell(e["phrase"]),
            cell(e["message_id"]),
            cell(e["dkim"]),
            cell(e["sha256"][:12]),
        )
        for e in entries
    )
    return Grid(f"{len(entries)} archived agreement(s)", columns, _rows(rows))

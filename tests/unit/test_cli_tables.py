"""Every table the CLI prints fits an 80- and a 120-column terminal on the demo sample:
each value on one line and whole (only free text is cut, with an ellipsis), headers whole,
and the columns dropped on a narrow terminal are the least useful ones."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from responsewatch.app import commands
from responsewatch.app.leave_app import leave_report
from responsewatch.cli import tables
from responsewatch.cli.screen import RichScreen
from responsewatch.cli.terminal import cell
from responsewatch.core.safe_text import ELLIPSIS

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.toml"
WIDTHS = (80, 120)


@pytest.fixture(scope="module")
def demo() -> commands.DemoResult:
    return commands.demo()


def _console(width: int) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=width, emoji=False, color_system=None), buf


def _grids(demo: commands.DemoResult, console: Console) -> list[tables.Grid]:
    tz = ZoneInfo(demo.timezone)
    grids = tables.analysis_grids(demo.analysis, tables.dates_for(console, tz))
    sample = Path(str(resources.files("responsewatch") / "sample" / "consultant.mbox"))
    threads = commands.thread_paths([sample], me=["claire@martin-conseil.fr"], config=None)
    grids.append(tables.threads_grid(threads, tables.dates_for(console, ZoneInfo("UTC"))))
    leave = leave_report(EXAMPLE)
    assert leave.periods  # the example configures leave: the table has rows
    grids.append(tables.leave_grid(leave, tables.dates_for(console, tz)))
    entries = [
        {
            "received_at": f"2026-11-{10 + i}T09:3{i}:00+00:00",
            "client": w.client,
            "phrase": f"je valide le devis {w.subject}",
            "message_id": f"<{w.first_unanswered_message_id}>",
            "dkim": "pass" if i % 2 else "none",
            "sha256": f"{i:x}" * 64,
        }
        for i, w in enumerate(demo.analysis.awaiting)
    ]
    grids.append(tables.archive_grid(entries))
    return grids


def _parse(text: str) -> tuple[list[str], list[list[str]]]:
    """Headers and body rows of one rendered heavy-head table."""
    out = text.splitlines()
    head = next(line for line in out if line.startswith("┃"))
    rows = [line for line in out if line.startswith("│")]
    return [h.strip() for h in head.split("┃")[1:-1]], [
        [c.strip() for c in r.split("│")[1:-1]] for r in rows
    ]


def _check(grid: tables.Grid, width: int, text: str) -> list[str]:
    """The headers shown; fails on any split value, cut header or overlong line."""
    assert all(len(line) <= width for line in text.splitlines()), text
    headers, rows = _parse(text)
    by_header = {c.header: i for i, c in enumerate(grid.columns)}
    assert headers and all(h in by_header for h in headers), (headers, text)
    assert headers == sorted(headers, key=by_header.__getitem__)  # order kept
    # One line per row: a wrapped value would add lines.
    assert len(rows) == len(grid.rows), text
    for shown, row in zip(rows, grid.rows, strict=True):
        for header, value in zip(headers, shown, strict=True):
            col = grid.columns[by_header[header]]
            want = row[by_header[header]].plain.strip()
            if col.free and value != want:
                assert value.endswith(ELLIPSIS) and want.startswith(value[:-1]), (value, want)
                assert len(value) >= min(len(want), tables.FREE_MIN) - 1
            else:
                assert value == want, (header, value, want, text)
    dropped = [c for c in grid.columns if c.header not in headers]
    assert all(c.drop for c in dropped)  # rank 0 columns are never dropped
    if dropped:  # least useful first: nothing kept ranks above something dropped
        kept_ranks = [grid.columns[by_header[h]].drop for h in headers]
        assert max(kept_ranks) <= min(c.drop for c in dropped)
    return headers


@pytest.mark.parametrize("width", WIDTHS)
def test_every_table_fits_without_splitting_a_value(demo: commands.DemoResult, width: int) -> None:
    console, buf = _console(width)
    grids = _grids(demo, console)
    assert len(grids) == 6  # awaiting, mine, theirs, threads, leave, archive
    for grid in grids:
        buf.seek(0)
        buf.truncate()
        tables.render(grid, console)
        _check(grid, width, buf.getvalue())


def test_narrow_terminal_drops_thread_first_and_prints_short_dates(
    demo: commands.DemoResult,
) -> None:
    shown = {}
    for width in WIDTHS:
        console, buf = _console(width)
        awaiting = _grids(demo, console)[0]
        tables.render(awaiting, console)
        shown[width] = (_check(awaiting, width, buf.getvalue()), buf.getvalue())
    wide, narrow = shown[120], shown[80]
    assert "Thread" in wide[0] and "Thread" not in narrow[0]
    assert "Business age" in narrow[0] and "Since" in narrow[0]
    since = demo.analysis.awaiting[-1].since.astimezone(ZoneInfo(demo.timezone))
    assert f"{since:%d/%m %H:%M}" in narrow[1] and f"{since:%Y-%m-%d %H:%M}" in wide[1]


def test_a_huge_free_text_value_is_cut_never_wrapped() -> None:
    grid = tables.Grid(
        "t",
        (tables.Column("Age"), tables.Column("Subject", free=True), tables.Column("Id", drop=1)),
        ((cell("25.6 h"), cell("x" * 500), cell("t" * 17)),),
    )
    for width in (40, 80, 120):
        console, buf = _console(width)
        tables.render(grid, console)
        headers = _check(grid, width, buf.getvalue())
        assert headers[:2] == ["Age", "Subject"]
    assert tables.dates_for(_console(99)[0], ZoneInfo("UTC"))(datetime(2026, 11, 19, tzinfo=UTC))
    assert tables.dates_for(_console(99)[0], ZoneInfo("UTC"))(
        datetime(2026, 11, 19, 12, 30, tzinfo=UTC)
    ) == ("19/11 12:30")


@pytest.mark.parametrize("width", WIDTHS)
def test_init_tables_fit_and_stay_inert(width: int) -> None:
    console, buf = _console(width)
    rows = [("1", "[bold]boss@acme.fr\x1b[31m", "42"), ("2", "jean@" + "x" * 60 + ".fr", "7")]
    RichScreen(console).table("Sent, last 90 days", ("#", "correspondent", "messages"), rows)
    text = buf.getvalue()
    assert "\x1b" not in text and "[bold]boss@acme.fr\\x1b[31m" in text
    grid = tables.Grid(
        "Sent, last 90 days",
        (tables.Column("#"), tables.Column("correspondent", free=True), tables.Column("messages")),
        tuple(tuple(cell(v) for v in r) for r in rows),
    )
    _check(grid, width, text)

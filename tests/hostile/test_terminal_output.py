"""Mail text is never Rich markup and never reaches the terminal as control characters."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from responsewatch.cli import app
from responsewatch.core.safe_text import BIDI_CONTROLS, csv_cell, plain
from tests.support.build import HOUR, ME, T0, raw

runner = CliRunner()
# What may reach a terminal from us: printable text, newlines between lines; no ESC, no C1.
_BAD = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]|[" + "".join(BIDI_CONTROLS) + "]")
HOSTILE_SUBJECT = (
    "=?utf-8?b?W1/dIFtib2xkXQ==?= \x1b]8;;http://evil.test\x07click\x1b]8;;\x07 [/] \u202egpj.exe"
)
HOSTILE_ID = "[/]x@evil.test"


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def hostile_box(tmp_path: Path) -> Path:
    box = tmp_path / "box"
    box.mkdir()
    (box / "1.eml").write_bytes(
        raw(HOSTILE_ID, "[bold]x@acme.fr", [ME], T0, subject=HOSTILE_SUBJECT)
    )
    (box / "2.eml").write_bytes(
        raw("=cmd|' /C calc'!A0@acme.fr", "jean@acme.fr", [ME], T0 + HOUR, subject="[red]hi[/]")
    )
    (box / "3.eml").write_bytes(
        raw("r@m", ME, ["jean@acme.fr"], T0 + 2 * HOUR, refs=["x"], subject="RE: [/]")
    )
    return box


@pytest.mark.parametrize(
    "args",
    [
        ("analyze", "--format", "table", "--client", "@HYPERLINK(1)=acme.fr"),
        ("analyze", "--format", "csv", "--client", "@HYPERLINK(1)=acme.fr"),
        ("analyze", "--format", "json", "--client", "[/]=acme.fr"),
        ("threads", "--format", "table"),
        ("threads", "--format", "json"),
    ],
)
def test_hostile_text_prints_as_plain_text(hostile_box: Path, args: tuple[str, ...]) -> None:
    now = ("--now", "2026-11-03T10:00") if args[0] == "analyze" else ()
    result = invoke(args[0], hostile_box, "--me", ME, *now, *args[1:])
    assert result.exit_code == 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if "json" not in args:
        assert not _BAD.search(result.output), repr(result.output)
    else:  # exact values, but escaped: C1 controls and bidi overrides never raw
        assert not re.search("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]", result.stdout)
        if args[0] == "analyze":
            subjects = [w["subject"] for w in json.loads(result.stdout)["awaiting"]]
            assert any("\u202e" in s and "\x1b" in s for s in subjects), subjects
    if "table" in args and args[0] == "analyze":
        assert "[/]" in result.output  # shown literally, not swallowed as markup
        assert "\\x1b]8;;http://evil.test" in result.output  # made visible
    if "csv" in args:
        rows = list(csv.reader(io.StringIO(result.stdout)))
        assert rows[1][0] == "'@HYPERLINK(1)"


def test_report_table_and_csv_from_store(tmp_path: Path, hostile_box: Path) -> None:
    cfg = tmp_path / "rw.toml"
    cfg.write_text(
        f'[me]\naddresses = ["{ME}"]\n[store]\npath = "{tmp_path / "s.db"}"\n'
        '[[clients]]\nname = "@SUM(1)[/]"\ndomains = ["acme.fr"]\n'
        f'[[accounts]]\nname = "f[/]"\ntype = "maildir"\npath = "{hostile_box}"\n'
    )
    synced = invoke("sync", "--config", cfg, "--once")
    assert synced.exit_code == 0, synced.output
    table = invoke("report", "--config", cfg, "--now", "2026-11-03T10:00")
    assert table.exit_code == 0, table.output
    assert "@SUM(1)[/]" in table.output
    assert not _BAD.search(table.output)
    rows = list(csv.reader(io.StringIO(invoke("report", "-c", cfg, "-f", "csv").stdout)))
    assert rows[1][0] == "'@SUM(1)[/]"
    doc = json.loads(invoke("report", "-c", cfg, "-f", "json").stdout)
    assert doc["clients"][0]["client"] == "@SUM(1)[/]"  # JSON stays exact


def test_error_lines_are_not_markup(tmp_path: Path) -> None:
    result = invoke("report", "--config", tmp_path / "[/]missing.toml")
    assert result.exit_code == 2
    assert "[/]missing.toml" in result.output


@given(st.text())
def test_plain_never_lets_a_control_or_bidi_character_through(text: str) -> None:
    shown = plain(text)
    assert not _BAD.search(shown) and "\n" not in shown
    assert plain(shown) == shown  # idempotent: safe to apply twice


@given(st.text(), st.integers(min_value=1, max_value=300))
def test_plain_limit_is_a_hard_bound(text: str, limit: int) -> None:
    shown = plain(text, limit)
    assert len(shown) <= limit
    if len(plain(text)) > limit:
        assert shown.endswith("…")


@given(st.text())
def test_csv_cell_never_starts_with_a_formula_lead(text: str) -> None:
    cell = csv_cell(text)
    assert isinstance(cell, str)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert cell.removeprefix("'") == text or cell == text


def test_plain_examples() -> None:
    assert plain("a\x1b[31mb") == "a\\x1b[31mb"
    assert plain("invoice\u202egpj.exe") == "invoicegpj.exe"
    assert plain("a\x85b\u2028c") == "a\\x85b\\u2028c"
    assert plain("x" * 20_000, 100) == "x" * 99 + "…"
    assert csv_cell(-3) == -3 and csv_cell("-3") == "'-3" and csv_cell("ok") == "ok"


def test_console_log_lines_carry_no_escape_sequences(capsys: pytest.CaptureFixture[str]) -> None:
    import structlog

    from responsewatch.logs import configure_logging

    configure_logging(json=False)
    structlog.get_logger("t").error("sync_failed", error="server said \x1b]0;pwned\x07 \u202e")
    err = capsys.readouterr().err
    assert "sync_failed" in err and "\\x1b]0;pwned" in err
    assert "\x1b]0" not in err and "\u202e" not in err

"""One duration formatter, one sanitiser (with its one-line mode), one string catalogue."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from responsewatch.adapters.archive import report as archive_report
from responsewatch.adapters.render import CATALOG as DIGEST_CATALOG
from responsewatch.adapters.strings import CATALOG, section
from responsewatch.cli.screen import RichScreen
from responsewatch.core import durations, status
from responsewatch.core.safe_text import BIDI_CONTROLS, plain

HOUR, DAY = 3600.0, 86400.0


@pytest.mark.parametrize(
    ("seconds", "cli", "digest_unit"),
    [
        (None, "—", None),
        (-5.0, "0 min", None),
        (59.0, "1 min", "min"),
        (30 * 60.0, "30 min", "min"),
        (HOUR, "1.0 h", "h"),
        (25.6 * HOUR, "25.6 h", "h"),
        (47.9 * HOUR, "47.9 h", "h"),
        (48 * HOUR, "2.0 d", "h"),  # the digest keeps hours up to three days
        (72 * HOUR, "3.0 d", "d"),
        (3.2 * DAY, "3.2 d", "d"),
    ],
)
def test_decimal_style(seconds: float | None, cli: str, digest_unit: str | None) -> None:
    assert durations.short(seconds) == cli
    if seconds is not None and digest_unit is not None:
        assert durations.magnitude(seconds, hours_below=durations.HOURS_BELOW_DIGEST)[1] == (
            digest_unit
        )


@pytest.mark.parametrize(
    ("seconds", "day", "zero_hours", "text"),
    [
        (0, "d", True, "0 min"),
        (59 * 60, "d", True, "59 min"),
        (HOUR + 5 * 60, "d", True, "1 h 05"),
        (3 * DAY + 4 * HOUR + 59, "d", True, "3 d 4 h"),
        (3 * DAY, "j", True, "3 j 0 h"),  # nudges
        (3 * DAY, "j", False, "3 j"),  # status page
        (-10, "d", True, "0 min"),
    ],
)
def test_clock_style(seconds: float, day: str, zero_hours: bool, text: str) -> None:
    assert durations.clock(seconds, day, zero_hours=zero_hours) == text


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_clock_parts_add_up_and_decimal_reads_back(seconds: float) -> None:
    days, hours, minutes = durations.split(seconds)
    assert 0 <= hours < 24 and 0 <= minutes < 60
    assert (
        days * DAY + hours * HOUR + minutes * 60
        <= seconds
        < days * DAY + hours * HOUR + (minutes + 1) * 60
    )
    value, unit = durations.magnitude(seconds)
    scale = {"min": 60.0, "h": HOUR, "d": DAY}[unit]
    assert abs(value * scale - seconds) <= 0.05 * scale + 30  # rounding, never a wrong unit
    text = durations.short(seconds)
    assert re.fullmatch(r"\d+ min|\d+\.\d h|\d+\.\d d", text), text


# -- plain, one-line mode ---------------------------------------------------------------------

_NASTY = st.text(
    st.sampled_from(list("ab é\n\r\t\x0b\x1b\x85\u2028\u200b\ufeff\ud800") + sorted(BIDI_CONTROLS))
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), _NASTY), st.none() | st.integers(min_value=1, max_value=80))
def test_one_line_is_idempotent_inert_and_bounded(text: str, limit: int | None) -> None:
    out = plain(text, limit, one_line=True)
    assert plain(out, limit, one_line=True) == out
    assert out == out.strip() and "  " not in out
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b\ufeff\ud800-\udfff]", out)
    assert not any(c in out for c in BIDI_CONTROLS)
    assert limit is None or len(out) <= limit
    out.encode("utf-8")  # a page can hold it


def test_one_line_examples_and_default_mode_unchanged() -> None:
    assert plain("Bon\u200bjour\n\n  à   tous\u202e ", one_line=True) == "Bonjour à tous"
    assert plain("a \u202e b", one_line=True) == "a b"
    assert plain("x\x1by", one_line=True) == "x\\x1by"
    # Without one_line: line breaks are visible escapes, nothing else moves (the terminal).
    assert plain("a\nb  c\u200b") == "a\\x0ab  c\u200b"
    # The status page and the PDF report use it, each with its own length.
    assert status.clean_text("a\n" * 300) == plain("a\n" * 300, 200, one_line=True)
    assert len(status.clean_text("a\n" * 300)) == 200
    assert archive_report.clean_text(None) == ""
    assert archive_report.clean_text("z" * 900) == "z" * 499 + "…"


def test_init_screen_lines_are_inert() -> None:
    buf = io.StringIO()
    screen = RichScreen(Console(file=buf, width=80, color_system=None))
    screen.line(("found", "green"), " [bold]imap.evil.test\x1b]8;;x\x07:993\nsecond line")
    screen.rule("1. Account [/]")
    text = buf.getvalue()
    assert "\x1b" not in text and "\x07" not in text
    assert "found [bold]imap.evil.test\\x1b]8;;x\\x07:993\nsecond line" in text
    assert "1. Account [/]" in text


# -- strings ---------------------------------------------------------------------------------


def test_archive_report_strings_come_from_the_shared_catalogue() -> None:
    assert DIGEST_CATALOG is CATALOG
    for language in ("fr", "en"):
        ours = archive_report.STRINGS[language]
        assert ours == section(language, "archive_") and ours["title"]
        assert ours["title"] == CATALOG[language]["archive_title"]
    assert set(archive_report.STRINGS["fr"]) == set(archive_report.STRINGS["en"])
    assert archive_report.STRINGS["fr"]["ok"] != archive_report.STRINGS["en"]["ok"]
    assert set(CATALOG["fr"]) == set(CATALOG["en"])  # no string missing in one language
    assert section("xx", "archive_") == archive_report.STRINGS["en"]


def test_entry_points_run_the_cli() -> None:
    import subprocess
    import sys
    import tomllib
    from importlib import import_module
    from pathlib import Path

    from responsewatch import __version__, cli

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    module, _, name = project["project"]["scripts"]["responsewatch"].partition(":")
    assert getattr(import_module(module), name) is cli.main
    out = subprocess.run(
        [sys.executable, "-m", "responsewatch", "version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == f"responsewatch {__version__}"

"""Each hostile input costs a bounded amount of time and memory, and the rest is still read.

Bounds are loose multiples of what the cases cost here (the machine is shared), and far
below what they cost before: 16 MB line 3.2 s / 179 MB, gzip bomb 572 MB, 500,000 encoded
words over 60 s, years 0100-9999 30 s / 497 MB, 1,000,000 recipients 4.9 s / 490 MB.
"""

from __future__ import annotations

import time
from pathlib import Path

from responsewatch.core.parsing import MAX_RECIPIENTS, parse_message
from tests.support.hostile import (
    analyze_path,
    encoded_words,
    extreme_dates,
    gzip_bomb,
    long_line_mbox_gz,
    measure,
    message,
    recipients,
)

MB = 1024 * 1024


def test_a_16_mb_line_in_an_mbox_gz(tmp_path: Path) -> None:
    path = long_line_mbox_gz(tmp_path)
    analysis, stats = analyze_path(path)
    assert analysis.totals.messages == 2 and stats.skipped == 0  # the next one is still read
    seconds, peak = measure(lambda: analyze_path(path), untraced_time=False)
    assert seconds < 5 and peak < 12 * MB


def test_a_gzip_bomb_is_cut_while_streaming(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    one = gzip_bomb(tmp_path / "1")
    analysis, _ = analyze_path(one)
    assert analysis.totals.messages == 1  # its header is read; the zeros are not all kept
    seconds, peak = measure(lambda: analyze_path(one), untraced_time=False)
    assert seconds < 5 and peak < 40 * MB
    (tmp_path / "2").mkdir()
    box = gzip_bomb(tmp_path / "2", mbox=True)
    analysis, stats = analyze_path(box)
    assert stats.skipped == 1 and "gzip bomb" in stats.problems[0]
    seconds, peak = measure(lambda: analyze_path(box), untraced_time=False)
    assert seconds < 5 and peak < 12 * MB


def test_encoded_words_are_bounded_before_decoding(tmp_path: Path) -> None:
    analysis, _ = analyze_path(encoded_words(tmp_path))
    assert analysis.totals.messages == 1
    data = message("many", subject=" ".join(["=?utf-8?q?caf=C3=A9?="] * 500_000))
    start = time.perf_counter()
    msg = parse_message(data)
    assert time.perf_counter() - start < 3
    assert msg.subject.startswith("café") and len(msg.subject) < 5000


def test_dates_outside_the_window_are_undated_with_a_warning(tmp_path: Path) -> None:
    path = extreme_dates(tmp_path)
    analysis, _ = analyze_path(path)
    assert analysis.totals.undated == 2 and analysis.replies == ()
    old = parse_message((path / "old.eml").read_bytes())
    assert old.date is None and "date-out-of-range:date" in old.warnings
    seconds, peak = measure(lambda: analyze_path(path), untraced_time=False)
    assert seconds < 2 and peak < 4 * MB
    future = message("f").replace(b"Mon, 02 Nov 2026", b"Mon, 02 Nov 2027")
    future = b"Received: from x by y; Mon, 02 Nov 2026 09:00:00 +0000\n" + future
    late = parse_message(future)  # a Date a year after the server received it
    assert late.date is None and late.arrival is not None
    assert "date-after-arrival" in late.warnings


def test_a_million_recipients(tmp_path: Path) -> None:
    path = recipients(tmp_path)
    analysis, _ = analyze_path(path)
    assert analysis.totals.messages == 1
    seconds, peak = measure(lambda: analyze_path(path), untraced_time=False)
    assert seconds < 5 and peak < 48 * MB
    msg = parse_message(path.read_bytes())
    assert len(msg.cc) == MAX_RECIPIENTS and "too-many-recipients:cc" in msg.warnings
    assert msg.to == ("claire@martin-conseil.fr",)

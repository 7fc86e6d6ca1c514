"""The agreement benchmark's figures, pinned loosely so a regression fails CI.

Runs tests/benchmarks/bench_agreements.py's evaluation on the labelled sets (real mail is
read from ../shared/corpora, never copied) and checks the held-out split and the real mail
against the issue-14 targets, with some slack where the current figure is already there.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_agreements as bench  # noqa: E402
from agreement_corpus import split_of  # noqa: E402


@pytest.fixture(scope="module")
def outcomes(corpora: Path) -> Iterator[list[bench.Outcome]]:
    del corpora  # the fixture fails the test when ../shared/corpora is missing
    yield bench.run(bench.all_cases())


def _part(outcomes: list[bench.Outcome], **where: str) -> bench.Scores:
    return bench.score(o for o in outcomes if all(o.case[k] == v for k, v in where.items()))


def test_the_labelled_corpus_is_large_and_bilingual(outcomes: list[bench.Outcome]) -> None:
    cases = [o.case for o in outcomes]
    assert len(cases) >= 1000
    assert len({c["id"] for c in cases}) == len(cases)
    assert sum(c["origin"] == "real" for c in cases) >= 1000
    for lang in ("fr", "en"):
        assert sum(c["lang"] == lang and bool(c["label"]) for c in cases) >= 40
    classes = {c["class"] for c in cases}
    for cls in (
        "request",
        "question",
        "negation",
        "conditional",
        "report",
        "announcement",
        "idiom",
        "opinion",
        "past-document",
        "abbreviation",
        "deal-noun",
        "bulk",
        "wrong-language",
    ):
        assert cls in classes
    # The held-out split is the hash of the id, decided before tuning; never re-drawn.
    assert all(c["split"] == split_of(str(c["id"])) for c in cases)


def test_held_out_written_sets_meet_the_targets(outcomes: list[bench.Outcome]) -> None:
    held = _part(outcomes, split="holdout", origin="written")
    assert held.precision >= 0.97
    assert held.recall >= 0.90


def test_real_mail_false_flags_and_precision(outcomes: list[bench.Outcome]) -> None:
    for split in ("dev", "holdout"):
        real = _part(outcomes, split=split, origin="real")
        assert real.flags_per_1000 <= 2.0, split
        assert real.precision >= 0.9, split
    everything = _part(outcomes, origin="real")
    assert everything.recall >= 0.8
    # Every flag the detector raised on unread real mail, labelled by reading it.
    assert _part(outcomes, origin="real-flagged").precision >= 0.75


def test_enron_inboxes_archive_almost_nothing_false(outcomes: list[bench.Outcome]) -> None:
    real = [o for o in outcomes if o.case["origin"] == "real"]
    messages, archived, true = bench.enron_inbox_figure(real)
    assert messages == 1069
    assert archived - true <= 2  # issue 14 measured 30 archived, 1 true
    assert true >= 2

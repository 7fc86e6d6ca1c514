"""The reply histograms are reused for a carried-forward analysis, never for another one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from tests.support.mailgen import CLIENTS, ME, generate

from responsewatch.adapters import metrics
from responsewatch.app.pipeline import compute
from responsewatch.core.models import Analysis
from responsewatch.core.parsing import parse_message
from responsewatch.core.rules import ClientRule, Rules

RULES = Rules(
    me=frozenset({ME}),
    clients=tuple(ClientRule(name=d.split(".")[0], domains=(d,)) for d in list(CLIENTS)[:2]),
)


def analysis() -> Analysis:
    parsed = [parse_message(g.data) for g in generate(60, seed=4)]
    found, _ = compute(
        {m.message_id: m for m in parsed}, RULES, now=datetime(2027, 1, 1, tzinfo=UTC)
    )
    return found


def fresh(a: Analysis) -> metrics.Aggregate:
    metrics._last_histograms = (None, None, {}, [], {}, {})
    return metrics.aggregate(a, RULES, 1)


def test_other_replies_are_bucketed_again_and_the_same_ones_reused() -> None:
    a = analysis()
    assert len(a.replies) > 20 and len(a.client_replies) > 5
    first = fresh(a)
    fewer = replace(a, replies=a.replies[: len(a.replies) // 3])
    assert metrics.aggregate(fewer, RULES, 1) == fresh(fewer) != first
    metrics.aggregate(a, RULES, 1)
    cached = metrics._last_histograms
    # As core.advance does: a new Analysis with the very same reply tuples.
    carried = replace(a, now=datetime(2027, 1, 2, tzinfo=UTC))
    assert metrics.aggregate(carried, RULES, 1) == fresh(carried)
    metrics._last_histograms = cached
    metrics.aggregate(carried, RULES, 1)
    assert metrics._last_histograms is cached  # reused, not rebuilt
    # Other labels (another top_clients) are not served from the cache.
    assert metrics.aggregate(a, RULES, 0) == fresh_top(a, 0)


def fresh_top(a: Analysis, top: int) -> metrics.Aggregate:
    metrics._last_histograms = (None, None, {}, [], {}, {})
    return metrics.aggregate(a, RULES, top)

"""On real mail (Enron): the analysis carried forward in time is the full computation's,
JSON byte for byte, on the calendar and business clocks, with leave and a cadence."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from responsewatch.app.pipeline import compute, load_corpus
from responsewatch.app.report import analysis_json
from responsewatch.core.absence import my_leave
from responsewatch.core.advance import advance, next_full_recompute
from responsewatch.core.business_time import BusinessClock
from responsewatch.core.leave import NO_LEAVE, LeaveRules, LeaveSpan
from responsewatch.core.models import message_time
from responsewatch.core.rules import BusinessHours, Rules, Sla
from tests.corpus.test_parsing_corpus import ENRON

USERS = sorted(ENRON)[:3]


@pytest.mark.parametrize("user", USERS)
def test_carried_forward_equals_full_on_enron(corpora: Path, user: str) -> None:
    messages = load_corpus([corpora / "real/enron" / user]).messages
    times = sorted(t for m in messages.values() if (t := message_time(m, frozenset())) is not None)
    base = Rules(me=frozenset({ENRON[user]}), hours=BusinessHours(timezone="America/Chicago"))
    middle = compute(messages, base, now=times[len(times) * 2 // 3])[0]
    t0 = max(a.since for a in middle.awaiting) + timedelta(hours=1)  # a turn just opened
    leave = LeaveRules(spans=(LeaveSpan(t0 + timedelta(days=2), t0 + timedelta(days=9), "x"),))
    flips = compared = 0
    for rules in (
        base,
        replace(base, sla=Sla(clock="business")),
        replace(base, leave=leave, sla=Sla(report_every_s=30 * 86400.0)),
    ):
        first = compute(messages, rules, now=t0)[0]
        assert first.awaiting
        mine = my_leave(messages, rules) if rules.leave.configured else NO_LEAVE
        future = [t for m in messages.values() if (t := message_time(m, rules.me)) and t > t0]
        horizon = next_full_recompute(first, future) or datetime.max.replace(tzinfo=UTC)
        for step in (timedelta(hours=5), timedelta(days=3), timedelta(days=12)):
            t1 = t0 + step
            if t1 >= horizon:
                continue
            got = advance(first, rules, BusinessClock(rules.hours), mine, t1)
            expected = compute(messages, rules, now=t1)[0]
            assert json.dumps(analysis_json(got)) == json.dumps(analysis_json(expected))
            assert got == expected
            compared += 1
            flips += sum(
                a.state is not b.state for a, b in zip(first.awaiting, got.awaiting, strict=True)
            )
    print(f"{user}: {compared} carried-forward documents identical, {flips} state changes")
    assert flips > 0  # some states did change with time alone

"""Carrying an Analysis forward in time gives exactly the full computation at the later now."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.build import HOUR, ME, T0, msg
from tests.unit.test_latency import mailboxes

from responsewatch.app.pipeline import compute
from responsewatch.app.report import analysis_json
from responsewatch.core.absence import my_leave
from responsewatch.core.advance import advance, next_full_recompute
from responsewatch.core.business_time import BusinessClock
from responsewatch.core.leave import NO_LEAVE, LeaveRules, LeaveSpan
from responsewatch.core.models import Analysis, Message, TurnState, message_time
from responsewatch.core.rules import ClientRule, Rules, Sla

ACME = ClientRule("acme", domains=("acme.fr",), warn_at_s=6 * 3600.0)
BOLT = ClientRule("bolt", domains=("bolt.com",), report_every_s=2 * 86400.0)
BASE = Rules(me=frozenset({ME}), clients=(ACME, BOLT))
LEAVE = LeaveRules(spans=(LeaveSpan(T0 + 30 * HOUR, T0 + 80 * HOUR, "config"),))
VARIANTS = {
    "calendar": BASE,
    "business": replace(BASE, sla=Sla(clock="business")),
    "leave": replace(BASE, leave=LEAVE),
    "business+leave+cadence": replace(
        BASE, sla=Sla(clock="business", report_every_s=86400.0), leave=LEAVE
    ),
    "correspondents": Rules(me=frozenset({ME})),
}


def full(box: list[Message], rules: Rules, now: datetime) -> Analysis:
    return compute({m.message_id: m for m in box}, rules, now=now)[0]


def carried(box: list[Message], rules: Rules, t0: datetime, t1: datetime) -> Analysis | None:
    """advance(analysis at t0, t1), or None when t1 is past the next full recompute."""
    messages = {m.message_id: m for m in box}
    first = full(box, rules, t0)
    future = [t for m in box if (t := message_time(m, rules.me)) is not None and t > t0]
    horizon = next_full_recompute(first, future)
    if horizon is not None and t1 >= horizon:
        return None
    leave = my_leave(messages, rules) if rules.leave.configured else NO_LEAVE
    return advance(first, rules, BusinessClock(rules.hours), leave, t1)


@settings(max_examples=40, deadline=None)
@given(
    mailboxes(),
    st.sampled_from(sorted(VARIANTS)),
    st.integers(0, 8 * 24 * 60),
    st.integers(0, 6 * 24 * 60),
)
def test_advance_equals_the_full_computation(
    box: list[Message], variant: str, start_min: int, step_min: int
) -> None:
    rules = VARIANTS[variant]
    t0 = T0 + timedelta(minutes=start_min)
    t1 = t0 + timedelta(minutes=step_min)
    got = carried(box, rules, t0, t1)
    if got is None:
        return
    expected = full(box, rules, t1)
    assert got == expected
    assert analysis_json(got) == analysis_json(expected)


def test_states_flip_with_time_alone() -> None:
    box = [msg("a", "jean@acme.fr", at=T0)]
    seen = []
    for hours in (1, 7, 25):
        got = carried(box, BASE, T0 + HOUR / 2, T0 + hours * HOUR)
        assert got is not None and got == full(box, BASE, T0 + hours * HOUR)
        seen.append(got.awaiting[0].state)
    assert seen == [TurnState.OK, TurnState.DUE_SOON, TurnState.OVERDUE]
    acme = next(c for c in full(box, BASE, T0 + 25 * HOUR).clients if c.client == "acme")
    assert (acme.overdue, acme.breaches) == (1, 1)


def test_leave_boundaries_without_recompute() -> None:
    rules = VARIANTS["leave"]
    box = [msg("a", "jean@acme.fr", at=T0)]
    during = carried(box, rules, T0 + HOUR, T0 + 40 * HOUR)
    assert during is not None and during.awaiting[0].state is TurnState.ON_LEAVE
    after = carried(box, rules, T0 + HOUR, T0 + 81 * HOUR)
    assert after is not None and after == full(box, rules, T0 + 81 * HOUR)
    assert after.awaiting[0].age_seconds == 31 * 3600.0  # 81 h minus 50 h of leave


def test_a_cadence_due_date_asks_for_a_full_recompute() -> None:
    box = [msg("c", "mike@bolt.com", at=T0), msg("u", ME, ["mike@bolt.com"], T0 + HOUR)]
    first = full(box, BASE, T0 + 2 * HOUR)
    due = next(c for c in first.cadence if c.client == "bolt").update_due_at
    assert due == T0 + HOUR + timedelta(days=2)
    assert next_full_recompute(first) == due
    # A message dated later than now counts once its time comes.
    assert next_full_recompute(first, [T0 + 3 * HOUR]) == T0 + 3 * HOUR
    assert next_full_recompute(full(box, Rules(me=frozenset({ME})), T0)) is None

"""Leave: merged periods, both clocks paused (additive, DST-safe), on_leave, client absences."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.build import HOUR, ME, T0, msg

from responsewatch.app.pipeline import compute
from responsewatch.core import leave as leave_module
from responsewatch.core.business_time import BusinessClock
from responsewatch.core.leave import Leave, LeaveRules, LeaveSpan, day_span
from responsewatch.core.models import Analysis, Message, TurnState
from responsewatch.core.rules import BusinessHours, ClientRule, LeavePeriod, Rules, Sla

PARIS = ZoneInfo("Europe/Paris")
ACME = ClientRule("acme", domains=("acme.fr",))
RULES = Rules(me=frozenset({ME}), clients=(ACME,))
BASE = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_S = 366 * 86400


def run(messages: list[Message], rules: Rules, now: datetime) -> Analysis:
    return compute({m.message_id: m for m in messages}, rules, now=now)[0]


def with_leave(*periods: tuple[datetime, datetime], rules: Rules = RULES) -> Rules:
    spans = tuple(LeaveSpan(a, b, f"test[{i}]") for i, (a, b) in enumerate(periods))
    return replace(rules, leave=LeaveRules(spans))


def test_public_surface() -> None:
    assert leave_module.__all__ == ["NO_LEAVE", "Leave", "LeaveRules", "LeaveSpan", "day_span"]


# -- merged periods ------------------------------------------------------------------------

seconds = st.integers(min_value=0, max_value=YEAR_S)
periods = st.lists(st.tuples(seconds, st.integers(min_value=0, max_value=30 * 86400)), max_size=8)


def _at(s: int) -> datetime:
    return BASE + timedelta(seconds=s)


def _leave(raw: list[tuple[int, int]]) -> Leave:
    return Leave.of((_at(s), _at(s + d)) for s, d in raw)


@settings(max_examples=150, deadline=None)
@given(periods, seconds, seconds)
def test_overlap_matches_a_brute_force_union(raw: list[tuple[int, int]], a: int, b: int) -> None:
    # Coarse grid (1 h units) so the brute force stays cheap: every period boundary on it.
    raw = [(s // 3600 * 3600, d // 3600 * 3600) for s, d in raw]
    a, b = sorted((a // 3600 * 3600, b // 3600 * 3600))
    hours = {h for s, d in raw for h in range(s // 3600, (s + d) // 3600)}
    expected = sum(1 for h in hours if a // 3600 <= h < b // 3600) * 3600
    leave = _leave(raw)
    assert leave.overlap_seconds(_at(a), _at(b)) == expected
    assert leave.calendar_seconds(_at(a), _at(b)) == (b - a) - expected
    # Merged: sorted, disjoint, not touching.
    spans = leave.periods()
    assert all(x[1] < y[0] for x, y in pairwise(spans))


@settings(max_examples=150, deadline=None)
@given(periods, seconds, seconds, seconds)
def test_calendar_seconds_are_additive_over_split_intervals(
    raw: list[tuple[int, int]], a: int, b: int, c: int
) -> None:
    a, b, c = sorted((a, b, c))
    leave = _leave(raw)
    whole = leave.calendar_seconds(_at(a), _at(c))
    assert whole == leave.calendar_seconds(_at(a), _at(b)) + leave.calendar_seconds(_at(b), _at(c))
    assert 0 <= whole <= c - a


def test_overlapping_and_touching_periods_merge() -> None:
    leave = Leave.of(
        [(_at(0), _at(100)), (_at(50), _at(200)), (_at(200), _at(300)), (_at(400), _at(500))]
    )
    assert leave.periods() == ((_at(0), _at(300)), (_at(400), _at(500)))
    assert leave.contains(_at(299)) and not leave.contains(_at(300))
    assert leave.back_at(_at(10)) == _at(300)
    assert leave.back_at(_at(350)) is None


def test_day_span_is_whole_local_days_dst_included() -> None:
    # 2026-03-29: Paris springs forward, the day has 23 hours; 2026-10-25 has 25.
    start, end = day_span(date(2026, 3, 29), date(2026, 3, 29), PARIS)
    assert (end - start) == timedelta(hours=23)
    start, end = day_span(date(2026, 10, 25), date(2026, 10, 25), PARIS)
    assert (end - start) == timedelta(hours=25)
    start, end = day_span(date(2026, 8, 3), date(2026, 8, 21), PARIS)
    assert start == datetime(2026, 8, 2, 22, tzinfo=UTC)
    assert end == datetime(2026, 8, 21, 22, tzinfo=UTC)


# -- business clock ------------------------------------------------------------------------

HOURS = BusinessHours()
PLAIN = BusinessClock(HOURS)
# Around both 2026 DST changes, in Paris.
DST_BASE = datetime(2026, 3, 20, tzinfo=UTC)
span_s = st.integers(min_value=0, max_value=250 * 86400)


def _dst(s: int) -> datetime:
    return DST_BASE + timedelta(seconds=s)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(span_s, st.integers(min_value=0, max_value=20 * 86400)), max_size=6),
    span_s,
    span_s,
    span_s,
)
def test_business_seconds_exclude_leave_additively_and_match_a_reference(
    raw: list[tuple[int, int]], a: int, b: int, c: int
) -> None:
    a, b, c = sorted((a, b, c))
    leave = Leave.of((_dst(s), _dst(s + d)) for s, d in raw)
    clock = PLAIN.with_leave(leave)
    whole = clock.seconds_between(_dst(a), _dst(c))
    assert whole == clock.seconds_between(_dst(a), _dst(b)) + clock.seconds_between(
        _dst(b), _dst(c)
    )
    # Reference: business time of the interval minus business time of its parts inside leave.
    inside = sum(
        PLAIN.seconds_between(_from_us(lo), _from_us(hi))
        for lo, hi in leave.inside(_dst(a), _dst(c))
    )
    assert abs(whole - (PLAIN.seconds_between(_dst(a), _dst(c)) - inside)) < 1e-6
    for s, d in raw:
        if d and s + d > s:
            mid = _dst(s + d // 2)
            assert not clock.is_business_time(mid)


def _from_us(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def test_business_leave_cuts_a_window_in_the_middle() -> None:
    # Monday 2026-11-02, leave 11:00-14:00 Paris: 9 h of business hours minus 3.
    day = datetime(2026, 11, 2, tzinfo=PARIS)
    leave = Leave.of([(day.replace(hour=11), day.replace(hour=14))])
    clock = PLAIN.with_leave(leave)
    assert clock.seconds_between(day, day + timedelta(days=1)) == 6 * 3600
    assert clock.is_business_time(day.replace(hour=10, minute=59))
    assert not clock.is_business_time(day.replace(hour=11))
    assert clock.is_business_time(day.replace(hour=14))


# -- latency -------------------------------------------------------------------------------

LEAVE_FROM = T0 + 10 * HOUR
LEAVE_TO = T0 + 110 * HOUR


def test_a_turn_spanning_leave_start_and_end_counts_only_time_outside() -> None:
    rules = with_leave((LEAVE_FROM, LEAVE_TO))
    a = run(
        [
            msg("c1", "jean@acme.fr", at=T0 + 4 * HOUR),
            msg("r1", ME, ["jean@acme.fr"], at=LEAVE_TO + 5 * HOUR, refs=["c1"]),
        ],
        rules,
        now=LEAVE_TO + 50 * HOUR,
    )
    (reply,) = a.replies
    assert reply.latency_seconds == 11 * 3600  # 6 h before leave, 5 h after
    assert reply.within_sla
    assert a.clients[0].breaches == 0
    # Without the leave the same reply is a breach.
    plain = run(
        [
            msg("c1", "jean@acme.fr", at=T0 + 4 * HOUR),
            msg("r1", ME, ["jean@acme.fr"], at=LEAVE_TO + 5 * HOUR, refs=["c1"]),
        ],
        RULES,
        now=LEAVE_TO + 50 * HOUR,
    )
    assert plain.replies[0].latency_seconds == 111 * 3600 and plain.clients[0].breaches == 1


def test_a_reply_during_leave_has_the_latency_accrued_before_it() -> None:
    rules = with_leave((LEAVE_FROM, LEAVE_TO))
    a = run(
        [
            msg("c1", "jean@acme.fr", at=T0),
            msg("r1", ME, ["jean@acme.fr"], at=LEAVE_FROM + 40 * HOUR, refs=["c1"]),
            msg("c2", "jean@acme.fr", at=LEAVE_FROM + 1 * HOUR, subject="B"),
            msg("r2", ME, ["jean@acme.fr"], at=LEAVE_FROM + 2 * HOUR, subject="Re: B", refs=["c2"]),
        ],
        rules,
        now=LEAVE_TO + 50 * HOUR,
    )
    latencies = {r.message_id: r.latency_seconds for r in a.replies}
    assert latencies == {"c1": 10 * 3600, "c2": 0}
    assert all(r.after_hours for r in a.replies if r.message_id == "c2")


def test_awaiting_turn_is_on_leave_inside_leave_and_resumes_its_age_after() -> None:
    rules = with_leave((LEAVE_FROM, LEAVE_TO))
    turns = [msg("c1", "jean@acme.fr", at=T0), msg("c2", "jean@acme.fr", at=T0, subject="B")]
    during = run(turns, rules, now=LEAVE_FROM + 50 * HOUR)
    assert {w.state for w in during.awaiting} == {TurnState.ON_LEAVE}
    assert all(w.age_seconds == 10 * 3600 for w in during.awaiting)
    assert (during.clients[0].overdue, during.clients[0].breaches) == (0, 0)
    # Back from leave: 10 h before + 9 h after = 19 h, due soon (not 119 h overdue).
    after = run(turns, rules, now=LEAVE_TO + 9 * HOUR)
    assert {w.state for w in after.awaiting} == {TurnState.DUE_SOON}
    assert after.awaiting[0].age_seconds == 19 * 3600
    later = run(turns, rules, now=LEAVE_TO + 14 * HOUR)
    assert {w.state for w in later.awaiting} == {TurnState.OVERDUE}
    assert later.clients[0].breaches == 2
    # The leave's end is exclusive: at that instant the clock runs again.
    assert run(turns, rules, now=LEAVE_TO).awaiting[0].state is TurnState.OK


def test_business_clock_sla_with_leave() -> None:
    rules = replace(with_leave((LEAVE_FROM, LEAVE_TO)), sla=Sla(clock="business"))
    a = run([msg("c1", "jean@acme.fr", at=T0)], rules, now=LEAVE_FROM + HOUR)
    assert a.awaiting[0].state is TurnState.ON_LEAVE
    # Monday 10:00 -> 19:00 Paris on the business clock: 8 h (until 18:00), then leave.
    assert a.awaiting[0].business_age_seconds == 8 * 3600


def test_business_hours_leave_now_pauses_the_calendar_clock_too() -> None:
    rules = replace(
        RULES,
        hours=BusinessHours(leave=(LeavePeriod(date(2026, 11, 3), date(2026, 11, 5)),)),
    )
    # Client writes Monday 2026-11-02 10:00 Paris; leave Tue-Thu; I answer Friday 10:00.
    a = run(
        [
            msg("c1", "jean@acme.fr", at=T0),
            msg("r1", ME, ["jean@acme.fr"], at=T0 + 96 * HOUR, refs=["c1"]),
        ],
        rules,
        now=T0 + 200 * HOUR,
    )
    assert a.replies[0].latency_seconds == 24 * 3600  # Mon 10:00-24:00 and Fri 00:00-10:00
    assert a.replies[0].business_latency_seconds == (8 + 1) * 3600


def test_client_absence_pauses_their_latency_only_when_enabled() -> None:
    absent = Message(
        "ooo1",
        "jean@acme.fr",
        (ME,),
        subject="Réponse automatique : Projet",
        date=T0 + HOUR,
        arrival=T0 + HOUR,
        automated=True,
        auto_reply=True,
        absence=(None, date(2026, 11, 4)),  # back on Thursday 5th
    )
    box = [
        msg("m1", ME, ["jean@acme.fr"], at=T0),
        absent,
        msg("c1", "jean@acme.fr", at=T0 + 72 * HOUR, refs=["m1"]),
    ]
    plain = run(box, RULES, now=T0 + 100 * HOUR)
    assert plain.client_replies[0].latency_seconds == 72 * 3600
    rules = replace(RULES, leave=LeaveRules(from_client_auto_replies=True))
    a = run(box, rules, now=T0 + 100 * HOUR)
    # Away from the auto-reply (Monday 11:00 Paris) to Thursday 00:00 Paris: 61 h.
    assert a.client_replies[0].latency_seconds == (72 - 61) * 3600
    # My own clock is not affected by a client's absence.
    assert a.replies == plain.replies and a.awaiting == plain.awaiting


def test_my_auto_replies_give_leave_when_enabled() -> None:
    mine = Message(
        "ooo-me",
        ME,
        ("jean@acme.fr",),
        subject="Absent",
        date=T0 + HOUR,
        arrival=T0 + HOUR,
        automated=True,
        auto_reply=True,
        absence=(date(2026, 11, 2), date(2026, 11, 6)),
    )
    box = [msg("c1", "jean@acme.fr", at=T0), mine]
    off = run(box, RULES, now=T0 + 48 * HOUR)
    assert off.awaiting[0].state is TurnState.OVERDUE
    rules = replace(RULES, leave=LeaveRules(from_my_auto_replies=True))
    on = run(box, rules, now=T0 + 48 * HOUR)
    assert on.awaiting[0].state is TurnState.ON_LEAVE
    assert on.awaiting[0].age_seconds == 0  # the leave starts on the day's local midnight

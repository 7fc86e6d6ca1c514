"""Leave pauses the reporting cadence (issue 21 with issue 19): the time I am on leave does
not count towards an update's due date, on either SLA clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.build import ME, T0, msg

from responsewatch.app.pipeline import compute
from responsewatch.core.leave import LeaveRules, LeaveSpan, day_span
from responsewatch.core.models import Analysis, ClientCadence, Message
from responsewatch.core.rules import BusinessHours, ClientRule, Rules, Sla

DAY = timedelta(days=1)
WEEK = 7 * 86400.0
PARIS = ZoneInfo("Europe/Paris")
ACME = ClientRule("acme", domains=("acme.fr",), report_every_s=WEEK)
RULES = Rules(me=frozenset({ME}), clients=(ACME,))


def with_leave(rules: Rules, *spans: tuple[datetime, datetime]) -> Rules:
    return replace(rules, leave=LeaveRules(tuple(LeaveSpan(a, b, "config") for a, b in spans)))


def cad(messages: list[Message], rules: Rules, now: datetime) -> tuple[Analysis, ClientCadence]:
    a = compute({m.message_id: m for m in messages}, rules, now=now)[0]
    return a, next(c for c in a.cadence if c.client == "acme")


BOX = [
    msg("c1", "jean@acme.fr", at=T0),
    msg("u1", ME, ["jean@acme.fr"], T0 + DAY, subject="Point hebdo"),
    # 12 days after u1, but 6 of them on leave: 6 working days, on time for a weekly cadence.
    msg("u2", ME, ["jean@acme.fr"], T0 + 13 * DAY, subject="Point hebdo"),
]


def test_a_gap_spanning_my_leave_is_not_late() -> None:
    now = T0 + 14 * DAY
    _, without = cad(BOX, RULES, now)
    assert without.updates_late == 1  # the same mail without leave: u1 -> u2 is late
    leave = (T0 + 3 * DAY, T0 + 9 * DAY)
    a, c = cad(BOX, with_leave(RULES, leave), now)
    assert (c.updates_late, c.late, c.late_gaps) == (0, False, ())
    assert c.update_due_at == T0 + 20 * DAY  # after u2, no leave ahead: plain 7 days
    assert a.leave == (leave,)
    # Current gap: due date pushed by the leave inside it, and it is not late during leave.
    _, during = cad(BOX[:2], with_leave(RULES, leave), T0 + 8 * DAY)
    assert during.update_due_at == T0 + 14 * DAY and not during.late


def test_business_clock_due_date_lands_after_the_leave_not_inside_it() -> None:
    # Weekly cadence from Monday 2 Nov; leave the whole week of 9 Nov (local days): the update
    # is due one working week after, and on the business clock at an opening outside leave.
    rules = replace(
        with_leave(RULES, day_span(date(2026, 11, 9), date(2026, 11, 13), PARIS)),
        sla=Sla(clock="business"),
        hours=BusinessHours(timezone="Europe/Paris"),
    )
    _, c = cad(BOX[:2], rules, T0 + 10 * DAY)
    assert c.update_due_at is not None
    due_local = c.update_due_at.astimezone(PARIS)
    assert due_local.date() > date(2026, 11, 13)
    # u1 Tue 3 Nov 09:00 UTC + 7 d + 5 leave days = Sun 15 Nov -> Monday 09:00 Paris.
    assert c.update_due_at == datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    assert not c.late


@settings(max_examples=60, deadline=None)
@given(
    start=st.integers(0, 20 * 24),
    hours=st.integers(1, 20 * 24),
    now_h=st.integers(0, 40 * 24),
)
def test_leave_never_makes_a_cadence_later(start: int, hours: int, now_h: int) -> None:
    """Adding leave only pushes due dates later: it never adds a late gap or moves a due
    date earlier; without overlap with any gap, it changes nothing."""
    now = T0 + timedelta(hours=now_h)
    span = (T0 + timedelta(hours=start), T0 + timedelta(hours=start + hours))
    _, plain = cad(BOX, RULES, now)
    _, paused = cad(BOX, with_leave(RULES, span), now)
    assert paused.updates_late <= plain.updates_late
    if plain.update_due_at is not None and paused.update_due_at is not None:
        assert paused.update_due_at >= plain.update_due_at
    assert (paused.last_update_at, paused.updates) == (plain.last_update_at, plain.updates)


def test_business_due_date_at_the_leave_start_moves_past_the_whole_leave() -> None:
    # Due exactly when the leave starts (Monday 9 Nov 00:00 Paris): the next business
    # opening on my working clock is Monday 16 Nov, not the first morning of the leave.
    leave = day_span(date(2026, 11, 9), date(2026, 11, 13), PARIS)
    every = (leave[0] - (T0 + DAY)).total_seconds()
    rules = replace(
        with_leave(RULES, leave),
        clients=(replace(ACME, report_every_s=every),),
        sla=Sla(clock="business"),
        hours=BusinessHours(timezone="Europe/Paris"),
    )
    _, c = cad(BOX[:2], rules, T0 + 3 * DAY)
    assert c.update_due_at == datetime(2026, 11, 16, 8, 0, tzinfo=UTC)

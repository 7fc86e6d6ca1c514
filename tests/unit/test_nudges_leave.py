"""update_due and back_from_leave nudges, and no turn nudge while my clocks are paused by leave
(core/nudges_leave.py with core/nudges.py, planned as NudgeService.plans does)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.build import HOUR, ME, msg

from responsewatch.app.pipeline import compute
from responsewatch.core.business_time import BusinessClock
from responsewatch.core.leave import Leave, LeaveRules, LeaveSpan, day_span
from responsewatch.core.models import Analysis, Message
from responsewatch.core.nudges import NudgeKind, NudgePolicy, Plan, plan_nudges, render
from responsewatch.core.nudges_leave import (
    BACK_WITHIN,
    back_from_leave_nudges,
    previous_business_day,
    update_due_nudges,
)
from responsewatch.core.rules import BusinessHours, ClientRule, Rules, Sla

PARIS = ZoneInfo("Europe/Paris")
DAY = timedelta(days=1)
WEEK = 7 * 86400.0
HOURS = BusinessHours(timezone="Europe/Paris", holidays_country="FR")
ACME = ClientRule("Acme", domains=("acme.fr",), report_every_s=WEEK)
BOLT = ClientRule("Bolt", domains=("bolt.com",))
RULES = Rules(me=frozenset({ME}), clients=(ACME, BOLT), hours=HOURS)
ALL = frozenset({"due_soon", "overdue", "update_due", "back_from_leave"})
NEVER = NudgePolicy(kinds=ALL, quiet="never")
QUIET = NudgePolicy(kinds=ALL)
UPDATES = NudgePolicy(kinds=frozenset({"update_due"}), quiet="never")
MON = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # Monday 10:00 in Paris
# Leave: Mon 9 .. Fri 13 Nov 2026 (whole local days), back Monday 16 Nov.
LEAVE_DAYS = day_span(date(2026, 11, 9), date(2026, 11, 13), PARIS)
BACK = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # Monday 09:00 in Paris, business opens


def on_leave(rules: Rules = RULES, span: tuple[datetime, datetime] = LEAVE_DAYS) -> Rules:
    return replace(rules, leave=LeaveRules((LeaveSpan(*span, source="config"),)))


def analysis_at(messages: list[Message], now: datetime, rules: Rules) -> Analysis:
    visible = {m.message_id: m for m in messages if m.arrival is not None and m.arrival <= now}
    return compute(visible, rules, now=now)[0]


def plan_at(
    messages: list[Message],
    now: datetime,
    rules: Rules = RULES,
    policy: NudgePolicy = NEVER,
    sent: set[tuple[str, str]] | None = None,
    analysed: datetime | None = None,
) -> Plan:
    """As NudgeService.plans: the leave-cut clock, and the extra kinds."""
    a = analysis_at(messages, analysed or now, rules)
    leave = Leave.of(a.leave)
    clock = BusinessClock(rules.hours).with_leave(leave)
    done = sent or set()
    extra = update_due_nudges(a, clock, policy, now=now, timezone="Europe/Paris", sent=done)
    extra += back_from_leave_nudges(a, leave, policy, now=now, acks={})
    return plan_nudges(a, rules, clock, policy, now=now, sent=done, leave=leave, extra=extra)


def keys(p: Plan) -> list[tuple[str, str]]:
    return [(n.kind.value, n.client) for n in p.send]


# -- update_due ------------------------------------------------------------------------------

CADENCE = [
    msg("c1", ME, ["jean@acme.fr"], MON, subject="Lancement"),  # first contact, no turn
    msg("u1", ME, ["jean@acme.fr"], MON + DAY, subject="Point hebdo"),  # Tue 3 Nov 10:00
]


def test_update_due_one_business_day_before_once_and_in_both_languages() -> None:
    due = MON + 8 * DAY  # u1 + 7 days: Tuesday 10 Nov 10:00 Paris
    assert analysis_at(CADENCE, MON + 2 * DAY, RULES).cadence[0].update_due_at == due
    assert keys(plan_at(CADENCE, due - DAY - timedelta(minutes=1))) == []
    p = plan_at(CADENCE, due - DAY)
    assert keys(p) == [("update_due", "Acme")]
    (n,) = p.send
    assert (n.ref, n.deadline, n.since) == (f"Acme\n{due.isoformat()}", due, MON + DAY)
    # Once: delivered keys are never due again, and nothing is proposed after the due date.
    assert keys(plan_at(CADENCE, due - HOUR, sent={n.key})) == []
    assert keys(plan_at(CADENCE, due + HOUR)) == []
    en = render(p.send, now=due - DAY, language="en", timezone="Europe/Paris")
    assert en.title == "1 client update due: Acme"
    assert "• Acme: update due Tue 10 Nov 10:00 (last update Tue 3 Nov 10:00)" in en.body
    fr = render(p.send, now=due - DAY, language="fr", timezone="Europe/Paris")
    assert fr.title == "1 point client à envoyer : Acme"
    assert "• Acme: point attendu mar. 10 nov. 10:00 (dernier point mar. 3 nov. 10:00)" in fr.body
    # A new update moves the due date: a new key, nudged again.
    later = [*CADENCE, msg("u2", ME, ["jean@acme.fr"], due - 2 * HOUR, subject="Point")]
    (again,) = plan_at(later, due - 2 * HOUR + 6 * DAY, sent={n.key}).send
    assert again.deadline == due - 2 * HOUR + 7 * DAY and again.key != n.key


def test_update_due_is_off_unless_asked_and_respects_quiet_hours() -> None:
    due = MON + 8 * DAY
    default = NudgePolicy(quiet="never")  # the fixed default kinds
    assert plan_at(CADENCE, due - HOUR, policy=default).send == ()
    # A Saturday due date: nudged on Friday at the same time (10:00, inside business hours).
    saturday_due = datetime(2026, 11, 14, 9, 0, tzinfo=UTC)
    friday = previous_business_day(BusinessClock(HOURS), saturday_due, "Europe/Paris")
    assert friday == datetime(2026, 11, 13, 9, 0, tzinfo=UTC)
    # 11 November is a public holiday in France: a due Thursday 12 is announced Tuesday 10.
    thursday = datetime(2026, 11, 12, 7, 0, tzinfo=UTC)
    assert previous_business_day(BusinessClock(HOURS), thursday, "Europe/Paris") == datetime(
        2026, 11, 10, 7, 0, tzinfo=UTC
    )
    # Due Tuesday 08:00 local (before opening): nudge Monday 08:00 is held until 09:00.
    rules = replace(RULES, clients=(replace(ACME, report_every_s=WEEK - 2 * 3600.0), BOLT))
    p = plan_at(CADENCE, datetime(2026, 11, 9, 7, 30, tzinfo=UTC), rules, QUIET)
    assert p.send == () and [h.nudge.kind for h in p.held] == [NudgeKind.UPDATE_DUE]
    assert p.held[0].until == datetime(2026, 11, 9, 8, 0, tzinfo=UTC)


def test_update_due_right_after_my_leave_is_announced_before_it() -> None:
    # Due while I am away -> pushed past the 5 leave days (Sunday 15 Nov 10:00 Paris); one
    # business day before, on my working clock, is my last day before the leave, while I can
    # still send the update (a day inside the leave would reach me on holiday).
    rules = on_leave()
    a = analysis_at(CADENCE, MON + 2 * DAY, rules)
    due = a.cadence[0].update_due_at
    assert due == MON + 13 * DAY
    clock = BusinessClock(HOURS).with_leave(Leave.of(a.leave))
    friday_before = datetime(2026, 11, 6, 9, 0, tzinfo=UTC)
    assert previous_business_day(clock, due, "Europe/Paris") == friday_before
    assert keys(plan_at(CADENCE, friday_before, rules)) == [("update_due", "Acme")]
    assert keys(plan_at(CADENCE, friday_before - HOUR, rules)) == []
    # Due the Tuesday after I am back: announced on the Monday of my return.
    tuesday = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
    assert previous_business_day(clock, tuesday, "Europe/Paris") == tuesday - DAY


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    every_h=st.integers(20, 24 * 14),
    update_h=st.lists(st.integers(1, 24 * 40), max_size=4),
    ticks=st.lists(st.integers(0, 24 * 45 * 4), min_size=1, max_size=60),
    with_leave=st.booleans(),
)
def test_update_due_once_per_due_date_never_early_never_after(
    every_h: int, update_h: list[int], ticks: list[int], with_leave: bool
) -> None:
    rules = replace(RULES, clients=(replace(ACME, report_every_s=every_h * 3600.0), BOLT))
    if with_leave:
        rules = on_leave(rules)
    box = [msg("c1", ME, ["jean@acme.fr"], MON, subject="Lancement")]
    box += [msg(f"u{h}", ME, ["jean@acme.fr"], MON + h * HOUR, subject="Point") for h in update_h]
    delivered: dict[tuple[str, str], datetime] = {}
    for q in sorted(ticks):
        now = MON + q * timedelta(minutes=15)
        a = analysis_at(box, now, rules)
        clock = BusinessClock(HOURS).with_leave(Leave.of(a.leave))
        for n in plan_at(box, now, rules, UPDATES, sent=set(delivered)).send:
            assert n.key not in delivered  # once
            assert n.deadline is not None and now < n.deadline  # never after the due date
            assert now >= previous_business_day(clock, n.deadline, "Europe/Paris")  # not early
            assert n.deadline == a.cadence[0].update_due_at
            delivered[n.key] = now


# -- leave pauses the turn nudges --------------------------------------------------------------

ACME_MAIL = msg("a1", "jean@acme.fr", at=datetime(2026, 11, 6, 8, 0, tzinfo=UTC), subject="Devis")
DURING = msg("a2", "jean@acme.fr", at=datetime(2026, 11, 10, 8, 0, tzinfo=UTC), subject="Relance")


def test_nothing_is_sent_for_turns_paused_by_leave_even_from_a_stale_analysis() -> None:
    rules = on_leave()
    box = [ACME_MAIL, DURING]
    for now in (
        datetime(2026, 11, 10, 12, 0, tzinfo=UTC),
        datetime(2026, 11, 13, 15, 0, tzinfo=UTC),
    ):
        assert analysis_at(box, now, rules).awaiting[0].state.value == "on_leave"
        assert plan_at(box, now, rules, QUIET).send == ()
        assert plan_at(box, now, rules, NEVER).send == ()
    # An analysis from before the leave started, planned during it: still nothing.
    stale = datetime(2026, 11, 8, 22, 59, tzinfo=UTC)
    assert plan_at([ACME_MAIL], LEAVE_DAYS[0] + HOUR, rules, NEVER, analysed=stale).send == ()


def test_a_turn_from_my_leave_counts_from_my_return_not_overdue_at_once() -> None:
    warn = timedelta(seconds=RULES.sla.warn_at_s)
    calendar = on_leave(span=(LEAVE_DAYS[0], BACK))  # leave ending Monday 09:00 (instants)
    business = on_leave(replace(RULES, sla=Sla(clock="business")))
    for rules in (calendar, business):
        p = plan_at([DURING], BACK + 10 * timedelta(minutes=1), rules, NEVER)
        assert [n.kind for n in p.send] == [NudgeKind.BACK_FROM_LEAVE], rules.sla.clock
    sent = {("back_from_leave", f"{LEAVE_DAYS[0].isoformat()}\n{BACK.isoformat()}")}
    assert plan_at([DURING], BACK + warn - timedelta(minutes=1), calendar, NEVER, sent).send == ()
    (soon,) = plan_at([DURING], BACK + warn + timedelta(minutes=1), calendar, NEVER, sent).send
    assert (soon.kind, soon.due_at) == (NudgeKind.DUE_SOON, BACK + warn)
    assert soon.deadline == BACK + timedelta(seconds=RULES.sla.reply_within_s)


# -- back_from_leave -------------------------------------------------------------------------


def test_one_summary_on_the_first_business_morning_back() -> None:
    rules = on_leave()
    box = [ACME_MAIL, DURING, msg("b1", "eve@bolt.com", at=DURING.date, subject="Facture")]  # type: ignore[arg-type]
    # The leave ends at Saturday 14 Nov 00:00 Paris: held (quiet hours) until Monday 09:00.
    saturday = LEAVE_DAYS[1] + HOUR
    p = plan_at(box, saturday, rules, QUIET)
    # (a1's deadline passed before the leave: the deadline exception sends it at once.)
    assert [x.kind for x in p.send] == [NudgeKind.OVERDUE]
    assert [(h.nudge.kind, h.until) for h in p.held] == [(NudgeKind.BACK_FROM_LEAVE, BACK)]
    p = plan_at(box, BACK, rules, QUIET)
    (n,) = [x for x in p.send if x.kind is NudgeKind.BACK_FROM_LEAVE]
    assert n.ref == f"{LEAVE_DAYS[0].isoformat()}\n{LEAVE_DAYS[1].isoformat()}"
    assert n.waiting == (("Acme", 2, "Devis"), ("Bolt", 1, "Facture"))
    en = render(p.send, now=BACK, language="en", timezone="Europe/Paris")
    assert en.title.startswith("back from leave: 3 replies waiting")
    assert "  Acme: 2 (oldest: Devis)" in en.body and "on leave since Mon 9 Nov 00:00" in en.body
    fr = render([n], now=BACK, language="fr", timezone="Europe/Paris")
    assert fr.title == "retour de congés : 3 réponses en attente"
    assert "  Bolt: 1 (la plus ancienne: Facture)" in fr.body
    # Once per leave period; none during the leave; none long after it.
    assert all(
        x.kind is not NudgeKind.BACK_FROM_LEAVE
        for x in plan_at(box, BACK + HOUR, rules, QUIET, sent={n.key}).send
    )
    assert plan_at(box, LEAVE_DAYS[1] - HOUR, rules, NEVER).send == ()
    assert all(
        x.kind is not NudgeKind.BACK_FROM_LEAVE
        for x in plan_at(box, LEAVE_DAYS[1] + BACK_WITHIN, rules, NEVER).send
    )


def test_back_from_leave_with_nothing_waiting_says_so_and_needs_the_kind() -> None:
    rules = on_leave()
    (n,) = plan_at([], BACK, rules, QUIET).send
    assert n.kind is NudgeKind.BACK_FROM_LEAVE and n.waiting == ()
    assert render([n], now=BACK, language="en", timezone="Europe/Paris").title == (
        "back from leave: nothing waits"
    )
    assert plan_at([], BACK, rules, NudgePolicy()).send == ()  # not in the default kinds
    assert plan_at([], BACK, RULES, QUIET).send == ()  # no leave: no summary

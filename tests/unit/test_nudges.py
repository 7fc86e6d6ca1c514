"""core/nudges.py: which nudges are due, quiet hours, sync health, grouping and text.

The Hypothesis properties simulate a daemon: random turns, replies, acks and tick
schedules; at each tick the analysis is recomputed from the messages visible then and
every planned nudge is "delivered".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.build import HOUR, ME, msg

from responsewatch.app.pipeline import compute
from responsewatch.core.business_time import BusinessClock
from responsewatch.core.models import Message
from responsewatch.core.nudges import (
    AgreementNote,
    Nudge,
    NudgeKind,
    NudgePolicy,
    SyncHealth,
    business_instant,
    next_business_open,
    plan_nudges,
    render,
)
from responsewatch.core.rules import BusinessHours, ClientRule, Rules, Sla

PARIS = ZoneInfo("Europe/Paris")
ACME = ClientRule("Acme", domains=("acme.fr",), reply_within_s=8 * 3600.0, warn_at_s=6 * 3600.0)
BOLT = ClientRule("Bolt", domains=("bolt.com",))
RULES = Rules(me=frozenset({ME}), clients=(ACME, BOLT))
CLOCK = BusinessClock(RULES.hours)
NEVER = NudgePolicy(quiet="never")
QUIET = NudgePolicy()
MON = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # Monday 10:00 in Paris


def analysis_at(messages: list[Message], now: datetime, rules: Rules = RULES, acks=None):
    visible = {m.message_id: m for m in messages if m.arrival is not None and m.arrival <= now}
    return compute(visible, rules, now=now, acks=acks)[0]


def plan(messages, now, policy=NEVER, sent=(), rules=RULES, **kw):
    return plan_nudges(
        analysis_at(messages, now, rules), rules, BusinessClock(rules.hours), policy,
        now=now, sent=set(sent), **kw,
    )  # fmt: skip


def kinds(p) -> list[tuple[str, str]]:
    return [(n.kind.value, n.client) for n in p.send]


# -- examples -------------------------------------------------------------------------------


def test_due_soon_at_warn_at_then_overdue_at_reply_within_with_client_overrides() -> None:
    mails = [msg("a1", "jean@acme.fr", at=MON), msg("b1", "eve@bolt.com", at=MON)]
    assert plan(mails, MON + 5 * HOUR).send == ()
    p = plan(mails, MON + 6 * HOUR)  # Acme warns at 6h (override), Bolt at 18h (default)
    assert kinds(p) == [("due_soon", "Acme")]
    sent = {n.key for n in p.send}
    assert plan(mails, MON + 7 * HOUR, sent=sent).send == ()
    p = plan(mails, MON + 18 * HOUR, sent=sent)
    assert sorted(kinds(p)) == [("due_soon", "Bolt"), ("overdue", "Acme")]
    assert p.send[0].deadline is not None


def test_a_turn_already_overdue_gets_the_overdue_nudge_alone() -> None:
    p = plan([msg("b1", "eve@bolt.com", at=MON)], MON + 30 * HOUR)
    assert kinds(p) == [("overdue", "Bolt")]
    assert p.send[0].due_at == MON + 24 * HOUR


def test_replied_or_acknowledged_turns_get_nothing() -> None:
    mails = [
        msg("b1", "eve@bolt.com", at=MON),
        msg("r1", ME, ["eve@bolt.com"], at=MON + 17 * HOUR, refs=["b1"]),
        msg("b2", "eve@bolt.com", at=MON, subject="Autre"),
    ]
    now = MON + 20 * HOUR
    assert kinds(plan(mails, now)) == [("due_soon", "Bolt")]
    assert plan(mails, now, acks={"b2": MON + 19 * HOUR}).send == ()
    assert kinds(plan(mails, now, acks={"b2": MON + 21 * HOUR})) == [("due_soon", "Bolt")]


def test_business_clock_thresholds_are_business_instants() -> None:
    rules = Rules(me=frozenset({ME}), clients=(BOLT,), sla=Sla(9 * 3600.0, 4 * 3600.0, "business"))
    friday = datetime(2026, 11, 6, 16, 0, tzinfo=UTC)  # Fri 17:00 Paris: 1 business hour left
    mails = [msg("b1", "eve@bolt.com", at=friday)]
    assert plan(mails, friday + 60 * HOUR, rules=rules).send == ()  # Sunday night: 1 h so far
    monday_noon = datetime(2026, 11, 9, 11, 0, tzinfo=UTC)  # 12:00 Paris: 1 + 3 = 4 h
    p = plan(mails, monday_noon, rules=rules)
    assert kinds(p) == [("due_soon", "Bolt")] and p.send[0].due_at == monday_noon
    assert p.send[0].deadline == datetime(2026, 11, 9, 16, 0, tzinfo=UTC)  # 17:00 Paris


def test_quiet_hours_hold_until_the_window_unless_the_deadline_comes_first() -> None:
    friday_evening = datetime(2026, 11, 6, 19, 0, tzinfo=UTC)  # 20:00 Paris
    monday_open = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)  # 09:00 Paris
    acme = [msg("a1", "jean@acme.fr", at=friday_evening - 6 * HOUR)]  # deadline 22:00 Fri
    p = plan(acme, friday_evening, QUIET)
    assert kinds(p) == [("due_soon", "Acme")]  # the calendar deadline is before Monday
    bolt = [msg("b1", "eve@bolt.com", at=datetime(2026, 11, 6, 1, 0, tzinfo=UTC))]
    p = plan(bolt, datetime(2026, 11, 6, 19, 30, tzinfo=UTC), QUIET)  # 18.5 h, deadline Sat
    assert kinds(p) == [("due_soon", "Bolt")]
    stale = [SyncHealth("mail", friday_evening - 2 * HOUR)]
    p = plan([], friday_evening, QUIET, sync=stale)
    assert p.send == () and [(h.nudge.kind.value, h.until) for h in p.held] == [
        ("sync_stale", monday_open)
    ]
    assert kinds(plan([], monday_open, QUIET, sync=stale)) == [("sync_stale", "")]


def test_quiet_hold_with_a_deadline_after_the_window() -> None:
    rules = Rules(me=frozenset({ME}), clients=(BOLT,), sla=Sla(72 * 3600.0, 2 * 3600.0, "calendar"))
    saturday = datetime(2026, 11, 7, 10, 0, tzinfo=UTC)
    mails = [msg("b1", "eve@bolt.com", at=saturday - 3 * HOUR)]
    p = plan(mails, saturday, QUIET, rules=rules)
    assert p.send == () and p.held[0].until == datetime(2026, 11, 9, 8, 0, tzinfo=UTC)
    assert kinds(plan(mails, p.held[0].until, QUIET, rules=rules)) == [("due_soon", "Bolt")]


def test_sync_stale_then_recovered_once_per_episode() -> None:
    t = MON
    health = [SyncHealth("mail", t)]
    assert plan([], t + timedelta(minutes=29), sync=health).send == ()
    p = plan([], t + timedelta(minutes=30), sync=health)
    assert kinds(p) == [("sync_stale", "")] and p.send[0].account == "mail"
    sent = {n.key for n in p.send}
    assert plan([], t + HOUR, sync=health, sent=sent).send == ()
    back = [SyncHealth("mail", t + HOUR)]
    p = plan([], t + HOUR, sync=back, sent=sent)
    assert [n.kind for n in p.send] == [NudgeKind.SYNC_RECOVERED]
    sent |= {n.key for n in p.send}
    assert plan([], t + HOUR, sync=back, sent=sent).send == ()
    # A new episode is a new pair of nudges.
    p = plan([], t + 2 * HOUR, sync=back, sent=sent)
    assert [n.kind for n in p.send] == [NudgeKind.SYNC_STALE]
    # A daemon started after a long stop first gets its chance to sync.
    late_start = t + 5 * HOUR
    assert (
        plan([], late_start + timedelta(minutes=29), sync=health, watching_since=late_start).send
        == ()
    )
    assert plan([], late_start + timedelta(minutes=30), sync=health, watching_since=late_start).send
    # Never synced since start-up: stale after stale_after from the start.
    never = [SyncHealth("new", None)]
    assert plan([], t + HOUR, sync=never).send == ()  # no start time known: nothing to say
    p = plan([], t + HOUR, sync=never, watching_since=t)
    assert [n.ref for n in p.send] == ["new\nnever"]
    assert plan([], t + HOUR, sync=[SyncHealth("new", t + HOUR)], sent={p.send[0].key}).send


def test_recovered_needs_a_delivered_stale_nudge_and_kinds_filter() -> None:
    assert plan([], MON, sync=[SyncHealth("mail", MON)]).send == ()
    only_overdue = NudgePolicy(kinds=frozenset({"overdue"}), quiet="never")
    mails = [msg("b1", "eve@bolt.com", at=MON)]
    assert plan(mails, MON + 20 * HOUR, only_overdue, sync=[SyncHealth("m", None)]).send == ()
    assert kinds(plan(mails, MON + 25 * HOUR, only_overdue)) == [("overdue", "Bolt")]


def test_agreement_nudges_only_when_asked() -> None:
    note = AgreementNote("ok1@acme.fr", "Acme", "bon pour accord", MON)
    assert plan([], MON, agreements=[note]).send == ()
    with_agreements = NudgePolicy(kinds=frozenset({"agreement"}), quiet="never")
    p = plan([], MON, with_agreements, agreements=[note])
    assert [(n.kind.value, n.message_id) for n in p.send] == [("agreement", "ok1@acme.fr")]
    assert plan([], MON, with_agreements, agreements=[note], sent={p.send[0].key}).send == ()


def nudge(kind: NudgeKind, client: str, subject: str, mid: str, since: datetime) -> Nudge:
    return Nudge(kind, f"{client}\n{mid}", since + 18 * HOUR, client=client, subject=subject,
                 message_id=mid, since=since, deadline=since + 24 * HOUR)  # fmt: skip


def test_grouped_text_in_english_and_french() -> None:
    since = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    group = [
        nudge(NudgeKind.DUE_SOON, "Bolt", "Devis", "b1@bolt.com", since),
        nudge(NudgeKind.DUE_SOON, "Acme", "Planning", "a/1@acme.fr", since),
        nudge(NudgeKind.OVERDUE, "Acme", "Contrat", "a2@acme.fr", since - 10 * HOUR),
    ]
    now = since + 19 * HOUR + 5 * timedelta(minutes=1)
    en = render(group, now=now, language="en", timezone="Europe/Paris",
                open_url="https://mail.example/search?q={message_id}")  # fmt: skip
    assert en.title == "1 reply overdue: Acme · 2 replies due soon: Acme, Bolt"
    assert "• Acme: Planning" in en.body and "waiting 19 h 05" in en.body
    assert "deadline Tue 3 Nov 09:00" in en.body  # 08:00 UTC is 09:00 in Paris
    assert "Message-ID: <a/1@acme.fr>" in en.body
    assert "https://mail.example/search?q=a%2F1%40acme.fr" in en.body
    fr = render(group[:2], now=now, language="fr", timezone="Europe/Paris")
    assert fr.title == "2 réponses bientôt dues : Acme, Bolt"
    assert "en attente depuis 19 h 05, échéance mar. 3 nov. 09:00" in fr.body


def test_hostile_header_text_stays_on_its_line() -> None:
    evil = nudge(NudgeKind.OVERDUE, "Acme", "Hi\r\nBcc: x\u202e\x00" + "A" * 500, "m@x", MON)
    note = render([evil], now=MON + 30 * HOUR, language="en", timezone="UTC")
    head = note.body.splitlines()[0]
    assert "Bcc: x" in head and "\r" not in note.body and "\x00" not in note.body
    assert "\u202e" not in note.body and len(head) < 140


def test_a_long_list_is_cut_with_a_count() -> None:
    many = [nudge(NudgeKind.OVERDUE, f"C{i}", "s", f"m{i}", MON) for i in range(25)]
    body = render(many, now=MON + 30 * HOUR, language="en", timezone="UTC").body
    assert body.count("Message-ID") == 20 and body.endswith("and 5 more")
    title = render(many, now=MON, language="en", timezone="UTC").title
    assert title == "25 replies overdue: C0, C1, C10, C11, C12 +20"


def test_business_instant_and_next_open_across_dst() -> None:
    clock = BusinessClock(BusinessHours())
    sat = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # the weekend Paris springs forward
    opens = next_business_open(clock, sat)
    assert opens == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # 09:00 CEST
    assert next_business_open(clock, opens) == opens
    assert business_instant(clock, sat, 3600) == opens + HOUR
    autumn = datetime(2026, 10, 23, 15, 0, tzinfo=UTC)  # Fri 17:00 CEST, then back to CET
    at = business_instant(clock, autumn, 2 * 3600)
    assert at == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)  # Mon 10:00 CET
    assert clock.seconds_between(autumn, at) == 7200
    assert clock.seconds_between(autumn, at - timedelta(microseconds=1)) < 7200


# -- properties -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    base: datetime
    messages: list[Message]
    replies: dict[str, datetime]  # first message id -> my reply time
    acks: dict[str, datetime]
    ticks: list[datetime]
    rules: Rules


BASES = [
    datetime(2026, 11, 6, 15, 0, tzinfo=UTC),  # a Friday afternoon
    datetime(2026, 3, 27, 12, 0, tzinfo=UTC),  # before spring-forward in Paris
    datetime(2026, 10, 24, 12, 0, tzinfo=UTC),  # before fall-back in Paris
    datetime(2026, 12, 24, 12, 0, tzinfo=UTC),  # Christmas holidays (FR)
]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    base = draw(st.sampled_from(BASES))
    clock = draw(st.sampled_from(["calendar", "business"]))
    rules = Rules(
        me=frozenset({ME}),
        clients=(ACME, BOLT),
        sla=Sla(24 * 3600.0, 18 * 3600.0, clock),
        hours=BusinessHours(holidays_country="FR"),
    )
    minutes = st.integers(min_value=0, max_value=4 * 24 * 60)
    messages: list[Message] = []
    replies: dict[str, datetime] = {}
    acks: dict[str, datetime] = {}
    for i in range(draw(st.integers(1, 4))):
        sender = draw(st.sampled_from(["jean@acme.fr", "eve@bolt.com"]))
        since = base + timedelta(minutes=draw(minutes))
        mid = f"c{i}"
        messages.append(msg(mid, sender, at=since, subject=f"S{i}"))
        if draw(st.booleans()):
            at = since + timedelta(minutes=draw(st.integers(1, 3 * 24 * 60)))
            replies[mid] = at
            messages.append(msg(f"r{i}", ME, [sender], at=at, subject=f"Re: S{i}", refs=[mid]))
        elif draw(st.booleans()):
            acks[mid] = since + timedelta(minutes=draw(st.integers(1, 3 * 24 * 60)))
    offsets = draw(st.lists(minutes, min_size=1, max_size=10).map(sorted))
    ticks = [base + timedelta(minutes=m) for m in offsets]
    return Case(base, messages, replies, acks, ticks, rules)


def threshold(case: Case, since: datetime, seconds: float) -> datetime:
    if case.rules.sla.clock == "business":
        return business_instant(BusinessClock(case.rules.hours), since, seconds)
    return since + timedelta(seconds=seconds)


def simulate(case: Case, policy: NudgePolicy):
    clock = BusinessClock(case.rules.hours)
    delivered: dict[tuple[str, str], datetime] = {}
    log = []
    for t in case.ticks:
        acks = {m: at for m, at in case.acks.items() if at <= t}
        a = analysis_at(case.messages, t, case.rules, acks=acks)
        p = plan_nudges(a, case.rules, clock, policy, now=t, sent=set(delivered), acks=acks)
        assert len({n.key for n in p.send}) == len(p.send)
        for n in p.send:
            assert n.key not in delivered, "nudged twice"
            delivered[n.key] = t
        log.append((t, p))
    return delivered, log


def limits(client: str) -> tuple[float, float]:
    return (8 * 3600.0, 6 * 3600.0) if client == "Acme" else (24 * 3600.0, 18 * 3600.0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_each_nudge_once_never_early_never_after_reply_or_ack(case: Case) -> None:
    delivered, log = simulate(case, NEVER)
    first = {m.message_id: m for m in case.messages if m.message_id.startswith("c")}
    for t, p in log:
        for n in p.send:
            within, warn = limits(n.client)
            limit = warn if n.kind is NudgeKind.DUE_SOON else within
            assert t >= threshold(case, first[n.message_id].arrival, limit), "before threshold"
            reply = case.replies.get(n.message_id)
            assert reply is None or reply > t, "nudged after the reply"
            ack = case.acks.get(n.message_id)
            assert ack is None or ack > t, "nudged after the ack"
    # Nothing missed: at the last tick every unanswered turn past a threshold was nudged.
    last = case.ticks[-1]
    for mid, m in first.items():
        client = "Acme" if m.from_addr == "jean@acme.fr" else "Bolt"
        closed = [x for x in (case.replies.get(mid), case.acks.get(mid)) if x is not None]
        if closed and min(closed) <= last:
            continue
        within, warn = limits(client)
        if last >= threshold(case, m.arrival, warn):
            assert any(k[1] == f"{client}\n{mid}" for k in delivered), "threshold never nudged"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_quiet_hours_hold_and_release_at_the_next_window(case: Case) -> None:
    clock = BusinessClock(case.rules.hours)
    delivered, log = simulate(case, QUIET)
    for t, p in log:
        opens = next_business_open(clock, t)
        for n in p.send:
            # Sent outside hours only for the deadline exception.
            assert clock.is_business_time(t) or (n.deadline is not None and n.deadline < opens)
        for held in p.held:
            assert not clock.is_business_time(t) and held.until == opens and held.until > t
            assert held.nudge.deadline is None or held.nudge.deadline >= held.until
            later = [u for u, _p in log if u >= held.until]
            if not later:
                continue
            # Released at the first tick in the window, unless answered by then.
            mid = held.nudge.message_id
            closed = [x for x in (case.replies.get(mid), case.acks.get(mid)) if x is not None]
            if closed and min(closed) <= later[0]:
                continue
            assert held.nudge.key in delivered and delivered[held.nudge.key] <= later[0]


def test_exported_members_exist() -> None:
    import importlib

    for module in ("responsewatch.core.nudges", "responsewatch.adapters.notify",
                   "responsewatch.adapters.nudge_log", "responsewatch.app.notify_app"):  # fmt: skip
        mod = importlib.import_module(module)
        assert mod.__all__ and all(hasattr(mod, name) for name in mod.__all__), module

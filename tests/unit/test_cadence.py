"""Reporting cadence (DESIGN.md "Reporting cadence"): proactive updates, gaps, due dates,
mission window and business days; updates never change turns."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.build import HOUR, ME, T0, msg

from responsewatch.app.pipeline import compute
from responsewatch.app.report import analysis_json
from responsewatch.config import settings_from_mapping
from responsewatch.core.business_time import BusinessClock
from responsewatch.core.cadence import _add_unpaused, merge_intervals
from responsewatch.core.models import Analysis, ClientCadence, Message
from responsewatch.core.rules import BusinessHours, ClientRule, Rules, Sla
from responsewatch.errors import ConfigError

DAY = timedelta(days=1)
WEEK = 7 * 86400.0
PARIS = ZoneInfo("Europe/Paris")
ACME = ClientRule("acme", domains=("acme.fr",), report_every_s=WEEK)
BOLT = ClientRule("bolt", domains=("bolt.com",))
RULES = Rules(me=frozenset({ME}), clients=(ACME, BOLT))


def run(messages: list[Message], rules: Rules = RULES, now: datetime = T0 + 30 * DAY) -> Analysis:
    return compute({m.message_id: m for m in messages}, rules, now=now)[0]


def cad(a: Analysis, client: str = "acme") -> ClientCadence:
    return next(c for c in a.cadence if c.client == client)


def update(mid: str, at: datetime, to: str = "jean@acme.fr", **kw: object) -> Message:
    return msg(mid, ME, [to], at, subject=str(kw.pop("subject", "Point hebdo")), **kw)  # type: ignore[arg-type]


def test_gaps_from_first_contact_between_updates_and_the_current_one() -> None:
    box = [
        msg("c1", "jean@acme.fr", at=T0),
        update("u1", T0 + 3 * DAY),
        update("u2", T0 + 12 * DAY),  # 9 days after u1: late
    ]
    a = run(box, now=T0 + 15 * DAY)
    c = cad(a)
    assert (c.last_update_at, c.update_due_at) == (T0 + 12 * DAY, T0 + 19 * DAY)
    assert (c.updates_late, c.late, c.updates) == (1, False, 2)
    assert c.late_gaps == ((T0 + 3 * DAY, T0 + 12 * DAY),)
    later = cad(run(box, now=T0 + 20 * DAY))
    assert (later.updates_late, later.late) == (2, True)
    assert later.late_gaps[-1] == (T0 + 12 * DAY, T0 + 20 * DAY)
    # Exactly at the due instant the update is not late yet ("passes").
    assert cad(run(box, now=T0 + 19 * DAY)).late is False
    # Only acme has a cadence: bolt has no entry.
    assert [x.client for x in a.cadence] == ["acme"]


def test_a_reply_is_not_an_update_but_informs_a_client_in_copy() -> None:
    box = [
        msg("c1", "jean@acme.fr", at=T0),
        msg("b1", "mike@bolt.com", at=T0 + HOUR, subject="Autre"),
        # My reply to acme's turn, with bolt in copy: a reply for acme, an update for bolt.
        msg("r1", ME, ["jean@acme.fr"], T0 + 2 * HOUR, cc=["mike@bolt.com"], refs=["c1"]),
    ]
    rules = replace(RULES, sla=Sla(report_every_s=WEEK))
    a = run(box, rules, now=T0 + 3 * DAY)
    assert [r.reply_message_id for r in a.replies] == ["r1"]
    acme, bolt = cad(a, "acme"), cad(a, "bolt")
    assert (acme.last_update_at, acme.updates, acme.update_due_at) == (None, 0, T0 + 7 * DAY)
    assert (bolt.last_update_at, bolt.updates) == (T0 + 2 * HOUR, 1)
    # bolt's first contact is its own message, an hour before the update.
    assert bolt.window_start == T0 + HOUR


def test_automated_undated_and_future_messages_are_not_updates_forwards_are() -> None:
    box = [
        msg("c1", "jean@acme.fr", at=T0),
        update("auto", T0 + DAY, automated=True),
        update("undated", None),
        update("future", T0 + 40 * DAY),
        update("fwd", T0 + 2 * DAY, subject="TR: Livrable"),
        msg("other", ME, ["x@elsewhere.org"], T0 + 3 * DAY),
    ]
    c = cad(run(box, now=T0 + 10 * DAY))
    assert (c.last_update_at, c.updates) == (T0 + 2 * DAY, 1)
    assert c.update_due_at == T0 + 9 * DAY and c.late and c.updates_late == 1


def test_mission_window_bounds_the_gaps() -> None:
    start = date(2026, 11, 2)
    midnight = datetime.combine(start, time(0), tzinfo=PARIS).astimezone(UTC)
    rule = replace(ACME, mission_start=start, mission_length_days=15)
    rules = replace(RULES, clients=(rule, BOLT))
    box = [
        update("before", midnight - 3 * DAY),  # before the mission: last update, not a gap end
        update("u1", midnight + 8 * DAY),  # the first gap runs from mission start: late
    ]
    c = cad(run(box, rules, now=midnight + 9 * DAY))
    assert c.window_start == midnight
    assert c.window_end == datetime(2026, 11, 18, tzinfo=PARIS).astimezone(UTC)
    assert (c.updates, c.updates_late, c.late_gaps) == (1, 1, ((midnight, midnight + 8 * DAY),))
    assert c.update_due_at == midnight + 15 * DAY  # due on the last planned day: still expected
    # After the planned end nothing more is due; the missed update stays counted.
    ended = cad(run(box, rules, now=midnight + 40 * DAY))
    assert (ended.update_due_at, ended.late, ended.updates_late) == (
        midnight + 15 * DAY,
        True,
        2,
    )
    assert ended.late_gaps[-1] == (midnight + 8 * DAY, ended.window_end)
    # An update due after the planned end is not due at all.
    box.append(update("u2", midnight + 12 * DAY))
    done = cad(run(box, rules, now=midnight + 40 * DAY))
    assert (done.update_due_at, done.late, done.updates_late) == (None, False, 1)
    # Before the mission starts, the first update is due a cadence after its start.
    early = cad(run(box[:1], rules, now=midnight - DAY))
    assert (early.last_update_at, early.update_due_at) == (midnight - 3 * DAY, midnight + 7 * DAY)
    assert (early.updates, early.updates_late, early.late) == (0, 0, False)


def test_no_contact_and_no_mission_start_means_nothing_due() -> None:
    c = cad(run([msg("b1", "mike@bolt.com", at=T0)]))
    assert (c.window_start, c.update_due_at, c.updates_late, c.late) == (None, None, 0, False)


def test_business_clock_moves_a_weekend_due_date_to_monday_opening() -> None:
    # T0 is Monday 2026-11-02 09:00 UTC; five days later is Saturday.
    every = 5 * 86400.0
    rule = replace(ACME, report_every_s=every)
    box = [update("u1", T0)]
    calendar = replace(RULES, clients=(rule, BOLT))
    assert cad(run(box, calendar, now=T0 + DAY)).update_due_at == T0 + 5 * DAY
    business = replace(calendar, sla=Sla(clock="business"))
    monday = datetime(2026, 11, 9, 9, 0, tzinfo=PARIS).astimezone(UTC)
    assert cad(run(box, business, now=T0 + DAY)).update_due_at == monday
    # Saturday and Sunday: not late yet on the business clock, late on the calendar one.
    sunday = T0 + 6 * DAY
    assert cad(run(box, calendar, now=sunday)).late
    assert not cad(run(box, business, now=sunday)).late
    assert cad(run(box, business, now=monday + timedelta(seconds=1))).late
    # An update sent on Sunday, after the calendar due date, is on time for the business one.
    box.append(update("u2", sunday))
    assert cad(run(box, calendar, now=sunday + HOUR)).updates_late == 1
    assert cad(run(box, business, now=sunday + HOUR)).updates_late == 0


def test_changing_report_every_recomputes_the_history() -> None:
    box = [msg("c1", "jean@acme.fr", at=T0)] + [
        update(f"u{i}", T0 + i * 9 * DAY) for i in range(1, 4)
    ]
    now = T0 + 28 * DAY
    week = cad(run(box, now=now))
    ten = cad(
        run(
            box, replace(RULES, clients=(replace(ACME, report_every_s=10 * 86400.0), BOLT)), now=now
        )
    )
    assert (week.updates_late, ten.updates_late) == (3, 0)
    # Gaps of exactly report_every are on time: late means longer.
    nine = replace(RULES, clients=(replace(ACME, report_every_s=9 * 86400.0), BOLT))
    assert cad(run(box, nine, now=now)).updates_late == 0
    assert week.update_due_at == T0 + 34 * DAY and ten.update_due_at == T0 + 37 * DAY


def test_sla_default_applies_to_all_and_off_opts_a_client_out() -> None:
    s = settings_from_mapping(
        {
            "me": {"addresses": [ME]},
            "sla": {"report_every": "2w"},
            "clients": [
                {"name": "acme", "domains": ["acme.fr"]},
                {"name": "bolt", "domains": ["bolt.com"], "report_every": "off"},
                {"name": "celsius", "domains": ["celsius.fr"], "report_every": "3d"},
            ],
        }
    )
    box = [msg("c1", "jean@acme.fr", at=T0), msg("b1", "mike@bolt.com", at=T0)]
    a = run(box, s.rules)
    assert {c.client: c.report_every_s for c in a.cadence} == {
        "acme": 14 * 86400.0,
        "celsius": 3 * 86400.0,
    }


def test_bad_report_every_is_named_with_its_fix() -> None:
    raw = {
        "me": {"addresses": [ME]},
        "sla": {"report_every": "30m"},  # shorter than an hour: a typo
        "clients": [{"name": "acme", "domains": ["acme.fr"], "report_every": "weekly"}],
    }
    with pytest.raises(ConfigError) as err:
        settings_from_mapping(raw)
    text = str(err.value)
    assert "sla.report_every" in text and "clients[0].report_every" in text and '"7d"' in text


def test_json_keys_only_for_clients_with_a_cadence() -> None:
    box = [msg("c1", "jean@acme.fr", at=T0), update("u1", T0 + DAY)]
    plain = replace(RULES, clients=(replace(ACME, report_every_s=None), BOLT))
    base = analysis_json(run(box, plain))
    doc = analysis_json(run(box, RULES))
    rows = {r["client"]: r for r in doc["clients"]}
    assert rows["acme"]["last_update_at"] == "2026-11-03T09:00:00+00:00"
    assert rows["acme"]["update_due_at"] == "2026-11-10T09:00:00+00:00"
    assert rows["acme"]["updates_late"] == 1  # one gap of 29 days: counted once
    assert "last_update_at" not in rows["bolt"]
    # Everything else is the document without a cadence.
    for row in doc["clients"]:
        for key in ("last_update_at", "update_due_at", "updates_late"):
            row.pop(key, None)
    assert doc == base
    assert all("last_update_at" not in r for r in base["clients"])
    none_yet = analysis_json(run(box[:1], RULES))["clients"][0]
    assert none_yet["last_update_at"] is None and none_yet["updates_late"] == 1


def test_paused_time_stretches_a_due_date() -> None:
    paused = merge_intervals([(T0 + 2 * DAY, T0 + 4 * DAY), (T0 + 3 * DAY, T0 + 5 * DAY)])
    assert paused == ((T0 + 2 * DAY, T0 + 5 * DAY),)
    assert _add_unpaused(T0, WEEK, paused) == T0 + 10 * DAY
    assert _add_unpaused(T0, WEEK, ()) == T0 + 7 * DAY
    # A gap starting inside a pause counts from the pause's end.
    assert _add_unpaused(T0 + 3 * DAY, DAY.total_seconds(), paused) == T0 + 6 * DAY


def test_next_business_time() -> None:
    clock = BusinessClock(BusinessHours(holidays_country="FR"))
    monday = datetime(2026, 11, 9, 9, 0, tzinfo=PARIS)
    saturday = datetime(2026, 11, 7, 14, 0, tzinfo=PARIS)
    assert clock.next_business_time(saturday) == monday.astimezone(UTC)
    friday_night = datetime(2026, 11, 6, 20, 0, tzinfo=PARIS)
    assert clock.next_business_time(friday_night) == monday.astimezone(UTC)
    inside = datetime(2026, 11, 4, 11, 30, tzinfo=PARIS)
    assert clock.next_business_time(inside) == inside.astimezone(UTC)
    # 11 November is a French public holiday: the next opening is on the 12th.
    armistice = datetime(2026, 11, 11, 10, 0, tzinfo=PARIS)
    assert clock.next_business_time(armistice) == datetime(
        2026, 11, 12, 9, 0, tzinfo=PARIS
    ).astimezone(UTC)
    # New Year's Eve evening -> the first working day of the next year (table rebuilt).
    eve = datetime(2026, 12, 31, 19, 0, tzinfo=PARIS)
    assert clock.next_business_time(eve) == datetime(2027, 1, 4, 9, 0, tzinfo=PARIS).astimezone(UTC)
    never = BusinessClock(BusinessHours(days=()))
    assert never.next_business_time(saturday) == saturday.astimezone(UTC)


# -- properties ----------------------------------------------------------------------------

PEOPLE = ["jean@acme.fr", "sophie@acme.fr", "mike@bolt.com", ME]
PROPERTY_RULES = Rules(
    me=frozenset({ME}),
    clients=(replace(ACME, report_every_s=2 * 86400.0), BOLT),
    sla=Sla(report_every_s=86400.0),
)
NOW = T0 + 8 * DAY


@st.composite
def mailboxes(draw: st.DrawFn) -> list[Message]:
    n = draw(st.integers(1, 25))
    out: list[Message] = []
    for i in range(n):
        sender = draw(st.sampled_from(PEOPLE))
        to = draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=2, unique=True))
        parent = draw(st.one_of(st.none(), st.integers(0, max(0, i - 1))))
        at = (
            None
            if draw(st.integers(0, 20)) == 0
            else T0 + timedelta(minutes=draw(st.integers(0, 60 * 24 * 7)))
        )
        out.append(
            msg(
                f"m{i}",
                sender,
                to,
                at,
                refs=[f"m{parent}"] if parent is not None and i else [],
                thanks=draw(st.booleans()),
                subject=draw(st.sampled_from(["Projet", "Re: Projet", "TR: Projet"])),
                automated=draw(st.integers(0, 10)) == 0,
            )
        )
    return out


@settings(max_examples=30, deadline=None)
@given(
    mailboxes(),
    st.sampled_from(["calendar", "business"]),
    st.one_of(st.none(), st.tuples(st.integers(-3, 6), st.integers(1, 6))),
    st.randoms(use_true_random=False),
)
def test_updates_never_change_turns_and_gaps_are_counted_once(
    box: list[Message], clock: str, mission: tuple[int, int] | None, rnd: random.Random
) -> None:
    rules = replace(PROPERTY_RULES, sla=replace(PROPERTY_RULES.sla, clock=clock))
    if mission is not None:  # acme's mission: start (days from T0) and length (days)
        acme = replace(
            rules.clients[0],
            mission_start=(T0 + mission[0] * DAY).date(),
            mission_length_days=mission[1],
        )
        rules = replace(rules, clients=(acme, *rules.clients[1:]))
    without = replace(
        rules,
        clients=tuple(replace(c, report_every_s=None) for c in rules.clients),
        sla=replace(rules.sla, report_every_s=None),
    )
    a = run(box, rules, now=NOW)
    plain = run(box, without, now=NOW)
    assert plain.cadence == ()
    assert replace(a, cadence=()) == plain  # an update never opens or closes a turn
    shuffled = list(box)
    rnd.shuffle(shuffled)
    assert run(shuffled, rules, now=NOW) == a
    assert {c.client for c in a.cadence} == {c.client for c in a.clients}
    for c in a.cadence:
        assert c.updates_late == len(c.late_gaps) <= c.updates + 1
        assert c.late == (c.update_due_at is not None and c.update_due_at < NOW)
        ends = [g for gap in c.late_gaps for g in gap]
        assert ends == sorted(ends)  # disjoint, in order: each gap counted once
        for start, end in c.late_gaps:
            assert (end - start).total_seconds() > c.report_every_s
        if c.last_update_at is not None:
            assert c.last_update_at <= NOW
        if c.window_start is not None and c.late_gaps:
            assert c.window_start <= c.late_gaps[0][0]
        if c.window_end is not None:
            assert all(end <= c.window_end for _start, end in c.late_gaps)
            assert c.update_due_at is None or c.update_due_at < c.window_end


@settings(max_examples=20, deadline=None)
@given(mailboxes())
def test_a_reply_never_counts_as_an_update(box: list[Message]) -> None:
    a = run(box, PROPERTY_RULES, now=NOW)
    late = NOW - HOUR  # later than every generated message
    for turn in a.awaiting:
        if turn.client != "acme":
            continue
        reply = msg(
            "reply",
            ME,
            ["jean@acme.fr"],
            late,
            subject="Re: Projet",
            refs=[turn.first_unanswered_message_id],
        )
        after = run([*box, reply], PROPERTY_RULES, now=NOW)
        # Usually the reply to that turn; but the new participant can let the subject
        # fallback thread an earlier message of mine into that turn's conversation first.
        # Either way it is an update exactly when it is not a reply.
        is_reply = any(r.reply_message_id == "reply" and r.client == "acme" for r in after.replies)
        assert (cad(after).last_update_at == late) is not is_reply
    # The same message outside any conversation with an open turn is an update.
    fresh = msg("fresh", ME, ["jean@acme.fr"], late, subject="Point hebdo")
    assert cad(run([*box, fresh], PROPERTY_RULES, now=NOW)).last_update_at == late

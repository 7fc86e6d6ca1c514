"""Insights with a fixed ``now``: windows cut at local midnight across DST, after-hours on
holidays, long missions, quiet relationships, rising signals, open my-turns, out-of-office.

``scenario()`` is also the data of the digest render and SMTP tests.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from tests.support.build import ME, msg

from responsewatch.app.pipeline import compute
from responsewatch.core.insights import (
    DEFAULT_MISSION_DAYS,
    Insights,
    Trend,
    insights,
    insights_json,
    parse_return_date,
)
from responsewatch.core.models import Analysis, Message
from responsewatch.core.rules import BusinessHours, ClientRule, Rules

H = timedelta(hours=1)
D = timedelta(days=1)
FR_HOURS = BusinessHours(holidays_country="FR")
ACME = ClientRule("acme", domains=("acme.fr",), mission_start=date(2026, 8, 1))
BOLT = ClientRule("bolt", domains=("bolt.com",), mission_start=date(2026, 10, 1),
                  mission_length_days=90)  # fmt: skip
DORMANT = ClientRule("dormant", domains=("dormant.io",))
RULES = Rules(me=frozenset({ME}), clients=(ACME, BOLT, DORMANT), hours=FR_HOURS)
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 10:00 in Paris (CET)
QUIET = 60 * 86400.0


def _exchange(
    prefix: str, client_addr: str, asked: datetime, answered: datetime, *, mine_first: bool = False
) -> list[Message]:
    """A client question answered by me (or, mine_first, my question answered by the client)."""
    a, b = f"{prefix}-a", f"{prefix}-b"
    if mine_first:
        return [
            msg(a, ME, [client_addr], at=asked, subject=f"Point {prefix}"),
            msg(
                b,
                client_addr,
                [ME],
                at=answered,
                refs=[a],
                subject=f"Re: Point {prefix}",
                thanks=True,
            ),
        ]
    return [
        msg(a, client_addr, [ME], at=asked, subject=f"Demande {prefix}"),
        msg(b, ME, [client_addr], at=answered, refs=[a], subject=f"Re: Demande {prefix}"),
    ]


def scenario() -> tuple[list[Message], Rules, datetime]:
    out: list[Message] = []
    # acme: 4 questions in the previous window, 9 in the current one (rising requests);
    # their answers to my questions go from 2 h to 30 h (rising latency).
    for i in range(4):
        asked = datetime(2026, 10, 5 + i, 8, 0, tzinfo=UTC)
        out += _exchange(f"acme-p{i}", "jean@acme.fr", asked, asked + 3 * H)
        out += _exchange(f"acme-cp{i}", "jean@acme.fr", asked, asked + 2 * H, mine_first=True)
    for i, day in enumerate((2, 3, 4, 5, 6, 9, 10, 12, 13)):  # working days, not the 11th
        asked = datetime(2026, 11, day, 8, 0, tzinfo=UTC)
        # Two replies at 20:00 Paris time: after hours.
        answered = asked + (11 * H if i < 2 else 5 * H)
        out += _exchange(f"acme-c{i}", "jean@acme.fr", asked, answered)
    for i in range(3):
        asked = datetime(2026, 11, 3 + i, 8, 0, tzinfo=UTC)
        out += _exchange(f"acme-cc{i}", "jean@acme.fr", asked, asked + 30 * H, mine_first=True)
    # Overdue (Saturday morning) and due soon (Sunday afternoon) client questions.
    out.append(msg("acme-late", "jean@acme.fr", at=NOW - 49 * H, subject="Validation du livrable"))
    out.append(msg("bolt-soon", "anne@bolt.com", at=NOW - 21 * H, subject="Question planning"))
    # bolt: one quick reply, my open question (they owe me), an out-of-office.
    out += _exchange("bolt-1", "anne@bolt.com", NOW - 10 * D, NOW - 10 * D + 2 * H)
    out.append(msg("bolt-ask", ME, ["anne@bolt.com"], at=NOW - 3 * D, subject="Devis phase 2"))
    ooo = msg("bolt-ooo", "anne@bolt.com", at=NOW - 3 * D + H, automated=True,
              subject="Réponse automatique : absente du 18 au 27 novembre")  # fmt: skip
    out.append(replace(ooo, auto_reply=True))
    # dormant: last exchange in August.
    out += _exchange("dormant", "luc@dormant.io", datetime(2026, 8, 10, 8, tzinfo=UTC),
                     datetime(2026, 8, 10, 9, tzinfo=UTC))  # fmt: skip
    return out, RULES, NOW


def run(
    messages: list[Message], rules: Rules = RULES, now: datetime = NOW
) -> tuple[Analysis, Insights]:
    by_id = {m.message_id: m for m in messages}
    analysis, conversations = compute(by_id, rules, now=now)
    ins = insights(
        by_id, analysis, rules, now=now, quiet_after_s=QUIET, conversations=conversations
    )
    return analysis, ins


@pytest.fixture(scope="module")
def full() -> tuple[Analysis, Insights]:
    messages, rules, now = scenario()
    return run(messages, rules, now)


def test_windows_are_four_weeks_of_local_dates(full: tuple[Analysis, Insights]) -> None:
    ins = full[1]
    # 2026-10-27 00:00 in Paris (CET, after the 25 October DST change) is 23:00 UTC.
    assert ins.window_start == datetime(2026, 10, 26, 23, 0, tzinfo=UTC)
    # 2026-09-29 00:00 in Paris was still summer time (CEST): 22:00 UTC.
    assert ins.previous_start == datetime(2026, 9, 28, 22, 0, tzinfo=UTC)


def test_after_hours_counts_and_trend(full: tuple[Analysis, Insights]) -> None:
    rows = {a.client: a for a in full[1].after_hours}
    assert (rows["acme"].current, rows["acme"].previous, rows["acme"].trend) == (2, 0, Trend.UP)
    assert "bolt" not in rows


def test_holiday_reply_counts_as_after_hours_only_with_holidays_configured() -> None:
    # Wednesday 11 November 2026 (Armistice) at 10:00 Paris time.
    asked = datetime(2026, 11, 11, 8, 0, tzinfo=UTC)
    messages = _exchange("h", "jean@acme.fr", asked, asked + H)
    with_holidays = run(messages)[1]
    assert [(a.client, a.current) for a in with_holidays.after_hours] == [("acme", 1)]
    plain = replace(RULES, hours=BusinessHours())
    assert run(messages, plain)[1].after_hours == ()


def test_same_utc_time_is_business_time_before_dst_end_and_after_hours_after() -> None:
    # 07:30 UTC is 09:30 CEST on Friday 23 October, 08:30 CET on Monday 26 October.
    friday = datetime(2026, 10, 23, 7, 30, tzinfo=UTC)
    monday = datetime(2026, 10, 26, 7, 30, tzinfo=UTC)
    messages = _exchange("f", "jean@acme.fr", friday - H, friday) + _exchange(
        "m", "jean@acme.fr", monday - H, monday
    )
    analysis, ins = run(messages, now=datetime(2026, 10, 30, 12, tzinfo=UTC))
    assert {r.reply_message_id: r.after_hours for r in analysis.replies} == {
        "f-b": False,
        "m-b": True,
    }
    assert [(a.client, a.current) for a in ins.after_hours] == [("acme", 1)]


def test_window_boundary_is_local_midnight_across_dst() -> None:
    # now = Saturday 21 November: the current window starts on 25 October (the DST day)
    # at 00:00 CEST = 24 October 22:00 UTC. Exactly 28 x 24 h before now would be 08:00 UTC.
    now = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    inside = datetime(2026, 10, 24, 22, 30, tzinfo=UTC)  # 00:30 on 25 October, Paris
    outside = datetime(2026, 10, 24, 21, 30, tzinfo=UTC)  # 23:30 on 24 October, Paris
    messages = _exchange("in", "jean@acme.fr", inside - H, inside) + _exchange(
        "out", "jean@acme.fr", outside - H, outside
    )
    ins = run(messages, now=now)[1]
    assert ins.window_start == datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    assert [(a.current, a.previous) for a in ins.after_hours] == [(1, 1)]


def test_long_missions_default_to_two_months(full: tuple[Analysis, Insights]) -> None:
    (mission,) = full[1].long_missions
    assert mission.client == "acme"
    assert mission.length_days == DEFAULT_MISSION_DAYS
    assert mission.planned_end == date(2026, 8, 1) + timedelta(days=DEFAULT_MISSION_DAYS)
    assert mission.days_over == (date(2026, 11, 23) - mission.planned_end).days


def test_mission_ends_on_its_last_planned_local_day() -> None:
    rule = ClientRule(
        "x", domains=("x.fr",), mission_start=date(2026, 1, 1), mission_length_days=10
    )
    rules = replace(RULES, clients=(rule,))
    # 11 January 23:30 in Paris is still the planned end date; 00:30 on the 12th is over.
    assert run([], rules, datetime(2026, 1, 11, 22, 30, tzinfo=UTC))[1].long_missions == ()
    (over,) = run([], rules, datetime(2026, 1, 11, 23, 30, tzinfo=UTC))[1].long_missions
    assert over.days_over == 1


def test_quiet_relationships_with_last_contact(full: tuple[Analysis, Insights]) -> None:
    quiet = {q.client: q for q in full[1].quiet}
    assert set(quiet) == {"dormant"}
    assert quiet["dormant"].last_contact == datetime(2026, 8, 10, 9, tzinfo=UTC)
    assert quiet["dormant"].quiet_days == (NOW - datetime(2026, 8, 10, 9, tzinfo=UTC)).days


def test_configured_client_never_seen_is_quiet_and_automated_mail_is_no_contact() -> None:
    news = msg("n1", "news@dormant.io", at=NOW - D, automated=True)
    (q,) = [q for q in run([news])[1].quiet if q.client == "dormant"]
    assert q.last_contact is None


def test_rising_client_latency_and_request_rate(full: tuple[Analysis, Insights]) -> None:
    rising = {(r.client, r.signal): r for r in full[1].rising}
    assert set(rising) == {("acme", "latency"), ("acme", "requests")}
    assert rising[("acme", "latency")].current == 30 * 3600
    assert rising[("acme", "latency")].previous == 2 * 3600
    # Turns per week: 9 answered + 1 overdue in the current window, 4 in the previous one.
    assert rising[("acme", "requests")].previous == pytest.approx(4 / 4)
    assert rising[("acme", "requests")].current == pytest.approx(10 / 4)


def test_my_latency_trend(full: tuple[Analysis, Insights]) -> None:
    mine = full[1].my_latency
    assert mine.previous_count == 4
    assert mine.current_count == 10  # 9 acme replies + 1 bolt
    assert mine.previous_median_s == 3 * 3600
    assert mine.trend is Trend.UP  # current median 5 h > 3 h x 1.25


def test_owed_lists_my_open_turns_only(full: tuple[Analysis, Insights]) -> None:
    owed = full[1].owed
    assert [(o.client, o.message_id, o.subject) for o in owed] == [
        ("bolt", "bolt-ask", "Devis phase 2")
    ]
    assert owed[0].age_seconds == 3 * 86400


def test_out_of_office_with_return_date(full: tuple[Analysis, Insights]) -> None:
    (ooo,) = full[1].out_of_office
    assert (ooo.client, ooo.address, ooo.return_date) == (
        "bolt",
        "anne@bolt.com",
        date(2026, 11, 27),
    )


def test_out_of_office_already_back_is_dropped() -> None:
    ooo = replace(
        msg("o", "anne@bolt.com", at=NOW - 5 * D, automated=True, subject="Absent jusqu'au 20/11"),
        auto_reply=True,
    )
    assert run([ooo])[1].out_of_office == ()


@pytest.mark.parametrize(
    ("subject", "received", "expected"),
    [
        ("Absente du 18 au 27 novembre", date(2026, 11, 20), date(2026, 11, 27)),
        ("Out of office until 2026-12-03", date(2026, 11, 20), date(2026, 12, 3)),
        ("Absent jusqu'au 05/01", date(2026, 12, 20), date(2027, 1, 5)),
        ("Back on January 4th, 2027", date(2026, 12, 20), date(2027, 1, 4)),
        ("Abwesend: 12.03.2027", date(2027, 3, 1), date(2027, 3, 12)),
        ("Automatic reply: Projet", date(2026, 11, 20), None),
        ("Absent jusqu'au 31/02", date(2026, 11, 20), None),
    ],
)
def test_parse_return_date(subject: str, received: date, expected: date | None) -> None:
    assert parse_return_date(subject, received) == expected


def test_trends_need_enough_data() -> None:
    asked = NOW - 2 * D
    ins = run(_exchange("x", "jean@acme.fr", asked, asked + H))[1]
    assert ins.my_latency.trend is Trend.UNKNOWN
    assert ins.rising == ()


def test_insights_json_is_serialisable(full: tuple[Analysis, Insights]) -> None:
    doc = json.loads(json.dumps(insights_json(full[1])))
    assert set(doc) == {
        "window_start",
        "previous_window_start",
        "after_hours",
        "long_missions",
        "quiet",
        "rising",
        "my_latency",
        "owed_to_me",
        "out_of_office",
    }
    assert doc["after_hours"][0] == {"client": "acme", "current": 2, "previous": 0, "trend": "up"}
    assert doc["quiet"][0]["last_contact"] == "2026-08-10T09:00:00+00:00"
    assert doc["out_of_office"][0]["return_date"] == "2026-11-27"
    assert doc["my_latency"]["trend"] == "up"

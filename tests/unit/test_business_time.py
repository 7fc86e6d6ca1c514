"""BusinessClock: concrete cases, DST, holidays, leave, and properties against slow references."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import responsewatch.core.business_time as business_time
from responsewatch.core.business_time import BusinessClock
from responsewatch.core.rules import BusinessHours, LeavePeriod

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
H = 3600.0
ALL_DAYS = (0, 1, 2, 3, 4, 5, 6)


def paris(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=PARIS)


def clock(**kwargs: object) -> BusinessClock:
    return BusinessClock(BusinessHours(**kwargs))  # type: ignore[arg-type]


DEFAULT = clock()
FR = clock(holidays_country="FR")
FR_57 = clock(holidays_country="FR", holidays_subdivision="57")


def test_public_surface() -> None:
    assert business_time.__all__ == ["BusinessClock"]


# -- concrete examples -------------------------------------------------------------------


def test_friday_evening_to_monday_morning_is_two_hours() -> None:
    # Fri 2026-03-06 17:00 -> Mon 2026-03-09 10:00: one hour on Friday, one on Monday.
    assert DEFAULT.seconds_between(paris(2026, 3, 6, 17), paris(2026, 3, 9, 10)) == 2 * H


def test_24_calendar_hours_over_a_weekend() -> None:
    assert DEFAULT.seconds_between(paris(2026, 3, 7, 10), paris(2026, 3, 8, 10)) == 0.0
    # Friday noon -> Saturday noon: only Friday's afternoon.
    assert DEFAULT.seconds_between(paris(2026, 3, 6, 12), paris(2026, 3, 7, 12)) == 6 * H


def test_interval_entirely_at_night_is_zero() -> None:
    assert DEFAULT.seconds_between(paris(2026, 3, 10, 19), paris(2026, 3, 11, 8, 59)) == 0.0


def test_whole_week_and_partial_days() -> None:
    assert DEFAULT.seconds_between(paris(2026, 3, 9), paris(2026, 3, 16)) == 45 * H
    assert DEFAULT.seconds_between(paris(2026, 3, 10, 8), paris(2026, 3, 10, 9, 30)) == 0.5 * H
    assert DEFAULT.seconds_between(paris(2026, 3, 10, 17, 59, 30), paris(2026, 3, 11)) == 30.0


def test_empty_or_reversed_interval_is_zero() -> None:
    t = paris(2026, 3, 10, 10)
    assert DEFAULT.seconds_between(t, t) == 0.0
    assert DEFAULT.seconds_between(t, t - timedelta(hours=5)) == 0.0


def test_inputs_in_any_timezone_are_the_same_instants() -> None:
    a, b = paris(2026, 3, 6, 17), paris(2026, 3, 9, 10)
    assert DEFAULT.seconds_between(a.astimezone(UTC), b.astimezone(TOKYO)) == 2 * H
    assert DEFAULT.is_business_time(datetime(2026, 3, 10, 8, 30, tzinfo=UTC))  # 09:30 Paris


def test_microseconds_are_counted() -> None:
    t = paris(2026, 3, 10, 10)
    assert DEFAULT.seconds_between(t, t + timedelta(microseconds=1)) == pytest.approx(1e-6)


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        DEFAULT.seconds_between(datetime(2026, 3, 10, 10), paris(2026, 3, 10, 11))
    with pytest.raises(ValueError, match="timezone-aware"):
        DEFAULT.is_business_time(datetime(2026, 3, 10, 10))


def test_is_business_time_boundaries() -> None:
    assert DEFAULT.is_business_time(paris(2026, 3, 10, 9))
    assert not DEFAULT.is_business_time(paris(2026, 3, 10, 8, 59, 59))
    assert DEFAULT.is_business_time(paris(2026, 3, 10, 17, 59, 59))
    assert not DEFAULT.is_business_time(paris(2026, 3, 10, 18))
    assert not DEFAULT.is_business_time(paris(2026, 3, 7, 12))  # Saturday


def test_interval_across_years_and_cache_order() -> None:
    a, b = paris(2025, 12, 31, 12), paris(2027, 1, 4, 12)
    whole = FR.seconds_between(a, b)
    warmed = clock(holidays_country="FR")
    # Build the later years first so the table has to grow backwards.
    assert warmed.seconds_between(paris(2027, 1, 1), b) == 3 * H
    mid = paris(2026, 6, 15)
    assert warmed.seconds_between(mid, b) + warmed.seconds_between(a, mid) == whole
    assert whole == warmed.seconds_between(a, b)
    # 2026 in France: 261 weekdays, 9 of the holidays fall on a weekday.
    assert warmed.seconds_between(paris(2026, 1, 1), paris(2027, 1, 1)) == (261 - 9) * 9 * H
    # is_business_time grows the table too.
    assert warmed.is_business_time(paris(2031, 3, 3, 10))
    assert not warmed.is_business_time(paris(2031, 5, 1, 10))


def test_windows_of_a_local_date_in_another_utc_year_are_seen_by_a_fresh_clock() -> None:
    # Dec 31 2025 20:00-24:00 in New York is Jan 1 2026 01:00-05:00 UTC.
    ny_evening = clock(timezone="America/New_York", days=ALL_DAYS, start=time(20), end=time(0))
    t = datetime(2026, 1, 1, 2, tzinfo=UTC)
    assert ny_evening.is_business_time(t)
    fresh = clock(timezone="America/New_York", days=ALL_DAYS, start=time(20), end=time(0))
    assert fresh.seconds_between(t, t + timedelta(hours=1)) == H
    # Jan 1 2027 00:00-09:00 in Tokyo is Dec 31 2026 15:00-24:00 UTC.
    tokyo_night = clock(timezone="Asia/Tokyo", days=ALL_DAYS, start=time(0), end=time(9))
    t = datetime(2026, 12, 31, 16, tzinfo=UTC)
    assert tokyo_night.seconds_between(t, t + timedelta(hours=1)) == H
    fresh = clock(timezone="Asia/Tokyo", days=ALL_DAYS, start=time(0), end=time(9))
    assert fresh.is_business_time(t)


# -- DST -----------------------------------------------------------------------------------


@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25)])
def test_dst_days_still_have_nine_business_hours(day: date) -> None:
    every_day = clock(days=ALL_DAYS)
    start = datetime.combine(day, time(0), tzinfo=PARIS)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=PARIS)
    calendar = (end - start.astimezone(UTC)).total_seconds()
    assert calendar == (23 * H if day.month == 3 else 25 * H)
    assert every_day.seconds_between(start, end) == 9 * H
    assert every_day.is_business_time(datetime.combine(day, time(9), tzinfo=PARIS))
    assert not every_day.is_business_time(datetime.combine(day, time(18), tzinfo=PARIS))


def test_calendar_interval_across_spring_forward() -> None:
    every_day = clock(days=ALL_DAYS)
    # Sat 12:00 -> Sun 12:00 local is only 23 real hours; business: 6 h + 3 h.
    a, b = paris(2026, 3, 28, 12), paris(2026, 3, 29, 12)
    assert (b - a.astimezone(UTC)).total_seconds() == 23 * H
    assert every_day.seconds_between(a, b) == 9 * H
    # Fri 12:00 -> Mon 12:00 with weekends off: 6 h + 3 h.
    assert DEFAULT.seconds_between(paris(2026, 3, 27, 12), paris(2026, 3, 30, 12)) == 9 * H


def test_calendar_interval_across_fall_back() -> None:
    every_day = clock(days=ALL_DAYS)
    a, b = paris(2026, 10, 24, 17), paris(2026, 10, 26, 10)
    assert (b - a.astimezone(UTC)).total_seconds() == 42 * H
    assert every_day.seconds_between(a, b) == (1 + 9 + 1) * H


def test_window_starting_in_a_gap_starts_at_the_transition() -> None:
    # 2026-03-29 Paris: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:30 never happens.
    night = clock(days=ALL_DAYS, start=time(2, 30), end=time(3, 30))
    day_start, next_day = paris(2026, 3, 29), paris(2026, 3, 30)
    assert night.seconds_between(day_start, next_day) == 0.5 * H
    assert night.is_business_time(datetime(2026, 3, 29, 1, 0, tzinfo=UTC))
    assert not night.is_business_time(datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC))
    # A window lying wholly inside the gap is empty.
    in_gap = clock(days=ALL_DAYS, start=time(2, 10), end=time(2, 50))
    assert in_gap.seconds_between(day_start, next_day) == 0.0
    assert in_gap.seconds_between(paris(2026, 3, 28), paris(2026, 3, 29)) == 40 * 60.0


def test_window_in_a_fold_runs_from_first_start_to_first_end() -> None:
    # 2026-10-25 Paris: 03:00 CEST falls back to 02:00 CET (01:00 UTC); 02:xx happens twice.
    night = clock(days=ALL_DAYS, start=time(2, 30), end=time(3, 30))
    # From 02:30 CEST (00:30 UTC) until the wall clock first reads 03:30 (02:30 UTC).
    assert night.seconds_between(paris(2026, 10, 25), paris(2026, 10, 26)) == 2 * H
    assert night.is_business_time(datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    assert night.is_business_time(datetime(2026, 10, 25, 1, 15, tzinfo=UTC))  # 02:15 CET
    assert not night.is_business_time(datetime(2026, 10, 25, 2, 30, tzinfo=UTC))
    early_end = clock(days=ALL_DAYS, start=time(1, 0), end=time(2, 30))
    # Ends at the first 02:30 (CEST): 1.5 h, the second pass through 02:xx does not count.
    assert early_end.seconds_between(paris(2026, 10, 25), paris(2026, 10, 26)) == 1.5 * H


# -- holidays and leave --------------------------------------------------------------------


@pytest.mark.parametrize("day", [date(2026, 5, 1), date(2026, 7, 14), date(2026, 5, 14)])
def test_french_public_holidays_count_zero(day: date) -> None:
    start = datetime.combine(day, time(0), tzinfo=PARIS)
    end = start + timedelta(days=1)
    assert DEFAULT.seconds_between(start, end) == 9 * H
    assert FR.seconds_between(start, end) == 0.0
    assert not FR.is_business_time(datetime.combine(day, time(10), tzinfo=PARIS))


def test_good_friday_is_a_holiday_only_in_alsace_moselle() -> None:
    start, end = paris(2026, 4, 3), paris(2026, 4, 4)
    assert FR.seconds_between(start, end) == 9 * H
    assert FR_57.seconds_between(start, end) == 0.0
    assert clock(holidays_country="fr", holidays_subdivision="57").seconds_between(start, end) == 0


def test_leave_is_excluded_inclusively() -> None:
    on_leave = clock(leave=(LeavePeriod(date(2026, 8, 3), date(2026, 8, 7)),))
    assert on_leave.seconds_between(paris(2026, 7, 31), paris(2026, 8, 1)) == 9 * H
    assert on_leave.seconds_between(paris(2026, 8, 3), paris(2026, 8, 10)) == 0.0
    assert not on_leave.is_business_time(paris(2026, 8, 7, 17))  # last day is on leave
    assert on_leave.seconds_between(paris(2026, 8, 10), paris(2026, 8, 11)) == 9 * H
    single = clock(leave=(LeavePeriod(date(2026, 8, 5), date(2026, 8, 5)),))
    assert single.seconds_between(paris(2026, 8, 3), paris(2026, 8, 8)) == 4 * 9 * H


# -- other zones and hours -----------------------------------------------------------------


def test_new_york_with_sunday_to_thursday_hours() -> None:
    ny = clock(timezone="America/New_York", days=(6, 0, 1, 2, 3), start=time(8, 30), end=time(17))
    week = datetime(2026, 1, 4, tzinfo=NEW_YORK)  # a Sunday
    assert ny.seconds_between(week, week + timedelta(days=7)) == 5 * 8.5 * H
    # 2026-03-08 (a Sunday, a working day here) is the US spring-forward day.
    dst = datetime(2026, 3, 8, tzinfo=NEW_YORK)
    assert ny.seconds_between(dst, dst + timedelta(days=1)) == 8.5 * H
    assert ny.is_business_time(datetime(2026, 3, 8, 12, 30, tzinfo=UTC))  # 08:30 EDT
    assert not ny.is_business_time(datetime(2026, 3, 8, 12, 29, tzinfo=UTC))
    assert not ny.is_business_time(datetime(2026, 3, 6, 15, tzinfo=UTC))  # a Friday


def test_end_at_midnight_means_end_of_day() -> None:
    evening = clock(start=time(20), end=time(0))
    assert evening.seconds_between(paris(2026, 3, 9), paris(2026, 3, 16)) == 5 * 4 * H
    assert evening.is_business_time(paris(2026, 3, 13, 23, 59))  # Friday night
    assert not evening.is_business_time(paris(2026, 3, 14, 0, 0))
    assert (
        clock(start=time(0), end=time(0)).seconds_between(paris(2026, 3, 9), paris(2026, 3, 10))
        == 24 * H
    )


def test_no_working_days_means_no_business_time() -> None:
    never = clock(days=())
    assert never.seconds_between(paris(2026, 1, 1), paris(2026, 12, 31)) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"timezone": ""}, "unknown time zone"),
        ({"holidays_country": "XX"}, "XX"),
        ({"holidays_country": "FR", "holidays_subdivision": "99"}, "subdivision '99'"),
        ({"holidays_subdivision": "57"}, "without a country"),
        ({"start": time(18), "end": time(9)}, "before end"),
        ({"start": time(9), "end": time(9)}, "before end"),
        ({"days": (0, 7)}, "weekday"),
        ({"start": time(9, tzinfo=UTC)}, "wall-clock"),
        ({"leave": (LeavePeriod(date(2026, 8, 5), date(2026, 8, 1)),)}, "ends before"),
    ],
)
def test_invalid_configuration_raises_value_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        clock(**kwargs)


# -- properties ----------------------------------------------------------------------------

BASE = datetime(2025, 1, 1, tzinfo=UTC)
SPAN_S = 3 * 366 * 86400  # covers several DST changes and year ends
ZONES = st.sampled_from([UTC, PARIS, NEW_YORK, TOKYO])
CLOCKS = st.sampled_from(
    [
        DEFAULT,
        FR_57,
        clock(timezone="America/New_York", days=(6, 0, 1, 2, 3), start=time(8, 30), end=time(17)),
        clock(days=ALL_DAYS, start=time(2, 30), end=time(3, 30)),  # DST gap/fold edges
        clock(start=time(20), end=time(0), holidays_country="US"),
    ]
)


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    us = draw(st.integers(0, SPAN_S * 1_000_000))
    return (BASE + timedelta(microseconds=us)).astimezone(draw(ZONES))


def sorted_instants(n: int) -> st.SearchStrategy[list[datetime]]:
    return st.lists(instants(), min_size=n, max_size=n).map(sorted)


@given(CLOCKS, sorted_instants(3))
def test_additive(c: BusinessClock, abc: list[datetime]) -> None:
    a, b, d = abc
    total = c.seconds_between(a, d)
    assert math.isclose(total, c.seconds_between(a, b) + c.seconds_between(b, d), abs_tol=1e-6)


@given(CLOCKS, instants(), instants())
def test_non_negative_and_bounded_by_calendar(c: BusinessClock, a: datetime, b: datetime) -> None:
    s = c.seconds_between(a, b)
    assert 0.0 <= s <= max(0.0, (b - a).total_seconds())
    if b <= a:
        assert s == 0.0


@given(CLOCKS, sorted_instants(4))
def test_monotone(c: BusinessClock, ts: list[datetime]) -> None:
    outer_a, a, b, outer_b = ts
    assert c.seconds_between(outer_a, outer_b) >= c.seconds_between(a, b)
    assert c.seconds_between(outer_a, b) <= c.seconds_between(outer_a, outer_b)


@given(CLOCKS, instants())
def test_is_business_time_agrees_with_seconds_between(c: BusinessClock, t: datetime) -> None:
    tiny = c.seconds_between(t, t + timedelta(microseconds=1))
    assert c.is_business_time(t) == (tiny > 0)
    second = c.seconds_between(t, t + timedelta(seconds=1))
    if c.is_business_time(t):
        assert second > 0
    elif not c.is_business_time(t + timedelta(seconds=1) - timedelta(microseconds=1)):
        # Windows last at least a minute, so one business-free second stays free.
        assert second == 0.0


# -- slow references -----------------------------------------------------------------------


def ref_first_reach(wall: datetime, tz: ZoneInfo) -> datetime:
    """First instant whose wall time is >= wall, by scanning minutes between both readings."""
    candidates = sorted(
        wall.replace(tzinfo=tz, fold=f).astimezone(UTC) for f in (0, 1)
    )  # the two readings of an ambiguous or missing wall time bracket the transition
    t = candidates[0]
    while t < candidates[1]:
        if t.astimezone(tz).replace(tzinfo=None) >= wall:
            return t
        t += timedelta(minutes=1)
    return candidates[1]


def ref_seconds(hours: BusinessHours, a: datetime, b: datetime) -> float:
    """Per-date window intersection, built independently of BusinessClock's tables."""
    tz = ZoneInfo(hours.timezone)
    first, last = a.astimezone(tz).date(), b.astimezone(tz).date()
    off: set[date] = set()
    if hours.holidays_country:
        off = set(
            holidays.country_holidays(
                hours.holidays_country,
                subdiv=hours.holidays_subdivision,
                years=range(first.year - 1, last.year + 2),
            )
        )
    total = timedelta(0)
    d = first - timedelta(days=1)
    while d <= last + timedelta(days=1):
        working = (
            d.weekday() in hours.days
            and d not in off
            and not any(p.start <= d <= p.end for p in hours.leave)
        )
        if working:
            ws = ref_first_reach(datetime.combine(d, hours.start), tz)
            end_day = d + timedelta(days=1) if hours.end == time(0) else d
            we = ref_first_reach(datetime.combine(end_day, hours.end), tz)
            lo, hi = max(ws, a), min(we, b)
            if hi > lo:
                total += hi - lo
        d += timedelta(days=1)
    return total / timedelta(seconds=1)


DST_DAYS = [date(2025, 3, 30), date(2025, 10, 26), date(2026, 3, 8), date(2026, 11, 1)]


@st.composite
def random_hours(draw: st.DrawFn, *, avoid_small_hours: bool = False) -> BusinessHours:
    days = tuple(sorted(draw(st.sets(st.integers(0, 6), min_size=1))))
    lo = 4 * 60 if avoid_small_hours else 0
    start_min = draw(st.integers(lo, 22 * 60))
    end_min = draw(st.integers(start_min + 15, 24 * 60))
    start = time(start_min // 60, start_min % 60)
    end = time(0) if end_min == 24 * 60 else time(end_min // 60, end_min % 60)
    country = draw(st.sampled_from([None, ("FR", None), ("FR", "57"), ("US", "NY")]))
    leave = tuple(
        LeavePeriod(s, s + timedelta(days=n))
        for s, n in draw(
            st.lists(
                st.tuples(st.dates(date(2025, 1, 1), date(2026, 12, 31)), st.integers(0, 20)),
                max_size=3,
            )
        )
    )
    return BusinessHours(
        timezone=draw(st.sampled_from(["Europe/Paris", "America/New_York"])),
        days=days,
        start=start,
        end=end,
        holidays_country=country[0] if country else None,
        holidays_subdivision=country[1] if country else None,
        leave=leave,
    )


@st.composite
def interval_near_interesting_days(draw: st.DrawFn, max_days: int) -> tuple[datetime, datetime]:
    anchor = draw(
        st.one_of(
            st.sampled_from([*DST_DAYS, date(2025, 12, 31), date(2026, 5, 1)]),
            st.dates(date(2025, 1, 1), date(2026, 12, 31)),
        )
    )
    a = datetime.combine(anchor, time(0), tzinfo=UTC) + timedelta(
        minutes=draw(st.integers(-max_days * 1440, 1440))
    )
    b = a + timedelta(minutes=draw(st.integers(0, max_days * 1440)))
    return a, b


@settings(max_examples=150, deadline=None)
@given(random_hours(), interval_near_interesting_days(21), st.integers(0, 59))
def test_agrees_with_per_day_reference(
    hours: BusinessHours, ab: tuple[datetime, datetime], extra_s: int
) -> None:
    a, b = ab
    b += timedelta(seconds=extra_s)
    assert BusinessClock(hours).seconds_between(a, b) == ref_seconds(hours, a, b)


def minute_by_minute(hours: BusinessHours, a: datetime, b: datetime) -> float:
    """The literal rule: working date, start <= local wall time < end, no holiday, no leave."""
    tz = ZoneInfo(hours.timezone)
    country = hours.holidays_country
    off = (
        holidays.country_holidays(country, subdiv=hours.holidays_subdivision, years=(2025, 2026))
        if country
        else {}
    )
    total = 0
    t = a
    while t < b:
        local = t.astimezone(tz)
        wall, day = local.time().replace(tzinfo=None), local.date()
        in_hours = hours.start <= wall and (hours.end == time(0) or wall < hours.end)
        if (
            in_hours
            and day.weekday() in hours.days
            and day not in off
            and not any(p.start <= day <= p.end for p in hours.leave)
        ):
            total += 60
        t += timedelta(minutes=1)
    return float(total)


@settings(max_examples=40, deadline=None)
@given(random_hours(avoid_small_hours=True), interval_near_interesting_days(3))
def test_agrees_with_minute_by_minute_reference(
    hours: BusinessHours, ab: tuple[datetime, datetime]
) -> None:
    # Hours start after 04:00 so no DST change (at 01:00-03:00 local) touches a boundary:
    # there the literal rule and the documented gap/fold convention coincide.
    a, b = ab
    c = BusinessClock(hours)
    assert c.seconds_between(a, b) == minute_by_minute(hours, a, b)
    assert c.is_business_time(a) == (minute_by_minute(hours, a, a + timedelta(minutes=1)) > 0)

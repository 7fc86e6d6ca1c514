"""The business clock is exact to the microsecond over datetime's whole range, and a window
whose edge falls in a DST gap opens (or closes) at the transition second itself, not near it.

The broader tests compare at minute granularity in this century; these pin the edges the
module docstring promises (each kills mutants of core/business_time.py that survived
tests/benchmarks/mutation.py: float division, the year-1/9999 bounds, the gap bisection)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.test_business_time import ALL_DAYS, H, clock

from responsewatch.core.business_time import BusinessClock
from responsewatch.core.leave import Leave

US = timedelta(microseconds=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize("year", [2300, 5000, 9000, 9998])
def test_microseconds_count_exactly_far_in_the_future(year: int) -> None:
    # Microseconds since 1970 pass 2**53 around year 2255: a float anywhere in the arithmetic
    # would round them to tens of microseconds.
    c = clock(timezone="UTC", days=ALL_DAYS)
    opening = utc(year, 6, 1, 9)
    assert c.is_business_time(opening)
    assert not c.is_business_time(opening - US)
    assert c.seconds_between(opening + US, opening + 4 * US) == 3 / 1_000_000
    assert c.seconds_between(opening - 5 * US, opening + 2 * US) == 2 / 1_000_000
    assert c.seconds_between(utc(year, 6, 1), utc(year, 6, 2)) == 9 * H
    assert c.next_business_time(opening - US) == opening


@given(
    st.datetimes(min_value=datetime(2256, 1, 1), max_value=datetime(9998, 12, 1)),
    st.integers(min_value=1, max_value=999_999),
)
@settings(max_examples=60, deadline=None)
def test_any_instant_inside_a_window_splits_it_exactly(naive: datetime, span_us: int) -> None:
    # All day every day in UTC: [t, t + span) is business time in full whenever it stays
    # inside one day's window, to the microsecond.
    c = clock(timezone="UTC", days=ALL_DAYS, start=time(0), end=time(0))
    t = naive.replace(tzinfo=UTC, hour=12)
    assert c.seconds_between(t, t + span_us * US) == span_us / 1_000_000
    assert c.is_business_time(t + span_us * US)


def test_the_first_and_last_years_of_datetime_never_count() -> None:
    # A fresh clock per end: one clock asked about both would build 10,000 years of windows.
    def c() -> BusinessClock:
        return clock(timezone="UTC", days=ALL_DAYS)

    assert not c().is_business_time(utc(9999, 6, 1, 10))
    assert not c().is_business_time(utc(1, 6, 1, 10))
    assert c().is_business_time(utc(9998, 12, 31, 10))
    assert c().is_business_time(utc(2, 1, 1, 10))
    # Only the 31 December 9998 window lies in this interval; year 9999's days add nothing.
    assert c().seconds_between(utc(9998, 12, 31), utc(9999, 12, 31, 23, 59)) == 9 * H
    assert c().seconds_between(utc(1, 1, 1), utc(2, 1, 1, 23, 59)) == 9 * H
    # After the last window: no window opens any more, the instant comes back unchanged.
    late = utc(9998, 12, 31, 19)
    assert c().next_business_time(late) == late
    assert c().next_business_time(utc(1, 12, 31, 19)) == utc(2, 1, 1, 9)


# (zone, local date, a wall time inside that date's spring-forward gap, the transition in UTC)
GAPS = [
    ("Europe/Paris", (2026, 3, 29), time(2, 30), utc(2026, 3, 29, 1)),
    ("America/New_York", (2026, 3, 8), time(2, 1), utc(2026, 3, 8, 7)),
    # A half-hour shift (02:00 -> 02:30) at 15:30 UTC the day before.
    ("Australia/Lord_Howe", (2026, 10, 4), time(2, 15), utc(2026, 10, 3, 15, 30)),
]


@pytest.mark.parametrize(("zone", "day", "wall", "transition"), GAPS)
def test_a_window_opening_in_a_gap_opens_at_the_transition_second(
    zone: str, day: tuple[int, int, int], wall: time, transition: datetime
) -> None:
    c = clock(timezone=zone, days=ALL_DAYS, start=wall, end=time(18))
    assert c.is_business_time(transition)
    assert not c.is_business_time(transition - US)
    assert c.seconds_between(transition - timedelta(seconds=1), transition + 2 * US) == 2e-6
    assert c.next_business_time(transition - timedelta(hours=1)) == transition
    local_end = datetime(*day, 18, tzinfo=ZoneInfo(zone))
    assert c.seconds_between(transition - H * timedelta(seconds=1), local_end) == (
        (local_end - transition).total_seconds()
    )


@pytest.mark.parametrize(("zone", "day", "wall", "transition"), GAPS)
def test_a_window_closing_in_a_gap_closes_at_the_transition_second(
    zone: str, day: tuple[int, int, int], wall: time, transition: datetime
) -> None:
    c = clock(timezone=zone, days=ALL_DAYS, start=time(0), end=wall)
    assert c.is_business_time(transition - US)
    assert not c.is_business_time(transition)
    local_start = datetime(*day, 0, tzinfo=ZoneInfo(zone))
    assert c.seconds_between(local_start, transition + timedelta(hours=1)) == (
        (transition - local_start).total_seconds()
    )


@given(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31)),
    st.sets(st.integers(min_value=0, max_value=6), min_size=1),
    st.sampled_from(["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "UTC"]),
    st.one_of(st.none(), st.tuples(st.integers(-3, 30), st.integers(1, 20 * 24))),
)
@settings(max_examples=120, deadline=None)
def test_next_business_time_is_the_first_business_instant_from_t(
    naive: datetime,
    days: set[int],
    zone: str,
    leave: tuple[int, int] | None,
) -> None:
    # Stated without the tables: r is business time, nothing between t and r is, and r is t
    # exactly when t itself is business time (leave cut out like any other pause).
    t = naive.replace(tzinfo=ZoneInfo(zone))
    c = clock(timezone=zone, days=tuple(sorted(days)), holidays_country="FR")
    if leave is not None:
        begin = t + timedelta(hours=leave[0])
        c = c.with_leave(Leave.of([(begin, begin + timedelta(hours=leave[1]))]))
    r = c.next_business_time(t)
    assert r.tzinfo is UTC
    assert r >= t
    assert c.is_business_time(r)
    assert c.seconds_between(t, r) == 0
    assert (r == t) == c.is_business_time(t)
    if r > t:
        assert not c.is_business_time(r - US)
        assert c.seconds_between(t, r + US) == 1e-6


def test_next_business_time_on_a_weekend_is_mondays_opening() -> None:
    c = clock()
    saturday = datetime(2026, 3, 7, 15, tzinfo=ZoneInfo("Europe/Paris"))
    assert c.next_business_time(saturday) == datetime(2026, 3, 9, 8, tzinfo=UTC)
    week = Leave.of([(datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 14, tzinfo=UTC))])
    assert c.with_leave(week).next_business_time(saturday) == datetime(2026, 3, 16, 8, tzinfo=UTC)
    assert c.with_leave(Leave.of([])) is c


def test_next_business_time_inside_a_fresh_clocks_first_window_is_t() -> None:
    # Wednesdays only: 7 January 2026 is the first window of the table a fresh clock builds.
    t = datetime(2026, 1, 7, 10, tzinfo=ZoneInfo("Europe/Paris"))
    assert clock(days=(2,)).next_business_time(t) == t
    assert clock(days=(2,)).next_business_time(t).tzinfo is UTC


def test_next_business_time_without_any_window_is_t_in_utc() -> None:
    t = datetime(2026, 1, 7, 10, tzinfo=ZoneInfo("Europe/Paris"))
    got = clock(days=()).next_business_time(t)
    assert got == t
    assert got.tzinfo is UTC


def test_next_business_time_finds_the_last_window_of_datetimes_range() -> None:
    c = clock(timezone="UTC", days=ALL_DAYS)
    assert c.next_business_time(utc(9998, 12, 30, 19)) == utc(9998, 12, 31, 9)

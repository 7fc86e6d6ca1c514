"""Business-time clock: how much of an interval falls inside the consultant's business hours.

Business hours are local wall-clock times in ``BusinessHours.timezone`` on working weekdays,
minus public holidays (``holidays`` package) and leave periods (inclusive dates).

Each working local date ``d`` contributes one window ``[F(d, start), F(d, end))`` of UTC
instants, where ``F(d, X)`` is *the first instant at which the wall clock reads X or later
on date d*. That single rule settles the DST edge cases without surprises:

- ``X`` inside a spring-forward gap (the wall clock never reads it): the window starts
  (or ends) at the transition instant, when the clock jumps past ``X``;
- ``X`` inside a fall-back fold (the wall clock reads it twice): the first occurrence.

So a day of 23 or 25 hours still has a 9-hour 09:00-18:00 window, and a window whose
start or end falls in a gap is shorter by the skipped part. ``end == time(0)`` means
midnight at the end of the day (``time`` cannot spell 24:00). Windows never overlap and
grow with the date, so business seconds up to any instant are a prefix sum over the windows,
found with one bisection: each call is O(log n) whatever the interval's length. Windows are
built lazily, a calendar year at a time (with that year's holidays), and cached.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from responsewatch.core.leave import NO_LEAVE, Leave
from responsewatch.core.rules import BusinessHours

__all__ = ["BusinessClock"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_US = timedelta(microseconds=1)
_US_PER_S = 1_000_000
# A local date's window lies within a day and a half of its UTC date (offsets are within
# +-26 h), so a table built for whole UTC years answers exactly for instants at least this
# far from its edges.
_MARGIN = timedelta(days=2)
# Leave a year of room at both ends of datetime's range so that no computation overflows;
# instants in those two years never count as business time.
_MIN_YEAR = MINYEAR + 1
_MAX_YEAR = MAXYEAR - 1
_MIN_US = (datetime(_MIN_YEAR, 1, 1, tzinfo=UTC) - _EPOCH) // _US
_MAX_US = (datetime(_MAX_YEAR, 12, 31, tzinfo=UTC) - _EPOCH) // _US


@dataclass(frozen=True, slots=True)
class _Table:
    """Business windows of the local dates of years first..last, as UTC microseconds."""

    first_year: int
    last_year: int
    lo_us: int  # queries within [lo_us, hi_us] see every window that matters
    hi_us: int
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    cum: tuple[int, ...]  # cum[i]: business microseconds in the windows before window i


class BusinessClock:
    """Counts business seconds between instants and tells whether an instant is business time.

    The constructor validates ``hours`` (raising ``ValueError`` with a readable message) so
    config validation can simply build one. Lookups mutate only caches, and a new table is
    published by a single attribute assignment, so a clock may be shared between threads.
    """

    __slots__ = (
        "_country",
        "_days",
        "_end",
        "_end_next_day",
        "_holidays",
        "_hours",
        "_leave",
        "_paused",
        "_start",
        "_subdivision",
        "_table",
        "_tz",
        "_years",
    )

    def __init__(self, hours: BusinessHours, leave: Leave = NO_LEAVE) -> None:
        self._hours = hours
        # Leave as instants (DESIGN "Leave and absences"): cut out of the windows.
        self._paused = leave
        self._tz = _zone(hours.timezone)
        self._days = _days(hours.days)
        self._start, self._end, self._end_next_day = _span(hours.start, hours.end)
        self._country, self._subdivision = _check_holidays(
            hours.holidays_country, hours.holidays_subdivision
        )
        self._leave = _leave(hours)
        self._holidays: dict[int, frozenset[date]] = {}
        self._years: dict[int, tuple[list[int], list[int]]] = {}
        self._table: _Table | None = None

    def with_leave(self, leave: Leave) -> BusinessClock:
        """The same business hours with ``leave`` (instants) cut out as well."""
        if not leave:
            return self
        return BusinessClock(self._hours, Leave.of((*self._paused.periods(), *leave.periods())))

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Business seconds in [start, end); 0.0 when end <= start. Inputs are tz-aware (any tz)."""
        a = _to_us(start)
        b = _to_us(end)
        if b <= a:
            return 0.0
        t = self._table
        if t is None or a < t.lo_us or b > t.hi_us:
            t = self._cover(a, b)
        starts, ends, cum = t.starts, t.ends, t.cum
        i = bisect_right(starts, a) - 1
        before_a = cum[i] + min(a, ends[i]) - starts[i] if i >= 0 else 0
        j = bisect_right(starts, b) - 1
        before_b = cum[j] + min(b, ends[j]) - starts[j] if j >= 0 else 0
        return (before_b - before_a) / _US_PER_S

    def is_business_time(self, t: datetime) -> bool:
        """True when t lies inside business hours: working weekday, start <= local time < end,
        not a holiday, not on leave (DST gap/fold edges as in the module docstring)."""
        x = _to_us(t)
        table = self._table
        if table is None or x < table.lo_us or x + 1 > table.hi_us:
            table = self._cover(x, x + 1)
        i = bisect_right(table.starts, x) - 1
        return i >= 0 and x < table.ends[i]

    def next_business_time(self, t: datetime) -> datetime:
        """The first business instant at or after ``t``, in UTC: ``t`` itself during business
        hours, else the opening of the next business window (a Saturday -> Monday's start).
        ``t`` unchanged when no window opens within the next few years (no working day)."""
        x = _to_us(t)
        horizon = x
        for _ in range(4):
            horizon = min(horizon + 366 * 86400 * _US_PER_S, _MAX_US)
            table = self._table
            if table is None or x < table.lo_us or horizon > table.hi_us:
                table = self._cover(x, horizon)
            i = bisect_right(table.starts, x) - 1
            if i >= 0 and x < table.ends[i]:
                return t.astimezone(UTC)
            if i + 1 < len(table.starts) and table.starts[i + 1] <= table.hi_us:
                return _EPOCH + timedelta(microseconds=table.starts[i + 1])
            if horizon >= _MAX_US:
                break
        return t.astimezone(UTC)

    # -- table building ------------------------------------------------------------------

    def _cover(self, a: int, b: int) -> _Table:
        """Publish a table covering [a, b] (and whatever the current one covered)."""
        first = _utc_year(a, -_MARGIN)
        last = _utc_year(b, _MARGIN)
        old = self._table
        if old is not None:
            first, last = min(first, old.first_year), max(last, old.last_year)
        starts: list[int] = []
        ends: list[int] = []
        for year in range(first, last + 1):
            ys, ye = self._year_windows(year)
            starts += ys
            ends += ye
        if self._paused:
            starts, ends = _cut(starts, ends, self._paused)
        cum = [0] * len(starts)
        total = 0
        for k, (s, e) in enumerate(zip(starts, ends, strict=True)):
            cum[k] = total
            total += e - s
        lo = (
            (datetime(first, 1, 1, tzinfo=UTC) + _MARGIN - _EPOCH) // _US
            if first > _MIN_YEAR
            else _MIN_US - 1 - (1 << 62)
        )
        hi = (
            (datetime(last + 1, 1, 1, tzinfo=UTC) - _MARGIN - _EPOCH) // _US
            if last < _MAX_YEAR
            else _MAX_US + 1 + (1 << 62)
        )
        table = _Table(first, last, lo, hi, tuple(starts), tuple(ends), tuple(cum))
        self._table = table
        return table

    def _year_windows(self, year: int) -> tuple[list[int], list[int]]:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        off = self._holiday_dates(year)
        starts: list[int] = []
        ends: list[int] = []
        one_day = timedelta(days=1)
        d = date(year, 1, 1)
        while d.year == year:
            if d.weekday() in self._days and d not in off and not self._on_leave(d):
                s = self._first_reach(datetime.combine(d, self._start))
                end_date = d + one_day if self._end_next_day else d
                e = self._first_reach(datetime.combine(end_date, self._end))
                # A window entirely inside a gap (or a skipped date) is empty.
                if e > s:
                    starts.append(s)
                    ends.append(e)
            d += one_day
        self._years[year] = (starts, ends)
        return starts, ends

    def _holiday_dates(self, year: int) -> frozenset[date]:
        if self._country is None:
            return frozenset()
        cached = self._holidays.get(year)
        if cached is None:
            found = holidays.country_holidays(self._country, subdiv=self._subdivision, years=year)
            cached = frozenset(found.keys())
            self._holidays[year] = cached
        return cached

    def _on_leave(self, d: date) -> bool:
        o = d.toordinal()
        return any(s <= o <= e for s, e in self._leave)

    def _first_reach(self, wall: datetime) -> int:
        """First UTC instant (microseconds) at which the local wall clock reads >= ``wall``."""
        off0 = wall.replace(tzinfo=self._tz, fold=0).utcoffset()
        off1 = wall.replace(tzinfo=self._tz, fold=1).utcoffset()
        assert off0 is not None and off1 is not None  # a ZoneInfo always has an offset
        u0 = (wall - off0 - _EPOCH_NAIVE) // _US
        if off0 >= off1:
            # Unambiguous, or a fold: fold=0 is the first occurrence (the earlier instant).
            return u0
        # A gap: fold=0 reads the wall time with the offset from before the jump (u0 is
        # after the transition), fold=1 with the offset after it (u1 is before). The
        # transition, a whole second in tz data, is the first second whose wall time
        # reaches ``wall``.
        u1 = (wall - off1 - _EPOCH_NAIVE) // _US
        lo = u1 // _US_PER_S  # wall time before ``wall``
        hi = -(-u0 // _US_PER_S)  # wall time after ``wall``
        while hi - lo > 1:
            mid = (lo + hi) // 2
            local = (_EPOCH + timedelta(seconds=mid)).astimezone(self._tz)
            if local.replace(tzinfo=None) >= wall:
                hi = mid
            else:
                lo = mid
        return hi * _US_PER_S


def _cut(starts: list[int], ends: list[int], leave: Leave) -> tuple[list[int], list[int]]:
    """Windows minus leave periods (both sorted and disjoint), in one merge pass."""
    out_s: list[int] = []
    out_e: list[int] = []
    ls, le = leave.starts, leave.ends
    j = 0
    for s, e in zip(starts, ends, strict=True):
        while j < len(ls) and le[j] <= s:
            j += 1
        k = j
        while k < len(ls) and ls[k] < e:
            if ls[k] > s:
                out_s.append(s)
                out_e.append(ls[k])
            s = max(s, le[k])
            if le[k] >= e:
                break
            k += 1
        if s < e:
            out_s.append(s)
            out_e.append(e)
    return out_s, out_e


def _to_us(dt: datetime) -> int:
    try:
        return (dt - _EPOCH) // _US
    except TypeError:
        raise ValueError(f"business time needs a timezone-aware datetime, got {dt!r}") from None


def _utc_year(us: int, shift: timedelta) -> int:
    us = min(max(us, _MIN_US), _MAX_US)
    moment = _EPOCH + timedelta(microseconds=us)
    if _MIN_YEAR < moment.year < _MAX_YEAR:
        moment += shift
    return min(max(moment.year, _MIN_YEAR), _MAX_YEAR)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ValueError(
            f"unknown time zone {name!r} for business hours (use an IANA name such as "
            "'Europe/Paris')"
        ) from None


def _days(days: tuple[int, ...]) -> frozenset[int]:
    for day in days:
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            raise ValueError(f"business day {day!r} is not a weekday number (Monday=0..Sunday=6)")
    return frozenset(days)


def _span(start: time, end: time) -> tuple[time, time, bool]:
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError("business hours start/end are local wall-clock times, without a zone")
    end_next_day = end == time(0)
    if not end_next_day and start >= end:
        raise ValueError(
            f"business hours start {start.isoformat()} must be before end {end.isoformat()} "
            "(end 00:00 means midnight at the end of the day)"
        )
    return start, end, end_next_day


def _check_holidays(country: str | None, subdivision: str | None) -> tuple[str | None, str | None]:
    if country is None:
        if subdivision is not None:
            raise ValueError(f"holiday subdivision {subdivision!r} given without a country")
        return None, None
    country = country.strip().upper()
    try:
        holidays.country_holidays(country, subdiv=subdivision, years=())
    except NotImplementedError as e:
        where = country if subdivision is None else f"{country} subdivision {subdivision!r}"
        raise ValueError(f"no public holidays known for {where}: {e}") from None
    return country, subdivision


def _leave(hours: BusinessHours) -> tuple[tuple[int, int], ...]:
    periods: list[tuple[int, int]] = []
    for p in hours.leave:
        if p.end < p.start:
            raise ValueError(f"leave from {p.start} to {p.end} ends before it starts")
        periods.append((p.start.toordinal(), p.end.toordinal()))
    return tuple(sorted(periods))

"""Leave and absences (DESIGN.md "Leave and absences"): periods during which a clock is paused.

My leave pauses both clocks of my replies; a client's announced absence pauses that client's
latency clock. A period is a half-open interval of UTC instants ``[start, end)``; a period
given by dates covers whole local days in ``me.timezone`` (``to`` inclusive), from the first
instant at which the wall clock reads 00:00 on the first day to the same on the day after the
last one. Periods that overlap or touch merge, so each instant is counted once.

Pure: the caller gathers periods from the config, an ICS calendar and auto-replies.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "NO_LEAVE",
    "Leave",
    "LeaveRules",
    "LeaveSpan",
    "day_span",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class LeaveSpan:
    """One leave period as configured or found: ``[start, end)`` in UTC, and where it came from."""

    start: datetime
    end: datetime
    source: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class LeaveRules:
    """My leave as configured (ICS already read), and which auto-replies to read."""

    spans: tuple[LeaveSpan, ...] = ()
    from_my_auto_replies: bool = False
    from_client_auto_replies: bool = False

    @property
    def configured(self) -> bool:
        return bool(self.spans) or self.from_my_auto_replies or self.from_client_auto_replies


def day_span(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Whole local days ``first..last`` (inclusive) as UTC instants ``[start, end)``."""
    start = datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def _us(t: datetime) -> int:
    return (t - _EPOCH) // _US


def _dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True, slots=True)
class Leave:
    """Merged, sorted leave periods with prefix sums: every query is O(log n).

    ``starts``/``ends`` are UTC microseconds; ``cum[i]`` is the leave before period ``i``.
    """

    starts: tuple[int, ...] = ()
    ends: tuple[int, ...] = ()
    cum: tuple[int, ...] = field(default=(), repr=False)

    @classmethod
    def of(cls, periods: Iterable[tuple[datetime, datetime]]) -> Leave:
        pairs = sorted((_us(a), _us(b)) for a, b in periods)
        starts: list[int] = []
        ends: list[int] = []
        for a, b in pairs:
            if b <= a:
                continue
            if ends and a <= ends[-1]:
                ends[-1] = max(ends[-1], b)
            else:
                starts.append(a)
                ends.append(b)
        cum: list[int] = []
        total = 0
        for a, b in zip(starts, ends, strict=True):
            cum.append(total)
            total += b - a
        return cls(tuple(starts), tuple(ends), tuple(cum))

    def __bool__(self) -> bool:
        return bool(self.starts)

    def periods(self) -> tuple[tuple[datetime, datetime], ...]:
        return tuple((_dt(a), _dt(b)) for a, b in zip(self.starts, self.ends, strict=True))

    def _before(self, x: int) -> int:
        """Leave microseconds before instant ``x``."""
        i = bisect_right(self.starts, x) - 1
        if i < 0:
            return 0
        return self.cum[i] + min(x, self.ends[i]) - self.starts[i]

    def overlap_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds of ``[start, end)`` inside leave; 0.0 when end <= start."""
        a, b = _us(start), _us(end)
        if b <= a or not self.starts:
            return 0.0
        return (self._before(b) - self._before(a)) / 1_000_000

    def calendar_seconds(self, start: datetime, end: datetime) -> float:
        """Calendar seconds of ``[start, end)`` outside leave (may be negative when end <
        start, as a plain difference would be, so callers keep their own guards)."""
        plain = (end - start).total_seconds()
        if not self.starts or end <= start:
            return plain
        a, b = _us(start), _us(end)
        return (b - a - (self._before(b) - self._before(a))) / 1_000_000

    def after(self, start: datetime, seconds: float) -> datetime:
        """The instant at which ``seconds`` outside leave have elapsed since ``start``."""
        t = start
        remaining = timedelta(seconds=seconds)
        for p_start, p_end in self.periods():
            if p_end <= t:
                continue
            if p_start > t:
                if remaining <= p_start - t:
                    return t + remaining
                remaining -= p_start - t
            t = max(t, p_end)
        return t + remaining

    def contains(self, t: datetime) -> bool:
        x = _us(t)
        i = bisect_right(self.starts, x) - 1
        return i >= 0 and x < self.ends[i]

    def back_at(self, t: datetime) -> datetime | None:
        """The end of the leave period containing ``t`` (when the clock restarts), or None."""
        x = _us(t)
        i = bisect_right(self.starts, x) - 1
        if i >= 0 and x < self.ends[i]:
            return _dt(self.ends[i])
        return None

    def inside(self, start: datetime, end: datetime) -> list[tuple[int, int]]:
        """The parts of ``[start, end)`` inside leave, as microsecond pairs."""
        a, b = _us(start), _us(end)
        out: list[tuple[int, int]] = []
        i = max(bisect_right(self.starts, a) - 1, 0)
        while i < len(self.starts) and self.starts[i] < b:
            lo, hi = max(a, self.starts[i]), min(b, self.ends[i])
            if lo < hi:
                out.append((lo, hi))
            i += 1
        return out


NO_LEAVE = Leave()

"""The one way a duration becomes words: the CLI, the digest, the status page, the nudges.

Two styles, both from :func:`magnitude` or :func:`split`: a decimal one ("25.6 h",
"3.2 d": tables and the digest, where durations are compared down a column) and a clock
one ("3 d 4 h", "4 h 05": one age read on its own, in a nudge or on the status page).
"""

from __future__ import annotations

from typing import Literal

__all__ = ["HOURS_BELOW_CLI", "HOURS_BELOW_DIGEST", "clock", "magnitude", "short", "split"]

Unit = Literal["min", "h", "d"]
HOURS_BELOW_CLI = 48 * 3600.0  # "47.9 h" still reads as a day or two; then days
HOURS_BELOW_DIGEST = 72 * 3600.0
_HOUR, _DAY = 3600, 86400


def magnitude(seconds: float, *, hours_below: float = HOURS_BELOW_CLI) -> tuple[float, Unit]:
    """Whole minutes under an hour, hours (one decimal) under ``hours_below``, then days."""
    if seconds < _HOUR:
        return round(seconds / 60), "min"
    if seconds < hours_below:
        return round(seconds / _HOUR, 1), "h"
    return round(seconds / _DAY, 1), "d"


def short(seconds: float | None, *, hours_below: float = HOURS_BELOW_CLI) -> str:
    """The decimal style as plain text: "12 min", "25.6 h", "3.2 d"; None is "—"."""
    if seconds is None:
        return "—"
    value, unit = magnitude(max(0.0, seconds), hours_below=hours_below)
    return f"{value:.0f} {unit}" if unit == "min" else f"{value:.1f} {unit}"


def split(seconds: float) -> tuple[int, int, int]:
    """(days, hours, minutes) of a non-negative whole number of seconds."""
    days, rest = divmod(max(0, int(seconds)), _DAY)
    hours, rest = divmod(rest, _HOUR)
    return days, hours, rest // 60


def clock(seconds: float, day: str = "d", *, zero_hours: bool = True) -> str:
    """The clock style: "3 d 4 h", "4 h 05", "12 min" (``day`` is the local day word;
    ``zero_hours=False`` prints "3 d" rather than "3 d 0 h")."""
    days, hours, minutes = split(seconds)
    if days:
        return f"{days} {day} {hours} h" if hours or zero_hours else f"{days} {day}"
    if hours:
        return f"{hours} h {minutes:02d}"
    return f"{minutes} min"

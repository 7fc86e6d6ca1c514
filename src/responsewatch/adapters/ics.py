"""Leave periods from an iCalendar file or URL (icalendar + recurring-ical-events).

An event is leave when its SUMMARY or one of its CATEGORIES matches ``leave.ics_match``.
All-day events cover whole local days (DTEND exclusive, as RFC 5545 says); timed events
keep their zone; floating times are read in ``me.timezone``. Recurrences (RRULE, RDATE,
EXDATE, moved instances) are expanded from the first event to :data:`WINDOW_YEARS` years
after today (or after the last event); cancelled events are not leave.
"""

from __future__ import annotations

import re
import urllib.parse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import icalendar
import recurring_ical_events

from responsewatch.core.leave import LeaveSpan, day_span

__all__ = [
    "DEFAULT_MATCH",
    "WINDOW_YEARS",
    "IcsError",
    "describe_location",
    "fetch_ics",
    "leave_from_ics",
]

DEFAULT_MATCH = r"congés|conges|vacances|holiday|leave|OOO"
WINDOW_YEARS = 5
_MAX_BYTES = 20 * 1024 * 1024


class IcsError(Exception):
    """The calendar cannot be read; the message says why (no secrets: URLs lose their query)."""


def fetch_ics(where: str, *, base: Path, url: bool) -> bytes:
    """The calendar's bytes from a path (relative to the config) or an http(s)/file URL."""
    try:
        if not url:
            return (base / Path(where).expanduser()).read_bytes()[:_MAX_BYTES]
        parsed = urllib.parse.urlsplit(where)
        if parsed.scheme == "file":
            return Path(urllib.parse.unquote(parsed.path)).read_bytes()[:_MAX_BYTES]
        if parsed.scheme not in ("http", "https"):
            raise IcsError(f"unsupported URL scheme {parsed.scheme!r} (use https, http or file)")
        response = httpx.get(where, timeout=30.0, follow_redirects=True)
        response.raise_for_status()
        return response.content[:_MAX_BYTES]
    except OSError as exc:
        shown = describe_location(where, url=url)
        raise IcsError(f"cannot read {shown}: {exc.strerror or type(exc).__name__}") from None
    except httpx.HTTPError as exc:
        shown = describe_location(where, url=url)
        raise IcsError(f"cannot fetch {shown}: {type(exc).__name__}") from None


def describe_location(where: str, *, url: bool) -> str:
    """A path as given; a URL as scheme://host only, since private calendar URLs carry
    their access token in the path or query."""
    if not url:
        return where
    parsed = urllib.parse.urlsplit(where)
    if parsed.scheme == "file":
        return where
    return f"{parsed.scheme}://{parsed.hostname or ''}/…"


def _instant(value: Any, tz: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=tz)).astimezone(UTC)
    return day_span(value, value, tz)[0]


def _day(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def _texts(event: Any) -> list[str]:
    texts = [str(event.get("SUMMARY", ""))]
    categories = event.get("CATEGORIES")
    for item in categories if isinstance(categories, list) else [categories]:
        if item is not None and hasattr(item, "cats"):
            texts += [str(c) for c in item.cats]
    return texts


def leave_from_ics(
    data: bytes, *, match: str, tz: ZoneInfo, source: str, today: date
) -> list[LeaveSpan]:
    """Leave periods of the matching events, recurrences expanded."""
    try:
        pattern = re.compile(match, re.IGNORECASE)
    except re.error as exc:
        raise IcsError(f"leave.ics_match is not a regular expression: {exc}") from None
    try:
        calendar = icalendar.Calendar.from_ical(data)
        starts = [_day(e.decoded("DTSTART")) for e in calendar.walk("VEVENT") if "DTSTART" in e]
        # Every event's own dates, and recurrences up to WINDOW_YEARS around today.
        lo = min([*starts, date(today.year - WINDOW_YEARS, 1, 1)])
        hi = max([*starts, today]) + timedelta(days=366 * WINDOW_YEARS)
        events = recurring_ical_events.of(calendar).between(lo, hi)
    except Exception as exc:  # any parse failure of a foreign file is one readable error
        raise IcsError(f"{source}: not a readable iCalendar file ({type(exc).__name__})") from None
    out: list[LeaveSpan] = []
    for event in events:
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        texts = _texts(event)
        if not any(pattern.search(t) for t in texts):
            continue
        start_value = event.get("DTSTART")
        if start_value is None:
            continue
        first = start_value.dt
        end_value = event.get("DTEND")
        if end_value is not None:
            last = end_value.dt
        elif "DURATION" in event:
            last = first + event["DURATION"].dt
        elif isinstance(first, datetime):
            last = first
        else:
            last = first + timedelta(days=1)
        start, end = _instant(first, tz), _instant(last, tz)
        if start < end:
            uid = str(event.get("UID", ""))
            where = f"{source} {uid}".strip()
            out.append(LeaveSpan(start, end, where, texts[0]))
    return sorted(out, key=lambda s: (s.start, s.end, s.source))

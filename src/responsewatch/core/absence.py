"""The absence period an out-of-office reply announces, read from its text (fr, en).

"Je suis absente du 3 au 12 mars, de retour le 13" -> 3..12 March; "Out of office until
Monday 3rd" -> ..the next Monday the 3rd; "jusqu'au lundi 3" likewise. The result is a pair of
local dates ``(first, last)``, both inclusive; ``first`` is None when the text gives no start
(the reply's own time is then the start). A date after a *return* phrase ("de retour le",
"back on") is the first day back, so the absence ends the day before.

Dates are found by :func:`responsewatch.core.insights.find_dates` (the reader the digest's
out-of-office list uses), with day-only dates inside ranges and weekday + day forms added here.
Never raises; the text is attacker-controlled, so it is bounded and read with linear regexes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from responsewatch.core.classify import new_text
from responsewatch.core.insights import find_dates
from responsewatch.core.leave import Leave, LeaveSpan, day_span
from responsewatch.core.models import Message, message_time
from responsewatch.core.rules import ClientDirectory, Rules

__all__ = [
    "MAX_ABSENCE_DAYS",
    "client_absences",
    "format_absence",
    "my_leave",
    "my_leave_spans",
    "parse_absence",
    "read_absence",
]

# Longer announced absences are misreadings (a date in a quoted subject, a year typo).
MAX_ABSENCE_DAYS = 366
_MAX_TEXT = 4000
_MAX_DATES = 40

_RETURN = re.compile(
    r"(?:de\s+retour|retour|reviendrai|rentre(?:rai)?|reprendrai|reprise|disponible|"
    r"back|return(?:ing)?|returns|available|in\s+the\s+office)\b[^.\n]{0,30}$",
    re.IGNORECASE,
)
_START = re.compile(
    r"(?:\bdu|\bdepuis\s+le|\bfrom|\bsince|\bstarting|\bbetween)\s+"
    r"(?:(?:le|the|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday),?\s+)*$",
    re.IGNORECASE,
)
# "on Monday 17 September", "le 17 septembre": a single day away.
_ON = re.compile(
    r"(?:\bon|\ble)\s+(?:(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|monday|"
    r"tuesday|wednesday|thursday|friday|saturday|sunday),?\s+)?(?:the\s+)?$",
    re.IGNORECASE,
)
_FR_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_EN_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAYS = {**{d: i for i, d in enumerate(_FR_DAYS)}, **{d: i for i, d in enumerate(_EN_DAYS)}}
_WEEKDAY_RE = "|".join(_WEEKDAYS)
# "lundi 3", "Monday 3rd", "Monday the 3rd" with no month after it.
_WEEKDAY_DAY = re.compile(
    rf"\b(?P<wd>{_WEEKDAY_RE})\s+(?:the\s+)?(?P<d>\d{{1,2}})(?:er|st|nd|rd|th)?\b(?!\s*[/.]\d)",
    re.IGNORECASE,
)
# "until Monday", "jusqu'à lundi": a weekday alone after an until phrase.
_UNTIL_WEEKDAY = re.compile(
    rf"(?:until|till|jusqu['’]\s?(?:à|au))\s+(?P<wd>{_WEEKDAY_RE})\b(?!\s+(?:the\s+)?\d)",
    re.IGNORECASE,
)
# The day-only start of a range whose end has a month: "du 3 au 12 mars", "from 3 to 12 March".
_RANGE_START = re.compile(
    r"(?<![\d/.])(?P<d>\d{1,2})(?:er|st|nd|rd|th)?\s*(?:au|à|-|–|to|until|till)\s*"
    r"(?:\w+\s+)?\d{1,2}(?:er|st|nd|rd|th)?\s+[^\W\d]{3,}",
    re.IGNORECASE,
)


_DOTTED = re.compile(r"[.:]\d")


def _next_day_number(day: int, weekday: int | None, received: date) -> date | None:
    """The first date on or after ``received`` with that day of month (and weekday, if it
    can be met within a year; else the first with the day number alone)."""
    first: date | None = None
    year, month = received.year, received.month
    for _ in range(13):
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and candidate >= received:
            if weekday is None or candidate.weekday() == weekday:
                return candidate
            if first is None:
                first = candidate
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return first


def _dates(text: str, received: date) -> list[tuple[int, int, date]]:
    # Patterns overlap ("12 mars 2026" also reads as "mars 20"): the longest match wins.
    found: list[tuple[int, int, date]] = []
    taken: list[tuple[int, int]] = []
    # A real notice names a few dates; the first ones are enough and keep hostile text cheap.
    first = sorted(find_dates(text, received))[:_MAX_DATES]
    for s, e, value in sorted(first, key=lambda f: (f[0] - f[1], f[0])):
        if _DOTTED.match(text, e) or (s and text[s - 1] in ".0123456789"):
            continue  # part of a dotted number: an SMTP code (5.1.1), a version, an address
        if all(e <= a or s >= b for a, b in taken):
            found.append((s, e, value))
            taken.append((s, e))

    def free(s: int, e: int) -> bool:
        return all(e <= a or s >= b for a, b in taken)

    for m in islice(_WEEKDAY_DAY.finditer(text), _MAX_DATES):
        if not free(m.start("d"), m.end()):
            continue
        near = _next_day_number(int(m["d"]), _WEEKDAYS[m["wd"].lower()], received)
        if near is not None:
            found.append((m.start(), m.end(), near))
            taken.append((m.start(), m.end()))
    for m in islice(_UNTIL_WEEKDAY.finditer(text), _MAX_DATES):
        if free(m.start("wd"), m.end()):
            ahead = (_WEEKDAYS[m["wd"].lower()] - received.weekday() - 1) % 7 + 1
            found.append((m.start("wd"), m.end(), received + timedelta(days=ahead)))
    for m in islice(_RANGE_START.finditer(text), _MAX_DATES):
        if not free(m.start("d"), m.end("d")):
            continue
        ends = [v for s, _e, v in found if m.end("d") < s <= m.end() + 12]
        if ends:
            try:
                start = ends[0].replace(day=int(m["d"]))
            except ValueError:
                continue
            if start > ends[0]:  # "du 28 au 3 mars": the start is in the month before
                start = (ends[0].replace(day=1) - timedelta(days=1)).replace(day=int(m["d"]))
            found.append((m.start("d"), m.end("d"), start))
    return sorted(found)


# Words an out-of-office text uses; without one, dates in the text (a bounce quoting the
# original message's Date, SMTP codes) announce nothing.
_CUE = re.compile(
    r"absen|cong[ée]|vacance|out\s+of\s+(?:the\s+)?office|\booo\b|on\s+leave|holiday|"
    r"\baway\b|de\s+retour|\bback\s+(?:on|in)\b|jusqu|\buntil\b|\btill\b|ferm[ée]|"
    r"\bclosed\b|indisponible|unavailable|d[ée]placement|travell?ing",
    re.IGNORECASE,
)


def parse_absence(text: str, received: date) -> tuple[date | None, date] | None:
    """``(first, last)`` absent days announced in ``text`` (inclusive), or None."""
    text = text[:_MAX_TEXT]
    if not _CUE.search(text):
        return None
    starts: list[date] = []
    ends: list[date] = []
    try:
        dates = _dates(text, received)
    except (ValueError, OverflowError):
        return None
    for pos, _end, value in dates:
        before = text[max(0, pos - 60) : pos]
        if _RETURN.search(before):
            ends.append(value - timedelta(days=1))
        elif _START.search(before):
            starts.append(value)
        elif _ON.search(before):
            starts.append(value)
            ends.append(value)
        else:
            ends.append(value)
    ends = [e for e in ends if received <= e <= received + timedelta(days=MAX_ABSENCE_DAYS)]
    if not ends:
        return None
    last = max(ends)
    first = min((s for s in starts if s <= last), default=None)
    if first is not None and (last - first).days > MAX_ABSENCE_DAYS:
        first = None
    return first, last


def read_absence(subject: str, body: str, received: date) -> tuple[date | None, date] | None:
    """The period from the reply's own words (quotes and signature removed), else its subject."""
    try:
        own = new_text(body[: _MAX_TEXT * 2])
    except Exception:  # hostile input must never stop a parse
        own = ""
    return (
        parse_absence(own, received)
        or parse_absence(subject, received)
        # "OUT OF THE OFFICE" as subject, "On Monday September 17." as body.
        or parse_absence(f"{subject}\n{own}", received)
    )


def format_absence(period: tuple[date | None, date] | None) -> str:
    """The stored form: "FIRST/LAST" or "/LAST" (ISO dates), "" for none."""
    if period is None:
        return ""
    first, last = period
    return f"{first.isoformat() if first else ''}/{last.isoformat()}"


def _span_of(msg: Message, when: datetime, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    if msg.absence is None:
        return None
    first, last = msg.absence
    end = day_span(last, last, tz)[1]
    start = day_span(first, first, tz)[0] if first is not None else when
    return (start, end) if start < end else None


def my_leave_spans(messages: Mapping[str, Message], rules: Rules) -> list[LeaveSpan]:
    """Every period of my leave: configured spans, ``business_hours.leave`` days and, when
    enabled, the absences my own out-of-office replies announce."""
    tz = ZoneInfo(rules.hours.timezone)
    spans = list(rules.leave.spans)
    for i, p in enumerate(rules.hours.leave):
        start, end = day_span(p.start, p.end, tz)
        spans.append(LeaveSpan(start, end, f"business_hours.leave[{i}]"))
    if rules.leave.from_my_auto_replies:
        for msg in messages.values():
            if not msg.auto_reply or msg.from_addr is None or msg.from_addr not in rules.me:
                continue
            when = message_time(msg, rules.me)
            span = _span_of(msg, when, tz) if when is not None else None
            if span is not None:
                spans.append(LeaveSpan(*span, f"auto-reply {msg.message_id}", msg.subject))
    return spans


def my_leave(messages: Mapping[str, Message], rules: Rules) -> Leave:
    return Leave.of((s.start, s.end) for s in my_leave_spans(messages, rules))


def client_absences(messages: Mapping[str, Message], rules: Rules) -> dict[str, Leave]:
    """Per client, the absences their out-of-office replies announce (when enabled)."""
    if not rules.leave.from_client_auto_replies:
        return {}
    tz = ZoneInfo(rules.hours.timezone)
    directory = ClientDirectory(rules)
    found: dict[str, list[tuple[datetime, datetime]]] = {}
    for msg in messages.values():
        if not msg.auto_reply or msg.absence is None or msg.from_addr is None:
            continue
        client = directory.client_of(msg.from_addr)
        when = message_time(msg, rules.me)
        span = _span_of(msg, when, tz) if when is not None else None
        if client is not None and span is not None:
            found.setdefault(client, []).append(span)
    return {client: Leave.of(spans) for client, spans in found.items()}

"""Insights on the consultant's practice (DESIGN.md "Why"), computed from facts and an analysis.

Every trend compares the *current window* (the last 4 weeks: the 28 local calendar dates
ending today, in ``me.timezone``) with the *previous window* (the 28 dates before it).
Windows are cut at local midnight, so a DST change inside a window never moves a message
from one window to the other. Pure: ``now`` is passed in.

- after-hours replies per client (DESIGN "the client is neither king nor boss"): my replies
  to client turns sent outside business hours (holidays and leave included, as decided by
  the business clock when the analysis was computed), this window vs the previous one;
- missions past their planned length (``mission_start`` + ``mission_length``, default
  :data:`DEFAULT_MISSION_DAYS`);
- relationships gone quiet: no non-automated exchange in either direction for
  ``quiet_after_s``, with the last contact;
- clients whose reply latency to me, or whose request rate (client turns per week), rises
  against their own previous window (the early sign of eroding trust), and my own latency
  trend; for a client with a reporting cadence, its requests for reports or meetings
  (turns whose subject asks for one, :data:`REPORT_REQUEST`) rising while my proactive
  updates are late in the current window (signal ``report_requests``): the client is
  asking for what I should have sent unasked;
- what clients owe me: my open turns (DESIGN "my turn": my messages to a client that no
  client message has followed yet) that I opened on my own initiative, over the last
  :data:`OWED_HORIZON_DAYS` days. A turn that starts with my answer to the client's own
  question is left out: having the last word is not waiting for anything;
- out-of-office replies received from clients, with the return date when the subject
  gives one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from responsewatch.core.models import Analysis, Conversation, Message, message_time
from responsewatch.core.rules import ClientDirectory, Rules, client_of_message
from responsewatch.core.stats import median
from responsewatch.core.subjects import is_forward_subject

__all__ = [
    "DEFAULT_MISSION_DAYS",
    "OWED_HORIZON_DAYS",
    "REPORT_REQUEST",
    "WINDOW_DAYS",
    "AfterHours",
    "Insights",
    "LatencyTrend",
    "LongMission",
    "OutOfOffice",
    "OwedReply",
    "QuietRelationship",
    "RisingClient",
    "Trend",
    "find_dates",
    "insights",
    "insights_json",
    "parse_return_date",
]

WINDOW_DAYS = 28
# "About two months": the default when a mission has a start but no configured length.
DEFAULT_MISSION_DAYS = 61
OWED_HORIZON_DAYS = 30
OUT_OF_OFFICE_HORIZON_DAYS = 14
# A trend is "up" when the current value exceeds the previous one by a quarter; it needs
# MIN_SAMPLES data points in both windows, so one slow answer is not a trend.
RISE_RATIO = 1.25
MIN_SAMPLES = 3
# Subjects of client requests for a report or a meeting (fr, en); case-insensitive.
REPORT_REQUEST = re.compile(
    r"\b(?:point|réunion|reunion|rdv|rendez-vous|meeting|call|visio|compte[- ]rendu|cr|"
    r"reporting|rapport|report|avancement|bilan|suivi|nouvelles|news|status|statut|update|"
    r"progress|checkpoint|check-in|copil|comité|steering|review|où en|where are we)\b",
    re.IGNORECASE,
)


class Trend(StrEnum):
    UP = "up"
    DOWN = "down"
    FLAT = "flat"
    UNKNOWN = "unknown"  # not enough data in one of the windows


@dataclass(frozen=True, slots=True)
class AfterHours:
    client: str
    current: int
    previous: int
    trend: Trend


@dataclass(frozen=True, slots=True)
class LongMission:
    client: str
    started: date
    planned_end: date
    length_days: int
    days_over: int


@dataclass(frozen=True, slots=True)
class QuietRelationship:
    client: str
    last_contact: datetime | None  # None: never in the mailbox
    quiet_days: int | None


@dataclass(frozen=True, slots=True)
class RisingClient:
    """``signal`` is "latency" (seconds, medians) or "requests" (client turns per week)."""

    client: str
    signal: str
    current: float
    previous: float


@dataclass(frozen=True, slots=True)
class LatencyTrend:
    current_median_s: float | None
    previous_median_s: float | None
    current_count: int
    previous_count: int
    trend: Trend


@dataclass(frozen=True, slots=True)
class OwedReply:
    thread_id: str
    client: str
    subject: str
    message_id: str
    since: datetime
    age_seconds: float


@dataclass(frozen=True, slots=True)
class OutOfOffice:
    client: str
    address: str
    subject: str
    message_id: str
    received_at: datetime
    return_date: date | None


@dataclass(frozen=True, slots=True)
class Insights:
    now: datetime
    window_start: datetime  # current window: [window_start, now]
    previous_start: datetime  # previous window: [previous_start, window_start)
    after_hours: tuple[AfterHours, ...]
    long_missions: tuple[LongMission, ...]
    quiet: tuple[QuietRelationship, ...]
    rising: tuple[RisingClient, ...]
    my_latency: LatencyTrend
    owed: tuple[OwedReply, ...]
    out_of_office: tuple[OutOfOffice, ...]


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def _count_trend(current: int, previous: int) -> Trend:
    if current > previous:
        return Trend.UP
    if current < previous:
        return Trend.DOWN
    return Trend.FLAT


def _ratio_trend(current: Sequence[float], previous: Sequence[float]) -> Trend:
    cur, prev = median(current), median(previous)
    if cur is None or prev is None or len(current) < MIN_SAMPLES or len(previous) < MIN_SAMPLES:
        return Trend.UNKNOWN
    if cur > prev * RISE_RATIO:
        return Trend.UP
    if cur * RISE_RATIO < prev:
        return Trend.DOWN
    return Trend.FLAT


@dataclass(frozen=True, slots=True)
class _Windows:
    previous_start: datetime
    start: datetime
    now: datetime

    def which(self, t: datetime) -> int | None:
        """0 = current window, 1 = previous one, None = neither."""
        if self.start <= t <= self.now:
            return 0
        if self.previous_start <= t < self.start:
            return 1
        return None


def _after_hours(analysis: Analysis, w: _Windows) -> tuple[AfterHours, ...]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for reply in analysis.replies:
        slot = w.which(reply.replied_at)
        if reply.after_hours and slot is not None:
            counts[reply.client][slot] += 1
    rows = [AfterHours(c, cur, prev, _count_trend(cur, prev)) for c, (cur, prev) in counts.items()]
    return tuple(sorted(rows, key=lambda r: (-r.current, -r.previous, r.client)))


def _long_missions(rules: Rules, today: date) -> tuple[LongMission, ...]:
    out: list[LongMission] = []
    for client in rules.clients:
        if client.mission_start is None:
            continue
        length = client.mission_length_days or DEFAULT_MISSION_DAYS
        end = client.mission_start + timedelta(days=length)
        if today > end:
            out.append(
                LongMission(client.name, client.mission_start, end, length, (today - end).days)
            )
    return tuple(sorted(out, key=lambda m: (-m.days_over, m.client)))


def _addressed(msg: Message, directory: ClientDirectory) -> set[str]:
    found = {directory.client_of(a) for a in (*msg.to, *msg.cc)}
    return {c for c in found if c is not None}


def _quiet(
    messages: Mapping[str, Message],
    analysis: Analysis,
    rules: Rules,
    directory: ClientDirectory,
    now: datetime,
    quiet_after_s: float,
) -> tuple[QuietRelationship, ...]:
    last: dict[str, datetime] = {}
    for msg in messages.values():
        if msg.automated or msg.from_addr is None:
            continue
        when = message_time(msg, rules.me)
        if when is None or when > now:
            continue
        if msg.from_addr in rules.me:
            clients = _addressed(msg, directory)
        else:
            found = directory.client_of(msg.from_addr)
            clients = {found} if found is not None else set()
        for client in clients:
            if client not in last or when > last[client]:
                last[client] = when
    if rules.clients:
        names = {c.name for c in rules.clients}
    else:
        # Without configured clients every sender is a correspondent; only two-way
        # relationships (I answered them or they answered me) can "go quiet".
        names = {c.client for c in analysis.clients if c.replied or c.client_replied}
    out: list[QuietRelationship] = []
    for name in names:
        seen = last.get(name)
        if seen is None:
            out.append(QuietRelationship(name, None, None))
        elif (now - seen).total_seconds() >= quiet_after_s:
            out.append(QuietRelationship(name, seen, (now - seen).days))
    never = datetime.min.replace(tzinfo=now.tzinfo)
    return tuple(sorted(out, key=lambda q: (q.last_contact or never, q.client)))


def _rising(analysis: Analysis, w: _Windows) -> tuple[RisingClient, ...]:
    latency: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for cr in analysis.client_replies:
        slot = w.which(cr.replied_at)
        if slot is not None:
            latency[cr.client][slot].append(cr.latency_seconds)
    requests: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    starts = [
        *((r.client, r.received_at) for r in analysis.replies),
        *((a.client, a.since) for a in analysis.awaiting),
        *((k.client, k.since) for k in analysis.acknowledged),
    ]
    for client, since in starts:
        slot = w.which(since)
        if slot is not None:
            requests[client][slot] += 1
    out: list[RisingClient] = []
    for client, (cur, prev) in latency.items():
        if _ratio_trend(cur, prev) is Trend.UP:
            out.append(RisingClient(client, "latency", median(cur) or 0.0, median(prev) or 0.0))
    weeks = WINDOW_DAYS / 7
    for client, (n_cur, n_prev) in requests.items():
        if n_prev >= MIN_SAMPLES and n_cur > n_prev * RISE_RATIO and n_cur - n_prev >= 2:
            out.append(RisingClient(client, "requests", n_cur / weeks, n_prev / weeks))
    return tuple(sorted(out, key=lambda r: (r.client, r.signal)))


def _report_requests(
    messages: Mapping[str, Message], analysis: Analysis, w: _Windows
) -> tuple[RisingClient, ...]:
    """Requests for reports or meetings up while my updates are late (clients with a cadence).

    Late in the current window: a late gap (the current one included) overlaps it. The rise
    needs at least two such requests now and more than in the previous window; a client who
    asks for reports is rare enough that the general MIN_SAMPLES would hide it."""
    late = {
        c.client
        for c in analysis.cadence
        if any(end >= w.start and start <= w.now for start, end in c.late_gaps)
    }
    if not late:
        return ()

    def subject(message_id: str) -> str:
        found = messages.get(message_id)
        return found.subject if found is not None else ""

    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    turns = [
        *((r.client, r.received_at, subject(r.message_id)) for r in analysis.replies),
        *((a.client, a.since, a.subject) for a in analysis.awaiting),
        *((k.client, k.since, subject(k.message_id)) for k in analysis.acknowledged),
    ]
    for client, since, text in turns:
        slot = w.which(since)
        if client in late and slot is not None and REPORT_REQUEST.search(text):
            counts[client][slot] += 1
    weeks = WINDOW_DAYS / 7
    return tuple(
        RisingClient(client, "report_requests", cur / weeks, prev / weeks)
        for client, (cur, prev) in counts.items()
        if cur >= 2 and cur > prev
    )


def _my_latency(analysis: Analysis, w: _Windows) -> LatencyTrend:
    cur: list[float] = []
    prev: list[float] = []
    for reply in analysis.replies:
        slot = w.which(reply.replied_at)
        if slot == 0:
            cur.append(reply.latency_seconds)
        elif slot == 1:
            prev.append(reply.latency_seconds)
    return LatencyTrend(median(cur), median(prev), len(cur), len(prev), _ratio_trend(cur, prev))


def _owed(
    messages: Mapping[str, Message],
    conversations: Iterable[Conversation],
    rules: Rules,
    directory: ClientDirectory,
    now: datetime,
) -> tuple[OwedReply, ...]:
    # My turns as core.latency defines them, kept open: a run of my (non-automated)
    # messages to a client with no client message after it in the conversation.
    horizon = now - timedelta(days=OWED_HORIZON_DAYS)
    out: list[OwedReply] = []
    for conv in conversations:
        dated: list[tuple[datetime, str, Message]] = []
        for mid in conv.message_ids:
            msg = messages.get(mid)
            when = message_time(msg, rules.me) if msg is not None else None
            if msg is not None and when is not None and when <= now:
                dated.append((when, mid, msg))
        dated.sort(key=lambda item: (item[0], item[1]))
        open_turns: dict[str, tuple[datetime, Message]] = {}
        asking: set[str] = set()  # clients with an open turn towards me (not thanks-only)
        for when, _mid, msg in dated:
            if msg.from_addr is not None and msg.from_addr in rules.me:
                if not msg.automated:
                    for addressed in _addressed(msg, directory):
                        # My answer to their question leaves the ball with me as far as the
                        # digest can tell: only turns I open on my initiative are "owed".
                        if addressed not in asking:
                            open_turns.setdefault(addressed, (when, msg))
                        if not is_forward_subject(msg.subject):
                            asking.discard(addressed)
                continue
            sender = client_of_message(msg, rules, directory)
            if sender is not None:
                open_turns.pop(sender, None)
                if not msg.thanks_only:
                    asking.add(sender)
        for client, (since, first) in open_turns.items():
            if since >= horizon:
                age = (now - since).total_seconds()
                out.append(
                    OwedReply(conv.thread_id, client, first.subject, first.message_id, since, age)
                )
    return tuple(sorted(out, key=lambda o: (o.since, o.thread_id, o.client)))


_FR_MONTHS = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
_EN_MONTHS = "january february march april may june july august september october november december"
_MONTHS = {
    **{m: i + 1 for i, m in enumerate(_FR_MONTHS.split())},
    **{m: i + 1 for i, m in enumerate(_EN_MONTHS.split())},
    **{m[:3]: i + 1 for i, m in enumerate(_EN_MONTHS.split())},
    **{"fevrier": 2, "aout": 8, "decembre": 12, "sept": 9, "janv": 1, "févr": 2, "avr": 4},
}
_MONTH_RE = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_DATE_PATTERNS = (
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"),
    # Day first, as written in French and British mail: 12/03, 12.03.2026, 12/03/26.
    re.compile(r"(?<![\d/.])(?P<d>\d{1,2})[/.](?P<m>\d{1,2})(?:[/.](?P<y>\d{4}|\d{2}))?(?![\d/])"),
    re.compile(
        rf"(?<!\w)(?P<d>\d{{1,2}})(?:er|st|nd|rd|th)?\s+(?P<mn>{_MONTH_RE})\.?(?:\s+(?P<y>\d{{4}}))?",
        re.IGNORECASE,
    ),
    re.compile(
        rf"(?<!\w)(?P<mn>{_MONTH_RE})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{{4}}))?",
        re.IGNORECASE,
    ),
)


def find_dates(text: str, received: date) -> list[tuple[int, int, date]]:
    """Every date written in ``text`` as (start, end, value), overlapping matches included.

    Numeric dates are read day first. A date without a year takes the received year, or the
    next one when that would put it more than 30 days before the message.
    """
    found: list[tuple[int, int, date]] = []
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            groups = m.groupdict()
            month = _MONTHS.get(groups["mn"].lower()) if groups.get("mn") else None
            if month is None:
                month = int(groups["m"]) if groups.get("m") else 0
            year_text = groups.get("y")
            year = int(year_text) if year_text else received.year
            if year_text and len(year_text) == 2:
                year += 2000
            try:
                value = date(year, month, int(groups["d"]))
                if not year_text and value < received - timedelta(days=30):
                    value = value.replace(year=year + 1)
            except ValueError:
                continue
            found.append((m.start(), m.end(), value))
    return found


def parse_return_date(subject: str, received: date) -> date | None:
    """The last date written in an out-of-office subject ("absent du 3 au 12 mars" -> 12 March)."""
    found = [(end, value) for _start, end, value in find_dates(subject, received)]
    return max(found)[1] if found else None


def _out_of_office(
    messages: Mapping[str, Message],
    rules: Rules,
    directory: ClientDirectory,
    now: datetime,
    today: date,
) -> tuple[OutOfOffice, ...]:
    horizon = now - timedelta(days=OUT_OF_OFFICE_HORIZON_DAYS)
    latest: dict[str, OutOfOffice] = {}
    for msg in messages.values():
        if not msg.auto_reply or msg.from_addr is None or msg.from_addr in rules.me:
            continue
        client = directory.client_of(msg.from_addr)
        when = message_time(msg, rules.me)
        if client is None or when is None or not horizon <= when <= now:
            continue
        back = parse_return_date(msg.subject, when.date())
        if rules.leave.from_client_auto_replies and msg.absence is not None:
            back = msg.absence[1]  # the last day away, read from the reply's own text
        if back is not None and back < today:
            continue  # already back
        known = latest.get(msg.from_addr)
        if known is None or when > known.received_at:
            latest[msg.from_addr] = OutOfOffice(
                client, msg.from_addr, msg.subject, msg.message_id, when, back
            )
    return tuple(sorted(latest.values(), key=lambda o: (o.client, o.address)))


def insights(
    messages: Mapping[str, Message],
    analysis: Analysis,
    rules: Rules,
    *,
    now: datetime,
    quiet_after_s: float,
    conversations: Iterable[Conversation] = (),
) -> Insights:
    """All insights as of ``now``. ``conversations`` (as returned with the analysis) is
    needed only for :attr:`Insights.owed`, which stays empty without it."""
    tz = ZoneInfo(rules.hours.timezone)
    today = now.astimezone(tz).date()
    start = _local_midnight(today - timedelta(days=WINDOW_DAYS - 1), tz)
    previous = _local_midnight(today - timedelta(days=2 * WINDOW_DAYS - 1), tz)
    w = _Windows(previous, start, now)
    directory = ClientDirectory(rules)
    return Insights(
        now=now,
        window_start=start,
        previous_start=previous,
        after_hours=_after_hours(analysis, w),
        long_missions=_long_missions(rules, today),
        quiet=_quiet(messages, analysis, rules, directory, now, quiet_after_s),
        rising=tuple(
            sorted(
                (*_rising(analysis, w), *_report_requests(messages, analysis, w)),
                key=lambda r: (r.client, r.signal),
            )
        ),
        my_latency=_my_latency(analysis, w),
        owed=_owed(messages, conversations, rules, directory, now),
        out_of_office=_out_of_office(messages, rules, directory, now, today),
    )


def _iso(value: datetime | date | None) -> str | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()  # as in the rest of the JSON document
    return value.isoformat() if value is not None else None


def insights_json(ins: Insights) -> dict[str, Any]:
    """The ``insights`` key of ``report --format json`` (times ISO 8601, durations seconds)."""
    mine = ins.my_latency
    return {
        "window_start": _iso(ins.window_start),
        "previous_window_start": _iso(ins.previous_start),
        "after_hours": [
            {
                "client": a.client,
                "current": a.current,
                "previous": a.previous,
                "trend": a.trend.value,
            }
            for a in ins.after_hours
        ],
        "long_missions": [
            {
                "client": m.client,
                "mission_start": _iso(m.started),
                "planned_end": _iso(m.planned_end),
                "length_days": m.length_days,
                "days_over": m.days_over,
            }
            for m in ins.long_missions
        ],
        "quiet": [
            {"client": q.client, "last_contact": _iso(q.last_contact), "quiet_days": q.quiet_days}
            for q in ins.quiet
        ],
        "rising": [
            {"client": r.client, "signal": r.signal, "current": r.current, "previous": r.previous}
            for r in ins.rising
        ],
        "my_latency": {
            "current_median_seconds": mine.current_median_s,
            "previous_median_seconds": mine.previous_median_s,
            "current_replies": mine.current_count,
            "previous_replies": mine.previous_count,
            "trend": mine.trend.value,
        },
        "owed_to_me": [
            {
                "thread_id": o.thread_id,
                "client": o.client,
                "subject": o.subject,
                "message_id": o.message_id,
                "since": _iso(o.since),
                "age_seconds": o.age_seconds,
            }
            for o in ins.owed
        ],
        "out_of_office": [
            {
                "client": o.client,
                "address": o.address,
                "subject": o.subject,
                "message_id": o.message_id,
                "received_at": _iso(o.received_at),
                "return_date": _iso(o.return_date),
            }
            for o in ins.out_of_office
        ],
    }

"""The status page's board: what I owe, what they owe me, per client. Pure (``now`` passed in).

Built once per analysis snapshot (the daemon's recompute), so a page view only renders.
Deadlines are instants on the SLA clock (business or calendar), so the page can count down
to them in the browser and the count stays right across refreshes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from responsewatch.core.business_time import BusinessClock
from responsewatch.core.insights import Insights, OwedReply
from responsewatch.core.models import Analysis, Awaiting, TurnState
from responsewatch.core.nudges import business_instant
from responsewatch.core.rules import Rules
from responsewatch.core.safe_text import plain
from responsewatch.core.stats import median, percentile

__all__ = [
    "SPARK_WEEKS",
    "ClientPanel",
    "OwedTurn",
    "StatusBoard",
    "clean_text",
    "limits_for",
    "sparkline_path",
    "status_board",
]

WINDOW = timedelta(days=28)
SPARK_WEEKS = 12
# On leave last: its clock is paused until I am back (every awaiting turn is on leave then).
_STATE_RANK = {TurnState.OVERDUE: 0, TurnState.DUE_SOON: 1, TurnState.OK: 2, TurnState.ON_LEAVE: 3}


def clean_text(text: str, limit: int = 200) -> str:
    """Attacker-controlled header text as one line of the status page (HTML escaping is the
    template's job): the project's one sanitiser, in its one-line mode."""
    return plain(text, limit, one_line=True)


@dataclass(frozen=True, slots=True)
class OwedTurn:
    """An awaiting turn (my reply is due) with the instant its deadline falls at."""

    thread_id: str
    client: str
    subject: str
    message_id: str
    since: datetime
    state: TurnState
    deadline: datetime
    reply_within_s: float


@dataclass(frozen=True, slots=True)
class ClientPanel:
    client: str
    reply_within_s: float
    replies: int  # my replies in the last 4 weeks
    median_s: float | None  # of those
    p90_s: float | None
    my_weeks: tuple[float | None, ...]  # my weekly median latency, oldest week first
    their_weeks: tuple[float | None, ...]  # the client's weekly median latency
    their_median_s: float | None  # the client's, last 4 weeks
    their_previous_s: float | None  # the 4 weeks before
    their_rising: bool  # insights: the client's latency is rising (eroding trust)
    after_hours: int  # my replies outside business hours, last 4 weeks
    after_hours_previous: int
    days_over: int | None  # mission past its planned length by this many days
    quiet_days: int | None  # a quiet relationship: days since the last contact
    awaiting: int
    overdue: int
    update_late: bool  # reporting cadence: my next proactive update is overdue


@dataclass(frozen=True, slots=True)
class StatusBoard:
    now: datetime
    clock: str
    owed: tuple[OwedTurn, ...]  # overdue first, then by deadline
    theirs: tuple[OwedReply, ...]  # my turns awaiting a client, oldest first
    clients: tuple[ClientPanel, ...]


def limits_for(rules: Rules, client: str) -> float:
    """The client's reply_within (its own, else the global SLA)."""
    for rule in rules.clients:
        if rule.name == client and rule.reply_within_s is not None:
            return rule.reply_within_s
    return rules.sla.reply_within_s


def _deadline(clock: BusinessClock | None, turn: Awaiting, within_s: float) -> datetime:
    if clock is not None:
        return business_instant(clock, turn.since, within_s)
    return turn.since + timedelta(seconds=within_s)


def _weekly(samples: Iterable[tuple[datetime, float]], now: datetime) -> list[list[float]]:
    weeks: list[list[float]] = [[] for _ in range(SPARK_WEEKS)]
    start = now - timedelta(weeks=SPARK_WEEKS)
    for at, value in samples:
        if start <= at <= now:
            slot = min(SPARK_WEEKS - 1, int((at - start) / timedelta(weeks=1)))
            weeks[slot].append(value)
    return weeks


def status_board(analysis: Analysis, insights: Insights, rules: Rules) -> StatusBoard:
    now = analysis.now
    clock = BusinessClock(rules.hours) if analysis.clock == "business" else None
    owed = [
        OwedTurn(
            w.thread_id,
            w.client,
            clean_text(w.subject),
            w.first_unanswered_message_id,
            w.since,
            w.state,
            _deadline(clock, w, limits_for(rules, w.client)),
            limits_for(rules, w.client),
        )
        for w in analysis.awaiting
    ]
    # A state this page does not know yet (a later issue's) sorts with the due-soon ones.
    owed.sort(key=lambda t: (_STATE_RANK.get(t.state, 1), t.deadline, t.thread_id))
    theirs = sorted(insights.owed, key=lambda o: (o.since, o.thread_id, o.client))
    panels = _panels(analysis, insights, rules)
    return StatusBoard(now, analysis.clock, tuple(owed), tuple(theirs), panels)


def _panels(analysis: Analysis, insights: Insights, rules: Rules) -> tuple[ClientPanel, ...]:
    now = analysis.now
    mine: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for r in analysis.replies:
        mine[r.client].append((r.replied_at, r.latency_seconds))
    theirs: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for c in analysis.client_replies:
        theirs[c.client].append((c.replied_at, c.latency_seconds))
    after = {a.client: a for a in insights.after_hours}
    over = {m.client: m.days_over for m in insights.long_missions}
    quiet = {q.client: q.quiet_days for q in insights.quiet}
    rising = {r.client for r in insights.rising if r.signal == "latency"}
    late = {c.client for c in analysis.cadence if c.late}
    names = [c.client for c in analysis.clients]
    names += [q.client for q in insights.quiet if q.client not in set(names)]
    counts = {c.client: c for c in analysis.clients}
    panels = []
    for name in names:
        current = [v for at, v in mine[name] if now - WINDOW <= at <= now]
        their_now = [v for at, v in theirs[name] if now - WINDOW <= at <= now]
        their_before = [v for at, v in theirs[name] if now - 2 * WINDOW <= at < now - WINDOW]
        stats = counts.get(name)
        hours = after.get(name)
        panels.append(
            ClientPanel(
                client=name,
                reply_within_s=limits_for(rules, name),
                replies=len(current),
                median_s=median(current),
                p90_s=percentile(current, 0.9),
                my_weeks=tuple(median(w) for w in _weekly(mine[name], now)),
                their_weeks=tuple(median(w) for w in _weekly(theirs[name], now)),
                their_median_s=median(their_now),
                their_previous_s=median(their_before),
                their_rising=name in rising,
                after_hours=hours.current if hours else 0,
                after_hours_previous=hours.previous if hours else 0,
                days_over=over.get(name),
                quiet_days=quiet.get(name),
                awaiting=stats.awaiting if stats else 0,
                overdue=stats.overdue if stats else 0,
                update_late=name in late,
            )
        )
    return tuple(panels)


def sparkline_path(
    values: Sequence[float | None], *, width: float, height: float, ceiling: float
) -> str:
    """An SVG path ``d`` for weekly values: x spreads the weeks over ``width``, y grows
    downwards from ``height`` (0 s) to 0 (``ceiling`` or the largest value, whichever is
    higher). A week without data breaks the line; a lone point is a short dash."""
    top = max([ceiling, *(v for v in values if v is not None)])
    if top <= 0 or not values:
        return ""
    step = width / max(1, len(values) - 1)
    parts: list[str] = []
    pen_down = False
    for i, value in enumerate(values):
        if value is None:
            pen_down = False
            continue
        x = i * step
        y = min(height, max(0.0, height - height * max(0.0, value) / top))  # never "-0.0"
        if pen_down:
            parts.append(f"L{x:.1f} {y:.1f}")
        else:
            parts.append(f"M{x:.1f} {y:.1f}h0.1")
            pen_down = True
    return " ".join(parts)

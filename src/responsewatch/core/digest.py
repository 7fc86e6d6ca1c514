"""The daily digest's content, in the order the consultant reads it (rendering is in adapters).

1. replies due: overdue turns, then due-soon ones (oldest first), each with its subject,
   client, age, thread id and first Message-ID so it can be found in the mail client;
2. what clients owe me (my open turns);
3. agreements captured since the previous digest (given by the caller, from the archive);
4. per-client reply times over the last 4 weeks: median and p90 against the client's
   ``reply_within`` (24 h by default);
5. after-hours replies, 6. missions past their planned length, 7. relationships gone quiet,
   then the early warnings (rising client latency or request rate, my own trend) and the
   clients who are away.

Pure: ``now`` is passed in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from responsewatch.core.insights import (
    AfterHours,
    Insights,
    LatencyTrend,
    LongMission,
    OutOfOffice,
    OwedReply,
    QuietRelationship,
    RisingClient,
)
from responsewatch.core.models import Analysis, Reply, TurnState
from responsewatch.core.rules import Rules
from responsewatch.core.stats import median, percentile

__all__ = ["Agreement", "ClientLine", "Digest", "ToAnswer", "UpdateLate", "build_digest"]


@dataclass(frozen=True, slots=True)
class Agreement:
    client: str
    phrase: str
    received_at: datetime
    message_id: str


@dataclass(frozen=True, slots=True)
class ToAnswer:
    thread_id: str
    client: str
    subject: str
    message_id: str
    since: datetime
    age_seconds: float
    state: TurnState


@dataclass(frozen=True, slots=True)
class ClientLine:
    client: str
    replies: int
    within_sla: int
    median_s: float | None
    p90_s: float | None
    reply_within_s: float
    awaiting: int
    overdue: int
    away_until: date | None = None  # the client's announced absence (leave.from_client_...)


@dataclass(frozen=True, slots=True)
class UpdateLate:
    """A client with a reporting cadence whose next proactive update is past due."""

    client: str
    last_update_at: datetime | None
    update_due_at: datetime
    silent_days: int | None  # whole days since my last update; None: no update yet
    late_days: int  # whole days since it was due


@dataclass(frozen=True, slots=True)
class Digest:
    day: date
    now: datetime
    timezone: str
    reply_within_s: float
    window_start: datetime
    to_answer: tuple[ToAnswer, ...]
    owed: tuple[OwedReply, ...]
    agreements: tuple[Agreement, ...]
    clients: tuple[ClientLine, ...]
    after_hours: tuple[AfterHours, ...]
    long_missions: tuple[LongMission, ...]
    quiet: tuple[QuietRelationship, ...]
    rising: tuple[RisingClient, ...]
    my_latency: LatencyTrend
    out_of_office: tuple[OutOfOffice, ...]
    updates_late: tuple[UpdateLate, ...] = ()
    suspicious: int = 0  # "from me" messages that failed my domain's authentication

    @property
    def overdue(self) -> int:
        return sum(1 for t in self.to_answer if t.state is TurnState.OVERDUE)

    @property
    def due_soon(self) -> int:
        return sum(1 for t in self.to_answer if t.state is TurnState.DUE_SOON)

    @property
    def is_empty(self) -> bool:
        """Nothing to act on or to watch (``digest.skip_when_empty``): the per-client table
        and my own trend alone are not news."""
        return not (
            self.to_answer
            or self.owed
            or self.agreements
            or any(a.current for a in self.after_hours)
            or self.long_missions
            or self.quiet
            or self.rising
            or self.out_of_office
            or self.updates_late
            or self.suspicious
        )


def _away(ins: Insights, rules: Rules) -> dict[str, date]:
    """Clients away today, by their out-of-office replies' periods (when those are read)."""
    if not rules.leave.from_client_auto_replies:
        return {}
    away: dict[str, date] = {}
    for o in ins.out_of_office:
        if o.return_date is not None:
            away[o.client] = max(o.return_date, away.get(o.client, o.return_date))
    return away


def _client_lines(
    analysis: Analysis, rules: Rules, window_start: datetime, away: Mapping[str, date]
) -> tuple[ClientLine, ...]:
    overrides = {c.name: c.reply_within_s for c in rules.clients if c.reply_within_s is not None}
    replies: dict[str, list[Reply]] = defaultdict(list)
    for reply in analysis.replies:
        if window_start <= reply.replied_at <= analysis.now:
            replies[reply.client].append(reply)
    awaiting: dict[str, list[TurnState]] = defaultdict(list)
    for turn in analysis.awaiting:
        awaiting[turn.client].append(turn.state)
    out: list[ClientLine] = []
    for client in sorted(set(replies) | set(awaiting)):
        mine = replies.get(client, [])
        latencies = [r.latency_seconds for r in mine]
        states = awaiting.get(client, [])
        out.append(
            ClientLine(
                client=client,
                replies=len(mine),
                within_sla=sum(1 for r in mine if r.within_sla),
                median_s=median(latencies),
                p90_s=percentile(latencies, 0.9),
                reply_within_s=overrides.get(client, analysis.reply_within_seconds),
                awaiting=len(states),
                overdue=sum(1 for s in states if s is TurnState.OVERDUE),
                away_until=away.get(client),
            )
        )
    return tuple(out)


def _updates_late(analysis: Analysis, now: datetime) -> tuple[UpdateLate, ...]:
    out = [
        UpdateLate(
            c.client,
            c.last_update_at,
            c.update_due_at,
            (now - c.last_update_at).days if c.last_update_at is not None else None,
            (now - c.update_due_at).days,
        )
        for c in analysis.cadence
        if c.late and c.update_due_at is not None
    ]
    return tuple(sorted(out, key=lambda u: (u.update_due_at, u.client)))


def build_digest(
    analysis: Analysis,
    ins: Insights,
    rules: Rules,
    *,
    now: datetime,
    agreements: Sequence[tuple[str, str, datetime, str]] = (),
) -> Digest:
    """``agreements``: (client, phrase, received_at, message_id) captured since the last
    digest, as selected by the caller."""
    urgent = [a for a in analysis.awaiting if a.state is not TurnState.OK]
    urgent.sort(key=lambda a: (a.state is not TurnState.OVERDUE, a.since, a.thread_id))
    return Digest(
        day=now.astimezone(ZoneInfo(rules.hours.timezone)).date(),
        now=now,
        timezone=rules.hours.timezone,
        reply_within_s=analysis.reply_within_seconds,
        window_start=ins.window_start,
        to_answer=tuple(
            ToAnswer(
                a.thread_id,
                a.client,
                a.subject,
                a.first_unanswered_message_id,
                a.since,
                a.age_seconds,
                a.state,
            )
            for a in urgent
        ),
        owed=ins.owed,
        agreements=tuple(
            sorted(
                (Agreement(c, p, at, m) for c, p, at, m in agreements),
                key=lambda g: (g.received_at, g.message_id),
            )
        ),
        clients=_client_lines(analysis, rules, ins.window_start, _away(ins, rules)),
        after_hours=ins.after_hours,
        long_missions=ins.long_missions,
        quiet=ins.quiet,
        rising=ins.rising,
        my_latency=ins.my_latency,
        out_of_office=ins.out_of_office,
        updates_late=_updates_late(analysis, now),
        suspicious=analysis.totals.suspicious,
    )

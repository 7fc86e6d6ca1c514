"""Nudges that the reporting cadence and my leave add to core/nudges.py.

- ``update_due`` (issue 21): a client's proactive update is due; the nudge comes due one
  business day before ``update_due_at``, at the same local time on the previous business day
  (a day with business time on the clock given, so with my leave cut out: an update due on
  the Monday I come back is announced on my last working day before the leave, while I can
  still send it). Keyed on client + due date, so a due date is nudged once and a new one
  (after an update) again. A heads-up only: once the due date has passed the digest and the
  ``ClientUpdateLate`` alert speak, so nothing is proposed after it.
- ``back_from_leave`` (issue 19): when my latest leave period has ended, ONE summary of the
  turns waiting (per client, oldest first), keyed on the period. It comes due when the leave
  ends and quiet hours hold it until the first business window opens, i.e. my first business
  morning back. Only within :data:`BACK_WITHIN` of the end: a daemon first started long after
  a holiday does not announce it.

Pure: ``now``, the analysis, the leave and the clock are passed in.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from responsewatch.core.business_time import BusinessClock
from responsewatch.core.leave import Leave
from responsewatch.core.models import Analysis
from responsewatch.core.nudges import Nudge, NudgeKind, NudgePolicy

__all__ = ["BACK_WITHIN", "back_from_leave_nudges", "previous_business_day", "update_due_nudges"]

BACK_WITHIN = timedelta(days=7)
_LOOK_BACK_DAYS = 31  # a month without one business day: fall back to one calendar day


def previous_business_day(clock: BusinessClock, at: datetime, timezone: str) -> datetime:
    """The same local wall time on the closest earlier day that has business time."""
    zone = ZoneInfo(timezone)
    local = at.astimezone(zone)
    wall = time(local.hour, local.minute, local.second, local.microsecond)
    for back in range(1, _LOOK_BACK_DAYS + 1):
        day = local.date() - timedelta(days=back)
        start = datetime.combine(day, time(0), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        if clock.seconds_between(start, end) > 0:
            return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)
    return (at - timedelta(days=1)).astimezone(UTC)


def update_due_nudges(
    analysis: Analysis,
    clock: BusinessClock,
    policy: NudgePolicy,
    *,
    now: datetime,
    timezone: str,
    sent: Collection[tuple[str, str]],
) -> list[Nudge]:
    if NudgeKind.UPDATE_DUE.value not in policy.kinds:
        return []
    out: list[Nudge] = []
    for c in analysis.cadence:
        due = c.update_due_at
        if due is None or now >= due:
            continue
        ref = f"{c.client}\n{due.isoformat()}"
        if (NudgeKind.UPDATE_DUE.value, ref) in sent:
            continue
        nudge_at = previous_business_day(clock, due, timezone)
        if now < nudge_at:
            continue
        out.append(
            Nudge(
                kind=NudgeKind.UPDATE_DUE,
                ref=ref,
                due_at=nudge_at,
                client=c.client,
                since=c.last_update_at,
                deadline=due,
            )
        )
    return out


def back_from_leave_nudges(
    analysis: Analysis,
    leave: Leave,
    policy: NudgePolicy,
    *,
    now: datetime,
    acks: Mapping[str, datetime],
) -> list[Nudge]:
    if NudgeKind.BACK_FROM_LEAVE.value not in policy.kinds or not leave or leave.contains(now):
        return []
    ended = [(a, b) for a, b in leave.periods() if b <= now]
    if not ended or now - ended[-1][1] >= BACK_WITHIN:
        return []
    start, end = ended[-1]
    per_client: dict[str, list[tuple[datetime, str]]] = {}
    for turn in analysis.awaiting:
        if any(m in acks and acks[m] <= now for m in turn.message_ids):
            continue
        per_client.setdefault(turn.client, []).append((turn.since, turn.subject))
    waiting = tuple(
        (client, len(turns), min(turns)[1])
        for client, turns in sorted(per_client.items(), key=lambda kv: (min(kv[1])[0], kv[0]))
    )
    return [
        Nudge(
            kind=NudgeKind.BACK_FROM_LEAVE,
            ref=f"{start.isoformat()}\n{end.isoformat()}",
            due_at=end,
            since=start,
            waiting=waiting,
        )
    ]

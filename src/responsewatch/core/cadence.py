"""Reporting cadence (DESIGN.md "Reporting cadence"): is each client kept informed unasked?

A client with ``report_every`` (its own, or ``sla.report_every`` for every client) expects a
*proactive update* from me at least that often while its mission runs. A proactive update is
a dated message from me, not automated, with an address of that client in To or Cc, that is
not my reply to one of that client's turns (the replies come from ``core.latency``, so a
message can be a reply to one client and an update to another one in copy). Updates are
read from the analysis, never fed back into it: they neither open nor close a turn.

Readings where DESIGN.md leaves a choice (also in the README):

- The mission window is ``[mission_start, planned end)`` in ``me.timezone``: it opens at the
  local midnight of ``mission_start`` and closes at the end of its planned last day,
  ``mission_start + mission_length`` (61 days when only ``mission_start`` is set), the day
  ``insights.long_missions`` starts to count as "past its planned length".
- Without ``mission_start`` the cadence runs from the first contact with the client (its
  first dated client message to me, or my first dated non-automated message to it) and never
  ends; before any contact nothing is due.
- Gaps run from the window's start to the first update, between consecutive updates, and from
  the last update to ``now`` (or the window's end), on the calendar clock. A gap is late when
  its end passes the due date computed from its start: ``start + report_every``, moved with
  ``sla.clock = "business"`` to the next business instant (due on a Saturday or at 20:00 ->
  the next opening of the business window). ``updates_late`` counts the late gaps, the current
  one included; ``update_due_at`` is the due date of the current gap (null once the mission
  ends before it). Updates before the window or after ``now`` are not gaps' ends, but
  ``last_update_at`` is the last update at or before ``now`` whenever it was sent.
- ``paused`` (my leave, when it lands) stretches a due date by the paused time inside the gap.

Pure: ``now`` and the business clock are passed in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from responsewatch.core.business_time import BusinessClock
from responsewatch.core.models import ClientCadence, Message, Reply, message_time
from responsewatch.core.rules import ClientDirectory, ClientRule, Rules, client_of_message

__all__ = ["DEFAULT_MISSION_DAYS", "cadences", "merge_intervals", "report_every_of"]

# Same default as insights.long_missions ("about two months").
DEFAULT_MISSION_DAYS = 61

Interval = tuple[datetime, datetime]


def report_every_of(rule: ClientRule | None, rules: Rules) -> float | None:
    """The client's cadence in seconds, or None: its own report_every (0 = "off") first."""
    own = rule.report_every_s if rule is not None else None
    every = own if own is not None else rules.sla.report_every_s
    return every if every else None


def merge_intervals(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sorted, non-overlapping, non-empty intervals covering the same instants."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return tuple(out)


def _add_unpaused(start: datetime, seconds: float, paused: Sequence[Interval]) -> datetime:
    """The instant at which ``seconds`` of time outside ``paused`` have elapsed since start."""
    t = start
    remaining = timedelta(seconds=seconds)
    for p_start, p_end in paused:
        if p_end <= t:
            continue
        if p_start > t:
            room = p_start - t
            if remaining <= room:
                return t + remaining
            remaining -= room
        t = p_end
    return t + remaining


class _Cadence:
    def __init__(
        self,
        rules: Rules,
        clock: BusinessClock,
        now: datetime,
        paused: Sequence[Interval],
    ) -> None:
        self.rules = rules
        self.clock = clock
        self.now = now
        self.paused = merge_intervals(paused)
        self.tz = ZoneInfo(rules.hours.timezone)

    def due_after(self, start: datetime, every: float) -> datetime | None:
        """When the update after one at ``start`` is due; None when beyond datetime's range."""
        try:
            due = _add_unpaused(start, every, self.paused)
        except OverflowError:
            return None
        if self.rules.sla.clock == "business":
            due = self.clock.next_business_time(due)
        return due.astimezone(UTC)

    def window(
        self, rule: ClientRule | None, first_contact: datetime | None
    ) -> tuple[datetime | None, datetime | None]:
        if rule is None or rule.mission_start is None:
            return first_contact, None
        days = rule.mission_length_days or DEFAULT_MISSION_DAYS
        start = datetime.combine(rule.mission_start, time(0), tzinfo=self.tz)
        try:
            last_day = rule.mission_start + timedelta(days=days + 1)
            end = datetime.combine(last_day, time(0), tzinfo=self.tz).astimezone(UTC)
        except OverflowError:
            end = None
        return start.astimezone(UTC), end

    def client(
        self,
        name: str,
        rule: ClientRule | None,
        every: float,
        updates: list[datetime],
        first_contact: datetime | None,
    ) -> ClientCadence:
        updates.sort()
        last_update = updates[-1] if updates else None
        start, end = self.window(rule, first_contact)
        if start is None:
            return ClientCadence(name, every, last_update, None, 0, False, 0, None, end)
        horizon = self.now if end is None else min(self.now, end)
        late_gaps: list[Interval] = []
        prev = start
        inside = 0
        for sent in updates:
            if not start <= sent <= horizon:
                continue
            inside += 1
            due = self.due_after(prev, every)
            if due is not None and sent > due:
                late_gaps.append((prev, sent))
            prev = sent
        due = self.due_after(prev, every)
        if due is not None and end is not None and due >= end:
            due = None  # the mission ends before another update is due
        late = due is not None and horizon > due
        if late:
            late_gaps.append((prev, horizon))
        return ClientCadence(
            client=name,
            report_every_s=every,
            last_update_at=last_update,
            update_due_at=due,
            updates_late=len(late_gaps),
            late=late,
            updates=inside,
            window_start=start,
            window_end=end,
            late_gaps=tuple(late_gaps),
        )


def cadences(
    messages: Mapping[str, Message],
    rules: Rules,
    replies: Iterable[Reply],
    *,
    clients: Iterable[str],
    now: datetime,
    clock: BusinessClock,
    paused: Sequence[Interval] = (),
) -> tuple[ClientCadence, ...]:
    """The cadence of each of ``clients`` (the names of the analysis) that has one, in order.

    ``replies``: my replies to client turns, from the same analysis. ``paused``: intervals
    that do not count towards a due date (my leave)."""
    by_name = {c.name: c for c in rules.clients}
    every: dict[str, float] = {}
    for name in clients:
        value = report_every_of(by_name.get(name), rules)
        if value is not None:
            every[name] = value
    if not every:
        return ()
    directory = ClientDirectory(rules)
    replied = {(r.reply_message_id, r.client) for r in replies}
    updates: dict[str, list[datetime]] = defaultdict(list)
    first: dict[str, datetime] = {}
    for msg in messages.values():
        if msg.automated or msg.from_addr is None:
            continue
        when = message_time(msg, rules.me)
        if when is None or when > now:
            continue
        if msg.from_addr in rules.me:
            addressed = {directory.client_of(a) for a in (*msg.to, *msg.cc)}
            for client in addressed:
                if client is None or client not in every:
                    continue
                if client not in first or when < first[client]:
                    first[client] = when
                if (msg.message_id, client) not in replied:
                    updates[client].append(when)
            continue
        sender = client_of_message(msg, rules, directory)
        if sender in every and (sender not in first or when < first[sender]):
            first[sender] = when
    state = _Cadence(rules, clock, now, paused)
    return tuple(
        state.client(name, by_name.get(name), value, updates[name], first.get(name))
        for name, value in every.items()
    )

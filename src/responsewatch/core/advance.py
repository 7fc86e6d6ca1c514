"""Time without work: carry an Analysis forward to a later ``now`` without re-threading.

With the facts, acknowledgements and rules unchanged, an Analysis depends on ``now`` only
through (a) the awaiting turns' ages and states (and the per-client ``overdue`` and
``breaches`` counts made of them), and (b) the reporting cadence. (a) is re-evaluated here
exactly as ``core.latency`` does it (same formulas, same ``state_for``), at any later
instant. (b) changes shape only at known instants (a due date passing, a future-dated
message's time coming, a mission window ending): :func:`next_full_recompute` says when,
and until then only the end of a current late gap moves with ``now``.

So ``advance(analyze(t0), t1) == analyze(t1)`` whenever ``t1 < next_full_recompute``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from responsewatch.core.business_time import BusinessClock
from responsewatch.core.latency import _Thresholds, state_for, thresholds_of
from responsewatch.core.leave import Leave
from responsewatch.core.models import Analysis, Awaiting, ClientCadence, TurnState
from responsewatch.core.rules import Rules

__all__ = ["advance", "next_full_recompute"]


def next_full_recompute(
    analysis: Analysis, future_times: Iterable[datetime] = ()
) -> datetime | None:
    """The first instant after ``analysis.now`` at which :func:`advance` is no longer exact.

    ``future_times``: the message times later than ``analysis.now`` (the cadence counts only
    messages up to now); only needed when the analysis has a cadence."""
    now = analysis.now
    if not analysis.cadence:
        return None
    candidates = [t for t in future_times if t > now]
    for cadence in analysis.cadence:
        for t in (cadence.update_due_at, cadence.window_end, cadence.window_start):
            if t is not None and t > now:
                candidates.append(t)
    return min(candidates) if candidates else None


def _awaiting_at(
    turn: Awaiting,
    rules: Rules,
    clock: BusinessClock,
    leave: Leave,
    now: datetime,
    limits: dict[str, _Thresholds],
) -> Awaiting:
    # The same readings as core.latency._Analyzer._await.
    age = leave.calendar_seconds(turn.since, now)
    business = clock.seconds_between(turn.since, now)
    on_clock = business if rules.sla.clock == "business" else age
    if leave.contains(now):
        state = TurnState.ON_LEAVE
    else:
        found = limits.get(turn.client)
        if found is None:
            found = limits[turn.client] = thresholds_of(rules, turn.client)
        state = state_for(on_clock, found)
    return replace(turn, age_seconds=age, business_age_seconds=business, state=state)


def _cadence_at(cadence: ClientCadence, now: datetime) -> ClientCadence:
    if not cadence.late or not cadence.late_gaps:
        return cadence
    # Late: the current gap runs to the horizon, which follows now until the window ends.
    horizon = now if cadence.window_end is None else min(now, cadence.window_end)
    start, _end = cadence.late_gaps[-1]
    return replace(cadence, late_gaps=(*cadence.late_gaps[:-1], (start, horizon)))


def advance(
    analysis: Analysis, rules: Rules, clock: BusinessClock, leave: Leave, now: datetime
) -> Analysis:
    """``analysis`` as of ``now`` (same facts, acks and rules; ``now`` before
    :func:`next_full_recompute`). ``clock``: the business clock of ``rules.hours``;
    ``leave``: my leave, as ``core.latency.analyze`` computed it."""
    clock = clock.with_leave(leave)
    limits: dict[str, _Thresholds] = {}
    awaiting = tuple(_awaiting_at(t, rules, clock, leave, now, limits) for t in analysis.awaiting)
    before = Counter(t.client for t in analysis.awaiting if t.state is TurnState.OVERDUE)
    after = Counter(t.client for t in awaiting if t.state is TurnState.OVERDUE)
    clients = tuple(
        replace(
            c,
            overdue=after[c.client],
            breaches=c.breaches - before[c.client] + after[c.client],
        )
        if before[c.client] != after[c.client]
        else c
        for c in analysis.clients
    )
    return replace(
        analysis,
        now=now,
        awaiting=awaiting,
        clients=clients,
        cadence=tuple(_cadence_at(c, now) for c in analysis.cadence),
    )

"""The daemon's recompute, paid only for news: idle costs a one-row read a minute.

A full computation (threading every conversation, in a child process by default) runs
only when the inputs moved (the store's ``input_changes()``: facts, keywords, acks;
the rules are fixed for the daemon's life) or when the reporting cadence reaches one of
the instants at which it changes shape. In between, the last analysis is carried to
``now`` by ``core.advance`` (turn ages and states, overdue counts: a few microseconds per
awaiting turn), which gives exactly what the full computation would.
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from responsewatch.adapters.store import SqliteStore
from responsewatch.app.bootstrap import App, bootstrap
from responsewatch.app.pipeline import no_gc
from responsewatch.config import Settings
from responsewatch.core.absence import my_leave
from responsewatch.core.advance import advance, next_full_recompute
from responsewatch.core.business_time import BusinessClock
from responsewatch.core.insights import Insights, insights
from responsewatch.core.leave import NO_LEAVE, Leave
from responsewatch.core.models import Analysis, message_time

__all__ = ["Computed", "Incremental", "compute_state", "state_in_child"]


@dataclass(frozen=True, slots=True)
class Computed:
    """A full computation and what carrying it forward needs."""

    analysis: Analysis
    leave: Leave  # my leave, as the analysis counted it
    next_full: datetime | None  # advance() is exact strictly before this instant
    changes: tuple[int, ...]  # the store's input_changes(), read before the facts
    insights: Insights | None = None  # with_insights: for the status page, same facts


def compute_state(app: App, at: datetime, *, with_insights: bool = False) -> Computed:
    changes = app.store.input_changes()  # before the facts: a write in between recomputes
    messages, analysis, conversations = app._facts_and_analysis(at)
    rules = app.settings.rules
    leave = my_leave(messages, rules) if rules.leave.configured or rules.hours.leave else NO_LEAVE
    future: tuple[datetime, ...] = ()
    if analysis.cadence:
        future = tuple(
            t for m in messages.values() if (t := message_time(m, rules.me)) is not None and t > at
        )
    found = None
    if with_insights:
        with no_gc():
            found = insights(
                messages,
                analysis,
                rules,
                now=at,
                quiet_after_s=app.settings.quiet_after_s,
                conversations=conversations,
            )
    return Computed(analysis, leave, next_full_recompute(analysis, future), changes, found)


def _compute_in_child(settings: Settings, at: datetime, with_insights: bool) -> Computed:
    if multiprocessing.parent_process() is not None:
        gc.disable()  # as in app/recompute.py: the child exits right after
    app = bootstrap(settings, store=SqliteStore.open(settings.store_path, readonly=True))
    try:
        return compute_state(app, at, with_insights=with_insights)
    finally:
        app.close()


def state_in_child(settings: Settings, at: datetime, *, with_insights: bool = False) -> Computed:
    # "spawn", never "fork": the daemon has threads whose locks a fork would inherit.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_compute_in_child, settings, at, with_insights).result()


class Incremental:
    """The latest full computation, and the decision to redo it or carry it forward."""

    def __init__(self, settings: Settings, compute: Callable[[datetime], Computed]) -> None:
        self.settings = settings
        self._compute = compute
        self._clock = BusinessClock(settings.rules.hours)
        self._lock = threading.Lock()  # the recompute job and the nudge tick both ask
        self._last: Computed | None = None
        self._reader: SqliteStore | None = None
        self.full_runs = 0
        self.advanced = 0

    def _changes(self) -> tuple[int, ...]:
        if self._reader is None:
            self._reader = SqliteStore.open(self.settings.store_path, readonly=True)
        return self._reader.input_changes()

    def invalidate(self) -> None:
        with self._lock:
            self._last = None

    def analysis(self, at: datetime) -> tuple[Analysis, bool]:
        """The analysis as of ``at``, and whether a full computation produced it."""
        with self._lock:
            last = self._last
            if (
                last is not None
                and at >= last.analysis.now
                and (last.next_full is None or at < last.next_full)
                and self._changes() == last.changes
            ):
                self.advanced += 1
                rules = self.settings.rules
                return advance(last.analysis, rules, self._clock, last.leave, at), False
            computed = self._compute(at)
            self._last = computed
            self.full_runs += 1
            return computed.analysis, True

    @property
    def insights(self) -> Insights | None:
        """The insights of the latest full computation (None unless computed with them)."""
        last = self._last
        return last.insights if last is not None else None

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

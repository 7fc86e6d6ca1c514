"""The composition root: the only place that picks concrete adapters, and it only wires.

``bootstrap`` builds the object graph (settings, clock, store, source factory); the work
is done by the use cases in ``usecases`` (and ``archive_app``...), which take what they
need explicitly and never import this module. ``App``'s methods are one-line shortcuts
to them, kept for the callers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from responsewatch.adapters.store import SqliteStore
from responsewatch.app import usecases
from responsewatch.app.sources import (
    FixedClock,
    SourceFactory,
    SystemClock,
    imap_account,
    make_source,
    oauth_token,
)
from responsewatch.app.sync import SyncReport
from responsewatch.config import Settings
from responsewatch.core.insights import Insights
from responsewatch.core.models import Analysis, Conversation, Message
from responsewatch.ports import Clock, MailSource, Store

__all__ = [
    "App",
    "FixedClock",
    "SourceFactory",
    "SystemClock",
    "bootstrap",
    "imap_account",
    "make_source",
    "oauth_token",
]


@dataclass(slots=True)
class App:
    """The object graph of one process (or of one daemon job): built once, then reused."""

    settings: Settings
    clock: Clock
    store: Store
    source_factory: SourceFactory = make_source
    sync_reports: list[SyncReport] = field(default_factory=list)

    def _facts_and_analysis(
        self, at: datetime
    ) -> tuple[dict[str, Message], Analysis, list[Conversation]]:
        return usecases.facts_and_analysis(self.settings, self.store, at)

    def analysis(self, now: datetime | None = None) -> tuple[Analysis, list[Conversation]]:
        _messages, analysis, conversations = self._facts_and_analysis(now or self.clock.now())
        return analysis, conversations

    def report(self, now: datetime | None = None) -> Analysis:
        return self.analysis(now)[0]

    def report_with_insights(self, now: datetime | None = None) -> tuple[Analysis, Insights]:
        """The report plus its insights (after hours, long missions, quiet clients, trends)."""
        return usecases.report_with_insights(self.settings, self.store, now or self.clock.now())

    def ack(self, thread_id: str, now: datetime | None = None) -> list[str]:
        """Close THREAD_ID's awaiting turns without a latency; returns their first messages."""
        return usecases.ack(self.settings, self.store, thread_id, now or self.clock.now())

    def sync_once(
        self,
        *,
        progress: Callable[[int], None] | None = None,
        sources: Sequence[MailSource] | None = None,
    ) -> list[SyncReport]:
        """Every account once (see ``usecases.sync_accounts``)."""
        return usecases.sync_accounts(self, progress=progress, sources=sources)

    def close(self) -> None:
        self.store.close()


def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    store: Store | None = None,
    source_factory: SourceFactory | None = None,
) -> App:
    return App(
        settings=settings,
        clock=clock or SystemClock(),
        store=store or SqliteStore.open(settings.store_path),
        source_factory=source_factory or make_source,
    )

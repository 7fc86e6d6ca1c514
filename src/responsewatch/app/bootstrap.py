"""The composition root: the only place that picks concrete adapters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from responsewatch.adapters.store import SqliteStore
from responsewatch.app.pipeline import compute, no_gc
from responsewatch.app.sync import SyncReport, sync_files, sync_source
from responsewatch.config import AccountSettings, Settings
from responsewatch.core.models import Analysis, Conversation
from responsewatch.errors import ConfigError, RwError
from responsewatch.ports import Clock, MailSource

__all__ = ["App", "SystemClock", "bootstrap"]

log = structlog.get_logger("responsewatch")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(slots=True)
class FixedClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


SourceFactory = Callable[[AccountSettings], MailSource]


def make_source(account: AccountSettings) -> MailSource:
    """A MailSource for a network account (file accounts are read by ``sync_files``)."""
    if account.type == "imap":
        from responsewatch.adapters.imap_factory import imap_source

        return imap_source(account)
    raise ConfigError(
        f"accounts[{account.name}].type: {account.type!r} is not supported by this version yet"
    )


@dataclass(slots=True)
class App:
    settings: Settings
    clock: Clock
    store: SqliteStore
    source_factory: SourceFactory = make_source
    sync_reports: list[SyncReport] = field(default_factory=list)

    def analysis(self, now: datetime | None = None) -> tuple[Analysis, list[Conversation]]:
        with no_gc():
            messages = {m.message_id: m for m in self.store.messages()}
        return compute(
            messages,
            self.settings.rules,
            now=now or self.clock.now(),
            acks=self.store.acks(),
            subject_fallback=self.settings.subject_fallback,
        )

    def report(self, now: datetime | None = None) -> Analysis:
        return self.analysis(now)[0]

    def ack(self, thread_id: str, now: datetime | None = None) -> list[str]:
        """Close THREAD_ID's awaiting turns without a latency; returns their first messages."""
        at = now or self.clock.now()
        analysis, conversations = self.analysis(at)
        if not any(c.thread_id == thread_id for c in conversations):
            raise ConfigError(
                f"THREAD_ID {thread_id}: no such conversation (see `responsewatch report` "
                "for the ids of awaiting conversations)"
            )
        open_turns = [w for w in analysis.awaiting if w.thread_id == thread_id]
        if not open_turns:
            raise ConfigError(f"THREAD_ID {thread_id}: nothing awaits a reply in this conversation")
        for turn in open_turns:
            self.store.add_ack(turn.first_unanswered_message_id, thread_id, at)
        return [t.first_unanswered_message_id for t in open_turns]

    def sync_once(
        self,
        *,
        progress: Callable[[int], None] | None = None,
        sources: Sequence[MailSource] | None = None,
    ) -> list[SyncReport]:
        """Every account once; one failing account never stops the others."""
        reports: list[SyncReport] = []
        for account in self.settings.accounts:
            try:
                if account.type in ("maildir", "mbox"):
                    report = sync_files(account, self.store, now=self.clock.now, progress=progress)
                else:
                    source = self._source_for(account, sources)
                    try:
                        report = sync_source(
                            source, self.store, now=self.clock.now, progress=progress
                        )
                    finally:
                        source.close()
            except RwError as exc:
                kind = type(exc).__name__
                self.store.record_sync_error(account.name, kind, self.clock.now())
                log.error("sync_failed", account=account.name, kind=kind, error=str(exc))
                report = SyncReport(account.name, error=str(exc))
            reports.append(report)
        return reports

    def _source_for(
        self, account: AccountSettings, sources: Sequence[MailSource] | None
    ) -> MailSource:
        if sources is not None:
            for source in sources:
                if source.name == account.name:
                    return source
        return self.source_factory(account)

    def close(self) -> None:
        self.store.close()


def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    store: SqliteStore | None = None,
    source_factory: SourceFactory | None = None,
) -> App:
    return App(
        settings=settings,
        clock=clock or SystemClock(),
        store=store or SqliteStore.open(settings.store_path),
        source_factory=source_factory or make_source,
    )

"""The use cases behind ``App``: each takes its dependencies explicitly (settings, store,
clock, sources), so ``bootstrap`` only wires and nothing here imports it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import structlog

from responsewatch.app.archive_app import (
    AgreementWatcher,
    archive_maintenance,
    archive_new_agreements,
    open_archive,
)
from responsewatch.app.pipeline import no_gc
from responsewatch.app.sources import AppGraph, SourceFactory
from responsewatch.app.sync import SyncReport, sync_files, sync_source
from responsewatch.app.threads_app import compute_from_store
from responsewatch.config import AccountSettings, Settings
from responsewatch.core.insights import Insights, insights
from responsewatch.core.models import Analysis, Conversation, Message
from responsewatch.errors import ConfigError, RwError
from responsewatch.ports import MailSource, Store

__all__ = ["ack", "facts_and_analysis", "report_with_insights", "sync_accounts"]

log = structlog.get_logger("responsewatch")


def facts_and_analysis(
    settings: Settings, store: Store, at: datetime
) -> tuple[dict[str, Message], Analysis, list[Conversation]]:
    with no_gc():
        messages = {m.message_id: m for m in store.messages()}
    # Conversations persisted in the store, refreshed for new facts only (step 4 of
    # issue 17); the same answer as threading everything (tests/unit/test_store_threads).
    analysis, conversations = compute_from_store(
        store,
        messages,
        settings.rules,
        now=at,
        acks=store.acks(),
        subject_fallback=settings.subject_fallback,
    )
    return messages, analysis, conversations


def report_with_insights(
    settings: Settings, store: Store, at: datetime
) -> tuple[Analysis, Insights]:
    """The report plus its insights, from ONE load of the facts."""
    messages, analysis, conversations = facts_and_analysis(settings, store, at)
    with no_gc():
        found = insights(
            messages,
            analysis,
            settings.rules,
            now=at,
            quiet_after_s=settings.quiet_after_s,
            conversations=conversations,
        )
    return analysis, found


def ack(settings: Settings, store: Store, thread_id: str, at: datetime) -> list[str]:
    """Close THREAD_ID's awaiting turns without a latency; returns their first messages."""
    _messages, analysis, conversations = facts_and_analysis(settings, store, at)
    if not any(c.thread_id == thread_id for c in conversations):
        raise ConfigError(
            f"THREAD_ID {thread_id}: no such conversation (see `responsewatch report` "
            "for the ids of awaiting conversations)"
        )
    open_turns = [w for w in analysis.awaiting if w.thread_id == thread_id]
    if not open_turns:
        raise ConfigError(f"THREAD_ID {thread_id}: nothing awaits a reply in this conversation")
    for turn in open_turns:
        store.add_ack(turn.first_unanswered_message_id, thread_id, at)
    return [t.first_unanswered_message_id for t in open_turns]


def sync_accounts(
    app: AppGraph,
    *,
    progress: Callable[[int], None] | None = None,
    sources: Sequence[MailSource] | None = None,
) -> list[SyncReport]:
    """Every account once; one failing account never stops the others. Agreements seen
    on the way (detected, or marked $RwAgreement) go to the evidence archive."""
    settings, store, clock = app.settings, app.store, app.clock
    archive = open_archive(settings, head=store)
    watcher = AgreementWatcher(settings, archive, now=clock.now)
    reports: list[SyncReport] = []
    for account in settings.accounts:
        try:
            if account.type in ("maildir", "mbox"):
                report = sync_files(
                    account, store, now=clock.now, progress=progress, archiver=watcher.files()
                )
            else:
                source = _source_for(account, app.source_factory, sources)
                try:
                    report = sync_source(
                        source,
                        store,
                        now=clock.now,
                        progress=progress,
                        archiver=watcher.deferred(source),
                    )
                finally:
                    source.close()
        except RwError as exc:
            kind = type(exc).__name__
            log.error("sync_failed", account=account.name, kind=kind, error=str(exc))
            try:
                store.record_sync_error(account.name, kind, clock.now())
            except RwError as again:  # a full disk may refuse even this small write
                log.error("sync_error_not_recorded", account=account.name, error=str(again))
            report = SyncReport(account.name, error=str(exc), exit_code=exc.exit_code)
        reports.append(report)
    try:
        archive_new_agreements(app, archive)
    except RwError as exc:  # the archive never stops the sync
        log.error("archive_failed", error=str(exc))
    archive_maintenance(app, archive)
    return reports


def _source_for(
    account: AccountSettings, factory: SourceFactory, sources: Sequence[MailSource] | None
) -> MailSource:
    if sources is not None:
        for source in sources:
            if source.name == account.name:
                return source
    return factory(account)

"""Bring the store up to date with the mail sources: resumable, never duplicating.

Each batch of a folder is committed together with that folder's cursor, so a crash
at any point resumes after the last committed batch; the same Message-ID seen in
several folders or accounts is stored once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import structlog

from responsewatch.adapters.files import ReadStats, read_messages
from responsewatch.adapters.store import SqliteStore
from responsewatch.config import AccountSettings
from responsewatch.core.models import Message
from responsewatch.core.parsing import parse_message
from responsewatch.errors import RwError, SourceUnavailable
from responsewatch.ports import Cursor, FolderRef, MailSource

__all__ = ["SyncReport", "sync_files", "sync_source"]

log = structlog.get_logger("responsewatch.sync")


@dataclass(slots=True)
class SyncReport:
    account: str
    fetched: int = 0
    added: int = 0
    skipped: int = 0
    folders: list[str] = field(default_factory=list)
    error: str | None = None


Progress = Callable[[int], None]


def sync_source(
    source: MailSource,
    store: SqliteStore,
    *,
    now: Callable[[], datetime],
    batch_size: int = 500,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> SyncReport:
    report = SyncReport(source.name)
    for folder in source.folders():
        report.folders.append(folder.name)
        uidvalidity = source.uidvalidity(folder)
        cursor = store.cursor(folder)
        if cursor is not None and cursor.uidvalidity != uidvalidity:
            log.warning(
                "uidvalidity_changed",
                account=folder.account,
                folder=folder.name,
                old=cursor.uidvalidity,
                new=uidvalidity,
            )
            store.reset_folder(folder)
            cursor = None
        batch: list[tuple[int, Message]] = []
        last_uid = cursor.last_uid if cursor else 0
        for raw in source.fetch_since(folder, cursor):
            msg = parse_message(
                raw.data, internaldate=raw.internaldate, provider_thread=raw.provider_thread
            )
            report.fetched += 1
            if "no-header" in msg.warnings:
                report.skipped += 1
            else:
                batch.append((raw.uid, msg))
            last_uid = max(last_uid, raw.uid)
            if len(batch) >= batch_size:
                report.added += _commit(store, folder, batch, uidvalidity, last_uid)
                if progress:
                    progress(len(batch))
                batch = []
                if should_stop():
                    return report
        report.added += _commit(store, folder, batch, uidvalidity, last_uid)
        if progress and batch:
            progress(len(batch))
    store.record_sync_success(source.name, now())
    return report


def _commit(
    store: SqliteStore,
    folder: FolderRef,
    batch: Sequence[tuple[int, Message]],
    uidvalidity: int,
    last_uid: int,
) -> int:
    return store.save_batch(folder, batch, Cursor(uidvalidity, last_uid))


def sync_files(
    account: AccountSettings,
    store: SqliteStore,
    *,
    now: Callable[[], datetime],
    batch_size: int = 2000,
    progress: Progress | None = None,
) -> SyncReport:
    """Maildir/mbox accounts: re-read the files; known Message-IDs are ignored."""
    report = SyncReport(account.name, folders=[account.path])
    stats = ReadStats()
    batch: list[Message] = []
    try:
        for item in read_messages([Path(account.path)], stats):
            msg = parse_message(item.data)
            report.fetched += 1
            if "no-header" in msg.warnings:
                stats.skip(item.origin, "no header")
                continue
            batch.append(msg)
            if len(batch) >= batch_size:
                report.added += store.add_messages(batch, account=account.name)
                if progress:
                    progress(len(batch))
                batch = []
        report.added += store.add_messages(batch, account=account.name)
        if progress and batch:
            progress(len(batch))
    except RwError as exc:
        raise SourceUnavailable(account.name, str(exc)) from exc
    report.skipped = stats.skipped
    store.record_sync_success(account.name, now())
    return report

"""Bring the store up to date with the mail sources: resumable, never duplicating.

Each batch of a folder is committed together with that folder's cursor, so a crash
at any point resumes after the last committed batch; the same Message-ID seen in
several folders or accounts is stored once. The writes go to a ``SyncSink``: the
``SqliteStore`` itself (``sync --once``) or the daemon's single-writer queue.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

import structlog

from responsewatch.adapters.files import ReadStats, read_messages
from responsewatch.adapters.files_seen import FileSeen, read_changed_messages
from responsewatch.config import AccountSettings
from responsewatch.core.forged import AUTH_FAIL
from responsewatch.core.models import Message
from responsewatch.core.parsing import parse_message
from responsewatch.errors import DataError, RwError, SourceUnavailable
from responsewatch.ports import (
    Batched,
    Cursor,
    FolderRef,
    FolderStatus,
    KeywordChanges,
    MailSource,
    PendingArchive,
    RawMessage,
    ResumeTokens,
    ServerListing,
    SyncSink,
)

__all__ = [
    "KEYWORD_PREFIX",
    "SyncReport",
    "SyncSink",
    "alias_warnings",
    "sync_files",
    "sync_folder",
    "sync_source",
]

log = structlog.get_logger("responsewatch.sync")

# Only our own keywords are kept ($RwAck, $RwAgreement): servers and clients set many
# others ($Forwarded, $Junk, Gmail labels) that the analysis has no use for.
KEYWORD_PREFIX = "$rw"
DEFAULT_BATCH = 500


@dataclass(slots=True)
class SyncReport:
    account: str
    fetched: int = 0
    added: int = 0
    skipped: int = 0
    keywords: int = 0
    folders: list[str] = field(default_factory=list)
    error: str | None = None
    stopped: bool = False
    exit_code: int = 0  # of the error: 3 source unreachable, 4 data (a full disk)
    server_folders: list[str] = field(default_factory=list)  # every folder the server listed


Progress = Callable[[int], None]


class Archiver(Protocol):
    """The agreement archive's view of a sync: it *decides* on each parsed message while the
    folder streams (the decision is stored with the batch's facts, in the same transaction),
    and carries out the account's stored decisions once the stream is done (``flush``), when
    the connection is free again (a FETCH cannot be interleaved with a pipelined stream)."""

    def decide(self, raw: RawMessage, msg: Message) -> PendingArchive | None: ...

    def flush(self, sink: SyncSink, folder: FolderRef) -> None: ...


class WholeArchiver(Protocol):
    """The archive's view of a file account: each message is whole already."""

    def see(self, data: bytes, msg: Message) -> None: ...

    def flush(self) -> None: ...


def sync_source(
    source: MailSource,
    store: SyncSink,
    *,
    now: Callable[[], datetime],
    batch_size: int | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    folders: Sequence[FolderRef] | None = None,
    archiver: Archiver | None = None,
) -> SyncReport:
    """Every folder of ``source`` (or just ``folders``); success is recorded at the end."""
    report = SyncReport(source.name)
    chosen = source.folders() if folders is None else folders
    report.server_folders = (
        list(source.server_folders()) if isinstance(source, ServerListing) else []
    )
    for folder in chosen:
        report.folders.append(folder.name)
        sync_folder(
            source,
            folder,
            store,
            report,
            now=now,
            batch_size=batch_size,
            progress=progress,
            should_stop=should_stop,
            archiver=archiver,
        )
        if report.stopped:
            return report
    store.record_sync_success(source.name, now())
    return report


def sync_folder(
    source: MailSource,
    folder: FolderRef,
    store: SyncSink,
    report: SyncReport,
    *,
    now: Callable[[], datetime],
    batch_size: int | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    archiver: Archiver | None = None,
) -> Cursor | None:
    """Catch ``folder`` up by UID; returns the cursor committed last (None if stopped early).

    The server's status (UIDVALIDITY, HIGHESTMODSEQ) is read BEFORE fetching: mail or flag
    changes arriving meanwhile are picked up next time, never skipped. Intermediate batches
    keep the OLD modseq, so a crash mid-backfill re-scans the flag changes it had not seen.
    """
    size = batch_size or (source.batch_size if isinstance(source, Batched) else DEFAULT_BATCH)
    status = _status(source, folder)
    uidvalidity = status.uidvalidity
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
    old_modseq = cursor.highest_modseq if cursor else None
    token = _token_of(source, folder, cursor.token if cursor else None)
    if cursor is not None:
        report.keywords += _changed_keywords(source, folder, store, cursor, status, now)
    last_uid = cursor.last_uid if cursor else 0
    batch: list[tuple[int, Message]] = []
    keywords: list[tuple[str, str]] = []
    pending: list[PendingArchive] = []
    for raw in source.fetch_since(folder, cursor):
        msg = parse_message(
            raw.data, internaldate=raw.internaldate, provider_thread=raw.provider_thread
        )
        if folder.role == "sent" and AUTH_FAIL in msg.warnings:
            # My Sent folder holds what I sent: whatever a server once noted, it is mine.
            msg = replace(msg, warnings=tuple(w for w in msg.warnings if w != AUTH_FAIL))
        report.fetched += 1
        if "no-header" in msg.warnings:
            report.skipped += 1
        else:
            batch.append((raw.uid, msg))
            keywords.extend((msg.message_id, kw) for kw in _ours(raw))
            if archiver is not None:
                decision = archiver.decide(raw, msg)
                if decision is not None:
                    pending.append(_located(decision, uidvalidity))
        last_uid = max(last_uid, raw.uid)
        if len(batch) >= size:
            cur = Cursor(uidvalidity, last_uid, old_modseq, token())
            report.added += _commit(store, folder, batch, keywords, cur, now, pending)
            report.keywords += len(keywords)
            if progress:
                progress(len(batch))
            batch, keywords, pending = [], [], []
            if should_stop():
                report.stopped = True
                return None
    final = Cursor(uidvalidity, last_uid, status.highest_modseq, token())
    report.added += _commit(store, folder, batch, keywords, final, now, pending)
    report.keywords += len(keywords)
    if progress and batch:
        progress(len(batch))
    if archiver is not None:
        # Also finishes what an earlier, interrupted run decided (stored, so never lost).
        archiver.flush(store, folder)
    return final


def _located(decision: PendingArchive, uidvalidity: int) -> PendingArchive:
    if decision.uidvalidity == uidvalidity:
        return decision
    return PendingArchive(
        decision.message_id, decision.folder, uidvalidity, decision.uid, decision.key,
        decision.client, decision.phrase, decision.excerpt, decision.rule, decision.received_at,
    )  # fmt: skip


def _status(source: MailSource, folder: FolderRef) -> Cursor:
    if isinstance(source, FolderStatus):
        return source.status(folder)
    return Cursor(source.uidvalidity(folder), 0)


def _token_of(
    source: MailSource, folder: FolderRef, previous: str | None
) -> Callable[[], str | None]:
    """Graph/EWS: the source's resume token (delta link) matching the last message read;
    it is taken at each commit, while ``fetch_since`` is paused after that message."""
    if not isinstance(source, ResumeTokens):
        return lambda: previous
    tokens = source
    return lambda: tokens.resume_token(folder)


def _ours(raw: RawMessage) -> list[str]:
    return [kw for kw in raw.keywords if kw.lower().startswith(KEYWORD_PREFIX)]


def _commit(
    store: SyncSink,
    folder: FolderRef,
    batch: Sequence[tuple[int, Message]],
    keywords: Sequence[tuple[str, str]],
    cursor: Cursor,
    now: Callable[[], datetime],
    pending: Sequence[PendingArchive] = (),
) -> int:
    # Keywords first: a crash between the two writes re-fetches the batch (keywords are
    # INSERT OR IGNORE), whereas the other order would lose them for good.
    if keywords:
        store.add_keywords(keywords, now())
    if pending:
        return store.save_batch(folder, batch, cursor, pending)
    return store.save_batch(folder, batch, cursor)


def _changed_keywords(
    source: MailSource,
    folder: FolderRef,
    store: SyncSink,
    cursor: Cursor,
    status: Cursor,
    now: Callable[[], datetime],
) -> int:
    """Keywords newly set on messages fetched before (CONDSTORE ``CHANGEDSINCE``)."""
    if (
        not isinstance(source, KeywordChanges)
        or cursor.highest_modseq is None
        or status.highest_modseq is None
        or status.highest_modseq <= cursor.highest_modseq
    ):
        return 0
    found = [
        (uid, kws)
        for uid, kws in source.changed_keywords(folder, cursor.highest_modseq)
        if uid <= cursor.last_uid and any(k.lower().startswith(KEYWORD_PREFIX) for k in kws)
    ]
    if not found:
        return 0
    ids = store.message_ids_at(folder, cursor.uidvalidity, [uid for uid, _ in found])
    pairs = [
        (ids[uid], kw)
        for uid, kws in found
        if uid in ids
        for kw in kws
        if kw.lower().startswith(KEYWORD_PREFIX)
    ]
    if pairs:
        store.add_keywords(pairs, now())
    return len(pairs)


def sync_files(
    account: AccountSettings,
    store: SyncSink,
    *,
    now: Callable[[], datetime],
    batch_size: int = 2000,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    archiver: WholeArchiver | None = None,
    seen: FileSeen | None = None,
) -> SyncReport:
    """Maildir/mbox accounts: re-read the files; known Message-IDs are ignored. The bytes
    are whole messages: ``archiver`` sees each and archives after each batch commit. With
    ``seen`` (the daemon's, per account) only what changed since its last pass is read."""
    report = SyncReport(account.name, folders=[account.path])
    stats = ReadStats()
    batch: list[Message] = []
    current = FileSeen()
    items = (
        read_messages([Path(account.path)], stats)
        if seen is None
        else read_changed_messages(Path(account.path), seen, current, stats)
    )
    try:
        for item in items:
            msg = parse_message(item.data)
            report.fetched += 1
            if "no-header" in msg.warnings:
                stats.skip(item.origin, "no header")
                continue
            batch.append(msg)
            if archiver is not None:
                archiver.see(item.data, msg)
            if len(batch) >= batch_size:
                report.added += store.add_messages(batch, account=account.name)
                if archiver is not None:
                    archiver.flush()
                if progress:
                    progress(len(batch))
                batch = []
                if should_stop():
                    report.stopped = True
                    return report
        report.added += store.add_messages(batch, account=account.name)
        if archiver is not None:
            archiver.flush()
        if progress and batch:
            progress(len(batch))
    except DataError:
        raise  # the store's (a full disk): not the files' fault
    except RwError as exc:
        raise SourceUnavailable(account.name, str(exc)) from exc
    report.skipped = stats.skipped
    if seen is not None:
        seen.replace(current)  # only a complete pass moves the account's state on
    store.record_sync_success(account.name, now())
    return report


def alias_warnings(source: MailSource, me: frozenset[str], sample: int = 200) -> list[str]:
    """Addresses in From of the last ``sample`` sent messages that are not in ``me``.

    Most frequent first: those are probably the user's own aliases missing from
    ``me.addresses`` (their mail would be counted as a client's). Reads headers only.
    """
    sent = next((f for f in source.folders() if f.role == "sent"), None)
    if sent is None:
        return []
    start: Cursor | None = None
    if isinstance(source, FolderStatus):
        st = source.status(sent)
        # UIDs can be sparse: start 4x further back, keep the last ``sample``.
        start = Cursor(st.uidvalidity, max(0, st.last_uid - 4 * sample))
    recent: deque[str] = deque(maxlen=sample)
    for raw in source.fetch_since(sent, start):
        sender = parse_message(raw.data).from_addr
        if sender:
            recent.append(sender.lower())
    mine = {m.lower() for m in me}
    counts = Counter(a for a in recent if a not in mine)
    return [address for address, _n in counts.most_common()]

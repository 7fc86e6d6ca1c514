"""The daemon's single SQLite writer: one thread owns the write connection.

The mail threads hand it frozen values through a bounded queue (bounded, so a
100,000-message backfill never sits in memory) and read through their own read-only
connections; WAL lets them read while the writer commits.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from responsewatch.adapters.store import SqliteStore
from responsewatch.core.models import Message
from responsewatch.errors import DataError
from responsewatch.ports import Cursor, FolderRef, PendingArchive

__all__ = ["WRITE_QUEUE_SIZE", "StoreWriter"]

log = structlog.get_logger("responsewatch.daemon")

WRITE_QUEUE_SIZE = 8  # batches in flight between the mail threads and the writer


# -- requests -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SaveBatch:
    folder: FolderRef
    messages: tuple[tuple[int, Message], ...]
    cursor: Cursor
    pending: tuple[PendingArchive, ...] = ()


@dataclass(frozen=True, slots=True)
class _Call:
    """Any other store write (archive bookkeeping), its result handed back."""

    fn: Callable[[SqliteStore], Any]
    done: threading.Event
    result: list[Any]


@dataclass(frozen=True, slots=True)
class _ResetFolder:
    folder: FolderRef


@dataclass(frozen=True, slots=True)
class _Keywords:
    items: tuple[tuple[str, str], ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class _Messages:
    messages: tuple[Message, ...]
    account: str


@dataclass(frozen=True, slots=True)
class _Success:
    account: str
    at: datetime


@dataclass(frozen=True, slots=True)
class _Error:
    account: str
    kind: str
    at: datetime


@dataclass(frozen=True, slots=True)
class _Flush:
    done: threading.Event


@dataclass(frozen=True, slots=True)
class _Ack:
    message_id: str
    thread_id: str
    at: datetime


_Request = (
    _SaveBatch | _ResetFolder | _Keywords | _Messages | _Success | _Error | _Flush | _Call | _Ack
)


class StoreWriter:
    """The one thread that writes SQLite; the other threads call its ``SyncSink`` methods.

    Writes are queued and applied in order, so the cursor a thread last queued for its
    folder is the one to resume from (``cursor()`` answers from that, before it is even
    committed). A failed write stops the daemon (``on_fatal``): skipping on with cursors
    already advanced would lose mail silently.
    """

    def __init__(self, path: Path, *, on_fatal: Callable[[], None] = lambda: None) -> None:
        self.path = Path(path)
        self._store = SqliteStore.open(self.path)
        self._queue: queue.Queue[_Request | None] = queue.Queue(WRITE_QUEUE_SIZE)
        self._lock = threading.Lock()
        self._cursors: dict[FolderRef, Cursor | None] = {}
        self._readers: list[SqliteStore] = []
        self._local = threading.local()
        self._on_fatal = on_fatal
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self.error: BaseException | None = None
        self.applied = 0
        # Called on the writer thread after a write that added facts, keywords or acks.
        self.on_change: Callable[[], None] = lambda: None
        # Re-threads what new facts touch (persisted conversations), on this thread, right
        # after their write: readers then find the conversations current.
        self.refresh_threads: Callable[[SqliteStore], object] | None = None

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Commit everything queued, then close every connection."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._store.close()
        with self._lock:
            readers, self._readers = self._readers, []
        for reader in readers:
            with contextlib.suppress(Exception):
                reader.close()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                if isinstance(item, _Flush):
                    item.done.set()
                elif isinstance(item, _Call):
                    try:
                        if self.error is None:
                            item.result.append(item.fn(self._store))
                    finally:
                        item.done.set()
                elif self.error is None:
                    self._apply(item)
                    self.applied += 1
            except Exception as exc:
                self.error = exc
                log.exception("store_write_failed", request=type(item).__name__)
                self._on_fatal()

    def _apply(self, item: _Request) -> None:
        store = self._store
        added = 0
        if isinstance(item, _SaveBatch):
            added = store.save_batch(item.folder, item.messages, item.cursor, item.pending)
        elif isinstance(item, _ResetFolder):
            store.reset_folder(item.folder)
        elif isinstance(item, _Keywords):
            added = store.add_keywords(item.items, item.at)
        elif isinstance(item, _Messages):
            added = store.add_messages(item.messages, account=item.account)
        elif isinstance(item, _Success):
            store.record_sync_success(item.account, item.at)
        elif isinstance(item, _Error):
            store.record_sync_error(item.account, item.kind, item.at)
        elif isinstance(item, _Ack):
            store.add_ack(item.message_id, item.thread_id, item.at)
            added = 1  # an acknowledgement changes the analysis like new facts do
        if added and self.refresh_threads is not None and isinstance(item, _SaveBatch | _Messages):
            try:
                self.refresh_threads(store)
            except Exception:  # derived state only: the analysis refreshes or falls back
                log.exception("threads_refresh_failed")
        if added:
            self.on_change()

    def _reader(self) -> SqliteStore:
        reader: SqliteStore | None = getattr(self._local, "reader", None)
        if reader is None:
            reader = SqliteStore.open(self.path, readonly=True)
            self._local.reader = reader
            with self._lock:
                self._readers.append(reader)
        return reader

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until everything queued so far is committed."""
        done = threading.Event()
        self._queue.put(_Flush(done))
        return done.wait(timeout)

    # -- SyncSink ---------------------------------------------------------------------------

    def cursor(self, folder: FolderRef) -> Cursor | None:
        with self._lock:
            if folder in self._cursors:
                return self._cursors[folder]
        return self._reader().cursor(folder)

    def save_batch(
        self,
        folder: FolderRef,
        messages: Sequence[tuple[int, Message]],
        cursor: Cursor,
        pending: Sequence[PendingArchive] = (),
    ) -> int:
        with self._lock:
            self._cursors[folder] = cursor
        self._queue.put(_SaveBatch(folder, tuple(messages), cursor, tuple(pending)))
        return len(messages)  # queued, not necessarily new: the writer ignores known ids

    def _call(self, fn: Callable[[SqliteStore], Any], timeout: float = 60.0) -> Any:
        call = _Call(fn, threading.Event(), [])
        self._queue.put(call)
        if not call.done.wait(timeout) or not call.result:
            raise DataError(f"store {self.path}: the writer did not apply an archive update")
        return call.result[0]

    def pending_archive(self, account: str, folder: str | None = None) -> list[PendingArchive]:
        self.flush()  # the decisions this thread queued must be visible to its reader
        return self._reader().pending_archive(account, folder)

    def archive_done(self, message_ids: Iterable[str]) -> None:
        ids = tuple(message_ids)
        self._call(lambda store: store.archive_done(ids))

    def archive_failed(self, message_id: str, error: str, *, give_up_after: int) -> bool:
        return bool(
            self._call(
                lambda store: store.archive_failed(message_id, error, give_up_after=give_up_after)
            )
        )

    def archive_head(self, root: str) -> tuple[int, str] | None:
        self.flush()
        return self._reader().archive_head(root)

    def set_archive_head(self, root: str, seq: int, entry_hash: str) -> None:
        self._call(lambda store: store.set_archive_head(root, seq, entry_hash))

    def reset_folder(self, folder: FolderRef) -> None:
        with self._lock:
            self._cursors[folder] = None
        self._queue.put(_ResetFolder(folder))

    def add_keywords(self, items: Iterable[tuple[str, str]], at: datetime) -> int:
        frozen = tuple(items)
        self._queue.put(_Keywords(frozen, at))
        return len(frozen)

    def add_messages(self, messages: Iterable[Message], *, account: str = "") -> int:
        frozen = tuple(messages)
        self._queue.put(_Messages(frozen, account))
        return len(frozen)

    def record_sync_success(self, account: str, at: datetime) -> None:
        self._queue.put(_Success(account, at))

    def record_sync_error(self, account: str, kind: str, at: datetime) -> None:
        self._queue.put(_Error(account, kind, at))

    def add_ack(self, message_id: str, thread_id: str, at: datetime) -> None:
        self._queue.put(_Ack(message_id, thread_id, at))

    def message_ids_at(
        self, folder: FolderRef, uidvalidity: int, uids: Sequence[int]
    ) -> dict[int, str]:
        self.flush()  # the locations this thread queued must be visible to its reader
        return self._reader().message_ids_at(folder, uidvalidity, uids)

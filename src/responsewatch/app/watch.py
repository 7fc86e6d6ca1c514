"""The daemon's mail threads: one per account, one per watched folder.

An ``AccountWorker`` catches the whole account up once, then starts a ``FolderWatcher``
for each watched folder (INBOX and Sent, or every folder the config names) and itself
re-syncs the other folders (\\All, \\Archive) every ``sync_every``. A watcher owns its
own connection: catch up by UID, wait (IDLE, or polling when the server has no IDLE),
catch up again. Any failure closes the connection, is recorded, and is retried after an
exponential backoff with jitter; the catch-up by UID after reconnecting means nothing
is missed, and the store's cursors and INSERT OR IGNORE mean nothing is doubled.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from responsewatch.app.sync import Archiver, SyncReport, SyncSink, sync_folder, sync_source
from responsewatch.errors import RwError
from responsewatch.ports import ChangeWaiter, FolderRef, MailSource

__all__ = [
    "WATCH_ROLES",
    "AccountWorker",
    "FolderWatcher",
    "WatchTiming",
    "backoff_delay",
]

log = structlog.get_logger("responsewatch.watch")

WATCH_ROLES = frozenset({"inbox", "sent"})
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 300.0
# A watcher catches up at least this often even if IDLE stays silent (the adapter itself
# re-issues IDLE every 9 minutes): a lost EXISTS notification costs at most this delay.
WAIT_S = 540.0


@dataclass(frozen=True, slots=True)
class WatchTiming:
    backoff_base_s: float = BACKOFF_BASE_S
    backoff_cap_s: float = BACKOFF_CAP_S
    wait_s: float = WAIT_S
    sync_every_s: float = 300.0  # polling interval without IDLE; re-sync of unwatched folders


def backoff_delay(failures: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Delay before retry number ``failures`` (1, 2, ...): exponential, capped, jittered.

    Half of it is fixed and half random ("equal jitter"): many accounts failing together
    (the network went down) do not retry in lockstep, and a retry is never instant.
    """
    ceiling = float(min(cap, base * 2 ** min(failures - 1, 32)))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


class _Worker(threading.Thread):
    def __init__(
        self,
        name: str,
        account: str,
        make_source: Callable[[], MailSource],
        sink: SyncSink,
        stop: threading.Event,
        now: Callable[[], datetime],
        timing: WatchTiming,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.account = account
        self._make_source = make_source
        self._sink = sink
        self._halt = stop
        self._now = now
        self._timing = timing
        self._rng = random.Random()
        self.failures = 0  # consecutive; read by tests

    def _failed(self, exc: Exception, source: MailSource | None, where: str) -> None:
        """Record the failure, drop the connection, sleep the backoff (or until stopped)."""
        self.failures += 1
        t = self._timing
        delay = backoff_delay(
            self.failures, base=t.backoff_base_s, cap=t.backoff_cap_s, rng=self._rng
        )
        kind = type(exc).__name__ if isinstance(exc, RwError) else "internal"
        if isinstance(exc, RwError):
            log.warning(
                "sync_failed",
                account=self.account,
                where=where,
                kind=kind,
                error=str(exc),
                retry_in_s=round(delay, 2),
            )
        else:  # a bug, not the network: keep the traceback
            log.exception(
                "sync_crashed", account=self.account, where=where, retry_in_s=round(delay, 2)
            )
        with contextlib.suppress(Exception):
            self._sink.record_sync_error(self.account, kind, self._now())
        _close(source)
        self._halt.wait(delay)


def _archiver(
    factory: Callable[[MailSource], Archiver] | None, source: MailSource
) -> Archiver | None:
    return factory(source) if factory is not None else None


def _close(source: MailSource | None) -> None:
    if source is not None:
        with contextlib.suppress(Exception):
            source.close()


class FolderWatcher(_Worker):
    """Catch up ``folder``, wait for news (IDLE or polling), repeat; reconnect on failure."""

    def __init__(
        self,
        folder: FolderRef,
        make_source: Callable[[], MailSource],
        sink: SyncSink,
        stop: threading.Event,
        now: Callable[[], datetime],
        timing: WatchTiming,
        archiver_for: Callable[[MailSource], Archiver] | None = None,
    ) -> None:
        self._archiver_for = archiver_for
        super().__init__(
            f"watch:{folder.account}:{folder.name}",
            folder.account,
            make_source,
            sink,
            stop,
            now,
            timing,
        )
        self.folder = folder
        self.catch_ups = 0  # read by tests
        # Set while the source is waiting for news (IDLE acknowledged by the server, or the
        # polling baseline read): tests wait for this instead of sleeping.
        self.waiting = threading.Event()

    def run(self) -> None:
        source: MailSource | None = None
        while not self._halt.is_set():
            try:
                if source is None:
                    source = self._make_source()
                report = SyncReport(self.account)
                cursor = sync_folder(
                    source, self.folder, self._sink, report, now=self._now,
                    should_stop=self._halt.is_set, archiver=_archiver(self._archiver_for, source),
                )  # fmt: skip
                if cursor is None:
                    break  # stopped between two batches: they are committed
                self.catch_ups += 1
                self.failures = 0
                self._sink.record_sync_success(self.account, self._now())
                if report.fetched or report.keywords:
                    log.info(
                        "folder_synced",
                        account=self.account,
                        folder=self.folder.name,
                        fetched=report.fetched,
                        skipped=report.skipped,
                        keywords=report.keywords,
                        last_uid=cursor.last_uid,
                    )
                self._wait(source, cursor.last_uid)
            except Exception as exc:  # one handler for the whole loop: log, count, back off
                self._failed(exc, source, self.folder.name)
                source = None
        _close(source)

    def _wait(self, source: MailSource, last_uid: int) -> None:
        try:
            if not isinstance(source, ChangeWaiter):
                self.waiting.set()
                self._halt.wait(self._timing.sync_every_s)
                return
            source.wait_for_changes(
                self.folder,
                self._timing.wait_s,
                poll_interval=self._timing.sync_every_s,
                after_uid=last_uid,
                stop=self._halt.is_set,
                on_waiting=self.waiting.set,
            )
        finally:
            self.waiting.clear()


class AccountWorker(_Worker):
    """One network account: initial catch-up, folder watchers, periodic re-sync of the rest."""

    def __init__(
        self,
        account: str,
        make_source: Callable[[], MailSource],
        sink: SyncSink,
        stop: threading.Event,
        now: Callable[[], datetime],
        timing: WatchTiming,
        *,
        watch_all: bool = False,
        archiver_for: Callable[[MailSource], Archiver] | None = None,
        after_initial: Callable[[SyncReport], None] | None = None,
    ) -> None:
        super().__init__(f"account:{account}", account, make_source, sink, stop, now, timing)
        self._archiver_for = archiver_for
        self._after_initial = after_initial  # e.g. the daemon's "is Sent read?" check
        self._watch_all = watch_all
        self.watchers: list[FolderWatcher] = []

    def run(self) -> None:
        source: MailSource | None = None
        folders: Sequence[FolderRef] = ()
        while not self._halt.is_set():
            try:
                source = source or self._make_source()
                folders = source.folders()
                report = sync_source(
                    source, self._sink, now=self._now, should_stop=self._halt.is_set,
                    folders=folders, archiver=_archiver(self._archiver_for, source),
                )  # fmt: skip
                log.info(
                    "account_synced",
                    account=self.account,
                    folders=report.folders,
                    fetched=report.fetched,
                    skipped=report.skipped,
                    keywords=report.keywords,
                )
                self.failures = 0
                if self._after_initial is not None and not report.stopped:
                    try:
                        self._after_initial(report)
                    except Exception:  # advice only: never worth a reconnect
                        log.exception("after_initial_failed", account=self.account)
                break
            except Exception as exc:
                self._failed(exc, source, "initial")
                source = None
        if self._halt.is_set():
            _close(source)
            return
        watched = [f for f in folders if self._watch_all or f.role in WATCH_ROLES]
        others = [f for f in folders if f not in watched]
        for folder in watched:
            watcher = FolderWatcher(
                folder,
                self._make_source,
                self._sink,
                self._halt,
                self._now,
                self._timing,
                self._archiver_for,
            )
            watcher.start()
            self.watchers.append(watcher)
        log.info(
            "account_watching",
            account=self.account,
            watched=[f.name for f in watched],
            polled=[f.name for f in others],
        )
        if not others:
            _close(source)
            source = None
        while others and not self._halt.wait(self._timing.sync_every_s):
            try:
                source = source or self._make_source()
                sync_source(
                    source, self._sink, now=self._now, should_stop=self._halt.is_set,
                    folders=others, archiver=_archiver(self._archiver_for, source),
                )  # fmt: skip
                self.failures = 0
            except Exception as exc:
                self._failed(exc, source, "periodic")
                source = None
        _close(source)

    def join_all(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self.join(max(0.0, deadline - time.monotonic()))
        for watcher in self.watchers:
            watcher.join(max(0.0, deadline - time.monotonic()))

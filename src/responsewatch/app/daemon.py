"""`responsewatch run`: follow every account, recompute periodically, stop cleanly.

Threads: one ``AccountWorker`` per network account and one ``FolderWatcher`` per watched
folder (app/watch.py), each owning its own mail connection; an APScheduler 3.x
``BackgroundScheduler`` for the periodic jobs (recompute, re-reading file accounts).
None of them writes SQLite: they hand frozen values to the ``StoreWriter``, the single
thread that owns the write connection, through a bounded ``queue.Queue`` (bounded, so a
100,000-message backfill never sits in memory). Readers (recompute, cursor look-ups)
use their own read-only connections; WAL lets them read while the writer commits.

SIGTERM/SIGINT: the stop event is set; watchers end IDLE (DONE) within a second, a sync
in progress stops after its current batch, the writer commits everything queued, and
``run_daemon`` returns 0 well within 10 s.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from responsewatch.adapters.archive import EvidenceArchive, agreements_by_client
from responsewatch.adapters.files_seen import FileSeen
from responsewatch.adapters.metrics import ResponsewatchCollector, build_registry, serve_metrics
from responsewatch.adapters.notify import NotificationCounter
from responsewatch.adapters.store import SqliteStore
from responsewatch.adapters.store_writer import StoreWriter
from responsewatch.adapters.web import WebServer
from responsewatch.app.archive_app import (
    AgreementWatcher,
    archive_maintenance,
    archive_new_agreements,
    open_archive,
)
from responsewatch.app.bootstrap import App, SourceFactory, SystemClock, bootstrap, make_source
from responsewatch.app.digest_app import schedule_digest
from responsewatch.app.incremental import Incremental, compute_state, state_in_child
from responsewatch.app.notify_app import NudgeService, schedule_nudges
from responsewatch.app.rebuild import record_fingerprint
from responsewatch.app.sent_check import CHECKED_TYPES, SentAdvice, store_advice
from responsewatch.app.status_app import (
    StatusSite,
    StatusState,
    prepare,
    read_agreements,
    read_health,
)
from responsewatch.app.sync import SyncReport, sync_files
from responsewatch.app.threads_app import threads_fingerprint
from responsewatch.app.watch import AccountWorker, WatchTiming
from responsewatch.config import AccountSettings, Settings, load_settings
from responsewatch.core.models import Analysis
from responsewatch.core.subjects import clear_caches
from responsewatch.errors import RwError
from responsewatch.ports import Clock
from responsewatch.secrets import resolve_secret

__all__ = ["Daemon", "Snapshot", "StoreWriter", "run_daemon"]

log = structlog.get_logger("responsewatch.daemon")

SHUTDOWN_BUDGET_S = 8.0  # of the 10 s a service manager grants before SIGKILL
FILE_TYPES = ("maildir", "mbox")


# -- the latest analysis, for metrics and the digest -----------------------------------------


class Snapshot:
    """The latest ``Analysis``, published by the recompute job, read at scrape time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: Analysis | None = None
        self._at: datetime | None = None
        # Called after each publish with the new Analysis (on the scheduler's thread).
        self.on_snapshot: list[Callable[[Analysis], None]] = []

    def latest(self) -> Analysis | None:
        with self._lock:
            return self._latest

    def published_at(self) -> datetime | None:
        with self._lock:
            return self._at

    def publish(self, analysis: Analysis, at: datetime) -> None:
        with self._lock:
            self._latest, self._at = analysis, at
        for callback in list(self.on_snapshot):
            try:
                callback(analysis)
            except Exception:
                log.exception("snapshot_callback_failed", callback=repr(callback))


# -- the daemon ------------------------------------------------------------------------------


class Daemon:
    """Everything ``run`` starts, with ``start()`` / ``shutdown()`` for tests and the CLI."""

    def __init__(
        self,
        settings: Settings,
        *,
        source_factory: SourceFactory | None = None,
        clock: Clock | None = None,
        timing: WatchTiming | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.stop_event = stop or threading.Event()
        self.snapshot = Snapshot()
        self.clock = clock or SystemClock()
        self.timing = timing or WatchTiming(sync_every_s=settings.sync_every_s)
        self._factory = source_factory or make_source
        self.writer: StoreWriter | None = None
        self.app: App | None = None
        self.scheduler: BackgroundScheduler | None = None
        self.workers: list[AccountWorker] = []
        self._running_jobs = 0
        self._jobs_lock = threading.Condition()
        self.metrics_server: Any = None
        self.metrics_port: int | None = None
        self._scrape_reader = _ScrapeReader(settings.store_path)
        self._digest_app: App | None = None
        self._marked_app: App | None = None  # the $RwAgreement pass's graph, built once
        self.notify_counter = NotificationCounter()
        self.nudges: NudgeService | None = None
        # account -> 1 while its synced mail shows none of mine (sent_check: Sent not read).
        self.sent_missing: dict[str, int] = {}
        self._sent_reads: dict[str, tuple[list[str], list[str]]] = {}
        self._files_watcher: AgreementWatcher | None = None
        self._archive: EvidenceArchive | None = None
        self.status = StatusState(settings) if settings.web.enabled else None
        self.web: WebServer | None = None
        self.web_port: int | None = None
        self.incremental: Incremental | None = None
        self._files_seen: dict[str, FileSeen] = {}  # file account -> what its last pass read
        self._last_full = (0.0, 0.0)  # (monotonic end, seconds) of the last full recompute
        self._status_states: tuple[tuple[str, str, str], ...] | None = None

    def start(self) -> None:
        s = self.settings
        self.writer = StoreWriter(s.store_path, on_fatal=self.stop_event.set)
        self.writer.start()
        # The App's own connection is only read (recompute); the writer is the one writer.
        self.app = bootstrap(s, clock=self.clock, source_factory=self._factory)
        app = self.app
        if record_fingerprint(app.store, s):  # a changed rule recomputes history
            log.info("rules_changed", action="full recompute")
        page = self.status is not None  # the status page shows the insights too
        self.incremental = Incremental(
            s,
            (lambda at: state_in_child(s, at, with_insights=page))
            if s.recompute_in_child
            else (lambda at: compute_state(app, at, with_insights=page)),
        )
        self._serve_metrics()
        # One archive for every thread: its index is read once, then only what is appended.
        self._archive = open_archive(s, head=self.writer)
        watcher = AgreementWatcher(s, self._archive, now=self.clock.now)
        self._files_watcher = watcher
        now = datetime.now(UTC)
        # Jobs first run "now", but start() comes after the workers and the digest App: with
        # APScheduler's default 1 s grace a slow start would skip those first runs entirely.
        scheduler = BackgroundScheduler(timezone=UTC, job_defaults={"misfire_grace_time": None})
        recompute_job = scheduler.add_job(
            self._job(self.recompute), "interval", seconds=s.recompute_every_s,
            next_run_time=now, id="recompute", max_instances=1, coalesce=True,
        )  # fmt: skip
        # New mail recomputes at once rather than at the next interval: idle costs nothing.
        self.writer.on_change = lambda: self._wake(recompute_job)
        me, fallback = s.rules.me, s.subject_fallback
        fingerprint = threads_fingerprint(me, fallback)
        self.writer.refresh_threads = lambda store: store.refresh_threads(
            me, subject_fallback=fallback, fingerprint=fingerprint
        )
        for account in s.accounts:
            if account.type in FILE_TYPES:
                scheduler.add_job(
                    self._job(self._sync_files), "interval", args=[account],
                    seconds=s.sync_every_s, next_run_time=now, id=f"files:{account.name}",
                    max_instances=1, coalesce=True,
                )  # fmt: skip
            else:
                worker = AccountWorker(
                    account.name,
                    _factory_for(self._factory, account),
                    self.writer,
                    self.stop_event,
                    self.clock.now,
                    self.timing,
                    watch_all=account.folders is not None,
                    archiver_for=watcher.deferred,
                    after_initial=self._sent_check_for(account),
                )
                worker.start()
                self.workers.append(worker)
        # $RwAgreement set later in the mail client: archived on the next pass, through an
        # object graph (and SQLite connection) of its own, built once rather than every pass.
        self._marked_app = bootstrap(s, clock=self.clock, source_factory=self._factory)
        scheduler.add_job(
            self._job(self._archive_marked), "interval", seconds=s.sync_every_s,
            id="archive-marked", max_instances=1, coalesce=True,
        )  # fmt: skip
        if s.digest_enabled and s.digest_smtp is not None and (s.digest_to or s.rules.me):
            # The digest jobs get an App (and SQLite connection) of their own.
            self._digest_app = bootstrap(s, clock=self.clock)
            schedule_digest(scheduler, self._digest_app)
        if s.notify.enabled:
            self.nudges = schedule_nudges(scheduler, self)
        scheduler.start()
        self.scheduler = scheduler
        self._serve_web()
        log.info(
            "daemon_started",
            accounts=[a.name for a in s.accounts],
            store=str(s.store_path),
            recompute_every_s=s.recompute_every_s,
            sync_every_s=s.sync_every_s,
        )

    def _job(self, fn: Callable[..., None]) -> Callable[..., None]:
        """Wrap a scheduler job: count it (shutdown waits for it) and never let it raise."""

        def run(*args: Any) -> None:
            if self.stop_event.is_set():
                return
            with self._jobs_lock:
                self._running_jobs += 1
            try:
                fn(*args)
            except Exception:
                log.exception("job_failed", job=getattr(fn, "__name__", repr(fn)))
            finally:
                with self._jobs_lock:
                    self._running_jobs -= 1
                    self._jobs_lock.notify_all()

        return run

    def recompute(self) -> None:
        assert self.app is not None and self.incremental is not None
        started = time.monotonic()
        at = self.clock.now()
        # Unchanged inputs: the last analysis carried to now (app/incremental.py).
        analysis, full = self.incremental.analysis(at)
        if full and not self.settings.recompute_in_child:
            clear_caches()
            _release_freed_memory()
        self.snapshot.publish(analysis, at)
        for account in [a for a, missing in self.sent_missing.items() if missing]:
            _recheck_sent(self, account)  # the user may have fixed it, or sent a first mail
        if self.status is not None:
            self._publish_status(analysis, at, full)
        if not full:
            return
        self._last_full = (time.monotonic(), time.monotonic() - started)
        log.info(
            "recomputed",
            messages=analysis.totals.messages,
            awaiting=len(analysis.awaiting),
            seconds=round(time.monotonic() - started, 3),
        )

    def _publish_status(self, analysis: Analysis, at: datetime, full: bool) -> None:
        """The page's snapshot: rebuilt after a full computation, and after a carried-forward
        one only when a turn changed state (ages are shown against deadline instants, which
        the page counts down itself; rebuilding the report JSON at every tick would cost a
        second of CPU a minute at 100,000 messages)."""
        assert self.status is not None and self.incremental is not None
        found = self.incremental.insights
        if found is None:
            return
        states = tuple((w.thread_id, w.client, str(w.state)) for w in analysis.awaiting)
        if not full and states == self._status_states:
            return
        prepared = prepare(analysis, found, self.settings)
        self.status.publish(
            analysis,
            prepared.insights,
            at,
            read_health(
                self.settings,
                self._scrape_reader.sync_status(),
                self._scrape_reader.sync_errors(),
            ),
            read_agreements(self.settings.archive_path),
            prepared,
        )
        self._status_states = states
        # The snapshot's million acyclic objects would otherwise be rescanned by every
        # full collection a page view triggers (p99 300 ms -> 35 ms, bench_status.py).
        # Refcounting still frees the previous snapshot; only the cyclic GC skips them.
        gc.freeze()

    def _wake(self, job: Any) -> None:
        """Recompute soon after new facts; during a backfill at most a third of the time."""
        if self.stop_event.is_set():
            return
        end, took = self._last_full
        delay = max(0.0, end + 2 * took - time.monotonic())
        with contextlib.suppress(Exception):  # the scheduler may be starting or stopping
            job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=delay))

    def _sent_check_for(self, account: AccountSettings) -> Callable[[SyncReport], None] | None:
        if account.type not in CHECKED_TYPES:
            return None
        return lambda report: _sent_check(self, account.name, report)

    def _serve_metrics(self) -> None:
        s = self.settings
        collector = ResponsewatchCollector(
            analysis=self.snapshot.latest,
            sync_status=self._scrape_reader.sync_status,
            sync_errors=self._scrape_reader.sync_errors,
            agreements=lambda: agreements_by_client(s.archive_path),
            rules=s.rules,
            top_clients=s.metrics_top_clients,
            sent_missing=lambda: dict(self.sent_missing),
        )
        registry = build_registry(collector)
        registry.register(self.notify_counter)
        self.metrics_server, _thread = serve_metrics(registry, s.metrics_listen)
        self.metrics_port = int(self.metrics_server.server_port)

    def _serve_web(self) -> None:
        """The status page; a port already taken is logged, never fatal (sync goes on)."""
        s = self.settings
        if self.status is None or self.writer is None:
            return
        writer = self.writer

        def ack(message_id: str, thread_id: str, at: datetime) -> None:
            writer.add_ack(message_id, thread_id, at)
            writer.flush()

        site = StatusSite(
            s, self.status, ack=ack, refresh=self._recompute_soon,
            healthy=lambda: writer.error is None and not self.stop_event.is_set(),
            now=self.clock.now,
        )  # fmt: skip
        password = resolve_secret(s.web.password, "web") if s.web.has_password else None
        try:
            self.web = WebServer(site, s.web.listen, password=password)
        except RwError as exc:
            log.error("web_not_served", error=str(exc))
            return
        self.web.start()
        self.web_port = self.web.port

    def _recompute_soon(self) -> None:
        if self.scheduler is not None and not self.stop_event.is_set():
            with contextlib.suppress(Exception):  # the scheduler is shutting down
                self.scheduler.modify_job("recompute", next_run_time=datetime.now(UTC))

    def _archive_marked(self) -> None:
        app = self._marked_app
        assert app is not None
        archive = self._archive or open_archive(self.settings, head=self.writer)
        added = archive_new_agreements(app, archive)
        archive_maintenance(app, archive)
        if added:
            log.info("agreements_archived", count=len(added))

    def _sync_files(self, account: AccountSettings) -> None:
        assert self.writer is not None
        try:
            report = sync_files(
                account,
                self.writer,
                now=self.clock.now,
                should_stop=self.stop_event.is_set,
                archiver=self._files_watcher.files() if self._files_watcher else None,
                seen=self._files_seen.setdefault(account.name, FileSeen()),
            )
        except RwError as exc:
            kind = type(exc).__name__
            log.warning("sync_failed", account=account.name, kind=kind, error=str(exc))
            self.writer.record_sync_error(account.name, kind, self.clock.now())
            return
        if report.added:
            log.info("files_synced", account=account.name, fetched=report.fetched,
                     skipped=report.skipped)  # fmt: skip

    def shutdown(self, budget: float = SHUTDOWN_BUDGET_S) -> int:
        """Stop everything; returns the exit code (0, or 4 if a store write failed)."""
        deadline = time.monotonic() + budget
        self.stop_event.set()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        for worker in self.workers:
            worker.join_all(max(0.0, deadline - time.monotonic() - 1.0))
        stuck = [w.name for w in self.workers if w.is_alive()]
        stuck += [w.name for a in self.workers for w in a.watchers if w.is_alive()]
        if stuck:  # blocked on a dead socket: their uncommitted batch is simply re-fetched
            log.warning("threads_still_busy_at_shutdown", threads=stuck)
        with self._jobs_lock:
            self._jobs_lock.wait_for(
                lambda: self._running_jobs == 0, max(0.0, deadline - time.monotonic())
            )
            jobs_done = self._running_jobs == 0
        if self.web is not None:
            self.web.close()
        if self.metrics_server is not None:
            self.metrics_server.shutdown()
            self.metrics_server.server_close()
        self._scrape_reader.close()
        if self.incremental is not None and jobs_done:
            self.incremental.close()
        code = 0
        if self.writer is not None:
            self.writer.close()
            if self.writer.error is not None:
                code = 4
        if self.app is not None and jobs_done:
            self.app.close()
            if self._digest_app is not None:
                self._digest_app.close()
            if self._marked_app is not None:
                self._marked_app.close()
            if self.nudges is not None:
                self.nudges.log.close()
        log.info("daemon_stopped", code=code)
        return code


def _release_freed_memory() -> None:
    """Hand the heap freed by a recompute back to the OS (glibc keeps it otherwise, and a
    NAS counts it): the facts of 100,000 messages are loaded and dropped every minute."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl, macOS): nothing to do
        return
    libc.malloc_trim(0)


def _sent_check(daemon: Daemon, account: str, report: SyncReport) -> None:
    """After an account's first sync: warn (log, metric) if its mail shows none of mine."""
    writer = daemon.writer
    if writer is None or not writer.flush():
        return
    daemon._sent_reads[account] = (list(report.folders), list(report.server_folders))
    _recheck_sent(daemon, account)


def _recheck_sent(daemon: Daemon, account: str) -> None:
    read, server = daemon._sent_reads[account]
    store = daemon._scrape_reader
    found = store.sent_advice(account, daemon.settings.rules.me, read, server)
    was = daemon.sent_missing.get(account)
    daemon.sent_missing[account] = int(found is not None)
    if found is not None and was != 1:
        log.warning("sent_folder_missing", account=account, folders=server, advice=found.text())
    elif found is None and was == 1:
        log.info("sent_folder_found", account=account)


class _ScrapeReader:
    """Sync bookkeeping for scrapes: its own read-only connection, opened on first use (the
    writer creates the store), one scrape at a time."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._store: SqliteStore | None = None
        self._lock = threading.Lock()

    def _open(self) -> SqliteStore:
        if self._store is None:
            self._store = SqliteStore.open(self._path, readonly=True)
        return self._store

    def sync_status(self) -> dict[str, tuple[datetime | None, int]]:
        with self._lock:
            return self._open().sync_status()

    def sync_errors(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return self._open().sync_errors()

    def sent_advice(
        self, account: str, me: frozenset[str], read: list[str], server: list[str]
    ) -> SentAdvice | None:
        with self._lock:
            return store_advice(self._open(), account, me, read, server)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def _factory_for(factory: SourceFactory, account: AccountSettings) -> Callable[[], Any]:
    return lambda: factory(account)


def run_daemon(
    config: Path,
    *,
    stop: threading.Event | None = None,
    source_factory: SourceFactory | None = None,
    timing: WatchTiming | None = None,
    on_start: Callable[[Daemon], None] | None = None,
) -> int:
    """Run until SIGTERM/SIGINT (or ``stop`` is set); returns the exit code."""
    settings = load_settings(config)
    daemon = Daemon(settings, source_factory=source_factory, timing=timing, stop=stop)
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("signal_received", signal=signal.Signals(signum).name)
            daemon.stop_event.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        daemon.start()
        if on_start is not None:
            on_start(daemon)
        while not daemon.stop_event.wait(1.0):
            pass
    finally:
        code = daemon.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code

"""The rules' fingerprint, and `responsewatch rebuild`: a changed rule recomputes history.

The fingerprint is a hash of every setting that changes results: me, clients (with their
SLA, cadence and missions), the SLA, business hours and holidays, leave (ICS already read),
and the threading options. It is kept in the store (``meta``); the daemon compares it at
start-up and recomputes everything when it differs (it also does when it is the same: the
daemon's incremental state lives in memory), and ``rebuild`` forces that recompute.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path

import structlog
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from responsewatch.adapters.store import SqliteStore
from responsewatch.app.bootstrap import SystemClock
from responsewatch.app.pipeline import no_gc
from responsewatch.app.threads_app import compute_from_store, threads_fingerprint
from responsewatch.config import Settings, load_settings
from responsewatch.core.models import Message

__all__ = ["FINGERPRINT_KEY", "RebuildReport", "fingerprint", "rebuild", "record_fingerprint"]

FINGERPRINT_KEY = "rules_fingerprint"

log = structlog.get_logger("responsewatch.rebuild")


def _plain(value: object) -> object:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)  # frozenset order depends on the hash seed
    if isinstance(value, (date, datetime, dtime)):
        return value.isoformat()
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


def fingerprint(settings: Settings) -> str:
    """A hash of the result-affecting settings, the same in every process."""
    doc = {"rules": asdict(settings.rules), "subject_fallback": settings.subject_fallback}
    text = json.dumps(doc, sort_keys=True, default=_plain, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def record_fingerprint(store: SqliteStore, settings: Settings) -> bool:
    """Store the current fingerprint; True when it differs from the stored one (or none)."""
    current = fingerprint(settings)
    changed = store.meta(FINGERPRINT_KEY) != current
    if changed:
        store.set_meta(FINGERPRINT_KEY, current)
    return changed


@dataclass(frozen=True, slots=True)
class RebuildReport:
    messages: int
    conversations: int
    awaiting: int
    seconds: float
    rules_changed: bool


def rebuild(
    config: Path, *, console: Console | None = None, progress: bool = False
) -> RebuildReport:
    """Recompute everything from the stored facts under the current rules."""
    settings = load_settings(config)
    started = time.monotonic()
    store = SqliteStore.open(settings.store_path)
    try:
        total = store.message_count()
        messages: dict[str, Message] = {}
        bar = (
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            if progress and console is not None
            else None
        )
        if bar is not None:
            bar.start()
        try:
            task = bar.add_task("reading facts", total=total) if bar is not None else None
            with no_gc():
                for i, msg in enumerate(store.messages(), 1):
                    messages[msg.message_id] = msg
                    if bar is not None and task is not None and i % 5000 == 0:
                        bar.update(task, completed=i)
            if bar is not None and task is not None:
                bar.update(task, completed=total, description="threading and turns")
            # The persisted conversations are rewritten from scratch (threading once),
            # then the turns are computed over them.
            me, fallback = settings.rules.me, settings.subject_fallback
            store.refresh_threads(
                me,
                subject_fallback=fallback,
                fingerprint=threads_fingerprint(me, fallback),
                force=True,
            )
            analysis, conversations = compute_from_store(
                store,
                messages,
                settings.rules,
                now=SystemClock().now(),
                acks=store.acks(),
                subject_fallback=fallback,
            )
        finally:
            if bar is not None:
                bar.stop()
        changed = record_fingerprint(store, settings)
    finally:
        store.close()
    report = RebuildReport(
        messages=len(messages),
        conversations=len(conversations),
        awaiting=len(analysis.awaiting),
        seconds=time.monotonic() - started,
        rules_changed=changed,
    )
    log.info("rebuilt", messages=report.messages, conversations=report.conversations,
             seconds=round(report.seconds, 3), rules_changed=changed)  # fmt: skip
    return report

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
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path

import structlog

from responsewatch.adapters.store import SqliteStore
from responsewatch.app.bootstrap import SystemClock
from responsewatch.app.pipeline import no_gc
from responsewatch.app.threads_app import compute_from_store, threads_fingerprint
from responsewatch.config import Settings, load_settings
from responsewatch.core.models import Message
from responsewatch.ports import Store

__all__ = [
    "FINGERPRINT_KEY",
    "Progress",
    "RebuildReport",
    "fingerprint",
    "rebuild",
    "record_fingerprint",
]

FINGERPRINT_KEY = "rules_fingerprint"

log = structlog.get_logger("responsewatch.rebuild")

# (phase, done, total): "reading facts" every 5,000 messages, then "threading and turns".
Progress = Callable[[str, int, int], None]


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


def record_fingerprint(store: Store, settings: Settings) -> bool:
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


def rebuild(config: Path, *, progress: Progress | None = None) -> RebuildReport:
    """Recompute everything from the stored facts under the current rules."""
    settings = load_settings(config)
    started = time.monotonic()
    store = SqliteStore.open(settings.store_path)
    try:
        total = store.message_count()
        messages: dict[str, Message] = {}
        if progress is not None:
            progress("reading facts", 0, total)
        with no_gc():
            for i, msg in enumerate(store.messages(), 1):
                messages[msg.message_id] = msg
                if progress is not None and i % 5000 == 0:
                    progress("reading facts", i, total)
        if progress is not None:
            progress("threading and turns", total, total)
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

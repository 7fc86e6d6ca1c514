"""Analysis from the persisted conversations (issue 17 step 4): the store threads only
what new facts touch (adapters/store_threads.py); turns and statistics are then computed
by ``core.latency.analyze`` over those conversations, exactly as the full path does."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime

from responsewatch.app.pipeline import analyze_conversations, compute, no_gc
from responsewatch.core.models import Analysis, Conversation, Message
from responsewatch.core.rules import Rules
from responsewatch.errors import DataError
from responsewatch.ports import Store

__all__ = ["compute_from_store", "threads_fingerprint"]


def threads_fingerprint(me: frozenset[str], subject_fallback: bool) -> str:
    """What threading depends on besides the facts: my addresses (which time a message
    counts at, who is a participant) and the subject fallback. Other rules do not touch
    the partition, so changing them needs no re-threading."""
    canonical = json.dumps([sorted(me), subject_fallback], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def compute_from_store(
    store: Store,
    messages: Mapping[str, Message],
    rules: Rules,
    *,
    now: datetime,
    acks: Mapping[str, datetime] | None = None,
    subject_fallback: bool = True,
) -> tuple[Analysis, list[Conversation]]:
    """``pipeline.compute`` with the partition read from the store, which is refreshed
    first (new messages and what they touch only). ``messages`` are the store's facts."""
    try:
        store.refresh_threads(
            rules.me,
            subject_fallback=subject_fallback,
            fingerprint=threads_fingerprint(rules.me, subject_fallback),
        )
    except DataError:
        # A read-only store (a reader process) whose conversations lag the facts: the
        # full path gives the same answer; the writer refreshes them.
        return compute(messages, rules, now=now, acks=acks, subject_fallback=subject_fallback)
    with no_gc():
        conversations = store.stored_conversations(messages, rules.me)
        analysis = analyze_conversations(messages, conversations, rules, now=now, acks=acks)
    return analysis, conversations

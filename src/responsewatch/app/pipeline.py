"""The analysis use case: gather facts, call the pure core, hand back values."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from responsewatch.adapters.files import ReadStats, read_messages
from responsewatch.core.business_time import BusinessClock
from responsewatch.core.latency import analyze
from responsewatch.core.models import Analysis, Conversation, Message
from responsewatch.core.parsing import parse_message
from responsewatch.core.rules import Rules
from responsewatch.core.threading import build_conversations

__all__ = ["Corpus", "analyze_conversations", "compute", "load_corpus", "no_gc"]


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic GC while building many small acyclic values: with 100,000
    messages its repeated full scans cost more than the work itself."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(slots=True)
class Corpus:
    """De-duplicated messages read from files, with what could not be read."""

    messages: dict[str, Message]
    stats: ReadStats
    parse_warnings: int = 0
    duplicates: int = 0


def load_corpus(
    paths: list[Path],
    *,
    on_message: Callable[[], None] | None = None,
) -> Corpus:
    stats = ReadStats()
    corpus = Corpus({}, stats)
    with no_gc():
        _read_into(corpus, paths, on_message)
    return corpus


def _read_into(corpus: Corpus, paths: list[Path], on_message: Callable[[], None] | None) -> None:
    stats = corpus.stats
    for item in read_messages(paths, stats):
        if on_message is not None:
            on_message()
        msg = parse_message(item.data)
        if "no-header" in msg.warnings:
            stats.skip(item.origin, "no header")
            continue
        if msg.warnings:
            corpus.parse_warnings += 1
        if msg.message_id in corpus.messages:
            corpus.duplicates += 1
            continue
        corpus.messages[msg.message_id] = msg


def conversations_of(
    messages: Mapping[str, Message], rules: Rules, *, subject_fallback: bool = True
) -> list[Conversation]:
    return build_conversations(list(messages.values()), rules.me, subject_fallback=subject_fallback)


def analyze_conversations(
    messages: Mapping[str, Message],
    conversations: list[Conversation],
    rules: Rules,
    *,
    now: datetime,
    acks: Mapping[str, datetime] | None = None,
) -> Analysis:
    """The turns, latencies and states over conversations already built (by threading
    everything, or read from the store)."""
    return analyze(
        messages, conversations, rules, now=now, clock=BusinessClock(rules.hours), acks=acks
    )


def compute(
    messages: Mapping[str, Message],
    rules: Rules,
    *,
    now: datetime,
    acks: Mapping[str, datetime] | None = None,
    subject_fallback: bool = True,
) -> tuple[Analysis, list[Conversation]]:
    with no_gc():
        conversations = conversations_of(messages, rules, subject_fallback=subject_fallback)
        analysis = analyze_conversations(messages, conversations, rules, now=now, acks=acks)
    return analysis, conversations

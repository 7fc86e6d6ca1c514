"""Static proof that each adapter implements the ports it is used through.

Never imported at run time: mypy (which checks this file) compares every signature below
with the Protocol's, so a drifted adapter fails type checking instead of silently losing
a capability (``isinstance`` against a runtime-checkable Protocol only sees names).
tests/contract/test_capabilities.py pins the same sets at run time.
"""

from __future__ import annotations

from responsewatch.adapters.exchange import ExchangeMailSource
from responsewatch.adapters.graph import GraphMailSource
from responsewatch.adapters.imap import ImapMailSource
from responsewatch.adapters.memory import MemoryMailSource
from responsewatch.adapters.store import SqliteStore
from responsewatch.adapters.store_writer import StoreWriter
from responsewatch.ports import (
    Batched,
    FullFetcher,
    KeywordChanges,
    LedgerHead,
    MailSource,
    ResumeTokens,
    ServerListing,
    Store,
    SyncSink,
    Tagger,
    WatchedSource,
)

__all__: list[str] = []


def _imap(s: ImapMailSource) -> tuple[
    WatchedSource, KeywordChanges, ServerListing, Batched, FullFetcher, Tagger
]:  # fmt: skip
    return s, s, s, s, s, s


def _memory(s: MemoryMailSource) -> tuple[WatchedSource, FullFetcher]:
    return s, s


def _graph(s: GraphMailSource) -> tuple[MailSource, ResumeTokens, FullFetcher]:
    return s, s, s


def _exchange(s: ExchangeMailSource) -> tuple[MailSource, ResumeTokens, FullFetcher]:
    return s, s, s


def _sqlite(s: SqliteStore) -> tuple[Store, SyncSink, LedgerHead]:
    return s, s, s


def _writer(w: StoreWriter) -> tuple[SyncSink, LedgerHead]:
    return w, w

"""The seams of the application: Protocols every adapter implements.

Each Protocol has an in-memory implementation in ``adapters/memory.py`` and one
contract test suite that runs against the fake and the real adapter alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from responsewatch.core.models import Conversation, Message

__all__ = [
    "Batched",
    "ChangeWaiter",
    "Clock",
    "Cursor",
    "FolderRef",
    "FolderStatus",
    "FullFetcher",
    "KeywordChanges",
    "LedgerHead",
    "MailSource",
    "PendingArchive",
    "RawMessage",
    "ResumeTokens",
    "ServerListing",
    "StatusPages",
    "Store",
    "SyncSink",
    "Tagger",
    "WatchedSource",
    "WebResponse",
]


@dataclass(frozen=True, slots=True)
class FolderRef:
    """One folder of one account (``role`` is the SPECIAL-USE role when known: inbox, sent, all)."""

    account: str
    name: str
    role: str = ""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where reading a folder stopped: enough to resume without duplicates or gaps."""

    uidvalidity: int
    last_uid: int
    highest_modseq: int | None = None
    token: str | None = None  # Graph deltaLink / EWS sync state

    def resume_point(self, uidvalidity: int) -> tuple[int, str | None]:
        """(last UID, resume token) to go on from, or (0, None) to start over when this
        cursor was taken under another UIDVALIDITY."""
        if self.uidvalidity != uidvalidity:
            return 0, None
        return self.last_uid, self.token


@dataclass(frozen=True, slots=True)
class RawMessage:
    """What a source hands over for one message: header bytes (and a small text part if any)."""

    folder: FolderRef
    uid: int
    data: bytes
    internaldate: datetime | None = None
    provider_thread: str | None = None
    keywords: tuple[str, ...] = ()
    # The provider's id of the message (Graph/EWS item id) when the UID is not one: what
    # ``FullFetcher.fetch_full`` is given to fetch the whole message later.
    key: str = ""


@dataclass(frozen=True, slots=True)
class PendingArchive:
    """An archive decision taken while a folder streamed, stored with the message facts (same
    transaction) and carried out after: a crash in between loses nothing, and the decision is
    never recomputed."""

    message_id: str
    folder: FolderRef
    uidvalidity: int
    uid: int
    key: str  # RawMessage.key, or "" when the UID is the key
    client: str
    phrase: str
    excerpt: str
    rule: str
    received_at: datetime | None


@runtime_checkable
class FullFetcher(Protocol):
    """A source that fetches whole original messages, many per round trip."""

    def fetch_full(
        self, folder: FolderRef, uidvalidity: int, items: Sequence[tuple[int, str]]
    ) -> dict[int, bytes]:
        """(uid, key) pairs -> uid: the raw message; absent when no longer in the source."""
        ...


@runtime_checkable
class Tagger(Protocol):
    """A source that can set a keyword on a message (the program's only mailbox write)."""

    def add_keyword(self, folder: FolderRef, uid: int, keyword: str) -> None: ...


class LedgerHead(Protocol):
    """Where the archive keeps a copy of its ledger head (sequence, hash), away from the
    ledger, so that deleting the newest entries is detected."""

    def archive_head(self, root: str) -> tuple[int, str] | None: ...

    def set_archive_head(self, root: str, seq: int, entry_hash: str) -> None: ...


@runtime_checkable
class MailSource(Protocol):
    """A watched mail source: every implementation passes tests/contract/test_mail_source.py."""

    name: str

    def folders(self) -> Sequence[FolderRef]: ...

    def uidvalidity(self, folder: FolderRef) -> int: ...

    def fetch_since(self, folder: FolderRef, cursor: Cursor | None) -> Iterator[RawMessage]: ...

    def close(self) -> None: ...


# -- optional capabilities of a MailSource ---------------------------------------------------
# app/ asks for these with ``isinstance`` (runtime-checkable: method presence), so mypy checks
# each call against the signature below instead of an untyped ``getattr`` result.


@runtime_checkable
class FolderStatus(Protocol):
    """A source that reports a folder's UIDVALIDITY, last UID and HIGHESTMODSEQ cheaply."""

    def status(self, folder: FolderRef) -> Cursor: ...


@runtime_checkable
class ResumeTokens(Protocol):
    """Graph/EWS: the delta link / sync state matching the last message ``fetch_since``
    yielded (None before any)."""

    def resume_token(self, folder: FolderRef) -> str | None: ...


@runtime_checkable
class KeywordChanges(Protocol):
    """CONDSTORE: (uid, keywords) of every message whose flags changed after a modseq."""

    def changed_keywords(
        self, folder: FolderRef, since_modseq: int
    ) -> Sequence[tuple[int, tuple[str, ...]]]: ...


@runtime_checkable
class ChangeWaiter(Protocol):
    """A source that can block until new mail arrives (IMAP IDLE, or polling ``status``)."""

    def wait_for_changes(
        self,
        folder: FolderRef,
        timeout: float,
        *,
        poll_interval: float = 30.0,
        after_uid: int | None = None,
        stop: Callable[[], bool] | None = None,
        on_waiting: Callable[[], None] | None = None,
    ) -> bool: ...


@runtime_checkable
class ServerListing(Protocol):
    """A source that can list every folder name on the server (for the missing-Sent advice)."""

    def server_folders(self) -> list[str]: ...


@runtime_checkable
class Batched(Protocol):
    """A source with its own configured fetch batch size."""

    @property
    def batch_size(self) -> int: ...


@runtime_checkable
class WatchedSource(MailSource, FolderStatus, ChangeWaiter, Protocol):
    """What a folder watcher of the daemon uses to wait for mail (IMAP, the memory fake)."""


class Clock(Protocol):
    def now(self) -> datetime: ...


class SyncSink(Protocol):
    """Where a sync writes: ``SqliteStore`` itself (``sync --once``) or the daemon's
    single-writer queue (``adapters/store_writer.StoreWriter``)."""

    def cursor(self, folder: FolderRef) -> Cursor | None: ...

    def save_batch(
        self,
        folder: FolderRef,
        messages: Sequence[tuple[int, Message]],
        cursor: Cursor,
        pending: Sequence[PendingArchive] = (),
    ) -> int: ...

    def reset_folder(self, folder: FolderRef) -> None: ...

    def add_messages(self, messages: Iterable[Message], *, account: str = "") -> int: ...

    def add_keywords(self, items: Iterable[tuple[str, str]], at: datetime) -> int: ...

    def message_ids_at(
        self, folder: FolderRef, uidvalidity: int, uids: Sequence[int]
    ) -> dict[int, str]:
        """uid -> Message-ID of what is stored at those UIDs of ``folder``."""
        ...

    def record_sync_success(self, account: str, at: datetime) -> None: ...

    def record_sync_error(self, account: str, kind: str, at: datetime) -> None: ...

    # The archive decisions stored with the facts, carried out after the batch.
    def pending_archive(self, account: str, folder: str | None = None) -> list[PendingArchive]: ...

    def archive_done(self, message_ids: Iterable[str]) -> None: ...

    def archive_failed(self, message_id: str, error: str, *, give_up_after: int) -> bool: ...


class Store(SyncSink, LedgerHead, Protocol):
    """Everything ``app/`` asks of the store; ``SqliteStore`` is the implementation and
    tests/contract/test_store_contract.py its contract."""

    def messages(self) -> Iterator[Message]: ...

    def message(self, message_id: str) -> Message | None: ...

    def message_count(self) -> int: ...

    def input_changes(self) -> tuple[int, ...]:
        """A token that changes whenever facts, keywords or acks change (cheap to read)."""
        ...

    def locations(self, message_id: str) -> list[tuple[str, str, int, int]]:
        """(account, folder, uidvalidity, uid) where ``message_id`` was seen."""
        ...

    def add_ack(self, message_id: str, thread_id: str, at: datetime) -> None: ...

    def acks(self) -> dict[str, datetime]: ...

    def messages_with_keyword(self, keyword: str) -> dict[str, datetime]: ...

    def meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def digest_state(self, day: str) -> tuple[str, int, str | None] | None: ...

    def record_digest(
        self,
        day: str,
        status: str,
        at: datetime,
        *,
        message_id: str | None = None,
        error: str | None = None,
        attempt: bool = False,
    ) -> None: ...

    def digests(self) -> list[tuple[str, str, int, str | None]]: ...

    def sync_status(self) -> dict[str, tuple[datetime | None, int]]: ...

    def sync_errors(self) -> dict[tuple[str, str], int]: ...

    def mail_from(self, account: str, addresses: Iterable[str]) -> dict[str, tuple[int, int]]: ...

    def refresh_threads(
        self, me: frozenset[str], *, subject_fallback: bool, fingerprint: str, force: bool = False
    ) -> int:
        """Bring the persisted conversations up to date with the facts (new ones only,
        unless ``fingerprint`` changed or ``force``); DataError on a read-only store that lags."""
        ...

    def threads_current(self, fingerprint: str) -> bool: ...

    def stored_conversations(
        self, messages: Mapping[str, Message], me: frozenset[str]
    ) -> list[Conversation]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class WebResponse:
    """What a status-page handler answers; the HTTP adapter adds the security headers."""

    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    location: str = ""  # a redirect (303 after a POST)


class StatusPages(Protocol):
    """The status page's content and actions, served by ``adapters/web.py``.

    ``csrf`` is the token the page's forms must send back; the adapter checks it before
    calling an action. ``query`` is the decoded query string (``lang``)."""

    def page(self, query: dict[str, str], csrf: str) -> WebResponse: ...
    def api_status(self) -> WebResponse: ...
    def health(self) -> WebResponse: ...
    def static(self, name: str) -> WebResponse | None: ...
    def action(self, name: str, form: dict[str, str]) -> WebResponse: ...

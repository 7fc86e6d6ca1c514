"""The seams of the application: Protocols every adapter implements.

Each Protocol has an in-memory implementation in ``adapters/memory.py`` and one
contract test suite that runs against the fake and the real adapter alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from responsewatch.core.models import Message

__all__ = [
    "Clock",
    "Cursor",
    "FolderRef",
    "FullFetcher",
    "LedgerHead",
    "MailSource",
    "PendingArchive",
    "RawMessage",
    "StatusPages",
    "Store",
    "Tagger",
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


class MailSource(Protocol):
    name: str

    def folders(self) -> Sequence[FolderRef]: ...

    def uidvalidity(self, folder: FolderRef) -> int: ...

    def fetch_since(self, folder: FolderRef, cursor: Cursor | None) -> Iterator[RawMessage]: ...

    def close(self) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class Store(Protocol):
    def add_messages(self, messages: Iterable[Message], *, account: str = "") -> int: ...

    def messages(self) -> Iterator[Message]: ...

    def message_count(self) -> int: ...

    def cursor(self, folder: FolderRef) -> Cursor | None: ...

    def save_batch(
        self, folder: FolderRef, messages: Sequence[tuple[int, Message]], cursor: Cursor
    ) -> int: ...

    def reset_folder(self, folder: FolderRef) -> None: ...

    def add_ack(self, message_id: str, thread_id: str, at: datetime) -> None: ...

    def acks(self) -> dict[str, datetime]: ...

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

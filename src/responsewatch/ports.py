"""The seams of the application: Protocols every adapter implements.

Each Protocol has an in-memory implementation in ``adapters/memory.py`` and one
contract test suite that runs against the fake and the real adapter alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from responsewatch.core.models import Message

__all__ = [
    "Clock",
    "Cursor",
    "FolderRef",
    "MailSource",
    "RawMessage",
    "StatusPages",
    "Store",
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

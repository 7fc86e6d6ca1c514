"""In-memory fakes of the ports, shared by tests and ``demo``.

Each fake passes the same contract suite as the real adapter (tests/contract/).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from responsewatch.errors import SourceUnavailable
from responsewatch.ports import Cursor, FolderRef, RawMessage

__all__ = ["MemoryMailSource"]


class MemoryMailSource:
    """A ``MailSource`` over a dict of folders; ``append()`` and ``recreate_folder()`` for tests.

    Behaves like the IMAP adapter where it matters: UIDs only grow, a cursor from another
    UIDVALIDITY is ignored, ``wait_for_changes()`` wakes on ``append()`` from another thread.
    """

    def __init__(
        self,
        name: str,
        box: dict[FolderRef, list[RawMessage]],
        uidvalidities: dict[FolderRef, int] | None = None,
    ) -> None:
        self.name = name
        self._box = box
        self._uidvalidities = dict(uidvalidities or {})
        self._uidnext = {f: max((m.uid for m in ms), default=0) + 1 for f, ms in box.items()}
        self._changed = threading.Condition()
        self.closed = False
        self.full_fetches = 0  # calls of fetch_full, for tests

    # -- MailSource -------------------------------------------------------------------------

    def folders(self) -> list[FolderRef]:
        with self._changed:
            return list(self._box)

    def uidvalidity(self, folder: FolderRef) -> int:
        with self._changed:
            self._check(folder)
            return self._uidvalidities.get(folder, 1)

    def status(self, folder: FolderRef) -> Cursor:
        with self._changed:
            self._check(folder)
            return Cursor(self._uidvalidities.get(folder, 1), self._uidnext[folder] - 1)

    def fetch_since(self, folder: FolderRef, cursor: Cursor | None) -> Iterator[RawMessage]:
        with self._changed:
            self._check(folder)
            last = 0
            if cursor is not None and cursor.uidvalidity == self._uidvalidities.get(folder, 1):
                last = cursor.last_uid
            # Snapshot under the lock: an append() during iteration must not break the caller.
            selected = sorted((m for m in self._box[folder] if m.uid > last), key=lambda m: m.uid)
        yield from selected

    def close(self) -> None:
        self.closed = True

    def fetch_full(
        self, folder: FolderRef, uidvalidity: int, items: Sequence[tuple[int, str]]
    ) -> dict[int, bytes]:
        """The whole messages (the fake keeps them whole in ``RawMessage.data``)."""
        with self._changed:
            # The store knows folders by name; a FolderRef's role is part of its identity.
            folder = next((f for f in self._box if f.name == folder.name), folder)
            self._check(folder)
            if self._uidvalidities.get(folder, 1) != uidvalidity:
                raise SourceUnavailable(self.name, f"{folder.name}: UIDVALIDITY changed")
            wanted = {uid for uid, _key in items}
            self.full_fetches += 1
            return {m.uid: m.data for m in self._box[folder] if m.uid in wanted}

    def wait_for_changes(
        self,
        folder: FolderRef,
        timeout: float,
        *,
        poll_interval: float = 30.0,
        after_uid: int | None = None,
        stop: Callable[[], bool] | None = None,
        on_waiting: Callable[[], None] | None = None,
    ) -> bool:
        """True as soon as ``append()`` adds to ``folder`` (or it already holds a UID above
        ``after_uid``); False after ``timeout`` s or once ``stop()`` is true.
        ``on_waiting`` is called once an ``append()`` from then on will be seen."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._check(folder)
            start = self._uidnext[folder]
            if after_uid is not None and start - 1 > after_uid:
                return True
            if on_waiting is not None:
                on_waiting()
            while self._uidnext.get(folder, start) == start:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (stop is not None and stop()):
                    return False
                self._changed.wait(min(remaining, 0.5))
            return True

    # -- test helpers -----------------------------------------------------------------------

    def append(
        self,
        folder: FolderRef,
        data: bytes,
        *,
        internaldate: datetime | None = None,
        keywords: tuple[str, ...] = (),
        provider_thread: str | None = None,
    ) -> RawMessage:
        """Add a message with the next UID of ``folder`` (created if new)."""
        with self._changed:
            self._box.setdefault(folder, [])
            uid = self._uidnext.get(folder, 1)
            self._uidnext[folder] = uid + 1
            msg = RawMessage(folder, uid, data, internaldate, provider_thread, keywords)
            self._box[folder].append(msg)
            self._changed.notify_all()
            return msg

    def recreate_folder(self, folder: FolderRef) -> None:
        """Like IMAP DELETE + CREATE: empty folder, UIDs restart, new UIDVALIDITY."""
        with self._changed:
            self._check(folder)
            self._box[folder] = []
            self._uidnext[folder] = 1
            self._uidvalidities[folder] = self._uidvalidities.get(folder, 1) + 1
            self._changed.notify_all()

    def _check(self, folder: FolderRef) -> None:
        if folder not in self._box:
            raise SourceUnavailable(self.name, f"folder {folder.name!r} does not exist")
        self._uidnext.setdefault(folder, max((m.uid for m in self._box[folder]), default=0) + 1)

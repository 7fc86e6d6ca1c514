"""Is the user's own mail being read? Checked from the data, never assumed from folder names.

A sync that reads INBOX but not the folder the user's replies are in computes a confident,
entirely wrong answer (every client message looks unanswered). So ``check`` samples the
folders it will read, and ``sync``/``run`` look at what was stored: if too little of it
comes from ``me.addresses`` (``reads_my_mail``), they say so loudly, naming the server's
folders and the ``folders = [...]`` line that fixes it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from responsewatch.adapters.imap_folders import closest_folders
from responsewatch.app.sync import SyncReport
from responsewatch.config import Settings
from responsewatch.core.parsing import parse_message
from responsewatch.ports import Cursor, FolderRef, FolderStatus, MailSource

__all__ = [
    "CHECKED_TYPES",
    "SentAdvice",
    "advice",
    "sample_from_me",
    "sent_missing",
    "store_advice",
]

# Graph and EWS find Sent by the API's well-known folder names: nothing to guess there.
CHECKED_TYPES = frozenset({"imap"})
_LIKELY = ("Sent", "Sent Items", "Envoyés", "Gesendet")
_STEMS = ("sent", "envo", "gesend", "enviad", "inviat", "verzond", "skick", "sendt")
_NOT_SENT = ("Drafts", "Trash", "Junk", "Spam", "Templates", "Outbox", "Brouillons",
             "Corbeille", "Indésirables", "Entwürfe", "Papierkorb", "Deleted Items")  # fmt: skip


@dataclass(frozen=True, slots=True)
class SentAdvice:
    """What to tell the user when no folder read holds mail from them."""

    account: str
    me: tuple[str, ...]
    read: tuple[str, ...]
    server: tuple[str, ...]
    others: tuple[str, ...] = ()  # senders found in a Sent folder that are not in ``me``

    def guess(self) -> str | None:
        """The server folder most likely to hold the sent mail, if one stands out."""
        unread = [n for n in self.server if n not in self.read]
        for wanted in _LIKELY:
            near = closest_folders(wanted, unread, n=1)
            if near:
                return near[0]
        others = [n for n in unread if not any(closest_folders(x, [n]) for x in _NOT_SENT)]
        stem = [n for n in others if any(s in n.casefold() for s in _STEMS)]
        if len(stem) == 1:
            return stem[0]
        return others[0] if len(others) == 1 else None

    def folders_line(self) -> str:
        extra = self.guess() or "<the folder your sent mail is in>"
        names = [*self.read, extra] if extra not in self.read else list(self.read)
        return "folders = [" + ", ".join(f'"{n}"' for n in names) + "]"

    def text(self) -> str:
        parts = [
            f"no folder read holds mail from you ({', '.join(self.me) or 'me.addresses is empty'})"
            f": read {', '.join(self.read)}",
            f"the server has {', '.join(self.server) or 'no other folder'}",
        ]
        if self.others:
            parts.append(
                f"sent mail there is from {', '.join(self.others[:5])}: if that is you, "
                "add it to me.addresses"
            )
        parts.append(
            f"if your sent mail is in another folder, add to account {self.account!r} in the "
            f"configuration: {self.folders_line()}"
        )
        return "; ".join(parts)


# Reading the user's own mail shows as a folder that is mostly theirs (Sent, whatever its
# name) or as a fair share of everything read (Gmail's All Mail). A few messages from me in
# an inbox (Cc or Bcc to self) are not enough: 2 of the 6 Enron inboxes hold one such
# message (1/142, 1/194), their sent folders 100% (tests/benchmarks/real_sent_discovery.py).
FOLDER_SHARE = 0.5
OVERALL_SHARE = 0.1


def reads_my_mail(counts: Mapping[str, tuple[int, int]]) -> bool | None:
    """folder -> (messages, of which from me): whether my own mail is read; None: no mail."""
    total = sum(n for n, _mine in counts.values())
    if not total:
        return None
    mine = sum(m for _n, m in counts.values())
    if mine >= OVERALL_SHARE * total:
        return True
    return any(n and m >= FOLDER_SHARE * n for n, m in counts.values())


def sample_from_me(
    source: MailSource, folders: Iterable[FolderRef], me: frozenset[str], sample: int = 200
) -> dict[str, tuple[int, int]]:
    """folder -> (messages looked at, of which from ``me``) over the newest ``sample`` each.

    Headers only (sparse UIDs: the fetch starts 4x further back, the last ``sample`` count).
    """
    mine = {m.lower() for m in me}
    out: dict[str, tuple[int, int]] = {}
    for folder in folders:
        start: Cursor | None = None
        if isinstance(source, FolderStatus):
            st = source.status(folder)
            start = Cursor(st.uidvalidity, max(0, st.last_uid - 4 * sample))
        recent: deque[bool] = deque(maxlen=sample)
        for raw in source.fetch_since(folder, start):
            sender = parse_message(raw.data).from_addr
            recent.append(bool(sender) and str(sender).lower() in mine)
        out[folder.name] = (len(recent), sum(recent))
    return out


def advice(
    account: str,
    me: frozenset[str],
    read: Sequence[str],
    server: Sequence[str],
    others: Sequence[str] = (),
) -> SentAdvice:
    return SentAdvice(account, tuple(sorted(me)), tuple(read), tuple(server), tuple(others))


class _MailFrom(Protocol):
    def mail_from(self, account: str, addresses: Iterable[str]) -> dict[str, tuple[int, int]]: ...


def store_advice(
    store: _MailFrom, account: str, me: frozenset[str], read: Sequence[str], server: Sequence[str]
) -> SentAdvice | None:
    """The advice when ``account`` has stored mail and too little of it is from ``me``."""
    return (
        advice(account, me, read, server)
        if reads_my_mail(store.mail_from(account, me)) is False
        else None
    )


def sent_missing(
    store: _MailFrom, settings: Settings, reports: Iterable[SyncReport]
) -> list[SentAdvice]:
    """After ``sync --once``: an advice for each checked account whose mail shows none of ours."""
    types = {a.name: a.type for a in settings.accounts}
    out = []
    for r in reports:
        if r.error or types.get(r.account) not in CHECKED_TYPES:
            continue
        found = store_advice(store, r.account, settings.rules.me, r.folders, r.server_folders)
        if found is not None:
            out.append(found)
    return out

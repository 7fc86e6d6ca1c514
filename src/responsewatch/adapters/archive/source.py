"""The archive's access to the mailbox: whole originals through ``FullFetcher`` and the
opt-in ``$RwArchived`` tag through ``Tagger`` (ports), nothing of any adapter's internals."""

from __future__ import annotations

from collections.abc import Sequence

from responsewatch.adapters.archive.ledger import ARCHIVED_KEYWORD
from responsewatch.errors import SourceUnavailable
from responsewatch.ports import Cursor, FolderRef, FullFetcher, MailSource, Tagger

__all__ = ["fetch_full", "fetch_full_many", "tag_message"]


def fetch_full_many(
    source: MailSource, folder: FolderRef, uidvalidity: int, items: Sequence[tuple[int, str]]
) -> dict[int, bytes]:
    """(uid, key) -> the complete raw message, from any source, many per round trip."""
    if isinstance(source, FullFetcher):
        return source.fetch_full(folder, uidvalidity, items)
    # A source without full fetches (tests' fakes) holds whole messages in RawMessage.data.
    # The store knows folders by name only, and a FolderRef's role is part of its identity.
    folder = next((f for f in source.folders() if f.name == folder.name), folder)
    wanted = {uid for uid, _key in items}
    if not wanted:
        return {}
    out: dict[int, bytes] = {}
    for raw in source.fetch_since(folder, Cursor(uidvalidity, min(wanted) - 1)):
        if raw.uid in wanted:
            out[raw.uid] = raw.data
    return out


def fetch_full(
    source: MailSource, folder: FolderRef, uid: int, uidvalidity: int | None = None, key: str = ""
) -> bytes:
    """The complete raw message from any source."""
    valid = uidvalidity if uidvalidity is not None else source.uidvalidity(folder)
    found = fetch_full_many(source, folder, valid, [(uid, key)]).get(uid)
    if found is None:
        raise SourceUnavailable(source.name, f"{folder.name} UID {uid}: no longer in the source")
    return found


def tag_message(
    source: MailSource, folder: FolderRef, uid: int, keyword: str = ARCHIVED_KEYWORD
) -> bool:
    """Set ``keyword`` on the message: the program's ONLY mailbox write (opt-in).
    Returns False when the source cannot tag."""
    if not isinstance(source, Tagger):
        return False
    source.add_keyword(folder, uid, keyword)
    return True

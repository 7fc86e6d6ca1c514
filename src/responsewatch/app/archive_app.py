"""Agreement archive use cases: the sync's archiver, ``archive add/list/verify/export/
reject``, the $RwAgreement / $RwNotAgreement catch-up and the DKIM retry.

The store keeps header facts only, so detection runs where the bytes are: the sync hands
every parsed message (header + first 2 KB of text) to ``AgreementWatcher.decide``, ONCE;
a positive decision is stored with the batch's facts (same transaction), and after the
folder's stream ``drain`` fetches the originals by UID set (``BODY.PEEK[]``) and archives
them per batch. A crash anywhere leaves the decisions in the store for the next run.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from responsewatch.adapters.archive import (
    AGREEMENT,
    AGREEMENT_KEYWORD,
    DKIM_RECHECK,
    NOT_AGREEMENT_KEYWORD,
    REJECTION,
    EvidenceArchive,
    LedgerEntry,
    NewEntry,
    TxtLookup,
    current_agreements,
    fetch_full,
    fetch_full_many,
    rejections,
    system_lookup,
    tag_message,
)
from responsewatch.adapters.archive.dkim import GuardedLookup
from responsewatch.adapters.store import SqliteStore
from responsewatch.app.archive_evidence import (
    entry_file_name,
    entry_json,
    export_archive,
    raise_if_broken,
    verification_lines,
)
from responsewatch.app.sources import SourceFactory, SystemClock, make_source
from responsewatch.app.timestamp_app import check_timestamps, export_evidence, stamp_archive
from responsewatch.config import Settings, load_settings
from responsewatch.core.agreements import detect_agreement
from responsewatch.core.models import Message, message_time
from responsewatch.core.parsing import (
    body_text,
    decode_encoded_words,
    parse_message,
    split_header_block,
)
from responsewatch.core.rules import ClientDirectory
from responsewatch.errors import ConfigError, DataError, RwError, SourceUnavailable
from responsewatch.ports import FolderRef, LedgerHead, MailSource, PendingArchive, RawMessage

if TYPE_CHECKING:
    from responsewatch.app.sources import AppGraph as App
    from responsewatch.app.sync import SyncSink

__all__ = [
    "AgreementWatcher",
    "add_by_message_id",
    "archive_add",
    "archive_export",
    "archive_list",
    "archive_maintenance",
    "archive_new_agreements",
    "archive_reject",
    "archive_verify",
    "reject",
    "reject_marked",
    "retry_dkim",
]

log = structlog.get_logger("responsewatch.archive")

MANUAL = "manual"
KEYWORD_PHRASE = f"keyword:{AGREEMENT_KEYWORD}"
_FILENAME = re.compile(r"""(?i)\b(?:file)?name\*?=\s*(?:"([^"]{1,300})"|([^\s;"]{1,300}))""")


def open_archive(
    settings: Settings, lookup: TxtLookup | None = None, *, head: LedgerHead | None = None
) -> EvidenceArchive:
    """The archive; ``head`` (the store) keeps a copy of the ledger head. DNS answers are
    cached per archive and a dead resolver is not asked again for a minute."""
    return EvidenceArchive(
        settings.archive_path, lookup=GuardedLookup(lookup or system_lookup), head=head
    )


def _attachment_names(data: bytes) -> list[str]:
    """File names visible in the bytes we have (enough for the 2 KB prefix of the sync)."""
    text = data.decode("utf-8", "replace")
    return [decode_encoded_words(a or b) for a, b in _FILENAME.findall(text)]


def _has_keyword(raw: RawMessage, keyword: str) -> bool:
    return any(k.lower() == keyword.lower() for k in raw.keywords)


DKIM_RETRY_AFTER = timedelta(hours=1)
GIVE_UP_AFTER = 5  # failed attempts before a decision is dropped (message gone from server)
ARCHIVE_BATCH = 100  # messages fetched, archived and fsynced together


class AgreementWatcher:
    """The per-message hook of the sync: detect, fetch the original, archive, maybe tag."""

    def __init__(
        self,
        settings: Settings,
        archive: EvidenceArchive,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._archive = archive
        self._now = now
        self._clients = ClientDirectory(settings.rules)

    def decide(self, raw: RawMessage, msg: Message) -> PendingArchive | None:
        """The archive decision on ``msg``, taken once, from the bytes the sync has."""
        sender = msg.from_addr
        client = self._clients.client_of(sender)
        if _has_keyword(raw, NOT_AGREEMENT_KEYWORD):
            return None  # the user said no before we even looked
        if _has_keyword(raw, AGREEMENT_KEYWORD):  # the user's choice: any sender, even automated
            return self._pending(raw, msg, client or sender or "", KEYWORD_PHRASE, "", "keyword")
        if not self._settings.archive_detect or client is None or msg.automated:
            return None
        header = split_header_block(raw.data)
        found = detect_agreement(
            body_text(raw.data, header),
            subject=msg.subject,
            attachments=_attachment_names(raw.data[header.body_offset :]),
            from_me=sender in self._settings.rules.me,
            automated=msg.automated,
            sender=sender or "",
        )
        if found is None:
            return None
        return self._pending(raw, msg, client, found.phrase, found.excerpt, found.rule)

    def _pending(
        self, raw: RawMessage, msg: Message, client: str, phrase: str, excerpt: str, rule: str
    ) -> PendingArchive:
        return PendingArchive(
            msg.message_id, raw.folder, 0, raw.uid, raw.key, client, phrase, excerpt, rule,
            message_time(msg, self._settings.rules.me),
        )  # fmt: skip

    def consider(self, source: MailSource, raw: RawMessage, msg: Message) -> LedgerEntry | None:
        """Archive ``msg`` at once if it is an agreement; the new entry, or None."""
        decision = self.decide(raw, msg)
        if decision is None or self._archive.has(msg.message_id):
            return None
        valid = source.uidvalidity(raw.folder)
        full = fetch_full(source, raw.folder, raw.uid, valid, raw.key)
        added = self._archive.add_many([_new_entry(decision, full)], now=self._now())
        if added and self._settings.archive_tag_on_server:
            tag_message(source, raw.folder, raw.uid)
        return added[0] if added else None

    def files(self) -> WholeArchiver:
        """The archiver of a Maildir/mbox account (``sync_files``)."""
        return WholeArchiver(self)

    def hook(self, source: MailSource) -> Callable[[RawMessage, Message], None]:
        """``on_message`` for ``sync_source``: a local archive failure never stops the sync."""

        def on_message(raw: RawMessage, msg: Message) -> None:
            try:
                self.consider(source, raw, msg)
            except DataError as exc:
                log.error("archive.failed", message_id=msg.message_id, error=str(exc))

        return on_message

    def deferred(self, source: MailSource) -> DeferredArchiver:
        """The :class:`responsewatch.app.sync.Archiver` for one folder catch-up of ``source``."""
        return DeferredArchiver(self, source)

    # -- carrying out stored decisions ------------------------------------------------------

    def drain(
        self, source: MailSource, sink: SyncSink, folder: FolderRef | None = None
    ) -> list[LedgerEntry]:
        """Archive the stored decisions of ``source``'s account (of one ``folder``): fetched
        by UID set, archived and fsynced per batch, then removed from the store. A crash at
        any point leaves them in the store (the ledger dedupes what was already done)."""
        pending = sink.pending_archive(source.name, folder.name if folder else None)
        done = [p.message_id for p in pending if self._archive.has(p.message_id)]
        if done:
            sink.archive_done(done)
        todo = [p for p in pending if not self._archive.has(p.message_id)]
        groups: dict[tuple[str, int], list[PendingArchive]] = {}
        for p in todo:
            groups.setdefault((p.folder.name, p.uidvalidity), []).append(p)
        added: list[LedgerEntry] = []
        for group in groups.values():
            for i in range(0, len(group), ARCHIVE_BATCH):
                added += self._archive_batch(source, sink, group[i : i + ARCHIVE_BATCH])
        if not added:
            self._archive.sync_head()  # a run killed before its head copy: catch up
        return added

    def _archive_batch(
        self, source: MailSource, sink: SyncSink, batch: Sequence[PendingArchive]
    ) -> list[LedgerEntry]:
        folder, valid = batch[0].folder, batch[0].uidvalidity
        try:
            fulls = fetch_full_many(source, folder, valid, [(p.uid, p.key) for p in batch])
        except SourceUnavailable as exc:
            for p in batch:
                self._failed(sink, p, str(exc))
            return []
        found = [p for p in batch if p.uid in fulls]
        for p in batch:
            if p.uid not in fulls:
                self._failed(sink, p, "no longer in the source")
        added = self._archive.add_many(
            [_new_entry(p, fulls[p.uid]) for p in found], now=self._now()
        )
        sink.archive_done([p.message_id for p in found])
        if self._settings.archive_tag_on_server:
            new = {e.message_id for e in added}
            for p in found:
                if p.message_id in new:
                    tag_message(source, p.folder, p.uid)
        return added

    def _failed(self, sink: SyncSink, p: PendingArchive, why: str) -> None:
        dropped = sink.archive_failed(p.message_id, why, give_up_after=GIVE_UP_AFTER)
        log.warning("archive.fetch_failed", message_id=p.message_id, error=why, dropped=dropped)


def _new_entry(p: PendingArchive, full: bytes) -> NewEntry:
    return NewEntry(full, p.message_id, p.client, p.phrase, p.excerpt, p.rule, p.received_at)


class WholeArchiver:
    """File accounts: the bytes read ARE the whole message, nothing to fetch. Files are
    re-read on every run, so a decision a crash interrupted is simply taken again."""

    def __init__(self, watcher: AgreementWatcher) -> None:
        self._watcher = watcher
        self._items: list[NewEntry] = []

    def see(self, data: bytes, msg: Message) -> None:
        decision = self._watcher.decide(RawMessage(FolderRef("", ""), 0, data), msg)
        if decision is not None and not self._watcher._archive.has(msg.message_id):
            self._items.append(_new_entry(decision, data))

    def flush(self) -> None:
        items, self._items = self._items, []
        if items:
            try:
                self._watcher._archive.add_many(items, now=self._watcher._now())
            except DataError as exc:
                log.error("archive.failed", error=str(exc))


class DeferredArchiver:
    """Decides while the folder streams (pure, cheap; the decision goes into the store with
    the batch), then archives the account's stored decisions once the stream is done."""

    def __init__(self, watcher: AgreementWatcher, source: MailSource) -> None:
        self._watcher = watcher
        self._source = source

    def decide(self, raw: RawMessage, msg: Message) -> PendingArchive | None:
        return self._watcher.decide(raw, msg)

    def flush(self, sink: SyncSink, folder: FolderRef) -> None:
        """The folder's decisions only: each folder's own sync (and connection) does its own,
        so two watchers of one account never fetch the same message."""
        try:
            self._watcher.drain(self._source, sink, folder)
        except (DataError, SourceUnavailable) as exc:  # stays in the store: retried next time
            log.error("archive.failed", account=self._source.name, error=str(exc))


# --- by Message-ID: `archive add` and the $RwAgreement catch-up --------------------------


def _normalise_id(message_id: str) -> str:
    return message_id.strip().removeprefix("<").removesuffix(">").strip()


def _fetch_by_id(app: App, message_id: str) -> bytes:
    """The original bytes from wherever the store saw the message; file accounts re-read."""
    accounts = {a.name: a for a in app.settings.accounts}
    failures: list[str] = []
    for account, folder, uidvalidity, uid in app.store.locations(message_id):
        settings = accounts.get(account)
        if settings is None:
            failures.append(f"account {account!r} is no longer configured")
            continue
        source = app.source_factory(settings)
        try:
            return fetch_full(source, FolderRef(account, folder), uid, uidvalidity)
        except RwError as exc:
            failures.append(str(exc))
        finally:
            source.close()
    from responsewatch.adapters.files import ReadStats, read_messages

    for settings in app.settings.accounts:
        if settings.type in ("maildir", "mbox"):
            for item in read_messages([Path(settings.path)], ReadStats()):
                if parse_message(item.data).message_id == message_id:
                    return item.data
    why = "; ".join(failures) or "not in the store (run `responsewatch sync` first)"
    raise ConfigError(f"MESSAGE_ID {message_id}: cannot fetch the original: {why}")


def add_by_message_id(
    app: App, archive: EvidenceArchive, message_id: str, *, phrase: str = MANUAL
) -> tuple[LedgerEntry, bool]:
    """Archive one message by its Message-ID (``app`` is a bootstrap ``App``)."""
    mid = _normalise_id(message_id)
    existing = archive.find(mid)
    if existing is not None:
        return existing, False
    data = _fetch_by_id(app, mid)
    msg = app.store.message(mid) or parse_message(data)
    client = ClientDirectory(app.settings.rules).client_of(msg.from_addr)
    return archive.add(
        data,
        message_id=mid,
        client=client or msg.from_addr or "",
        phrase=phrase,
        received_at=message_time(msg, app.settings.rules.me),
        now=app.clock.now(),
    )


def archive_new_agreements(
    app: App, archive: EvidenceArchive | None = None, *, lookup: TxtLookup | None = None
) -> list[LedgerEntry]:
    """Archive every message seen with ``$RwAgreement`` that is not archived yet."""
    archive = archive or open_archive(app.settings, lookup, head=app.store)
    added = []
    for mid in sorted(app.store.messages_with_keyword(AGREEMENT_KEYWORD)):
        if archive.has(mid):
            continue
        try:
            entry, new = add_by_message_id(app, archive, mid, phrase=KEYWORD_PHRASE)
        except RwError as exc:  # one unreachable message must not block the others
            log.warning("archive.keyword_failed", message_id=mid, error=str(exc))
            continue
        if new:
            added.append(entry)
    return added


# --- the CLI entry points (cli.py calls these with --config) -----------------------------


def archive_list(config: Path, *, include_rejected: bool = False) -> list[dict[str, Any]]:
    """Agreements in force; ``include_rejected`` adds the rejected ones (``rejected``:
    their reason) so that nothing the ledger holds is hidden from the user."""
    settings = load_settings(config)
    archive = open_archive(settings)
    if not include_rejected:
        return [entry_json(e, archive) for e in archive.entries()]
    every = archive.all_entries()
    rejected = rejections(every)
    out = []
    for e in current_agreements(every, include_rejected=True):
        doc = entry_json(e, archive)
        if e.entry_hash in rejected:
            doc["rejected"] = rejected[e.entry_hash].reason
        out.append(doc)
    return out


@contextlib.contextmanager
def _head_store(settings: Settings) -> Iterator[SqliteStore | None]:
    """The store's copy of the ledger head (read-only), when there is a store."""
    store = None
    if settings.store_path.exists():
        with contextlib.suppress(DataError):
            store = SqliteStore.open(settings.store_path, readonly=True)
    try:
        yield store
    finally:
        if store is not None:
            store.close()


def archive_verify(config: Path, *, lookup: TxtLookup | None = None) -> Iterable[str]:
    settings = load_settings(config)
    with _head_store(settings) as store:
        archive = open_archive(settings, lookup, head=store)
        result = archive.verify()
        result, stamps = check_timestamps(settings, archive, result)
    raise_if_broken(result, archive.root)
    return [*verification_lines(result, archive), *stamps.lines()]


def archive_export(config: Path, directory: Path) -> Iterable[str]:
    settings = load_settings(config)
    with _head_store(settings) as store:
        archive = open_archive(settings, head=store)
        now = datetime.now(UTC)
        result = export_archive(archive, directory, language=settings.language, now=now)
        names = {
            e.seq: f"messages/{entry_file_name(e)}" for e in result.entries if e.kind == AGREEMENT
        }
        result = export_evidence(settings, archive, directory, result, file_name=names, now=now)
    raise_if_broken(result, archive.root)
    return [
        f"exported {len(result.entries)} entries to {directory}",
        *verification_lines(result, archive),
    ]


def archive_reject(config: Path, message_id: str, reason: str) -> Iterable[str]:
    """``archive reject MESSAGE_ID --reason TEXT``: append a rejection entry."""
    app = _graph(load_settings(config))
    try:
        entry = reject(
            open_archive(app.settings, head=app.store), message_id, reason, app.clock.now()
        )
    finally:
        app.close()
    return [
        f"{entry.message_id}: rejected as entry {entry.seq} ({entry.reason}); it leaves the "
        "digest, the metrics and `archive list` (see it with `archive list --all`)"
    ]


def reject(archive: EvidenceArchive, message_id: str, reason: str, now: datetime) -> LedgerEntry:
    mid = _normalise_id(message_id)
    if not reason.strip():
        raise ConfigError("--reason: say why this is not an agreement (kept in the ledger)")
    if not archive.has(mid):
        raise ConfigError(
            f"MESSAGE_ID {mid}: not in the archive (see `responsewatch archive list`)"
        )
    if archive.is_rejected(mid):
        raise ConfigError(f"MESSAGE_ID {mid}: already rejected")
    (entry,) = archive.add_marks(
        [{"kind": REJECTION, "message_id": mid, "reason": reason.strip()}], now=now
    )
    return entry


def reject_marked(app: App, archive: EvidenceArchive) -> list[LedgerEntry]:
    """Reject every archived message the user marked ``$RwNotAgreement`` in their mail client."""
    marked = app.store.messages_with_keyword(NOT_AGREEMENT_KEYWORD)
    marks = [
        {"kind": REJECTION, "message_id": mid, "reason": f"keyword:{NOT_AGREEMENT_KEYWORD}"}
        for mid in sorted(marked)
        if archive.has(mid) and not archive.is_rejected(mid)
    ]
    return archive.add_marks(marks, now=app.clock.now()) if marks else []


def retry_dkim(
    archive: EvidenceArchive, now: datetime, *, after: timedelta = DKIM_RETRY_AFTER
) -> list[LedgerEntry]:
    """Ask DNS again for the entries whose DKIM check met a temporary DNS failure at least
    ``after`` ago (the key may rotate: hours, not days); each verdict is a "dkim" entry."""
    marks = []
    for message_id, sha, archived_at in archive.awaiting_dkim():
        if datetime.fromisoformat(archived_at) > now - after:
            continue
        try:
            raw = archive.read_object(sha)
        except OSError:
            continue  # verify names it
        result = archive.check_dkim(raw)
        if result.result != "temperror":
            marks.append({"kind": DKIM_RECHECK, "message_id": message_id, "dkim": result})
    return archive.add_marks(marks, now=now) if marks else []


def archive_maintenance(app: App, archive: EvidenceArchive) -> None:
    """After each sync: $RwNotAgreement rejections and DKIM retries; never stops the sync."""
    for step in (
        lambda: reject_marked(app, archive),
        lambda: retry_dkim(archive, app.clock.now()),
        lambda: stamp_archive(app.settings, archive, app.clock.now()),  # after the marks
    ):
        try:
            step()
        except RwError as exc:
            log.error("archive_maintenance_failed", error=str(exc))


def archive_add(config: Path, message_id: str) -> Iterable[str]:
    app = _graph(load_settings(config))
    try:
        archive = open_archive(app.settings, head=app.store)
        entry, added = add_by_message_id(app, archive, message_id)
    finally:
        app.close()
    verb = "archived as" if added else "already archived as"
    return [
        f"{entry.message_id}: {verb} entry {entry.seq} (sha256 {entry.sha256}, "
        f"DKIM {entry.dkim.result})"
    ]


@dataclass(slots=True)
class _Graph:
    """The few pieces ``archive add/reject`` need, wired here so this module never imports
    the composition root (which imports it)."""

    settings: Settings
    store: SqliteStore
    clock: SystemClock = field(default_factory=SystemClock)
    source_factory: SourceFactory = make_source

    def close(self) -> None:
        self.store.close()


def _graph(settings: Settings) -> _Graph:
    return _Graph(settings, SqliteStore.open(settings.store_path))

"""SQLite store: header-level facts, cursors, acknowledgements. WAL, migrations by
``PRAGMA user_version``, one writer. The only derived state stored is the conversation
partition (``store_threads``), kept with a fingerprint of the rules it depends on (me,
subject fallback) and rewritten when they change; turns and latencies are recomputed from
the facts, so changed rules (SLA, clients, hours) rewrite history.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from responsewatch.adapters import store_threads
from responsewatch.adapters.private_fs import private_dir, private_file
from responsewatch.core.absence import format_absence
from responsewatch.core.models import Conversation, Message
from responsewatch.errors import DataError
from responsewatch.ports import Cursor, FolderRef, PendingArchive

__all__ = ["MIGRATIONS", "SqliteStore"]

_SEP = "\n"


def _v1_facts(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE messages (
            message_id TEXT PRIMARY KEY,
            from_addr TEXT,
            to_addrs TEXT NOT NULL DEFAULT '',
            cc_addrs TEXT NOT NULL DEFAULT '',
            subject TEXT NOT NULL DEFAULT '',
            date_ts REAL,
            arrival_ts REAL,
            in_reply_to TEXT NOT NULL DEFAULT '',
            refs TEXT NOT NULL DEFAULT '',
            thread_index_guid TEXT,
            provider_thread TEXT,
            automated INTEGER NOT NULL DEFAULT 0,
            auto_reply INTEGER NOT NULL DEFAULT 0,
            thanks_only INTEGER NOT NULL DEFAULT 0,
            warnings TEXT NOT NULL DEFAULT '',
            account TEXT NOT NULL DEFAULT '',
            ingested_at REAL NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE locations (
            account TEXT NOT NULL, folder TEXT NOT NULL, uidvalidity INTEGER NOT NULL,
            uid INTEGER NOT NULL, message_id TEXT NOT NULL,
            PRIMARY KEY (account, folder, uidvalidity, uid))"""
    )
    db.execute("CREATE INDEX locations_by_message ON locations(message_id)")
    db.execute(
        """CREATE TABLE cursors (
            account TEXT NOT NULL, folder TEXT NOT NULL, uidvalidity INTEGER NOT NULL,
            last_uid INTEGER NOT NULL, highest_modseq INTEGER, token TEXT,
            updated_at REAL NOT NULL, PRIMARY KEY (account, folder))"""
    )
    db.execute(
        """CREATE TABLE acks (
            message_id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, at REAL NOT NULL)"""
    )
    db.execute(
        """CREATE TABLE sync_status (
            account TEXT PRIMARY KEY, last_success REAL, messages_ingested INTEGER NOT NULL
            DEFAULT 0)"""
    )
    db.execute(
        """CREATE TABLE sync_errors (
            account TEXT NOT NULL, kind TEXT NOT NULL, count INTEGER NOT NULL DEFAULT 0,
            last_at REAL, PRIMARY KEY (account, kind))"""
    )


def _v2_keywords_and_digests(db: sqlite3.Connection) -> None:
    # IMAP keywords the user sets in their mail client ($RwAck, $RwAgreement), first seen at.
    db.execute(
        """CREATE TABLE keywords (
            message_id TEXT NOT NULL, keyword TEXT NOT NULL, seen_at REAL NOT NULL,
            PRIMARY KEY (message_id, keyword))"""
    )
    # One row per digest day: written before the send ("sending") and after ("sent"), so a
    # restart never sends twice and a missed day is sent once, late.
    db.execute(
        """CREATE TABLE digests (
            day TEXT PRIMARY KEY, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            message_id TEXT, updated_at REAL NOT NULL, error TEXT)"""
    )


def _v_nudges(db: sqlite3.Connection) -> None:
    # One row per nudge and delivery channel: "sending" before the send, "sent" after, or
    # "failed". Only "sent" is final: a "sending" row left by a crash is sent again (for a
    # warning a duplicate beats a miss). The channel is a hash, never the secret URL.
    db.execute(
        """CREATE TABLE nudges (
            kind TEXT NOT NULL, ref TEXT NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, first_at REAL NOT NULL, updated_at REAL NOT NULL,
            error TEXT, PRIMARY KEY (kind, ref, channel))"""
    )


def _v_leave_absence(db: sqlite3.Connection) -> None:
    # The absence an out-of-office reply announces ("FIRST/LAST" local dates, core.absence),
    # read at parse time because bodies are never stored.
    db.execute("ALTER TABLE messages ADD COLUMN absence TEXT NOT NULL DEFAULT ''")


def _v_archive_pending(db: sqlite3.Connection) -> None:
    # Archive decisions taken during a sync, written with the batch's facts and removed once
    # the ledger holds them: what a crash interrupted is finished by the next run.
    db.execute(
        """CREATE TABLE archive_pending (
            message_id TEXT PRIMARY KEY, account TEXT NOT NULL, folder TEXT NOT NULL,
            role TEXT NOT NULL DEFAULT '', uidvalidity INTEGER NOT NULL, uid INTEGER NOT NULL,
            key TEXT NOT NULL DEFAULT '', client TEXT NOT NULL, phrase TEXT NOT NULL,
            excerpt TEXT NOT NULL DEFAULT '', rule TEXT NOT NULL DEFAULT '', received_ts REAL,
            attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, created_at REAL NOT NULL)"""
    )
    db.execute("CREATE INDEX archive_pending_by_account ON archive_pending(account)")
    # A copy of each archive's ledger head, away from the ledger: truncation is detected.
    db.execute(
        """CREATE TABLE archive_head (
            root TEXT PRIMARY KEY, seq INTEGER NOT NULL, entry_hash TEXT NOT NULL,
            updated_at REAL NOT NULL)"""
    )


def _v_meta(db: sqlite3.Connection) -> None:
    # Small named values about the store itself, e.g. the fingerprint of the rules the
    # results were last computed under (app/rebuild.py).
    db.execute(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL)"
    )


def _v_threads(db: sqlite3.Connection) -> None:
    # Persisted conversations (adapters/store_threads.py); filled by the first refresh.
    store_threads.create_tables(db)


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _v1_facts,
    _v2_keywords_and_digests,
    _v_nudges,
    _v_leave_absence,
    _v_archive_pending,
    _v_meta,
    _v_threads,
)


def _newer_store(have: int) -> DataError:
    return DataError(
        f"the store was written by a newer responsewatch (schema {have}, this version "
        f"knows {len(MIGRATIONS)}): upgrade responsewatch"
    )


def migrate(db: sqlite3.Connection) -> None:
    have = db.execute("PRAGMA user_version").fetchone()[0]
    if have > len(MIGRATIONS):
        raise _newer_store(have)
    while have < len(MIGRATIONS):
        # The version is read again INSIDE the write lock: two processes opening a new store
        # at once would otherwise both run step 1 ("table messages already exists").
        db.execute("BEGIN IMMEDIATE")
        try:
            have = db.execute("PRAGMA user_version").fetchone()[0]
            if have > len(MIGRATIONS):
                raise _newer_store(have)
            if have < len(MIGRATIONS):
                MIGRATIONS[have](db)
                have += 1
                db.execute(f"PRAGMA user_version = {have}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _dt(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def _split(value: str) -> tuple[str, ...]:
    return tuple(value.split(_SEP)) if value else ()


_COLUMNS = (
    "message_id, from_addr, to_addrs, cc_addrs, subject, date_ts, arrival_ts, in_reply_to, "
    "refs, thread_index_guid, provider_thread, automated, auto_reply, thanks_only, warnings, "
    "absence"
)


def _row(msg: Message, account: str, now: float) -> tuple[object, ...]:
    return (
        msg.message_id,
        msg.from_addr,
        _SEP.join(msg.to),
        _SEP.join(msg.cc),
        msg.subject,
        _ts(msg.date),
        _ts(msg.arrival),
        _SEP.join(msg.in_reply_to),
        _SEP.join(msg.references),
        msg.thread_index_guid,
        msg.provider_thread,
        int(msg.automated),
        int(msg.auto_reply),
        int(msg.thanks_only),
        _SEP.join(msg.warnings),
        format_absence(msg.absence),
        account,
        now,
    )


def _message(row: tuple[Any, ...]) -> Message:
    (mid, sender, to, cc, subject, date_ts, arrival_ts, irt, refs, guid, thread, automated,
     auto_reply, thanks, warnings, absence) = row  # fmt: skip
    # Positional construction, no conversions for empty columns, and interned strings: this
    # runs 100,000 times per recompute, and the same addresses, subjects and referenced ids
    # recur across rows (interning halves the memory the facts take).
    return Message(
        _intern(mid),
        _intern(sender) if sender is not None else None,
        tuple(map(_intern, to.split(_SEP))) if to else (),
        tuple(map(_intern, cc.split(_SEP))) if cc else (),
        _intern(subject),
        _fromtimestamp(date_ts, UTC) if date_ts is not None else None,
        _fromtimestamp(arrival_ts, UTC) if arrival_ts is not None else None,
        tuple(map(_intern, irt.split(_SEP))) if irt else (),
        tuple(map(_intern, refs.split(_SEP))) if refs else (),
        guid,
        thread,
        bool(automated),
        bool(auto_reply),
        bool(thanks),
        tuple(warnings.split(_SEP)) if warnings else (),
        _absence(absence) if absence else None,
    )


def _absence(text: str) -> tuple[date | None, date] | None:
    first, _, last = text.partition("/")
    try:
        return (date.fromisoformat(first) if first else None), date.fromisoformat(last)
    except ValueError:
        return None


_intern = sys.intern
_fromtimestamp = datetime.fromtimestamp


def _insert_facts(
    db: sqlite3.Connection, messages: Iterable[Message], account: str, now: float
) -> int:
    """INSERT OR IGNORE the facts (one Message-ID, one message) and count the new ones as
    ingested by ``account``; the caller holds the transaction."""
    before = db.total_changes
    db.executemany(
        f"INSERT OR IGNORE INTO messages ({_COLUMNS}, account, ingested_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (_row(m, account, now) for m in messages),
    )
    added = db.total_changes - before
    if account:
        db.execute(
            "INSERT INTO sync_status (account, messages_ingested) VALUES (?, ?) "
            "ON CONFLICT(account) DO UPDATE SET "
            "messages_ingested = messages_ingested + excluded.messages_ingested",
            (account, added),
        )
    return added


def _reason(exc: sqlite3.DatabaseError) -> str:
    text = str(exc)
    if "full" in text:
        return f"{text}: free some space (or raise the quota), then sync again"
    return text


def _insert_pending(db: sqlite3.Connection, pending: Iterable[PendingArchive], now: float) -> None:
    # REPLACE: the newest location wins (after a UIDVALIDITY change the old one is void).
    db.executemany(
        "INSERT OR REPLACE INTO archive_pending (message_id, account, folder, role, uidvalidity, "
        "uid, key, client, phrase, excerpt, rule, received_ts, created_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            (p.message_id, p.folder.account, p.folder.name, p.folder.role, p.uidvalidity, p.uid,
             p.key, p.client, p.phrase, p.excerpt, p.rule, _ts(p.received_at), now)
            for p in pending
        ),
    )  # fmt: skip


class SqliteStore:
    """The one store implementation; open one per thread (connections are not shared)."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, *, readonly: bool = False) -> SqliteStore:
        path = Path(path).expanduser()
        try:
            if readonly:
                db = sqlite3.connect(
                    f"file:{path}?mode=ro",
                    uri=True,
                    isolation_level=None,
                    check_same_thread=False,
                    timeout=30,
                )
            else:
                private_dir(path.parent)
                private_file(path)
                db = sqlite3.connect(
                    path, isolation_level=None, check_same_thread=False, timeout=30
                )
            db.execute("PRAGMA busy_timeout = 30000")
            if not readonly:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
                db.execute("PRAGMA foreign_keys = ON")
                migrate(db)
            else:
                have = db.execute("PRAGMA user_version").fetchone()[0]
                if have != len(MIGRATIONS):
                    raise DataError(f"store {path}: schema {have}, expected {len(MIGRATIONS)}")
        except sqlite3.DatabaseError as exc:
            raise DataError(f"store {path}: {exc} (is it a responsewatch database?)") from exc
        except OSError as exc:
            raise DataError(f"store {path}: cannot be opened ({exc})") from exc
        return cls(db, path)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    # SQLite has already rolled back after some errors (a full disk): a
                    # second ROLLBACK would replace the real cause with "cannot rollback".
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise DataError(f"store {self.path}: {_reason(exc)}") from exc

    # -- facts -------------------------------------------------------------------------

    def add_messages(self, messages: Iterable[Message], *, account: str = "") -> int:
        """Insert new facts; a Message-ID already stored is the same message (kept once)."""
        with self._transaction() as db:
            return _insert_facts(db, messages, account, datetime.now(UTC).timestamp())

    def messages(self) -> Iterator[Message]:
        cursor = self._db.execute(f"SELECT {_COLUMNS} FROM messages")
        while rows := cursor.fetchmany(5000):
            for row in rows:
                yield _message(row)

    def message(self, message_id: str) -> Message | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE message_id = ?", (message_id,)
        ).fetchone()
        return _message(row) if row else None

    def input_changes(self) -> tuple[int, ...]:
        """A value that moves whenever facts, keywords or acks are added (or removed): what
        an analysis reads. Each table only grows, so its largest rowid and its row count
        say so (about 10 ms at 1,000,000 messages); sync bookkeeping, written every pass,
        is left out on purpose."""
        row = self._db.execute(
            "SELECT (SELECT max(rowid) FROM messages), (SELECT count(*) FROM messages), "
            "(SELECT max(rowid) FROM keywords), (SELECT count(*) FROM keywords), "
            "(SELECT max(rowid) FROM acks), (SELECT count(*) FROM acks)"
        ).fetchone()
        return tuple(int(v or 0) for v in row)

    def message_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM messages").fetchone()[0])

    def integrity_check(self) -> str:
        return str(self._db.execute("PRAGMA quick_check").fetchone()[0])

    # -- cursors -----------------------------------------------------------------------

    def cursor(self, folder: FolderRef) -> Cursor | None:
        row = self._db.execute(
            "SELECT uidvalidity, last_uid, highest_modseq, token FROM cursors "
            "WHERE account = ? AND folder = ?",
            (folder.account, folder.name),
        ).fetchone()
        return Cursor(row[0], row[1], row[2], row[3]) if row else None

    def save_batch(
        self,
        folder: FolderRef,
        messages: Sequence[tuple[int, Message]],
        cursor: Cursor,
        pending: Sequence[PendingArchive] = (),
    ) -> int:
        """Facts, their locations, the archive decisions taken on them and the folder's new
        cursor in ONE transaction, so a crash at any point resumes from the last committed
        batch with nothing lost or doubled."""
        now = datetime.now(UTC).timestamp()
        with self._transaction() as db:
            added = _insert_facts(db, (m for _uid, m in messages), folder.account, now)
            if pending:
                _insert_pending(db, pending, now)
            db.executemany(
                "INSERT OR REPLACE INTO locations VALUES (?,?,?,?,?)",
                (
                    (folder.account, folder.name, cursor.uidvalidity, uid, m.message_id)
                    for uid, m in messages
                ),
            )
            db.execute(
                "INSERT OR REPLACE INTO cursors VALUES (?,?,?,?,?,?,?)",
                (
                    folder.account,
                    folder.name,
                    cursor.uidvalidity,
                    cursor.last_uid,
                    cursor.highest_modseq,
                    cursor.token,
                    now,
                ),
            )
            return added

    def reset_folder(self, folder: FolderRef) -> None:
        """Forget a folder's cursor and locations (UIDVALIDITY changed); facts stay."""
        with self._transaction() as db:
            db.execute(
                "DELETE FROM cursors WHERE account = ? AND folder = ?",
                (folder.account, folder.name),
            )
            db.execute(
                "DELETE FROM locations WHERE account = ? AND folder = ?",
                (folder.account, folder.name),
            )

    def locations(self, message_id: str) -> list[tuple[str, str, int, int]]:
        return [
            (str(account), str(folder), int(uidvalidity), int(uid))
            for account, folder, uidvalidity, uid in self._db.execute(
                "SELECT account, folder, uidvalidity, uid FROM locations WHERE message_id = ?",
                (message_id,),
            )
        ]

    def message_ids_at(
        self, folder: FolderRef, uidvalidity: int, uids: Sequence[int]
    ) -> dict[int, str]:
        """uid -> Message-ID of the messages stored at those UIDs of ``folder`` (this
        UIDVALIDITY only: the same UID of an older generation is another message)."""
        out: dict[int, str] = {}
        for i in range(0, len(uids), 500):  # stay under SQLite's bound-parameter limit
            chunk = list(uids[i : i + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                "SELECT uid, message_id FROM locations WHERE account = ? AND folder = ? "
                f"AND uidvalidity = ? AND uid IN ({marks})",
                (folder.account, folder.name, uidvalidity, *chunk),
            )
            out.update((int(uid), str(mid)) for uid, mid in rows)
        return out

    # -- archive work and head ------------------------------------------------------------

    def add_pending_archive(self, pending: Sequence[PendingArchive]) -> None:
        with self._transaction() as db:
            _insert_pending(db, pending, datetime.now(UTC).timestamp())

    def pending_archive(self, account: str, folder: str | None = None) -> list[PendingArchive]:
        """Archive decisions of ``account`` (of one ``folder``) not carried out yet."""
        rows = self._db.execute(
            "SELECT message_id, account, folder, role, uidvalidity, uid, key, client, phrase, "
            "excerpt, rule, received_ts FROM archive_pending WHERE account = ? "
            "AND (? IS NULL OR folder = ?) ORDER BY created_at, folder, uid",
            (account, folder, folder),
        ).fetchall()
        return [
            PendingArchive(
                str(mid), FolderRef(str(acct), str(folder), str(role)), int(valid), int(uid),
                str(key), str(client), str(phrase), str(excerpt), str(rule), _dt(received),
            )
            for mid, acct, folder, role, valid, uid, key, client, phrase, excerpt, rule, received
            in rows
        ]  # fmt: skip

    def archive_done(self, message_ids: Iterable[str]) -> None:
        with self._transaction() as db:
            db.executemany(
                "DELETE FROM archive_pending WHERE message_id = ?", ((m,) for m in message_ids)
            )

    def archive_failed(self, message_id: str, error: str, *, give_up_after: int) -> bool:
        """Count a failed attempt; True (and the decision dropped) after ``give_up_after``."""
        with self._transaction() as db:
            db.execute(
                "UPDATE archive_pending SET attempts = attempts + 1, last_error = ? "
                "WHERE message_id = ?",
                (error[:300], message_id),
            )
            gone = db.execute(
                "DELETE FROM archive_pending WHERE message_id = ? AND attempts >= ?",
                (message_id, give_up_after),
            ).rowcount
        return bool(gone)

    def archive_head(self, root: str) -> tuple[int, str] | None:
        row = self._db.execute(
            "SELECT seq, entry_hash FROM archive_head WHERE root = ?", (root,)
        ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def set_archive_head(self, root: str, seq: int, entry_hash: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO archive_head VALUES (?, ?, ?, ?)",
                (root, seq, entry_hash, datetime.now(UTC).timestamp()),
            )

    # -- acknowledgements and sync status ------------------------------------------------

    def add_ack(self, message_id: str, thread_id: str, at: datetime) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO acks VALUES (?,?,?)", (message_id, thread_id, at.timestamp())
            )

    def acks(self) -> dict[str, datetime]:
        """Explicit acks (`responsewatch ack`) and $RwAck keywords, by message id."""
        found = {
            str(mid): datetime.fromtimestamp(at, UTC)
            for mid, at in self._db.execute(
                "SELECT message_id, seen_at FROM keywords WHERE lower(keyword) = '$rwack'"
            )
        }
        for mid, at in self._db.execute("SELECT message_id, at FROM acks"):
            when = datetime.fromtimestamp(at, UTC)
            if mid not in found or when < found[mid]:
                found[str(mid)] = when
        return found

    # -- keywords ------------------------------------------------------------------------

    def add_keywords(self, items: Iterable[tuple[str, str]], at: datetime) -> int:
        """(message_id, keyword) pairs seen on the server; the first sighting time is kept."""
        with self._transaction() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO keywords VALUES (?, ?, ?)",
                ((mid, kw, at.timestamp()) for mid, kw in items),
            )
            return db.total_changes - before

    def messages_with_keyword(self, keyword: str) -> dict[str, datetime]:
        return {
            str(mid): datetime.fromtimestamp(at, UTC)
            for mid, at in self._db.execute(
                "SELECT message_id, seen_at FROM keywords WHERE lower(keyword) = lower(?)",
                (keyword,),
            )
        }

    # -- meta ----------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO meta VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                "value = excluded.value, updated_at = excluded.updated_at",
                (key, value, datetime.now(UTC).timestamp()),
            )

    # -- persisted conversations (adapters/store_threads.py) ----------------------------

    def _messages_in(self, ids: Sequence[str]) -> list[Message]:
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE message_id IN ({marks})", tuple(ids)
        )
        return [_message(row) for row in rows]

    def refresh_threads(
        self, me: frozenset[str], *, subject_fallback: bool, fingerprint: str, force: bool = False
    ) -> int:
        """Bring the persisted conversations up to date with the facts: only messages
        added since the last refresh are threaded, with what they touch; a changed
        ``fingerprint`` (rules) or ``force`` (a rebuild) rewrites everything. Returns the
        messages re-threaded. Up to date already: nothing is written (a read-only store)."""
        if not force and self.threads_current(fingerprint):
            return 0
        with self._transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'threads_state'").fetchone()
            done, _, built_for = (str(row[0]) if row else "").partition(" ")
            top = int(db.execute("SELECT coalesce(max(rowid), 0) FROM messages").fetchone()[0])
            # Most of the store new (a first backfill): threading it all once is cheaper
            # than closures that each reload the busiest subjects again.
            bulk = done.isdigit() and top - int(done) > max(2000, top // 4)
            if force or bulk or built_for != fingerprint or not done.isdigit():
                facts = {m.message_id: m for m in map(_message, db.execute(
                    f"SELECT {_COLUMNS} FROM messages"))}  # fmt: skip
                store_threads.rewrite(db, facts, me, subject_fallback=subject_fallback)
                count = len(facts)
            else:
                cursor = db.execute(
                    f"SELECT {_COLUMNS} FROM messages WHERE rowid > ?", (int(done),)
                )
                new = {m.message_id: m for m in map(_message, cursor)}
                count = store_threads.update(
                    db, new, self._messages_in, me, subject_fallback=subject_fallback
                )
            db.execute(
                "INSERT INTO meta VALUES ('threads_state', ?, ?) ON CONFLICT(key) DO UPDATE "
                "SET value = excluded.value, updated_at = excluded.updated_at",
                (f"{top} {fingerprint}", datetime.now(UTC).timestamp()),
            )
            return count

    def threads_current(self, fingerprint: str) -> bool:
        """Whether the persisted conversations cover every stored message under these rules."""
        state = self.meta("threads_state") or ""
        done, _, built_for = state.partition(" ")
        top = int(self._db.execute("SELECT coalesce(max(rowid), 0) FROM messages").fetchone()[0])
        return built_for == fingerprint and done == str(top)

    def stored_conversations(
        self, messages: Mapping[str, Message], me: frozenset[str]
    ) -> list[Conversation]:
        return store_threads.stored_conversations(self._db, messages, me)

    # -- digests -------------------------------------------------------------------------

    def digest_state(self, day: str) -> tuple[str, int, str | None] | None:
        """(status, attempts, message_id) of the digest for ``day`` (YYYY-MM-DD), if any."""
        row = self._db.execute(
            "SELECT status, attempts, message_id FROM digests WHERE day = ?", (day,)
        ).fetchone()
        return (str(row[0]), int(row[1]), row[2]) if row else None

    def record_digest(
        self,
        day: str,
        status: str,
        at: datetime,
        *,
        message_id: str | None = None,
        error: str | None = None,
        attempt: bool = False,
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO digests (day, status, attempts, message_id, updated_at, error) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(day) DO UPDATE SET "
                "status = excluded.status, attempts = attempts + excluded.attempts, "
                "message_id = coalesce(excluded.message_id, message_id), "
                "updated_at = excluded.updated_at, error = excluded.error",
                (day, status, int(attempt), message_id, at.timestamp(), error),
            )

    def digests(self) -> list[tuple[str, str, int, str | None]]:
        return [
            (str(d), str(s), int(n), m)
            for d, s, n, m in self._db.execute(
                "SELECT day, status, attempts, message_id FROM digests ORDER BY day"
            )
        ]

    def record_sync_success(self, account: str, at: datetime) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO sync_status (account, last_success) VALUES (?, ?) "
                "ON CONFLICT(account) DO UPDATE SET last_success = excluded.last_success",
                (account, at.timestamp()),
            )

    def record_sync_error(self, account: str, kind: str, at: datetime) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO sync_errors VALUES (?, ?, 1, ?) ON CONFLICT(account, kind) "
                "DO UPDATE SET count = count + 1, last_at = excluded.last_at",
                (account, kind, at.timestamp()),
            )

    def sync_status(self) -> dict[str, tuple[datetime | None, int]]:
        return {
            str(a): (_dt(ts), int(n))
            for a, ts, n in self._db.execute(
                "SELECT account, last_success, messages_ingested FROM sync_status"
            )
        }

    def sync_errors(self) -> dict[tuple[str, str], int]:
        return {
            (str(a), str(k)): int(n)
            for a, k, n in self._db.execute("SELECT account, kind, count FROM sync_errors")
        }

    def mail_from(self, account: str, addresses: Iterable[str]) -> dict[str, tuple[int, int]]:
        """folder -> (messages stored from it, of which from ``addresses``) for ``account``.

        Tells a sync that never saw the user's own mail (Sent folder not read)."""
        wanted = sorted({a.lower() for a in addresses}) or [""]
        marks = ",".join("?" * len(wanted))
        rows = self._db.execute(
            "SELECT l.folder, COUNT(*), COALESCE(SUM(lower(m.from_addr) IN "
            f"({marks})), 0) FROM locations l JOIN messages m USING (message_id) "
            "WHERE l.account = ? GROUP BY l.folder",
            (*wanted, account),
        )
        return {str(folder): (int(n), int(mine)) for folder, n, mine in rows}

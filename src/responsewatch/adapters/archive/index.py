"""The ledger's index, persisted in ``index.sqlite`` beside it so opening a large archive
is cheap: a process reads only the ledger bytes appended since the index last saw it.

The index is a cache of the ledger, never evidence: it records how many ledger bytes it
covers and the SHA-256 of the ledger bytes just before that offset (``tail``). When the
ledger no longer starts with what the index saw (cut, replaced, another file), or the
index file is unreadable, it is rebuilt from the ledger. ``verify`` never uses it. Where
``index.sqlite`` cannot be written (a read-only archive) the same index lives in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import structlog

__all__ = ["INDEX_NAME", "LedgerIndex"]

log = structlog.get_logger("responsewatch.archive")

INDEX_NAME = "index.sqlite"
SCHEMA_VERSION = "1"
_TAIL = 1024  # bytes before the offset whose hash ties the index to the ledger
_AGREEMENT, _REJECTION, _DKIM_RECHECK = "agreement", "rejection", "dkim"
GENESIS = "0" * 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agreements (
    hash TEXT PRIMARY KEY, seq INTEGER NOT NULL, mid TEXT NOT NULL, sha TEXT NOT NULL,
    client TEXT NOT NULL, archived_at TEXT NOT NULL, temperror INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS agreements_mid ON agreements (mid, seq);
CREATE INDEX IF NOT EXISTS agreements_sha ON agreements (sha, seq);
CREATE INDEX IF NOT EXISTS agreements_temperror ON agreements (temperror) WHERE temperror;
CREATE TABLE IF NOT EXISTS marks (target TEXT NOT NULL, kind TEXT NOT NULL,
    PRIMARY KEY (target, kind));
"""


class LedgerIndex:
    """Message-ID / SHA-256 / head lookups over one ledger. Not thread-safe by itself: the
    archive serialises calls with its own lock."""

    def __init__(self, root: Path, ledger: Path, *, persist: bool = True) -> None:
        self.root = root
        self.ledger = ledger
        self._persist = persist
        self._db: sqlite3.Connection | None = None
        self.seq, self.head, self.offset, self._tail = 0, GENESIS, 0, ""
        self._ident: tuple[int, int] | None = None

    # -- opening ----------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._open()
            self._load_meta()
        return self._db

    def _open(self) -> sqlite3.Connection:
        path = self.root / INDEX_NAME
        if self._persist and self.root.is_dir() and not path.is_symlink():
            try:
                return self._open_file(path)
            except (OSError, sqlite3.Error) as exc:
                log.warning("archive.index_unusable", error=str(exc), action="rebuilt")
                for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                    with contextlib.suppress(OSError):
                        name.unlink()
                with contextlib.suppress(OSError, sqlite3.Error):
                    return self._open_file(path)
        db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        db.executescript(_SCHEMA)
        return db

    @staticmethod
    def _open_file(path: Path) -> sqlite3.Connection:
        # Created 0600 before SQLite touches it; its -wal/-shm files take the same mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600))
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            row = db.execute("SELECT v FROM meta WHERE k = 'schema'").fetchone()
            if row is None:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise sqlite3.DatabaseError(f"index schema {row[0]!r}")
            db.execute("SELECT count(*) FROM agreements").fetchone()  # a corrupt file fails here
        except BaseException:
            db.close()
            raise
        return db

    def _load_meta(self) -> None:
        assert self._db is not None
        meta = dict(self._db.execute("SELECT k, v FROM meta").fetchall())
        try:
            self.seq = int(meta.get("seq", 0))
            self.offset = int(meta.get("offset", 0))
            self.head = str(meta.get("head", GENESIS))
            self._tail = str(meta.get("tail", ""))
        except ValueError:
            self._clear()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- keeping up with the ledger ---------------------------------------------------------

    def refresh(self) -> bytes:
        """Index what was appended since; returns an unfinished last line, if any."""
        db = self._conn()
        try:
            info = os.stat(self.ledger)
        except FileNotFoundError:
            if self.offset:
                self._clear()
            return b""
        size, ident = info.st_size, (info.st_dev, info.st_ino)
        # The tail is checked once per process and whenever the file is another one; in
        # between, the ledger only grows (writers append under the archive's lock).
        checked, self._ident = ident == self._ident, ident
        if size < self.offset or (self.offset and not checked and not self._tail_matches()):
            log.info("archive.index_rebuilt", reason="the ledger is not the one indexed")
            self._clear()
        if size == self.offset:
            return b""
        start = self.offset
        with self.ledger.open("rb") as handle:
            handle.seek(start)
            data = handle.read()
        cut = data.rfind(b"\n") + 1
        if cut:
            db.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have indexed these lines meanwhile: start from its state.
                self._load_meta()
                if self.offset != start:
                    db.execute("ROLLBACK")
                    return self.refresh()
                self._apply(db, data[:cut].splitlines())
                self.offset += cut
                self._tail = (
                    hashlib.sha256(data[cut - _TAIL : cut]).hexdigest()
                    if cut >= _TAIL
                    else _tail_hash(self.ledger, self.offset)
                )
                self._save_meta(db)
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                self._load_meta()
                raise
        return data[cut:]

    def _tail_matches(self) -> bool:
        try:
            return _tail_hash(self.ledger, self.offset) == self._tail
        except OSError:
            return False

    def _clear(self) -> None:
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        for table in ("entries", "agreements", "marks"):
            db.execute(f"DELETE FROM {table}")
        self.seq, self.head, self.offset, self._tail = 0, GENESIS, 0, ""
        self._save_meta(db)
        db.execute("COMMIT")

    def _save_meta(self, db: sqlite3.Connection) -> None:
        db.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [
                ("seq", str(self.seq)),
                ("offset", str(self.offset)),
                ("head", self.head),
                ("tail", self._tail),
            ],
        )

    def _apply(self, db: sqlite3.Connection, lines: Iterable[bytes]) -> None:
        entries: list[tuple[int, str]] = []
        agreements: list[tuple[str, int, str, str, str, str, int]] = []
        marks: list[tuple[str, str]] = []
        for line in lines:
            self.seq += 1
            try:
                doc: Any = json.loads(line)
                self.head = str(doc["entry_hash"])
                entries.append((self.seq, self.head))
                kind = doc.get("kind") or _AGREEMENT
                if kind == _AGREEMENT:
                    temperror = int(doc["dkim"].get("result") == "temperror")
                    agreements.append(
                        (
                            self.head,
                            int(doc["seq"]),
                            str(doc["message_id"]),
                            str(doc["sha256"]),
                            str(doc.get("client", "")),
                            str(doc["archived_at"]),
                            temperror,
                        )
                    )
                elif kind in (_REJECTION, _DKIM_RECHECK):
                    marks.append((str(doc.get("target", "")), kind))
            except (ValueError, KeyError, TypeError, AttributeError):
                entries.append((self.seq, ""))
                self.head = "?"  # unreadable: verify names it; the chain cannot go on from it
        db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?)", entries)
        db.executemany("INSERT OR IGNORE INTO agreements VALUES (?, ?, ?, ?, ?, ?, ?)", agreements)
        db.executemany("INSERT OR IGNORE INTO marks VALUES (?, ?)", marks)

    # -- lookups ----------------------------------------------------------------------------

    def first(self, message_id: str) -> tuple[int, str, str] | None:
        """(seq, sha256, entry hash) of the first agreement entry for ``message_id``."""
        row = (
            self._conn()
            .execute(
                "SELECT seq, sha, hash FROM agreements WHERE mid = ? ORDER BY seq LIMIT 1",
                (message_id,),
            )
            .fetchone()
        )
        return (int(row[0]), str(row[1]), str(row[2])) if row else None

    def message_id_of(self, sha256: str) -> str | None:
        row = (
            self._conn()
            .execute("SELECT mid FROM agreements WHERE sha = ? ORDER BY seq LIMIT 1", (sha256,))
            .fetchone()
        )
        return str(row[0]) if row else None

    def is_rejected(self, entry_hash: str) -> bool:
        row = (
            self._conn()
            .execute("SELECT 1 FROM marks WHERE target = ? AND kind = ?", (entry_hash, _REJECTION))
            .fetchone()
        )
        return row is not None

    def awaiting_dkim(self) -> list[tuple[str, str, str]]:
        rows = self._conn().execute(
            "SELECT mid, sha, archived_at FROM agreements a WHERE temperror AND NOT EXISTS "
            "(SELECT 1 FROM marks m WHERE m.target = a.hash AND m.kind = ?) ORDER BY seq",
            (_DKIM_RECHECK,),
        )
        return [(str(m), str(s), str(at)) for m, s, at in rows]

    def counts_by_client(self) -> dict[str, int]:
        rows = self._conn().execute(
            "SELECT client, count(*) FROM agreements a WHERE NOT EXISTS "
            "(SELECT 1 FROM marks m WHERE m.target = a.hash AND m.kind = ?) GROUP BY client",
            (_REJECTION,),
        )
        return {str(c): int(n) for c, n in rows}

    def hash_at(self, seq: int) -> str:
        row = self._conn().execute("SELECT hash FROM entries WHERE seq = ?", (seq,)).fetchone()
        return str(row[0]) if row else ""


def _tail_hash(ledger: Path, offset: int) -> str:
    with ledger.open("rb") as handle:
        start = max(0, offset - _TAIL)
        handle.seek(start)
        return hashlib.sha256(handle.read(offset - start)).hexdigest()

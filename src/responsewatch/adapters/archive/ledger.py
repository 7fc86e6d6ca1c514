"""The written-agreement evidence archive: original bytes, an append-only hash chain, DKIM.

Layout under ``root`` (``settings.archive_path``)::

    objects/<sha[:2]>/<sha>.eml   the raw message, byte for byte, named by its SHA-256
    ledger.jsonl                  one canonical-JSON entry per line, each holding the
                                  previous entry's hash (``prev_hash``) and its own
    pending/<sha>.json            write-ahead intent: an entry about to be appended

A batch write is: each eml to a temp file renamed into place, one intent naming the
batch's entries, ONE filesystem sync, the ledger lines appended in one write and fsynced,
the intent removed. A crash at any point leaves either no trace of the batch or an intent
that ``recover()`` (run before every write) turns into the entries, so there is never half
an entry and the next run completes it. The cost of an addition does not depend on the
archive's size: the writer keeps the head and the Message-ID/SHA-256 index in memory and
reads only what another writer appended since.

Entries are agreements (``kind`` "agreement"), user rejections of one ("rejection") and
later DKIM verdicts after a temporary DNS failure ("dkim"); each names its target by
entry hash. The head (sequence, hash) is also kept by a ``LedgerHead`` (the store), so
deleting the newest entries is detected. DKIM: see ``dkim``; reading and tagging the
originals: ``source``.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import os
import re
import sqlite3
import stat
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from responsewatch.adapters.archive.dkim import (
    DkimResult,
    TxtLookup,
    from_domain,
    recorded_lookup,
    system_lookup,
    verdict,
    verify_dkim,
)
from responsewatch.adapters.archive.index import LedgerIndex
from responsewatch.errors import DataError
from responsewatch.ports import LedgerHead

__all__ = [
    "AGREEMENT",
    "AGREEMENT_KEYWORD",
    "ARCHIVED_KEYWORD",
    "DKIM_RECHECK",
    "GENESIS",
    "NOT_AGREEMENT_KEYWORD",
    "REJECTION",
    "DkimResult",
    "EvidenceArchive",
    "LedgerEntry",
    "NewEntry",
    "Problem",
    "TxtLookup",
    "VerifyResult",
    "agreements_by_client",
    "current_agreements",
    "rejections",
    "system_lookup",
    "verdict",
    "verify_dkim",
]

log = structlog.get_logger("responsewatch.archive")

GENESIS = "0" * 64  # prev_hash of the first entry
LEDGER_VERSION = 1
AGREEMENT_KEYWORD = "$RwAgreement"  # set by the user in their mail client: "archive this"
ARCHIVED_KEYWORD = "$RwArchived"  # set by us, only with archive.tag_on_server = true
NOT_AGREEMENT_KEYWORD = "$RwNotAgreement"  # set by the user: "this detection is wrong"
AGREEMENT, REJECTION, DKIM_RECHECK = "agreement", "rejection", "dkim"
_SHA_RE = re.compile(r"[0-9a-f]{64}")
FILE_MODE, DIR_MODE = 0o600, 0o700  # evidence is private whatever the umask


# --- values -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    seq: int
    archived_at: str
    message_id: str
    client: str
    phrase: str
    excerpt: str
    received_at: str | None
    sha256: str
    size: int
    dkim: DkimResult
    prev_hash: str
    entry_hash: str
    v: int = LEDGER_VERSION
    # Absent from entries written before they existed (their hash covers what they hold).
    kind: str = AGREEMENT
    rule: str = ""  # the detector rule that fired
    target: str = ""  # rejection / dkim: entry_hash of the agreement entry concerned
    reason: str = ""  # rejection: the user's reason

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> LedgerEntry:
        optional = {"excerpt": "", "v": LEDGER_VERSION, **_OPTIONAL}
        values: dict[str, Any] = {
            k: doc[k] if k not in optional else (doc.get(k) or optional[k]) for k in cls.__slots__
        }
        values["dkim"] = DkimResult(
            **{k: str(doc["dkim"].get(k, "")) for k in DkimResult.__slots__}
        )
        return cls(**values)


_OPTIONAL: dict[str, Any] = {"kind": AGREEMENT, "rule": "", "target": "", "reason": ""}


@dataclass(frozen=True, slots=True)
class NewEntry:
    """One message to archive (``EvidenceArchive.add_many``)."""

    raw: bytes
    message_id: str
    client: str
    phrase: str
    excerpt: str = ""
    rule: str = ""
    received_at: datetime | None = None
    dkim_result: DkimResult | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    seq: int  # position in the ledger (1-based), whatever the entry claims
    message_id: str
    reason: str

    def __str__(self) -> str:
        who = f" ({self.message_id})" if self.message_id else ""
        return f"entry {self.seq}{who}: {self.reason}"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    entries: tuple[LedgerEntry, ...]
    problems: tuple[Problem, ...]
    head: str  # entry_hash of the last entry: publish it elsewhere to pin the whole chain
    dkim_rechecked: int = 0
    warnings: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems


def canonical(doc: dict[str, Any]) -> bytes:
    """The one byte form that is hashed and written: sorted keys, no spaces, UTF-8."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(doc: dict[str, Any]) -> str:
    return hashlib.sha256(
        canonical({k: v for k, v in doc.items() if k != "entry_hash"})
    ).hexdigest()


# --- files ------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mkdir(path: Path) -> None:
    """``path`` and its missing parents inside the archive, 0700 whatever the umask."""
    if path.is_dir():
        return
    if not path.parent.is_dir():
        _mkdir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, DIR_MODE)
    os.chmod(path, DIR_MODE)


def _write_file(path: Path, data: bytes, *, sync: bool) -> None:
    """Temp file renamed over ``path``: all or nothing; fsynced only when ``sync``."""
    _mkdir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _write_synced(tmp, data, os.O_TRUNC, sync=sync)
    os.replace(tmp, path)
    if sync:
        _fsync_dir(path.parent)


def _write_atomic(path: Path, data: bytes) -> None:
    _write_file(path, data, sync=True)


def _write_synced(path: Path, data: bytes, mode: int, *, sync: bool = True) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | mode, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # a file left by an older version (0644) is closed too
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _append_line(path: Path, line: bytes) -> None:
    _write_synced(path, line, os.O_APPEND)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_syncfs: Any = None
with contextlib.suppress(OSError, AttributeError):
    _syncfs = ctypes.CDLL(None, use_errno=True).syncfs


def _sync_all(root: Path, written: Sequence[Path]) -> None:
    """Make every file written by this batch durable: one ``syncfs`` of the archive's
    filesystem (Linux), else an fsync per file and directory."""
    if _syncfs is not None:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if _syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    for path in written:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for directory in {p.parent for p in written}:
        _fsync_dir(directory)


def _read_regular(path: Path) -> bytes:
    """The bytes of a regular file; a symlink is refused (never follow it out of the archive)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


# --- the archive ------------------------------------------------------------------------


class EvidenceArchive:
    """Append-only, content-addressed, hash-chained. Nothing here ever rewrites an entry.

    Writers serialise on an ``flock`` so the daemon and ``archive add`` can run together;
    readers need no lock (they ignore an unfinished last line).
    """

    def __init__(
        self,
        root: Path,
        *,
        lookup: TxtLookup = system_lookup,
        head: LedgerHead | None = None,
        persist_index: bool = True,
    ) -> None:
        self.root = root
        self.ledger = root / "ledger.jsonl"
        self._lookup = lookup
        self._head_store = head
        self._swept = False
        self._index_lock = threading.RLock()
        # Persisted beside the ledger: opening a 100k-entry archive reads only what is new.
        self._index = LedgerIndex(root, self.ledger, persist=persist_index)

    def object_path(self, sha256: str) -> Path:
        return self.root / "objects" / sha256[:2] / f"{sha256}.eml"

    def read_object(self, sha256: str) -> bytes:
        """The archived bytes; a symlink (file or directory) inside ``objects/`` is refused."""
        path = self.object_path(sha256)
        if path.parent.is_symlink() or (self.root / "objects").is_symlink():
            raise OSError(f"objects/{sha256[:2]} is a symlink: refused")
        return _read_regular(path)

    # -- the in-memory index ----------------------------------------------------------------

    def _refresh(self) -> bytes:
        """Read what was appended since last time; returns an unfinished last line, if any.
        The daemon's watchers share one archive: one thread at a time moves the offset."""
        with self._index_lock:
            return self._refresh_locked()

    def _refresh_locked(self) -> bytes:
        try:
            return self._index.refresh()
        except (OSError, sqlite3.Error) as exc:
            raise DataError(f"archive {self.root}: cannot read the ledger ({exc})") from exc

    @property
    def _seq(self) -> int:
        return self._index.seq

    @property
    def _head(self) -> str:
        return self._index.head

    def has(self, message_id: str) -> bool:
        """Whether an agreement entry for ``message_id`` exists (an indexed lookup)."""
        with self._index_lock:
            self._refresh()
            return self._index.first(message_id) is not None

    def head(self) -> tuple[int, str]:
        """(sequence, entry hash) of the newest complete entry."""
        with self._index_lock:
            self._refresh()
            return self._seq, self._head

    def awaiting_dkim(self) -> list[tuple[str, str, str]]:
        """(message_id, sha256, archived_at) of the entries whose DKIM check met a temporary
        DNS failure and got no verdict since, from the index (no ledger read)."""
        with self._index_lock:
            self._refresh()
            return self._index.awaiting_dkim()

    def counts_by_client(self) -> dict[str, int]:
        """Agreements in force (rejected ones left out) per client, from the index."""
        with self._index_lock:
            self._refresh()
            return self._index.counts_by_client()

    def is_rejected(self, message_id: str) -> bool:
        with self._index_lock:
            self._refresh()
            found = self._index.first(message_id)
            return found is not None and self._index.is_rejected(found[2])

    def close(self) -> None:
        """Close the index file (the archive reopens it when used again)."""
        with self._index_lock:
            self._index.close()

    def verdict(self, entry: LedgerEntry) -> str:
        """pass | pass_unaligned | fail | temperror | none. Entries written before alignment
        was recorded get their From domain from the archived message."""
        dkim_result = entry.dkim
        if dkim_result.result == "pass" and not dkim_result.from_domain:
            with contextlib.suppress(OSError):
                author = from_domain(self.read_object(entry.sha256))
                dkim_result = DkimResult(**{**asdict(dkim_result), "from_domain": author})
        return verdict(dkim_result)

    def check_dkim(self, raw: bytes) -> DkimResult:
        """A DKIM check now, through this archive's DNS lookup (the retry of a temperror)."""
        return verify_dkim(raw, self._lookup)

    # -- reading ----------------------------------------------------------------------------

    def _lines(self) -> tuple[list[bytes], bytes]:
        """Complete ledger lines, and the bytes of an unfinished last line (crash mid-append)."""
        try:
            data = self.ledger.read_bytes()
        except FileNotFoundError:
            return [], b""
        except OSError as exc:
            raise DataError(f"archive {self.root}: cannot read the ledger ({exc})") from exc
        cut = data.rfind(b"\n") + 1
        return data[:cut].splitlines(), data[cut:]

    def all_entries(self) -> list[LedgerEntry]:
        """Every entry that parses, of every kind (use ``verify`` to know they are intact)."""
        out = []
        for line in self._lines()[0]:
            with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
                out.append(LedgerEntry.from_json(json.loads(line)))
        return out

    def entries(self, *, include_rejected: bool = False) -> list[LedgerEntry]:
        """The agreement entries, each with its latest DKIM verdict; rejected ones left out
        unless ``include_rejected``."""
        return current_agreements(self.all_entries(), include_rejected=include_rejected)

    def find(self, message_id: str) -> LedgerEntry | None:
        if not self.has(message_id):
            return None
        return next(
            (e for e in self.entries(include_rejected=True) if e.message_id == message_id), None
        )

    # -- writing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        _mkdir(self.root)
        fd = os.open(self.root / ".lock", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def add(
        self,
        raw: bytes,
        *,
        message_id: str,
        client: str,
        phrase: str,
        now: datetime,
        received_at: datetime | None = None,
        excerpt: str = "",
        dkim_result: DkimResult | None = None,
        rule: str = "",
    ) -> tuple[LedgerEntry, bool]:
        """Archive ``raw``; (entry, True) if new, (the existing entry, False) if already there."""
        item = NewEntry(raw, message_id, client, phrase, excerpt, rule, received_at, dkim_result)
        added = self.add_many([item], now=now)
        if added:
            return added[0], True
        sha = _sha256(raw)
        with self._index_lock:
            known = self._index.message_id_of(sha)
        mid = message_id if self.has(message_id) else known or message_id
        existing = self.find(mid)
        if existing is None:  # pragma: no cover - the index said it is there
            raise DataError(f"archive {self.root}: entry for {message_id} vanished")
        return existing, False

    def add_many(self, items: Sequence[NewEntry], *, now: datetime) -> list[LedgerEntry]:
        """Archive a batch: one filesystem sync and one ledger fsync for all of it. Messages
        already archived (same Message-ID or same bytes) are skipped; returns the new entries."""
        try:
            with self._locked():
                self._recover()
                metas: list[dict[str, Any]] = []
                written: list[Path] = []
                seen_ids: set[str] = set()
                seen_shas: set[str] = set()
                for item in items:
                    sha = _sha256(item.raw)
                    if item.message_id in seen_ids or sha in seen_shas or self._known(item, sha):
                        continue
                    seen_ids.add(item.message_id)
                    seen_shas.add(sha)
                    result = item.dkim_result or verify_dkim(item.raw, self._lookup)
                    path = self.object_path(sha)
                    if not self._intact(path, sha):
                        _write_file(path, item.raw, sync=False)  # an orphan is simply re-linked
                        written.append(path)
                    metas.append(_meta(item, sha, result, now))
                if not metas:
                    return []
                intent = self.root / "pending" / f"batch-{_sha256(canonical_list(metas))}.json"
                _write_file(intent, canonical_list(metas), sync=False)
                _sync_all(self.root, [*written, intent])
                entries = self._append(metas)
                intent.unlink()
        except OSError as exc:
            raise DataError(f"archive {self.root}: cannot write ({exc})") from exc
        for entry in entries if len(entries) <= 3 else ():
            log.info(
                "archive.added",
                seq=entry.seq,
                message_id=entry.message_id,
                client=entry.client,
                phrase=entry.phrase,
                rule=entry.rule,
                dkim=verdict(entry.dkim),
            )
        if len(entries) > 3:  # a backfill: one line per batch, not per entry
            log.info(
                "archive.added",
                count=len(entries),
                seq=f"{entries[0].seq}-{entries[-1].seq}",
                dkim=dict(Counter(verdict(e.dkim) for e in entries)),
            )
        return entries

    def _known(self, item: NewEntry, sha: str) -> bool:
        with self._index_lock:
            index = self._index
            return index.first(item.message_id) is not None or index.message_id_of(sha) is not None

    def _intact(self, path: Path, sha: str) -> bool:
        try:
            return _sha256(_read_regular(path)) == sha
        except OSError:
            return False

    def add_marks(self, marks: Sequence[dict[str, Any]], *, now: datetime) -> list[LedgerEntry]:
        """Append rejection / DKIM entries (each a dict with kind, target message_id and
        fields); a target that is not an agreement entry is skipped."""
        try:
            with self._locked():
                self._recover()
                metas = []
                for mark in marks:
                    with self._index_lock:
                        found = self._index.first(str(mark["message_id"]))
                        rejected = found is not None and self._index.is_rejected(found[2])
                    if found is None:
                        continue
                    if mark["kind"] == REJECTION and rejected:
                        continue  # rejected once is enough
                    _seq, sha, target = found
                    metas.append(
                        {
                            "archived_at": now.astimezone(UTC).isoformat(),
                            "message_id": mark["message_id"],
                            "client": mark.get("client", ""),
                            "phrase": mark.get("phrase", ""),
                            "excerpt": "",
                            "received_at": None,
                            "sha256": sha,
                            "size": int(mark.get("size", 0)),
                            "dkim": asdict(mark.get("dkim") or DkimResult("none")),
                            "kind": mark["kind"],
                            "target": target,
                            "reason": str(mark.get("reason", ""))[:2000],
                            "v": LEDGER_VERSION,
                        }
                    )
                entries = self._append(metas) if metas else []
        except OSError as exc:
            raise DataError(f"archive {self.root}: cannot write ({exc})") from exc
        for entry in entries:
            log.info("archive.marked", kind=entry.kind, seq=entry.seq, message_id=entry.message_id)
        return entries

    def _append(self, metas: Sequence[dict[str, Any]]) -> list[LedgerEntry]:
        lines, docs = [], []
        seq, prev = self._seq, self._head
        for meta in metas:
            seq += 1
            doc = {**meta, "seq": seq, "prev_hash": prev}
            doc["entry_hash"] = prev = entry_hash(doc)
            docs.append(doc)
            lines.append(canonical(doc) + b"\n")
        _append_line(self.ledger, b"".join(lines))
        self._refresh()
        self._publish_head()
        return [LedgerEntry.from_json(d) for d in docs]

    def sync_head(self) -> None:
        """Bring the store's copy of the head up to date (a crash may have left it behind)."""
        self._refresh()
        self._publish_head()

    def _publish_head(self) -> None:
        # After the fsync: a copy that is behind the ledger is fine, one ahead is not. A copy
        # the ledger no longer holds is evidence of truncation: never overwritten.
        if self._head_store is None:
            return
        root = str(self.root)
        recorded = self._head_store.archive_head(root)
        if recorded == (self._seq, self._head):
            return
        if recorded is not None:
            seq, want = recorded
            with self._index_lock:
                at = self._index.hash_at(seq) if seq else ""
            kept = seq <= self._seq and (seq == 0 or at == want)
            if not kept:
                log.error("archive.head_mismatch", recorded_seq=seq, ledger_seq=self._seq)
                return
        self._head_store.set_archive_head(root, self._seq, self._head)

    def recover(self) -> list[str]:
        """Finish what a crash interrupted; returns what was done (empty when nothing)."""
        try:
            with self._locked():
                return self._recover()
        except OSError as exc:
            raise DataError(f"archive {self.root}: cannot recover ({exc})") from exc

    def _recover(self) -> list[str]:
        done: list[str] = []
        tail = self._refresh()
        if tail:
            done.append(self._settle_tail(tail))
            self._refresh()
        # Canonical JSON starts with "archived_at" (a batch with "[{"): sorting by content
        # keeps arrival order.
        pending = sorted((self.root / "pending").glob("*.json"), key=lambda p: p.read_bytes())
        for intent in pending:
            try:
                doc = json.loads(intent.read_bytes())
            except ValueError:
                doc = None
            metas = doc if isinstance(doc, list) else [doc] if isinstance(doc, dict) else []
            todo: list[dict[str, Any]] = []
            for meta in metas:
                sha = str(meta.get("sha256", "")) if isinstance(meta, dict) else ""
                with self._index_lock:
                    known = self._index.message_id_of(sha) is not None
                if known or any(m["sha256"] == sha for m in todo):
                    done.append(f"entry for {sha[:12]} already in the ledger")
                elif _SHA_RE.fullmatch(sha) and self._intact(self.object_path(sha), sha):
                    todo.append(meta)
                else:
                    done.append(f"dropped an entry of {intent.name}: its eml never reached disk")
            if todo:
                for entry in self._append(todo):
                    done.append(f"completed interrupted entry {entry.seq} ({entry.message_id})")
            intent.unlink()
        if not self._swept:  # temp files of a crash: once per process, not per batch
            for tmp in self.root.glob("**/.*.tmp"):
                tmp.unlink()
            self._swept = True
        if pending:
            _fsync_dir(self.root / "pending")
        for line in done:
            log.warning("archive.recovered", action=line)
        return done

    def _settle_tail(self, tail: bytes) -> str:
        """An unfinished last line: complete it if it is a whole valid entry, else set aside."""
        with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
            doc = json.loads(tail)
            if doc["prev_hash"] == self._head and doc["entry_hash"] == entry_hash(doc):
                _append_line(self.ledger, b"\n")
                return f"completed the newline of entry {doc['seq']}"
        # Never destroy bytes of an evidence file: keep them beside the ledger.
        kept = self.root / f"ledger.partial-{_sha256(tail)[:12]}"
        _write_atomic(kept, tail)
        with self.ledger.open("r+b") as handle:
            handle.truncate(self.ledger.stat().st_size - len(tail))
            handle.flush()
            os.fsync(handle.fileno())
        return f"set aside an unfinished ledger line ({len(tail)} bytes) in {kept.name}"

    # -- verification -----------------------------------------------------------------------

    def verify(self) -> VerifyResult:
        """Re-hash every eml and entry, walk the chain, re-check DKIM from the recorded keys,
        compare the head with the store's copy, look for symlinks among the objects."""
        lines, tail = self._lines()
        problems: list[Problem] = []
        entries: list[LedgerEntry] = []
        prev = GENESIS
        rechecked = 0
        by_hash: dict[str, LedgerEntry] = {}
        for pos, line in enumerate(lines, start=1):
            try:
                doc = json.loads(line)
                entry = LedgerEntry.from_json(doc)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                problems.append(Problem(pos, "", f"unreadable ledger line ({exc})"))
                prev = "?"
                continue
            entries.append(entry)
            reasons = _chain_problems(entry, doc, pos, prev)
            prev = entry.entry_hash
            if entry.kind == AGREEMENT:
                by_hash[entry.entry_hash] = entry
            elif entry.target not in by_hash or by_hash[entry.target].sha256 != entry.sha256:
                reasons.append(f"{entry.kind} entry names no earlier agreement entry")
            rechecked += entry.dkim.result == "pass"
            reasons += self._content_problems(entry)
            problems += [Problem(pos, entry.message_id, r) for r in reasons]
        problems += self._head_problems(lines)
        problems += [Problem(0, "", f"not a regular file in objects/: {p}") for p in self.links()]
        warnings: list[str] = []
        if tail:
            warnings.append(
                f"unfinished last ledger line ({len(tail)} bytes) from an interrupted write: "
                "the next archive run completes it"
            )
        never = [e for e in current_agreements(entries) if e.dkim.result == "temperror"]
        if never:
            warnings.append(
                f"{len(never)} entr{'y' if len(never) == 1 else 'ies'} never got a DKIM verdict "
                "(DNS unavailable; retried later): "
                + ", ".join(f"{e.seq} ({e.message_id})" for e in never[:20])
            )
        return VerifyResult(tuple(entries), tuple(problems), prev, rechecked, tuple(warnings))

    def _head_problems(self, lines: list[bytes]) -> list[Problem]:
        recorded = (
            self._head_store.archive_head(str(self.root)) if self._head_store is not None else None
        )
        if recorded is None:
            return []
        seq, want = recorded
        if seq > len(lines):
            return [
                Problem(
                    seq,
                    "",
                    f"truncated chain: the store recorded {seq} entries (head {want[:16]}), "
                    f"the ledger holds {len(lines)}: the newest entries were deleted",
                )
            ]
        with contextlib.suppress(ValueError, KeyError, TypeError, IndexError):
            if seq and json.loads(lines[seq - 1])["entry_hash"] == want:
                return []
        return [Problem(seq, "", "the entry the store recorded as head is not in the ledger")]

    def links(self) -> list[str]:
        """Paths under ``objects/`` that are not plain files or directories (symlinks...)."""
        out = []
        base = self.root / "objects"
        for dirpath, dirnames, filenames in os.walk(base):
            for name in [*dirnames, *filenames]:
                path = Path(dirpath) / name
                mode = path.lstat().st_mode
                if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    out.append(str(path.relative_to(self.root)))
        return sorted(out)

    def _content_problems(self, entry: LedgerEntry) -> list[str]:
        try:
            raw = self.read_object(entry.sha256)
        except OSError as exc:
            if self.object_path(entry.sha256).is_symlink():
                return [f"archived message {entry.sha256}.eml is a symlink: refused"]
            return [f"archived message {entry.sha256}.eml is missing ({exc.strerror or exc})"]
        actual = _sha256(raw)
        if actual != entry.sha256:
            return [
                f"archived message bytes changed: SHA-256 is {actual}, ledger says {entry.sha256}"
            ]
        if entry.dkim.result != "pass":
            return []  # nothing was claimed, nothing to re-prove
        want = (entry.dkim.domain, entry.dkim.selector)
        again = verify_dkim(raw, recorded_lookup(entry.dkim), want=want)
        if again.result != "pass":
            return [f"DKIM signature no longer verifies against the recorded key ({again.detail})"]
        return []


def canonical_list(docs: Sequence[dict[str, Any]]) -> bytes:
    text = json.dumps(list(docs), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode()


def _meta(item: NewEntry, sha: str, result: DkimResult, now: datetime) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "archived_at": now.astimezone(UTC).isoformat(),
        "message_id": item.message_id,
        "client": item.client,
        "phrase": item.phrase,
        "excerpt": item.excerpt,
        "received_at": item.received_at.astimezone(UTC).isoformat() if item.received_at else None,
        "sha256": sha,
        "size": len(item.raw),
        "dkim": asdict(result),
        "v": LEDGER_VERSION,
    }
    if item.rule:
        meta["rule"] = item.rule
    return meta


def current_agreements(
    entries: Sequence[LedgerEntry], *, include_rejected: bool = False
) -> list[LedgerEntry]:
    """The agreement entries with the newest DKIM verdict of each (a later "dkim" entry
    replaces a ``temperror``), without the rejected ones unless asked."""
    rejected = {e.target for e in entries if e.kind == REJECTION}
    rechecked = {e.target: e.dkim for e in entries if e.kind == DKIM_RECHECK}
    out = []
    for e in entries:
        if e.kind != AGREEMENT or (e.entry_hash in rejected and not include_rejected):
            continue
        newer = rechecked.get(e.entry_hash)
        out.append(e if newer is None else _with_dkim(e, newer))
    return out


def rejections(entries: Sequence[LedgerEntry]) -> dict[str, LedgerEntry]:
    """target entry hash -> its rejection entry."""
    return {e.target: e for e in entries if e.kind == REJECTION}


def _with_dkim(entry: LedgerEntry, result: DkimResult) -> LedgerEntry:
    values = {k: getattr(entry, k) for k in LedgerEntry.__slots__}
    values["dkim"] = result
    return LedgerEntry(**values)


def _chain_problems(entry: LedgerEntry, doc: dict[str, Any], pos: int, prev: str) -> list[str]:
    out = []
    if entry.seq != pos:
        out.append(f"sequence number {entry.seq} at position {pos}")
    if entry.prev_hash != prev:
        out.append("previous-entry hash does not match: an entry was removed, inserted or moved")
    if entry_hash(doc) != entry.entry_hash:
        out.append("entry hash does not match its content: the ledger line was edited")
    return out


def agreements_by_client(archive_path: Path) -> dict[str, int]:
    """Archived agreements per client (rejected ones left out), for
    ``responsewatch_agreements_archived_total``."""
    archive = _COUNTED.get(archive_path)
    if archive is None:  # kept between scrapes: each reads only what was appended since
        archive = _COUNTED[archive_path] = EvidenceArchive(archive_path)
    return archive.counts_by_client()


_COUNTED: dict[Path, EvidenceArchive] = {}

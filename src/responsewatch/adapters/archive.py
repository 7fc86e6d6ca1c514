"""The written-agreement evidence archive: original bytes, an append-only hash chain, DKIM.

Layout under ``root`` (``settings.archive_path``)::

    objects/<sha[:2]>/<sha>.eml   the raw message, byte for byte, named by its SHA-256
    ledger.jsonl                  one canonical-JSON entry per line, each holding the
                                  previous entry's hash (``prev_hash``) and its own
    pending/<sha>.json            write-ahead intent: an entry about to be appended

A write is: eml to a temp file, fsync, rename, fsync the directory; intent likewise;
ledger line appended and fsynced; intent removed. A crash at any point leaves either no
trace of the entry or an intent that ``recover()`` (run before every write) turns into
the entry, so there is never half an entry and the next run completes it.

DKIM is verified when a message is archived; the domain, selector and the exact DNS TXT
record used are kept in the entry, so ``verify()`` re-checks the signature against that
recorded key: the proof survives the sender's key rotation.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dkim  # type: ignore[import-untyped]
import structlog
from dkim import dnsplug

from responsewatch.errors import DataError, SourceUnavailable
from responsewatch.ports import Cursor, FolderRef, MailSource

__all__ = [
    "AGREEMENT_KEYWORD",
    "ARCHIVED_KEYWORD",
    "GENESIS",
    "DkimResult",
    "EvidenceArchive",
    "LedgerEntry",
    "Problem",
    "TxtLookup",
    "VerifyResult",
    "agreements_by_client",
    "fetch_full",
    "fetch_full_imap",
    "system_lookup",
    "tag_message",
    "verify_dkim",
]

log = structlog.get_logger("responsewatch.archive")

GENESIS = "0" * 64  # prev_hash of the first entry
LEDGER_VERSION = 1
AGREEMENT_KEYWORD = "$RwAgreement"  # set by the user in their mail client: "archive this"
ARCHIVED_KEYWORD = "$RwArchived"  # set by us, only with archive.tag_on_server = true
_SHA_RE = re.compile(r"[0-9a-f]{64}")

# name ("sel._domainkey.example.com.") -> TXT record text, or None when there is none.
TxtLookup = Callable[[str], str | None]


def system_lookup(name: str) -> str | None:
    """The real DNS (dnspython through dkimpy), 5 s timeout."""
    found = dnsplug.get_txt(name.encode("ascii", "replace"), timeout=5)
    if found is None:
        return None
    return found.decode("ascii", "replace") if isinstance(found, bytes) else str(found)


# --- values -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DkimResult:
    result: str  # "pass" | "fail" | "none"
    domain: str = ""
    selector: str = ""
    key_record: str = ""  # the DNS TXT record text the signature was checked against
    detail: str = ""


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

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> LedgerEntry:
        values: dict[str, Any] = {
            k: doc[k] if k not in ("excerpt", "v") else doc.get(k) for k in cls.__slots__
        }
        values["excerpt"] = values["excerpt"] or ""
        values["v"] = values["v"] or LEDGER_VERSION
        values["dkim"] = DkimResult(
            **{k: str(doc["dkim"].get(k, "")) for k in DkimResult.__slots__}
        )
        return cls(**values)


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


# --- DKIM -------------------------------------------------------------------------------


def _signatures(raw: bytes) -> list[tuple[str, str]]:
    """(domain, selector) of every DKIM-Signature, in header order."""
    out = []
    for name, value in dkim.rfc822_parse(raw)[0]:
        if name.lower() == b"dkim-signature":
            tags: dict[bytes, bytes] = {}
            with contextlib.suppress(dkim.util.InvalidTagValueList):
                tags = dkim.util.parse_tag_value(value)
            domain, selector = tags.get(b"d", b""), tags.get(b"s", b"")
            out.append(
                (domain.decode("ascii", "replace").lower(), selector.decode("ascii", "replace"))
            )
    return out


def _from_domain(raw: bytes) -> str:
    for name, value in dkim.rfc822_parse(raw)[0]:
        if name.lower() == b"from":
            found = re.search(rb"@([A-Za-z0-9.-]+)", value)
            return found.group(1).decode().lower() if found else ""
    return ""


def _check_one(raw: bytes, idx: int, lookup: TxtLookup) -> DkimResult:
    used: dict[str, str] = {}

    def dnsfunc(name: bytes, timeout: float = 5) -> bytes | None:
        try:
            text = lookup(name.decode("ascii", "replace"))
        except dkim.DnsTimeoutError as exc:  # dkimpy swallows it: keep why for the record
            used["error"] = f"DNS lookup failed: {exc}"
            raise
        if text is not None:
            used["record"] = text
        return None if text is None else text.encode("ascii", "replace")

    checker = dkim.DKIM(raw, minkey=1024)
    detail = ""
    try:
        ok = bool(checker.verify(idx=idx, dnsfunc=dnsfunc))
    except dkim.ValidationError as exc:
        if "x= value is past" not in str(exc):
            ok, detail = False, str(exc)
        else:  # expired since arrival: the cryptography still decides, not the clock
            ok = _verify_ignoring_expiry(checker, idx, dnsfunc)
    except dkim.DKIMException as exc:
        ok, detail = False, str(exc)
    domain, selector = _signatures(raw)[idx]
    if not ok and not detail:
        detail = used.get("error") or (
            "no public key in DNS" if "record" not in used else "signature does not match"
        )
    return DkimResult(
        "pass" if ok else "fail", domain, selector, used.get("record", ""), "" if ok else detail
    )


def _verify_ignoring_expiry(checker: Any, idx: int, dnsfunc: Any) -> bool:
    headers = [(n, v) for n, v in checker.headers if n.lower() == b"dkim-signature"]
    sig = dkim.util.parse_tag_value(headers[idx][1])
    include = [h.lower() for h in re.split(rb"\s*:\s*", sig[b"h"])]
    return bool(checker.verify_sig(sig, include, headers[idx], dnsfunc))


def verify_dkim(
    raw: bytes, lookup: TxtLookup, *, want: tuple[str, str] | None = None
) -> DkimResult:
    """Check the DKIM signatures of ``raw``; the one aligned with From is preferred.

    ``want`` = (domain, selector) re-checks that one signature only (used by ``verify``).
    """
    sigs = _signatures(raw)
    if not sigs:
        return DkimResult("none", detail="no DKIM-Signature header")
    if want is not None:
        if want not in sigs:
            return DkimResult("fail", *want, detail="the recorded signature is not in the message")
        return _check_one(raw, sigs.index(want), lookup)
    aligned = _from_domain(raw)
    order = sorted(range(len(sigs)), key=lambda i: sigs[i][0] != aligned)
    first: DkimResult | None = None
    for idx in order:
        result = _check_one(raw, idx, lookup)
        if result.result == "pass":
            return result
        first = first or result
    assert first is not None
    return first


def _recorded_lookup(recorded: DkimResult) -> TxtLookup:
    wanted = f"{recorded.selector}._domainkey.{recorded.domain}".lower().rstrip(".")

    def lookup(name: str) -> str | None:
        return recorded.key_record if name.lower().rstrip(".") == wanted else None

    return lookup


# --- files ------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    """Temp file, fsync, rename over ``path``, fsync the directory: all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _write_synced(tmp, data, os.O_TRUNC)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _write_synced(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | mode, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _append_line(path: Path, line: bytes) -> None:
    _write_synced(path, line, os.O_APPEND)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the archive ------------------------------------------------------------------------


class EvidenceArchive:
    """Append-only, content-addressed, hash-chained. Nothing here ever rewrites an entry.

    Writers serialise on an ``flock`` so the daemon and ``archive add`` can run together;
    readers need no lock (they ignore an unfinished last line).
    """

    def __init__(self, root: Path, *, lookup: TxtLookup = system_lookup) -> None:
        self.root = root
        self.ledger = root / "ledger.jsonl"
        self._lookup = lookup

    def object_path(self, sha256: str) -> Path:
        return self.root / "objects" / sha256[:2] / f"{sha256}.eml"

    def read_object(self, sha256: str) -> bytes:
        return self.object_path(sha256).read_bytes()

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

    def entries(self) -> list[LedgerEntry]:
        """Every entry that parses (use ``verify`` to know whether they are intact)."""
        out = []
        for line in self._lines()[0]:
            with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
                out.append(LedgerEntry.from_json(json.loads(line)))
        return out

    def find(self, message_id: str) -> LedgerEntry | None:
        return next((e for e in self.entries() if e.message_id == message_id), None)

    # -- writing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

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
    ) -> tuple[LedgerEntry, bool]:
        """Archive ``raw``; (entry, True) if new, (the existing entry, False) if already there."""
        try:
            with self._locked():
                self._recover()
                sha = _sha256(raw)
                for existing in self.entries():
                    if existing.message_id == message_id or existing.sha256 == sha:
                        return existing, False
                result = dkim_result or verify_dkim(raw, self._lookup)
                path = self.object_path(sha)
                if not (path.exists() and _sha256(path.read_bytes()) == sha):
                    _write_atomic(path, raw)  # an orphan from a crash is simply re-linked
                meta = {
                    "archived_at": now.astimezone(UTC).isoformat(),
                    "message_id": message_id,
                    "client": client,
                    "phrase": phrase,
                    "excerpt": excerpt,
                    "received_at": received_at.astimezone(UTC).isoformat() if received_at else None,
                    "sha256": sha,
                    "size": len(raw),
                    "dkim": asdict(result),
                    "v": LEDGER_VERSION,
                }
                intent = self.root / "pending" / f"{sha}.json"
                _write_atomic(intent, canonical(meta))
                entry = self._append(meta)
                intent.unlink()
        except OSError as exc:
            raise DataError(f"archive {self.root}: cannot write ({exc})") from exc
        log.info(
            "archive.added",
            seq=entry.seq,
            message_id=message_id,
            client=client,
            phrase=phrase,
            dkim=result.result,
        )
        return entry, True

    def _append(self, meta: dict[str, Any]) -> LedgerEntry:
        lines = self._lines()[0]
        prev = json.loads(lines[-1])["entry_hash"] if lines else GENESIS
        doc = {**meta, "seq": len(lines) + 1, "prev_hash": prev}
        doc["entry_hash"] = entry_hash(doc)
        _append_line(self.ledger, canonical(doc) + b"\n")
        return LedgerEntry.from_json(doc)

    def recover(self) -> list[str]:
        """Finish what a crash interrupted; returns what was done (empty when nothing)."""
        try:
            with self._locked():
                return self._recover()
        except OSError as exc:
            raise DataError(f"archive {self.root}: cannot recover ({exc})") from exc

    def _recover(self) -> list[str]:
        done: list[str] = []
        lines, tail = self._lines()
        if tail:
            done.append(self._settle_tail(lines, tail))
            lines = self._lines()[0]
        known = {json.loads(line)["sha256"] for line in lines}
        # Canonical JSON starts with "archived_at": sorting by content keeps arrival order.
        pending = sorted((self.root / "pending").glob("*.json"), key=lambda p: p.read_bytes())
        for intent in pending:
            meta = json.loads(intent.read_bytes())
            sha = meta.get("sha256", "")
            path = self.object_path(sha)
            if sha in known:
                done.append(f"entry for {sha[:12]} already in the ledger; intent removed")
            elif _SHA_RE.fullmatch(sha) and path.exists() and _sha256(path.read_bytes()) == sha:
                entry = self._append(meta)
                known.add(sha)
                done.append(f"completed interrupted entry {entry.seq} ({entry.message_id})")
            else:
                done.append(f"dropped intent {intent.name}: its eml never reached the disk")
            intent.unlink()
        for tmp in self.root.glob("**/.*.tmp"):
            tmp.unlink()
        if pending:
            _fsync_dir(self.root / "pending")
        for line in done:
            log.warning("archive.recovered", action=line)
        return done

    def _settle_tail(self, lines: list[bytes], tail: bytes) -> str:
        """An unfinished last line: complete it if it is a whole valid entry, else set aside."""
        prev = json.loads(lines[-1])["entry_hash"] if lines else GENESIS
        with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
            doc = json.loads(tail)
            if doc["prev_hash"] == prev and doc["entry_hash"] == entry_hash(doc):
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
        """Re-hash every eml and entry, walk the chain, re-check DKIM from the recorded keys."""
        lines, tail = self._lines()
        problems: list[Problem] = []
        entries: list[LedgerEntry] = []
        prev = GENESIS
        rechecked = 0
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
            rechecked += entry.dkim.result == "pass"
            reasons += self._content_problems(entry)
            problems += [Problem(pos, entry.message_id, r) for r in reasons]
        warnings: tuple[str, ...] = ()
        if tail:
            warnings = (
                f"unfinished last ledger line ({len(tail)} bytes) from an interrupted write: "
                "the next archive run completes it",
            )
        return VerifyResult(tuple(entries), tuple(problems), prev, rechecked, warnings)

    def _content_problems(self, entry: LedgerEntry) -> list[str]:
        try:
            raw = self.read_object(entry.sha256)
        except OSError:
            return [f"archived message {entry.sha256}.eml is missing"]
        actual = _sha256(raw)
        if actual != entry.sha256:
            return [
                f"archived message bytes changed: SHA-256 is {actual}, ledger says {entry.sha256}"
            ]
        if entry.dkim.result != "pass":
            return []  # nothing was claimed, nothing to re-prove
        want = (entry.dkim.domain, entry.dkim.selector)
        again = verify_dkim(raw, _recorded_lookup(entry.dkim), want=want)
        if again.result != "pass":
            return [f"DKIM signature no longer verifies against the recorded key ({again.detail})"]
        return []


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
    """Archived agreements per client, for ``responsewatch_agreements_archived_total``."""
    counts: dict[str, int] = {}
    for entry in EvidenceArchive(archive_path).entries():
        counts[entry.client] = counts.get(entry.client, 0) + 1
    return counts


# --- fetching the original and tagging on the server --------------------------------------


def fetch_full_imap(
    source: Any, folder: FolderRef, uid: int, uidvalidity: int | None = None
) -> bytes:
    """The whole message by ``BODY.PEEK[]`` after EXAMINE: no \\Seen flag is ever set.

    ``source`` is an ``ImapMailSource``; this reuses its connection and error translation.
    # TODO(lead): move into ImapMailSource.fetch_full once adapters/imap.py is free.
    """
    with source._errors():
        current = source._select(folder.name)
        if uidvalidity is not None and current != uidvalidity:
            raise SourceUnavailable(
                source.name, f"{folder.name}: UIDVALIDITY changed, sync again to locate the message"
            )
        answer = source._conn().fetch([uid], ["BODY.PEEK[]"])
    body = answer.get(uid, {}).get(b"BODY[]")
    if body is None:
        raise SourceUnavailable(source.name, f"{folder.name} UID {uid}: no longer on the server")
    return bytes(body)


def fetch_full(
    source: MailSource, folder: FolderRef, uid: int, uidvalidity: int | None = None
) -> bytes:
    """The complete raw message from any source (IMAP, or a source holding whole messages)."""
    from responsewatch.adapters.imap import ImapMailSource

    if isinstance(source, ImapMailSource):
        return fetch_full_imap(source, folder, uid, uidvalidity)
    own = getattr(source, "fetch_full", None)
    if callable(own):
        return bytes(own(folder, uid))
    # The in-memory source keeps whole messages in RawMessage.data. The store knows folders
    # by name only, and a FolderRef's role is part of its identity: find the source's own.
    folder = next((f for f in source.folders() if f.name == folder.name), folder)
    valid = uidvalidity if uidvalidity is not None else source.uidvalidity(folder)
    for raw in source.fetch_since(folder, Cursor(valid, uid - 1)):
        if raw.uid == uid:
            return raw.data
    raise SourceUnavailable(source.name, f"{folder.name} UID {uid}: no longer in the source")


def tag_message(
    source: MailSource, folder: FolderRef, uid: int, keyword: str = ARCHIVED_KEYWORD
) -> bool:
    """Set ``keyword`` on the message: the program's ONLY mailbox write (opt-in).

    A separate read-write SELECT is used for the STORE, then the folder is EXAMINEd again
    (re-selecting never expunges, unlike CLOSE). Returns False when the source cannot tag.
    """
    from responsewatch.adapters.imap import ImapMailSource

    if not isinstance(source, ImapMailSource):
        own = getattr(source, "add_keyword", None)
        if callable(own):
            own(folder, uid, keyword)
            return True
        return False
    with source._errors():
        client = source._conn()
        source._selected = None
        client.select_folder(folder.name, readonly=False)
        try:
            client.add_flags([uid], [keyword], silent=True)
        finally:
            source._select(folder.name)
    return True

"""RFC 3161 trusted timestamps of the archive's ledger head (``rfc3161-client``).

What is timestamped is the head entry's hash, and nothing else leaves the machine. The
entry hash is the SHA-256 of the canonical entry without its ``entry_hash`` field, so the
token's message imprint is the SHA-256 of a file anyone can rebuild from the ledger line:
``openssl ts -verify -data chain/NNNNNN.json -in TOKEN.tsr -CAfile CA.pem`` checks it with
standard tools (see ``adapters.archive.report``).

Tokens live in ``<archive>/timestamps/<seq:08d>-<entry hash>-<tsa id>.tsr`` (0600): the
whole DER TimeStampResp as the TSA sent it, named by the head (sequence + hash) it covers
and a short hash of the TSA's URL. A token also covers every earlier entry, through the
chain.

A TSA that fails is retried on a later call after a growing wait (1 min doubling to 1 h,
in memory); every request has a bounded timeout; nothing here raises into a sync.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import structlog
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from responsewatch.adapters.archive import GENESIS, Problem, VerifyResult, canonical

__all__ = [
    "TOKENS_DIR",
    "TimestampReport",
    "Timestamper",
    "Token",
    "TokenCheck",
    "entry_files",
    "list_tokens",
    "tsa_id",
    "verify_tokens",
]

log = structlog.get_logger("responsewatch.timestamps")

TOKENS_DIR = "timestamps"
TIMEOUT_S = 10.0  # per request: a TSA that hangs costs a sync at most this, then waits
_FIRST_WAIT, _MAX_WAIT = timedelta(minutes=1), timedelta(hours=1)
_NAME = re.compile(r"(\d{8})-([0-9a-f]{64})-([0-9a-f]{12})\.tsr")
_FILE_MODE, _DIR_MODE = 0o600, 0o700

Post = Callable[[str, bytes, float], bytes]  # (url, DER query, timeout) -> DER response


@dataclass(frozen=True, slots=True)
class Token:
    path: Path
    seq: int  # the ledger head it covers: this entry and, through the chain, all before it
    entry_hash: str
    tsa: str  # tsa_id(url)

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True, slots=True)
class TokenCheck:
    token: Token
    gen_time: datetime | None
    authority: str  # the TSA's name as the token states it (its signer certificate)
    error: str = ""  # empty: signature, chain, imprint and ledger all agree

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True, slots=True)
class TimestampReport:
    checks: tuple[TokenCheck, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[str, ...]
    covered_through: int  # highest entry covered by a valid token (0: none)

    def covering(self, seq: int) -> TokenCheck | None:
        """The earliest valid token covering entry ``seq``: the oldest proof it existed."""
        valid = [c for c in self.checks if c.ok and c.token.seq >= seq and c.gen_time]
        return min(valid, key=lambda c: (c.gen_time, c.token.seq), default=None)

    def lines(self) -> list[str]:
        """What ``archive verify`` prints about the timestamps."""
        if not self.checks and not self.warnings:
            return []
        ok = [c for c in self.checks if c.ok]
        out = [
            f"timestamps: {len(ok)} of {len(self.checks)} token(s) verified; entries "
            f"1-{self.covered_through} covered" if self.covered_through else
            f"timestamps: {len(ok)} of {len(self.checks)} token(s) verified; no entry covered"
        ]  # fmt: skip
        for c in ok:
            when = c.gen_time.isoformat() if c.gen_time else "?"
            out.append(f"  token {c.token.name}: entry {c.token.seq} at {when} by {c.authority}")
        return out


def tsa_id(url: str) -> str:
    """A short, stable name for a TSA in file names (its URL may hold a token: not shown)."""
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def list_tokens(root: Path) -> tuple[list[Token], list[str]]:
    """The token files of the archive at ``root``, oldest head first, and the names of
    files in ``timestamps/`` that are not tokens (verify reports them)."""
    directory = root / TOKENS_DIR
    tokens, strays = [], []
    with contextlib.suppress(FileNotFoundError):
        for path in sorted(directory.iterdir()):
            found = _NAME.fullmatch(path.name)
            if found and path.is_file() and not path.is_symlink():
                tokens.append(Token(path, int(found[1]), found[2], found[3]))
            elif not path.name.startswith("."):
                strays.append(path.name)
    return tokens, strays


# --- the ledger as the TSA and a lawyer see it ------------------------------------------


def entry_files(ledger: Path) -> list[tuple[bytes, str]]:
    """For each ledger line: (the canonical bytes whose SHA-256 is the entry hash, the hash
    the line claims). An unreadable line gives (b"", "")."""
    try:
        data = ledger.read_bytes()
    except FileNotFoundError:
        return []
    data = data[: data.rfind(b"\n") + 1]  # an unfinished last line is not an entry yet
    out = []
    for line in data.splitlines():
        try:
            doc = json.loads(line)
            claimed = str(doc.pop("entry_hash"))
            out.append((canonical(doc), claimed))
        except (ValueError, KeyError, TypeError, AttributeError):
            out.append((b"", ""))
    return out


def _head_entry(ledger: Path) -> tuple[int, bytes, str] | None:
    """(seq, canonical bytes, hash) of the newest complete entry, reading only the tail."""
    try:
        fd = os.open(ledger, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    try:
        size = os.fstat(fd).st_size
        window = 1 << 16
        while True:
            start = max(0, size - window)
            chunk = os.pread(fd, size - start, start)
            end = chunk.rfind(b"\n")
            begin = chunk.rfind(b"\n", 0, end) + 1 if end > 0 else 0
            if end < 0 or (begin == 0 and start > 0):
                if start == 0:
                    return None
                window *= 4  # an entry longer than the window: look further back
                continue
            break
    finally:
        os.close(fd)
    try:
        doc = json.loads(chunk[begin:end])
        claimed = str(doc.pop("entry_hash"))
        body = canonical(doc)
        seq = int(doc["seq"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if hashlib.sha256(body).hexdigest() != claimed:
        return None  # an edited head is for verify to report, never to timestamp
    return seq, body, claimed


# --- requesting -------------------------------------------------------------------------


def _http_post(url: str, query: bytes, timeout: float) -> bytes:
    response = httpx.post(
        url,
        content=query,
        headers={"Content-Type": "application/timestamp-query"},
        timeout=timeout,
        follow_redirects=False,
    )
    response.raise_for_status()
    return response.content


class Timestamper:
    """Asks every TSA in ``urls`` for a token on the ledger head when it has none yet."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        every: timedelta = timedelta(0),
        timeout: float = TIMEOUT_S,
        post: Post = _http_post,
    ) -> None:
        self._urls = tuple(urls)
        self._every = every
        self._timeout = timeout
        self._post = post
        self._waits: dict[str, tuple[datetime, timedelta]] = {}  # url -> (retry at, wait)

    def stamp(self, root: Path, now: datetime) -> list[Token]:
        """New tokens on the current head; a failing TSA is logged and retried later."""
        if not self._urls:
            return []
        head = _head_entry(root / "ledger.jsonl")
        if head is None or head[2] == GENESIS:
            return []
        seq, body, digest = head
        tokens, _strays = list_tokens(root)
        added = []
        for url in self._urls:
            ident = tsa_id(url)
            mine = [t for t in tokens if t.tsa == ident]
            if any(t.seq == seq and t.entry_hash == digest for t in mine):
                continue
            if mine and self._every and _age(mine[-1].path, now) < self._every:
                continue  # `archive.timestamp_every`: this TSA stamped recently enough
            retry_at = self._waits.get(url, (now, _FIRST_WAIT))[0]
            if now < retry_at:
                continue
            try:
                token = self._request(root, url, seq, body, digest)
            except (httpx.HTTPError, OSError, ValueError, VerificationError) as exc:
                wait = self._waits.get(url, (now, _FIRST_WAIT / 2))[1] * 2
                wait = min(wait, _MAX_WAIT)
                self._waits[url] = (now + wait, wait)
                log.warning(
                    "timestamp.failed",
                    tsa=ident,
                    host=httpx.URL(url).host,
                    # httpx names the URL in its errors; it may carry credentials
                    error=f"{type(exc).__name__}: {str(exc).replace(url, '<url>')[:200]}",
                    retry_in_s=int(wait.total_seconds()),
                )
                continue
            self._waits.pop(url, None)
            added.append(token)
            log.info("timestamp.added", tsa=ident, seq=seq, entry_hash=digest)
        return added

    def _request(self, root: Path, url: str, seq: int, body: bytes, digest: str) -> Token:
        request = (
            TimestampRequestBuilder()
            .data(body)
            .hash_algorithm(HashAlgorithm.SHA256)
            .cert_request(cert_request=True)  # the TSA's certificate rides in the token
            .nonce(nonce=True)
            .build()
        )
        der = self._post(url, request.as_bytes(), self._timeout)
        response = decode_timestamp_response(der)
        if PKIStatus(response.status) != PKIStatus.GRANTED:  # what verification accepts
            raise ValueError(f"the TSA refused: status {response.status}")
        info = response.tst_info
        if info.message_imprint.message != bytes.fromhex(digest):
            raise ValueError("the token does not cover the hash sent")
        if info.nonce != request.nonce:
            raise ValueError("the token's nonce is not the request's (replayed answer?)")
        path = root / TOKENS_DIR / f"{seq:08d}-{digest}-{tsa_id(url)}.tsr"
        _write_private(path, der)
        return Token(path, seq, digest, tsa_id(url))


def _age(path: Path, now: datetime) -> timedelta:
    try:
        return now - datetime.fromtimestamp(path.stat().st_mtime, now.tzinfo)
    except OSError:
        return timedelta.max


def _write_private(path: Path, data: bytes) -> None:
    """Temp file (0600) fsynced and renamed into a 0700 directory."""
    if not path.parent.is_dir():
        with contextlib.suppress(FileExistsError):
            os.mkdir(path.parent, _DIR_MODE)
    os.chmod(path.parent, _DIR_MODE)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, _FILE_MODE)
    try:
        os.fchmod(fd, _FILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


# --- verifying --------------------------------------------------------------------------


def trust_roots(ca_file: Path | None) -> list[x509.Certificate]:
    """The CA certificates a token's chain must end in: ``archive.tsa_ca_file``, else the
    system store."""
    path = ca_file
    if path is None:
        found = ssl.get_default_verify_paths().cafile
        path = Path(found) if found else Path("/etc/ssl/certs/ca-certificates.crt")
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError):
        return []


def _authority(response: TimeStampResponse) -> str:
    for der in response.signed_data.certificates:
        with contextlib.suppress(ValueError):
            cert = x509.load_der_x509_certificate(der)
            if ExtendedKeyUsageOID.TIME_STAMPING in _eku(cert):
                return cert.subject.rfc4514_string()[:200]
    return str(response.tst_info.name or "?")[:200]


def _eku(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return []


def check_token(token: Token, roots: list[x509.Certificate]) -> tuple[TokenCheck, bytes]:
    """Signature and chain to ``roots`` (valid at the token's time), and that the imprint
    is the hash its name says; returns the check and the imprint."""
    try:
        response = decode_timestamp_response(token.path.read_bytes())
    except (OSError, ValueError) as exc:
        return TokenCheck(token, None, "?", f"unreadable token ({exc})"), b""
    info: Any = response.tst_info
    gen_time, authority = info.gen_time, _authority(response)
    imprint = bytes(info.message_imprint.message)
    if not roots:
        return TokenCheck(token, gen_time, authority, "no CA certificate to check it with"), b""
    try:
        VerifierBuilder(roots=list(roots)).build().verify(response, imprint)
    except (VerificationError, ValueError) as exc:
        why = f"signature or TSA certificate chain does not verify ({str(exc)[:300]})"
        return TokenCheck(token, gen_time, authority, why), imprint
    if imprint.hex() != token.entry_hash:
        why = f"the token covers hash {imprint.hex()}, not the one its file name states"
        return TokenCheck(token, gen_time, authority, why), imprint
    return TokenCheck(token, gen_time, authority), imprint


def verify_tokens(
    root: Path, result: VerifyResult, ca_file: Path | None, *, expected: bool = False
) -> TimestampReport:
    """Every token against the CA and against the chain as it is now; ``result`` (the
    archive's own verification) gets, for each broken entry a token covers, a problem
    naming that token. ``expected``: timestamps are configured, so say what is uncovered
    even when there is no token yet."""
    tokens, strays = list_tokens(root)
    if not tokens and not strays and not expected:
        return TimestampReport((), (), (), 0)
    files = entry_files(root / "ledger.jsonl")
    actual = [hashlib.sha256(body).hexdigest() if body else "" for body, _ in files]
    roots = trust_roots(ca_file) if tokens else []
    problems = [Problem(0, "", f"not a timestamp token in {TOKENS_DIR}/: {s}") for s in strays]
    checks: list[TokenCheck] = []
    for token in tokens:
        check, _imprint = check_token(token, roots)
        if check.ok:
            check = _against_chain(check, actual, checks)
        checks.append(check)
        if not check.ok:
            problems.append(Problem(token.seq, "", f"timestamp token {token.name}: {check.error}"))
    valid = [c for c in checks if c.ok]
    covered = max((c.token.seq for c in valid), default=0)
    report = TimestampReport(tuple(checks), (), (), covered)
    for p in result.problems:
        covering = report.covering(p.seq) if p.seq > 0 else None
        if covering is not None and covering.gen_time is not None:
            problems.append(
                Problem(
                    p.seq,
                    p.message_id,
                    f"changed after it was timestamped: token {covering.token.name} "
                    f"({covering.gen_time.isoformat()}, {covering.authority}) covers it",
                )
            )
    warnings = []
    total = len(files)
    if covered < total:
        span = f"{covered + 1}" if covered + 1 == total else f"{covered + 1}-{total}"
        warnings.append(
            f"entries {span} not yet covered by any timestamp token"
            + (" (the next sync asks the TSAs)" if expected else " (archive.tsa_urls is empty)")
        )
    return TimestampReport(tuple(checks), tuple(problems), tuple(warnings), covered)


def _against_chain(check: TokenCheck, actual: list[str], earlier: list[TokenCheck]) -> TokenCheck:
    """A valid token whose entry is no longer what it signed: the chain was edited or
    rebuilt (every entry re-hashed) since; the change lies after the previous valid token."""
    token = check.token
    if token.seq > len(actual):
        why = (
            f"covers entry {token.seq} but the ledger holds {len(actual)}: entries were "
            "deleted after this timestamp"
        )
        return TokenCheck(token, check.gen_time, check.authority, why)
    now = actual[token.seq - 1]
    if now == token.entry_hash:
        return check
    before = max((c.token.seq for c in earlier if c.ok and c.token.seq < token.seq), default=0)
    when = check.gen_time.isoformat() if check.gen_time else "?"
    why = (
        f"entry {token.seq} had hash {token.entry_hash} when timestamped at {when}, it is "
        f"now {now or 'unreadable'}: the chain was edited or rebuilt after the timestamp; "
        f"the change lies in entries {before + 1}-{token.seq}"
    )
    return TokenCheck(token, check.gen_time, check.authority, why)

"""DKIM for the evidence archive: verification at arrival, alignment, DNS that never blocks.

The domain, selector and exact DNS TXT record used are kept in the ledger entry, so
``verify`` re-checks a signature against that recorded key: the proof survives the sender's
key rotation. A DNS that does not answer gives ``temperror`` (retried later), never a wait
per message: one lookup times out after ``DNS_TIMEOUT_S`` and, after a temporary failure,
the lookups of the next ``DNS_COOLDOWN_S`` fail at once (``GuardedLookup``).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import dkim  # type: ignore[import-untyped]
import dns.exception
import dns.rdatatype
import dns.resolver

from responsewatch.core.parsing import parse_message, split_header_block

__all__ = [
    "DNS_TIMEOUT_S",
    "DkimResult",
    "GuardedLookup",
    "TempDnsError",
    "TxtLookup",
    "aligned",
    "from_domain",
    "recorded_lookup",
    "system_lookup",
    "verdict",
    "verify_dkim",
]

DNS_TIMEOUT_S = 3.0
DNS_COOLDOWN_S = 60.0
MAX_SIGNATURES = 4  # a message with 1,000 signatures must not cost 1,000 DNS lookups

# name ("sel._domainkey.example.com.") -> TXT record text, or None when there is none;
# raises TempDnsError when the DNS could not answer.
TxtLookup = Callable[[str], str | None]


class TempDnsError(Exception):
    """The DNS did not answer (timeout, SERVFAIL, no resolver): ask again later."""


def system_lookup(name: str) -> str | None:
    """The real DNS through dnspython, ``DNS_TIMEOUT_S`` in all."""
    try:
        answer = dns.resolver.resolve(
            name, dns.rdatatype.TXT, raise_on_no_answer=False, lifetime=DNS_TIMEOUT_S
        )
    except dns.resolver.NXDOMAIN:
        return None
    except (dns.exception.DNSException, OSError) as exc:  # timeout, SERVFAIL, no resolver
        raise TempDnsError(f"{type(exc).__name__}: {exc}") from None
    for rrset in answer.response.answer:
        if rrset.rdtype == dns.rdatatype.TXT:
            for item in rrset:
                return b"".join(item.strings).decode("ascii", "replace")
    return None


class GuardedLookup:
    """A lookup that caches answers for one run and, after a temporary failure, fails fast
    for ``cooldown`` seconds: a dead resolver costs one timeout, not one per message."""

    def __init__(
        self,
        lookup: TxtLookup,
        *,
        cooldown: float = DNS_COOLDOWN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._cooldown = cooldown
        self._clock = clock
        self._cache: dict[str, str | None] = {}
        self._down_until = 0.0
        self._lock = threading.Lock()

    def __call__(self, name: str) -> str | None:
        key = name.lower().rstrip(".")
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            if self._clock() < self._down_until:
                raise TempDnsError("DNS unavailable a moment ago: not asked again yet")
        try:
            found = self._lookup(name)
        except TempDnsError:
            with self._lock:
                self._down_until = self._clock() + self._cooldown
            raise
        with self._lock:
            self._cache[key] = found
        return found


@dataclass(frozen=True, slots=True)
class DkimResult:
    result: str  # "pass" | "fail" | "temperror" | "none": the cryptographic outcome
    domain: str = ""
    selector: str = ""
    key_record: str = ""  # the DNS TXT record text the signature was checked against
    detail: str = ""
    from_domain: str = ""  # the From addr-spec's domain at arrival (for alignment)


def aligned(signing_domain: str, author_domain: str) -> bool:
    """The signing domain equals the From domain or is a parent of it (relaxed alignment,
    DMARC's rule without the public-suffix list; a bare TLD never aligns)."""
    d, f = signing_domain.lower().rstrip("."), author_domain.lower().rstrip(".")
    return bool(d and f and "." in d) and (f == d or f.endswith("." + d))


def verdict(result: DkimResult) -> str:
    """What ``archive list`` shows: pass | pass_unaligned | fail | temperror | none."""
    if result.result == "pass":
        return "pass" if aligned(result.domain, result.from_domain) else "pass_unaligned"
    return result.result


def from_domain(raw: bytes) -> str:
    """The domain of the From addr-spec, parsed (never the first "@" of the raw header,
    which may sit in the display name)."""
    with contextlib.suppress(Exception):
        header = split_header_block(raw)
        sender = parse_message(raw[: header.body_offset] or raw).from_addr or ""
        return sender.rpartition("@")[2].lower() if "@" in sender else ""
    return ""


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


def _check_one(raw: bytes, idx: int, lookup: TxtLookup, sigs: list[tuple[str, str]]) -> DkimResult:
    used: dict[str, str] = {}

    def dnsfunc(name: bytes, timeout: float = 5) -> bytes | None:
        try:
            text = lookup(name.decode("ascii", "replace"))
        except (TempDnsError, dkim.DnsTimeoutError) as exc:
            used["temp"] = f"DNS lookup failed: {exc}"
            raise dkim.DnsTimeoutError(str(exc)) from None  # dkimpy turns it into False
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
    domain, selector = sigs[idx]
    if not ok and "temp" in used:
        return DkimResult("temperror", domain, selector, "", used["temp"])
    if not ok and not detail:
        detail = "no public key in DNS" if "record" not in used else "signature does not match"
    return DkimResult(
        "pass" if ok else "fail", domain, selector, used.get("record", ""), "" if ok else detail
    )


def _verify_ignoring_expiry(checker: object, idx: int, dnsfunc: object) -> bool:
    headers = [(n, v) for n, v in checker.headers if n.lower() == b"dkim-signature"]  # type: ignore[attr-defined]
    sig = dkim.util.parse_tag_value(headers[idx][1])
    include = [h.lower() for h in re.split(rb"\s*:\s*", sig[b"h"])]
    return bool(checker.verify_sig(sig, include, headers[idx], dnsfunc))  # type: ignore[attr-defined]


def verify_dkim(
    raw: bytes, lookup: TxtLookup, *, want: tuple[str, str] | None = None
) -> DkimResult:
    """Check the DKIM signatures of ``raw``; one aligned with From is preferred.

    ``want`` = (domain, selector) re-checks that one signature only (used by ``verify``).
    A temporary DNS failure on the preferred signature gives ``temperror`` rather than the
    verdict of another one: the retry must be able to find the aligned pass.
    """
    end = raw.find(b"\r\n\r\n")
    head = raw[: end if end >= 0 else 65536].lower()
    if b"dkim-signature" not in head:  # the common case, without parsing anything
        return DkimResult("none", detail="no DKIM-Signature header")
    author = from_domain(raw)
    try:
        sigs = _signatures(raw)
    except Exception as exc:  # dkimpy on hostile headers: never a crash
        return DkimResult("fail", detail=f"unreadable header ({type(exc).__name__})")
    if not sigs:
        return DkimResult("none", detail="no DKIM-Signature header", from_domain=author)
    if want is not None:
        if want not in sigs:
            return DkimResult("fail", *want, detail="the recorded signature is not in the message")
        return _with_author(_check_one(raw, sigs.index(want), lookup, sigs), author)
    order = sorted(range(len(sigs)), key=lambda i: not aligned(sigs[i][0], author))
    results: list[DkimResult] = []
    for idx in order[:MAX_SIGNATURES]:
        try:
            result = _check_one(raw, idx, lookup, sigs)
        except Exception as exc:  # a malformed signature dkimpy did not expect
            result = DkimResult("fail", *sigs[idx], detail=f"{type(exc).__name__}: {exc}"[:300])
        if result.result == "pass" and aligned(result.domain, author):
            return _with_author(result, author)
        results.append(result)
    for wanted in ("temperror", "pass", "fail"):
        found = next((r for r in results if r.result == wanted), None)
        if found is not None:
            return _with_author(found, author)
    return _with_author(results[0], author)


def _with_author(result: DkimResult, author: str) -> DkimResult:
    return DkimResult(
        result.result, result.domain, result.selector, result.key_record, result.detail, author
    )


def recorded_lookup(recorded: DkimResult) -> TxtLookup:
    wanted = f"{recorded.selector}._domainkey.{recorded.domain}".lower().rstrip(".")

    def lookup(name: str) -> str | None:
        return recorded.key_record if name.lower().rstrip(".") == wanted else None

    return lookup

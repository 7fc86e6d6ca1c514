"""Hostile inputs, shared by tests/hostile and tests/benchmarks/bench_hostile.py: each case
writes one file (or bytes) that once cost seconds or hundreds of MB."""

from __future__ import annotations

import gzip
import time
import tracemalloc
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from responsewatch.adapters.files import ReadStats
from responsewatch.app.pipeline import compute, load_corpus
from responsewatch.core.models import Analysis
from responsewatch.core.rules import ClientRule, Rules

ME = "claire@martin-conseil.fr"
HEAD = (
    "From: jean@acme.fr\nTo: {me}\nSubject: {subject}\nDate: Mon, 02 Nov 2026 09:00:00 +0000\n"
    "Message-ID: <{mid}@acme.fr>\n"
)


def message(
    mid: str, *, subject: str = "Projet", extra: str = "", body: str = "Bonjour ?\n"
) -> bytes:
    return (HEAD.format(me=ME, subject=subject, mid=mid) + extra + "\n" + body).encode()


def ordinary(root: Path) -> Path:
    path = root / "ordinary.eml"
    path.write_bytes(message("plain"))
    return path


def long_line_mbox_gz(root: Path, size: int = 16 * 1024 * 1024) -> Path:
    path = root / "long-line.mbox.gz"
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(b"From jean@acme.fr Mon Nov  2 09:00:00 2026\n")
        out.write(message("line", body=""))
        out.write(b"x" * size + b"\n")
        out.write(b"\nFrom jean@acme.fr Mon Nov  2 10:00:00 2026\n" + message("after"))
    return path


def gzip_bomb(root: Path, megabytes: int = 1024, mbox: bool = False) -> Path:
    """``megabytes`` MB of zeros in ~1 KB per MB: gzip members concatenated (instant to make)."""
    path = root / ("bomb.mbox.gz" if mbox else "bomb.eml.gz")
    zeros = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = zeros.compress(b"\0" * (1 << 20)) + zeros.flush()
    with path.open("wb") as out:
        start = b"From x@y Mon Nov  2 09:00:00 2026\n" if mbox else b""
        out.write(gzip.compress(start + message("bomb")))
        for _ in range(megabytes):
            out.write(member)
    return path


def encoded_words(root: Path, words: int = 40_000) -> Path:
    path = root / "encoded.eml"
    path.write_bytes(message("words", subject=" ".join(["=?utf-8?q?caf=C3=A9?="] * words)))
    return path


def extreme_dates(root: Path) -> Path:
    path = root / "dates"
    path.mkdir()
    (path / "old.eml").write_bytes(message("old").replace(b"Mon, 02 Nov 2026", b"Mon, 02 Nov 0100"))
    reply = (
        f"From: {ME}\nTo: jean@acme.fr\nSubject: RE: Projet\n"
        "Date: Fri, 31 Dec 9999 23:00:00 +0000\n"
        "Message-ID: <future@m>\nIn-Reply-To: <old@acme.fr>\n\nok\n"
    )
    (path / "future.eml").write_bytes(reply.encode())
    return path


def recipients(root: Path, count: int = 1_000_000) -> Path:
    path = root / "recipients.eml"
    to = ", ".join(f"r{i}@acme.fr" for i in range(count))
    path.write_bytes(message("many", extra=f"Cc: {to}\n"))
    return path


CASES: dict[str, Callable[[Path], Path]] = {
    "ordinary message": ordinary,
    "16 MB line in .mbox.gz": long_line_mbox_gz,
    "1 GB gzip bomb (one file)": gzip_bomb,
    "1 GB gzip bomb (mbox)": lambda root: gzip_bomb(root, mbox=True),
    "40,000 encoded words": encoded_words,
    "dates 0100 and 9999": extreme_dates,
    "1,000,000 recipients": recipients,
}


RULES = Rules(me=frozenset({ME}), clients=(ClientRule("acme", domains=("acme.fr",)),))
NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def analyze_path(path: Path) -> tuple[Analysis, ReadStats]:
    """What ``analyze`` does with a PATH: read, parse, thread, measure."""
    corpus = load_corpus([path])
    analysis, _ = compute(corpus.messages, RULES, now=NOW)
    return analysis, corpus.stats


def measure(fn: Callable[[], object], *, untraced_time: bool = True) -> tuple[float, int]:
    """(seconds, peak bytes allocated by Python) of one call. The time comes from a second,
    untraced call unless ``untraced_time`` is False (then it includes tracing overhead)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        fn()
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if untraced_time:
        start = time.perf_counter()
        fn()
        seconds = time.perf_counter() - start
    return seconds, peak

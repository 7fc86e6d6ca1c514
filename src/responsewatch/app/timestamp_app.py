"""RFC 3161 timestamps in the archive use cases: hooks called by ``archive_app`` after each
sync's archive work, from ``archive verify`` and from ``archive export``."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import structlog

from responsewatch.adapters.archive import EvidenceArchive, VerifyResult
from responsewatch.adapters.timestamps import (
    Timestamper,
    TimestampReport,
    Token,
    verify_tokens,
)
from responsewatch.config import Settings
from responsewatch.errors import ConfigError

__all__ = ["check_timestamps", "export_evidence", "stamp_archive"]

log = structlog.get_logger("responsewatch.timestamps")

# One per archive and TSA list for the life of the process: it remembers which TSA is
# failing and when to ask it again (the daemon calls this after every sync).
_STAMPERS: dict[tuple[Path, tuple[str, ...], float], Timestamper] = {}


def stamp_archive(settings: Settings, archive: EvidenceArchive, now: datetime) -> list[Token]:
    """Timestamp the ledger head with every configured TSA that has not yet; never raises
    (a TSA down is retried on a later call)."""
    if not settings.archive_tsa_urls:
        return []
    key = (archive.root, settings.archive_tsa_urls, settings.archive_timestamp_every_s)
    stamper = _STAMPERS.get(key)
    if stamper is None:
        every = timedelta(seconds=settings.archive_timestamp_every_s)
        stamper = _STAMPERS[key] = Timestamper(settings.archive_tsa_urls, every=every)
    try:
        return stamper.stamp(archive.root, now)
    except OSError as exc:  # the archive folder itself: verify will say more
        log.error("timestamp.failed", error=str(exc))
        return []


def check_timestamps(
    settings: Settings, archive: EvidenceArchive, result: VerifyResult
) -> tuple[VerifyResult, TimestampReport]:
    """``result`` with the token problems and the coverage warning added."""
    ca = settings.archive_tsa_ca_file
    if ca is not None and not ca.is_file():
        raise ConfigError(f"archive.tsa_ca_file: {ca} is not a readable file")
    report = verify_tokens(
        archive.root,
        result,
        settings.archive_tsa_ca_file,
        expected=bool(settings.archive_tsa_urls),
    )
    if not report.problems and not report.warnings:
        return result, report
    merged = dataclasses.replace(
        result,
        problems=(*result.problems, *report.problems),
        warnings=(*result.warnings, *report.warnings),
    )
    return merged, report


def export_evidence(
    settings: Settings,
    archive: EvidenceArchive,
    directory: Path,
    result: VerifyResult,
    *,
    file_name: dict[int, str],
    now: datetime,
) -> VerifyResult:
    """The export's chain files, tokens, VERIFY.txt and PDF; returns ``result`` with the
    token checks merged."""
    from responsewatch.adapters.archive.report import write_evidence  # jinja2, WeasyPrint

    merged, report = check_timestamps(settings, archive, result)
    files = {seq: name for seq, name in file_name.items() if (directory / name).is_file()}
    write_evidence(
        archive,
        directory,
        merged,
        report,
        files=files,
        ca_file=settings.archive_tsa_ca_file,
        language=settings.language,
        now=now,
    )
    return merged

"""Evidence out of the archive: list entries, verify the chain, export for a third party.

Split from ``archive_app`` (detection and archiving); these read the ledger only."""

from __future__ import annotations

import csv
import re
import shutil
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from responsewatch.adapters.archive import (
    AGREEMENT,
    DKIM_RECHECK,
    REJECTION,
    EvidenceArchive,
    LedgerEntry,
    VerifyResult,
    current_agreements,
    rejections,
    verdict,
)
from responsewatch.core.safe_text import csv_cell
from responsewatch.errors import ConfigError, DataError

if TYPE_CHECKING:
    from responsewatch.app.sources import AppGraph as App

__all__ = [
    "agreements_since",
    "digest_agreements",
    "entry_file_name",
    "entry_json",
    "export_archive",
    "raise_if_broken",
    "verification_lines",
]

log = structlog.get_logger("responsewatch.archive")


# --- list, verify, export ----------------------------------------------------------------


def entry_json(entry: LedgerEntry, archive: EvidenceArchive | None = None) -> dict[str, Any]:
    """DESIGN's ``archive list`` document; ``dkim`` is the aligned verdict."""
    return {
        "message_id": entry.message_id,
        "client": entry.client,
        "phrase": entry.phrase,
        "sha256": entry.sha256,
        "received_at": entry.received_at,
        "archived_at": entry.archived_at,
        "dkim": archive.verdict(entry) if archive is not None else verdict(entry.dkim),
        "dkim_domain": entry.dkim.domain,
    }


def agreements_since(archive_path: Path, since: datetime) -> list[dict[str, Any]]:
    """Agreements archived at or after ``since``, oldest first: the digest's section."""
    entries = EvidenceArchive(archive_path).entries()
    return [entry_json(e) for e in entries if datetime.fromisoformat(e.archived_at) >= since]


def digest_agreements(app: App, since: datetime) -> list[tuple[str, str, datetime, str]]:
    """(client, phrase, received_at, message_id) archived since ``since``: the digest's
    ``AgreementSource`` (app/digest_app.py)."""
    rows = []
    archive = EvidenceArchive(app.settings.archive_path)
    for e in archive.entries():  # rejected entries left out
        archived = datetime.fromisoformat(e.archived_at)
        if archived >= since:
            received = datetime.fromisoformat(e.received_at) if e.received_at else archived
            # The verdict rides on the phrase: the digest's row shape stays as it is.
            shown = f"{e.phrase} · DKIM {archive.verdict(e)}"
            rows.append((e.client, shown, received, e.message_id))
    return rows


def verification_lines(result: VerifyResult, archive: EvidenceArchive | None = None) -> list[str]:
    agreements = current_agreements(result.entries, include_rejected=True)
    shown = archive.verdict if archive is not None else (lambda e: verdict(e.dkim))
    counts = Counter(shown(e) for e in agreements)
    verdicts = ", ".join(
        f"{counts[v]} {v}" for v in ("pass", "pass_unaligned", "fail", "temperror", "none")
    )
    lines = [f"warning: {w}" for w in result.warnings]
    lines.append(
        f"{len(result.entries)} entries ({len(agreements)} agreements, "
        f"{len(rejections(result.entries))} rejected); DKIM: {verdicts}; "
        f"{result.dkim_rechecked} re-verified against the recorded keys"
    )
    lines.append(f"chain head: {result.head}")
    lines += [f"BROKEN {p}" for p in result.problems]
    return lines


def raise_if_broken(result: VerifyResult, root: Path) -> None:
    if result.problems:
        more = len(result.problems) - 1
        extra = f" (and {more} more problem(s))" if more else ""
        raise DataError(f"archive {root}: verification failed at {result.problems[0]}{extra}")


_REPORT = {
    "fr": {
        "title": "Rapport de vérification de l'archive des accords écrits",
        "made": "Établi le",
        "ok": "RÉSULTAT : l'archive est intacte. Chaque message est identique, octet pour "
        "octet, à celui reçu ; la chaîne des empreintes est complète.",
        "broken": "RÉSULTAT : l'archive est ALTÉRÉE. Première anomalie :",
        "head": "Empreinte de tête de chaîne (à conserver ailleurs) :",
        "how": "Méthode : l'empreinte SHA-256 de chaque fichier .eml est recalculée et comparée "
        "au registre (ledger.jsonl) ; chaque entrée du registre contient l'empreinte de la "
        "précédente ; la signature DKIM de l'expéditeur est revérifiée avec la clé publique DNS "
        "enregistrée à la réception. Vérification indépendante : `sha256sum messages/*.eml` "
        "et comparer à la colonne sha256 de index.csv.",
        "entry": "Entrée",
        "from_client": "client",
        "received": "reçu le",
        "dkim": "DKIM",
        "rejected": "rejet par l'utilisateur de l'entrée",
    },
    "en": {
        "title": "Written-agreement archive verification report",
        "made": "Produced on",
        "ok": "RESULT: the archive is intact. Every message is byte-for-byte the one received; "
        "the hash chain is complete.",
        "broken": "RESULT: the archive has been ALTERED. First problem:",
        "head": "Chain head hash (keep a copy elsewhere):",
        "how": "Method: the SHA-256 of every .eml file is recomputed and compared with the "
        "ledger (ledger.jsonl); every ledger entry holds the hash of the previous one; the "
        "sender's DKIM signature is re-verified against the DNS public key recorded on "
        "arrival. Independent check: `sha256sum messages/*.eml` and compare with the sha256 "
        "column of index.csv.",
        "entry": "Entry",
        "from_client": "client",
        "received": "received",
        "dkim": "DKIM",
        "rejected": "rejected by the user:",
    },
}
INDEX_COLUMNS = (
    "seq",
    "file",
    "message_id",
    "client",
    "phrase",
    "received_at",
    "archived_at",
    "sha256",
    "dkim",
    "dkim_domain",
    "dkim_selector",
    "entry_hash",
    "kind",
    "dkim_verdict",
    "rejected_reason",
)


def entry_file_name(entry: LedgerEntry) -> str:
    safe = re.sub(r"[^A-Za-z0-9._@-]+", "_", entry.message_id).strip("._")[:80] or "message"
    return f"{entry.seq:04d}_{safe}.eml"


def _report(result: VerifyResult, language: str, now: datetime, verdicts: dict[str, str]) -> str:
    order = [language, "en" if language == "fr" else "fr"] if language in _REPORT else ["en"]
    sections = []
    for lang in order:
        t = _REPORT[lang]
        lines = [t["title"], "=" * len(t["title"]), f"{t['made']} {now.isoformat()}", ""]
        lines.append(t["ok"] if result.ok else f"{t['broken']} {result.problems[0]}")
        lines += [f"  - {p}" for p in result.problems[1:]]
        lines += ["", f"{t['head']} {result.head}", "", t["how"], ""]
        for e in result.entries:
            if e.kind == REJECTION:
                lines.append(f"{t['entry']} {e.seq}: {t['rejected']} {e.message_id} — {e.reason}")
                continue
            shown = verdict(e.dkim) if e.kind == DKIM_RECHECK else verdicts.get(e.entry_hash, "")
            lines.append(
                f"{t['entry']} {e.seq}: {e.message_id} — {t['from_client']} {e.client} — "
                f"« {e.phrase} » — {t['received']} {e.received_at} — {t['dkim']} "
                f"{' '.join(x for x in (shown, e.dkim.domain, e.dkim.selector) if x)} "
                f"— sha256 {e.sha256}"
            )
            if e.dkim.key_record:
                lines.append(
                    f"    {e.dkim.selector}._domainkey.{e.dkim.domain} TXT {e.dkim.key_record}"
                )
        sections.append("\n".join(lines))
    return "\n\n\n".join(sections) + "\n"


def export_archive(
    archive: EvidenceArchive, directory: Path, *, language: str, now: datetime
) -> VerifyResult:
    """Write a folder a lawyer can read; returns the verification (the caller decides)."""
    if directory.exists() and any(directory.iterdir()):
        raise ConfigError(f"DIR {directory}: not empty; export into a new or empty folder")
    result = archive.verify()
    messages = directory / "messages"
    messages.mkdir(parents=True, exist_ok=True)
    rejected = rejections(result.entries)
    verdicts = {
        e.entry_hash: archive.verdict(e)
        for e in current_agreements(result.entries, include_rejected=True)
    }
    with (directory / "index.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(INDEX_COLUMNS)
        for e in result.entries:
            name = entry_file_name(e) if e.kind == AGREEMENT else ""
            if name:
                try:  # never a symlink: it could copy any file of this machine into the export
                    (messages / name).write_bytes(archive.read_object(e.sha256))
                except OSError:
                    name = ""  # missing or refused: the report names it
            writer.writerow(
                csv_cell(value)
                for value in (
                    e.seq,
                    f"messages/{name}" if name else "",
                    e.message_id,
                    e.client,
                    e.phrase,
                    e.received_at,
                    e.archived_at,
                    e.sha256,
                    e.dkim.result,
                    e.dkim.domain,
                    e.dkim.selector,
                    e.entry_hash,
                    e.kind,
                    verdicts.get(e.entry_hash, verdict(e.dkim)),
                    rejected[e.entry_hash].reason if e.entry_hash in rejected else e.reason,
                )
            )
    if archive.ledger.exists() and not archive.ledger.is_symlink():
        shutil.copyfile(archive.ledger, directory / "ledger.jsonl")
    else:
        (directory / "ledger.jsonl").write_bytes(b"")
    (directory / "verification-report.txt").write_text(
        _report(result, language, now, verdicts), encoding="utf-8"
    )
    return result

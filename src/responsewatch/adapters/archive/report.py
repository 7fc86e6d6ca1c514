"""What ``archive export`` adds for someone who trusts neither the consultant nor this
software: the entry files the chain hashes, the timestamp tokens, the TSA's CA, a PDF
report (HTML rendered by WeasyPrint) and ``VERIFY.txt``, a bash script of standard-tool
commands (sha256sum, grep, sed, openssl ts/dgst) with its explanations as comments.

Every header shown in the PDF comes from the sender: jinja2 autoescapes it, and control
and bidirectional-override characters are removed first (a U+202E could make a line read
backwards).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import jinja2

from responsewatch.adapters.archive.ledger import (
    AGREEMENT,
    GENESIS,
    EvidenceArchive,
    VerifyResult,
    current_agreements,
    rejections,
)
from responsewatch.adapters.strings import CATALOG, section
from responsewatch.adapters.timestamps import TimestampReport, entry_files
from responsewatch.core.parsing import parse_message
from responsewatch.core.safe_text import plain

__all__ = ["ReportRow", "clean_text", "render_pdf", "report_rows", "write_evidence"]


# The report's fr/en strings: the archive_* keys of templates/strings.json.
STRINGS: Mapping[str, Mapping[str, str]] = {
    language: section(language, "archive_") for language in CATALOG
}


def clean_text(value: object, limit: int = 500) -> str:
    """A header as one line of the PDF: the project's one sanitiser, one-line mode."""
    return plain(value or "", limit, one_line=True)


@dataclass(frozen=True, slots=True)
class ReportRow:
    seq: int
    sender: str
    received_at: str
    subject: str
    phrase: str
    excerpt: str
    sha256: str
    dkim: str
    dkim_key: str
    timestamp: str  # empty: not covered yet
    token: str  # the covering token's file name
    rejected: str


def report_rows(
    archive: EvidenceArchive, result: VerifyResult, stamps: TimestampReport
) -> list[ReportRow]:
    rejected = rejections(result.entries)
    rows = []
    for e in current_agreements(result.entries, include_rejected=True):
        sender, subject = "", ""
        with contextlib.suppress(OSError):
            msg = parse_message(archive.read_object(e.sha256))
            sender, subject = msg.from_addr or "", msg.subject
        covering = stamps.covering(e.seq)
        stamp, token = "", ""
        if covering is not None and covering.gen_time is not None:
            stamp = f"{covering.gen_time.isoformat()} — {covering.authority}"
            token = covering.token.name
        key = f"{e.dkim.selector}._domainkey.{e.dkim.domain}" if e.dkim.domain else ""
        if e.dkim.key_record:
            key += f" TXT {e.dkim.key_record}"
        rows.append(
            ReportRow(
                seq=e.seq,
                sender=sender,
                received_at=e.received_at or "",
                subject=subject,
                phrase=e.phrase,
                excerpt=e.excerpt,
                sha256=e.sha256,
                dkim=archive.verdict(e),
                dkim_key=key,
                timestamp=stamp,
                token=token,
                rejected=rejected[e.entry_hash].reason if e.entry_hash in rejected else "",
            )
        )
    return rows


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("responsewatch", "templates"),
    autoescape=True,  # every field is the sender's text
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["clean"] = clean_text


def render_html(
    rows: list[ReportRow],
    result: VerifyResult,
    stamps: TimestampReport,
    *,
    language: str,
    now: datetime,
) -> str:
    tokens = [c for c in stamps.checks if c.ok]
    return _ENV.get_template("archive_report.html").render(
        t=STRINGS.get(language, STRINGS["en"]),
        lang=language if language in STRINGS else "en",
        rows=rows,
        ok=result.ok,
        problems=[str(p) for p in result.problems[:50]],
        head=result.head,
        count=len(result.entries),
        tokens=tokens,
        covered=stamps.covered_through,
        now=now.isoformat(timespec="seconds"),
    )


def render_pdf(html: str, path: Path) -> None:
    from weasyprint import HTML  # slow to import (pango): only when exporting

    # No base_url: the report fetches nothing, not even a file of this machine.
    HTML(string=html, url_fetcher=_no_fetch).write_pdf(path)


def _no_fetch(url: str, *_args: object, **_kwargs: object) -> dict[str, object]:
    raise ValueError(f"the report loads no external resource ({url[:60]})")


def write_evidence(
    archive: EvidenceArchive,
    directory: Path,
    result: VerifyResult,
    stamps: TimestampReport,
    *,
    files: Mapping[int, str],
    ca_file: Path | None,
    language: str,
    now: datetime,
) -> None:
    """chain/, tokens/, tsa-ca.pem, VERIFY.txt and the PDF, beside what the export wrote.
    ``files``: seq -> the message file written for that agreement (relative path)."""
    chain = directory / "chain"
    chain.mkdir(exist_ok=True)
    for seq, (body, _claimed) in enumerate(entry_files(archive.ledger), start=1):
        (chain / f"{seq:06d}.json").write_bytes(body)
    copied = []
    if stamps.checks:
        (directory / "tokens").mkdir(exist_ok=True)
        for check in stamps.checks:
            shutil.copyfile(check.token.path, directory / "tokens" / check.token.name)
            copied.append(check.token)
    if ca_file is not None and copied:
        shutil.copyfile(ca_file, directory / "tsa-ca.pem")
    agreements = {e.seq for e in result.entries if e.kind == AGREEMENT}
    messages = {seq: name for seq, name in files.items() if seq in agreements and name}
    script = verify_script(messages, [t.name for t in copied], ca_file is not None, language)
    (directory / "VERIFY.txt").write_text(script, encoding="utf-8")
    html = render_html(
        report_rows(archive, result, stamps), result, stamps, language=language, now=now
    )
    render_pdf(html, directory / "report.pdf")


def _seq_of_token(name: str) -> int:
    return int(name[:8])


_VERIFY_INTRO: dict[str, tuple[str, ...]] = {
    "fr": (
        "# VERIFY.txt — vérifier cette archive sans responsewatch",
        "#",
        "# Depuis ce dossier :   bash VERIFY.txt",
        "# ou copier chaque commande ci-dessous dans un terminal. Outils standard seulement :",
        "# bash, sha256sum, grep, sed, cut (coreutils) et openssl (openssl ts, openssl dgst).",
        "# Chaque contrôle affiche OK ou FAIL ; la dernière ligne dit si tout est correct.",
        "#",
        "# Principe : messages/NNNN_*.eml est chaque message tel que reçu, octet pour octet ;",
        "# chain/NNNNNN.json est la ligne NNNNNN de ledger.jsonl sans son champ",
        '# "entry_hash", qui est l\'empreinte SHA-256 de ce fichier ; chaque entrée contient',
        "# l'empreinte de son message (\"sha256\") et celle de l'entrée précédente",
        '# ("prev_hash") ; tokens/*.tsr sont les jetons d\'horodatage RFC 3161 de ces',
        "# empreintes. Le certificat racine de l'autorité d'horodatage (tsa-ca.pem) est à",
        "# obtenir auprès d'elle (ou de la liste de confiance de l'UE) pour s'y fier.",
        "#",
    ),
}


def verify_script(
    messages: Mapping[int, str], tokens: list[str], own_ca: bool, language: str
) -> str:
    """VERIFY.txt: runnable as written (``bash VERIFY.txt``); the explanations are comments.
    Names only come from ``seq``, sanitised Message-IDs and token file names (hex)."""
    ca = "-CAfile tsa-ca.pem" if own_ca else "-CApath /etc/ssl/certs"
    lines = [
        *_VERIFY_INTRO.get(language, ()),
        "# VERIFY.txt — check this archive without responsewatch",
        "#",
        "# Run it from this folder:   bash VERIFY.txt",
        "# or copy any command below into a terminal. It needs only standard tools: bash,",
        "# sha256sum, grep, sed, cut (coreutils) and openssl (openssl ts, openssl dgst).",
        "# Each check prints OK or FAIL; the last line says whether all passed.",
        "#",
        "# How the evidence fits together:",
        "#  - messages/NNNN_*.eml is each message byte for byte as received;",
        "#  - ledger.jsonl holds one entry per line; chain/NNNNNN.json is line NNNNNN without",
        '#    its "entry_hash" field: the entry hash is the SHA-256 of that file;',
        '#  - each entry holds the SHA-256 of its message ("sha256") and the hash of the',
        '#    entry before it ("prev_hash"), so the last entry\'s hash pins all of them;',
        "#  - tokens/NNNNNNNN-HASH-TSA.tsr is an RFC 3161 time-stamp token of entry NNNNNNNN",
        "#    (its message imprint is the SHA-256 of chain/NNNNNN.json). The TSA's own CA",
        "#    certificate must be obtained from the TSA (or the EU trusted list) to trust it;",
        "#    tsa-ca.pem is the copy the archive was configured with.",
        "",
        "export LC_ALL=C",
        "failed=0",
        'ok() { echo "OK    $*"; }',
        'bad() { echo "FAIL  $*"; failed=1; }',
        "",
        "# 1. Each message file has the SHA-256 its ledger entry recorded.",
    ]
    for seq in sorted(messages):
        name = messages[seq]
        lines.append(
            f'grep -qF "\\"sha256\\":\\"$(sha256sum < \'{name}\' | cut -c1-64)\\"" '
            f"chain/{seq:06d}.json && ok 'entry {seq}: {name}' "
            f"|| bad 'entry {seq}: {name} is not the message the ledger recorded'"
        )
    lines += [
        "",
        "# 2. Each ledger line is its chain/ file plus the SHA-256 of that file, and each",
        "#    entry names the hash of the one before it (the first names 64 zeros).",
        f"prev={GENESIS}",
        "n=0",
        "while IFS= read -r line; do",
        '  n=$((n + 1)); f=chain/$(printf %06d "$n").json',
        '  hash=$(sha256sum < "$f" | cut -c1-64)',
        '  body=$(printf \'%s\' "$line" | sed -e \'s/,"entry_hash":"[0-9a-f]\\{64\\}"//\')',
        '  [ "$(printf \'%s\' "$body" | sha256sum)" = "$(sha256sum < "$f")" ] \\',
        '    && printf \'%s\' "$line" | grep -qF "\\"entry_hash\\":\\"$hash\\"" \\',
        '    && grep -qF "\\"prev_hash\\":\\"$prev\\"" "$f" \\',
        '    && ok "entry $n: $hash" || bad "entry $n: the chain is broken here"',
        "  prev=$hash",
        "done < ledger.jsonl",
        '[ "$n" -gt 0 ] && [ -e chain/$(printf %06d $((n + 1))).json ] '
        "&& bad 'chain/ holds entries the ledger does not'",
        "",
        "# 3. Each time-stamp token is signed by the TSA (certificate chain to the CA) and",
        "#    covers the entry its name gives. See the date:  openssl ts -reply -in TOKEN -text",
        "#    The imprint it must show is:  openssl dgst -sha256 chain/NNNNNN.json",
    ]
    if not tokens:
        lines.append("echo 'no time-stamp token in this export'")
    for token in tokens:
        seq = _seq_of_token(token)
        lines.append(
            f"openssl ts -verify -in tokens/{token} -data chain/{seq:06d}.json {ca} "
            f">/dev/null 2>&1 && ok 'token {token}: entry {seq} and all before it' "
            f"|| bad 'token {token} does not verify for entry {seq}'"
        )
    lines += [
        "",
        '[ "$failed" = 0 ] && echo "ALL CHECKS PASSED" || echo "SOME CHECKS FAILED"',
        'exit "$failed"',
        "",
    ]
    return "\n".join(lines)

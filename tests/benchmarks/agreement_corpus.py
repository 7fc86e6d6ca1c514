"""Load the real mail the agreement labels point at (never copied into the repository).

A real label names a corpus file under ``../shared/corpora`` and a Message-ID; this module
reads the message from there and turns it into the inputs of ``detect_agreement`` exactly
as the archive pipeline does (``body_text`` of the raw bytes, attachment names).
Corpora: gzip'd mboxes (Enron, mailing lists) and BC3's XML (ids ``bc3:<listno>:<n>``).
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from responsewatch.app.archive_app import _attachment_names
from responsewatch.core.parsing import body_text, parse_message, split_header_block

ROOT = Path(__file__).resolve().parents[2]
CORPORA = Path(os.environ.get("RESPONSEWATCH_CORPORA", ROOT.parent / "shared" / "corpora"))
DATA = ROOT / "tests" / "data" / "agreements"
HOLDOUT_PERCENT = 30


def split_of(case_id: str) -> str:
    """``holdout`` for a fixed 30% of ids (by hash, decided before any tuning), else ``dev``."""
    digest = hashlib.sha256(case_id.encode("utf-8")).digest()
    return "holdout" if int.from_bytes(digest[:4], "big") % 100 < HOLDOUT_PERCENT else "dev"


@dataclass(frozen=True, slots=True)
class Mail:
    message_id: str
    body: str
    subject: str
    attachments: tuple[str, ...]
    automated: bool
    sender: str


def _mbox_messages(data: bytes) -> Iterator[bytes]:
    start = None
    pos = 0
    while True:
        nxt = data.find(b"\nFrom ", pos) if pos else (0 if data.startswith(b"From ") else -1)
        if nxt < 0:
            break
        line_start = nxt if nxt == 0 else nxt + 1
        if start is not None:
            yield data[start : line_start - 1]
        start = data.index(b"\n", line_start) + 1
        pos = start
    if start is not None:
        yield data[start:]


def _from_raw(raw: bytes) -> Mail:
    msg = parse_message(raw)
    header = split_header_block(raw)
    return Mail(
        msg.message_id,
        body_text(raw, header),
        msg.subject,
        tuple(_attachment_names(raw[header.body_offset :])),
        msg.automated,
        msg.from_addr or "",
    )


def _bc3(path: Path) -> dict[str, Mail]:
    out: dict[str, Mail] = {}
    root = ET.fromstring(gzip.decompress(path.read_bytes()))
    for thread in root.iter("thread"):
        listno = (thread.findtext("listno") or "").strip()
        for n, doc in enumerate(thread.iter("DOC"), 1):
            # The corpus escapes its text twice: "&gt;" quote markers survive one parse.
            sentences = [html.unescape((s.text or "").strip()) for s in doc.iter("Sent")]
            mid = f"bc3:{listno}:{n}"
            sender = (doc.findtext("From") or "").strip()
            subject = (doc.findtext("Subject") or "").strip()
            out[mid] = Mail(mid, "\n".join(sentences), subject, (), False, sender)
    return out


_MESSAGE_ID = re.compile(rb"(?im)^message-id:[ \t]*<?([^>\r\n]*)>?")


@cache
def _raw_index(relative: str) -> dict[str, bytes]:
    """Raw messages of an mbox by Message-ID, found without parsing every message."""
    out: dict[str, bytes] = {}
    for raw in _mbox_messages(gzip.decompress((CORPORA / relative).read_bytes())):
        end = raw.find(b"\n\n")
        found = _MESSAGE_ID.search(raw, 0, end if end >= 0 else len(raw))
        key = found.group(1).strip().decode("latin-1") if found else ""
        out.setdefault(key or _from_raw(raw).message_id, raw)
    return out


def mail_of(relative: str, message_id: str) -> Mail:
    """One message: parsed alone, so a label costs one parse, not its whole mailbox."""
    if relative.endswith("corpus.xml.gz"):
        return corpus_file(relative)[message_id]
    raw = _raw_index(relative).get(message_id)
    mail = _from_raw(raw) if raw is not None else None
    if mail is None or mail.message_id != message_id:
        return corpus_file(relative)[message_id]  # an unusual header: parse them all
    return mail


@cache
def corpus_file(relative: str) -> dict[str, Mail]:
    """Every message of one corpus file, by Message-ID (first occurrence wins)."""
    path = CORPORA / relative
    if relative.endswith("corpus.xml.gz"):
        return _bc3(path)
    out: dict[str, Mail] = {}
    for raw in _mbox_messages(gzip.decompress(path.read_bytes())):
        mail = _from_raw(raw)
        out.setdefault(mail.message_id, mail)
    return out


def load_cases(name: str) -> list[dict[str, object]]:
    path = DATA / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def resolve(case: dict[str, object]) -> dict[str, object]:
    """A real case gets its body, subject and attachments from the corpus file it names."""
    if "corpus" not in case:
        return case
    mail = mail_of(str(case["corpus"]), str(case["message_id"]))
    return {
        **case,
        "body": mail.body,
        "subject": mail.subject,
        "attachments": list(mail.attachments),
        "from_me": False,
        # Lists and BC3 are read as text: their List-Id would make every message automated
        # and hide what the detector does with the words.
        "automated": mail.automated and "enron" in str(case["corpus"]),
    }

"""The real Enron mailboxes (../shared/corpora/real/enron) as messages to APPEND."""

from __future__ import annotations

import email.utils
import gzip
import mailbox
import tempfile
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["CORPUS", "messages"]

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpora" / "real" / "enron"
_UNDATED = datetime(2001, 1, 1, tzinfo=UTC)


def messages(path: Path) -> list[tuple[bytes, datetime, tuple[str, ...]]]:
    """(CRLF bytes, Date header as INTERNALDATE, no flags) for each message of an .mbox.gz."""
    with tempfile.NamedTemporaryFile(suffix=".mbox") as tmp:
        tmp.write(gzip.decompress(path.read_bytes()))
        tmp.flush()
        out = []
        for m in mailbox.mbox(tmp.name):
            data = m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            try:
                when = email.utils.parsedate_to_datetime(str(m["Date"]))
            except (TypeError, ValueError):
                when = _UNDATED
            out.append((data, when if when.tzinfo else when.replace(tzinfo=UTC), ()))
        return out

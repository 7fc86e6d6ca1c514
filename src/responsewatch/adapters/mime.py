"""Rebuild the header block IMAP would give from a provider's structured fields.

Graph and EWS hand over fields, not bytes. :func:`rfc5322` writes the message's own
transport headers first (when the provider has them), fills what is missing from the
structured fields, and appends a small text part, so ``parse_message`` sees the same
facts as from IMAP.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, formataddr

__all__ = ["MailFields", "rfc5322"]

# The stored header block must not claim a MIME structure the rebuilt body does not have.
_DROPPED_HEADERS = frozenset({"content-type", "content-transfer-encoding", "mime-version"})
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")


@dataclass(frozen=True, slots=True)
class MailFields:
    """What Graph or EWS tell about a message, to rebuild the header block IMAP would give."""

    transport_headers: tuple[tuple[str, str], ...] = ()
    message_id: str | None = None
    from_addr: tuple[str, str] | None = None  # (display name, address)
    to: tuple[tuple[str, str], ...] = ()
    cc: tuple[tuple[str, str], ...] = ()
    subject: str | None = None
    sent: datetime | None = None
    in_reply_to: str | None = None
    references: str | None = None
    thread_index: str | None = None
    text: str = ""
    item_id: str | None = None  # the provider's id: keeps Message-ID-less messages apart


def _clean(value: str) -> str:
    # A header value must stay on its line: CR/LF in it would forge further fields.
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


def _addr(pair: tuple[str, str]) -> str:
    return formataddr((_clean(pair[0]), _clean(pair[1])), charset="utf-8")


def rfc5322(fields: MailFields) -> bytes:
    """Header block (transport headers first, gaps filled from the fields) + a text part."""
    lines: list[str] = []
    seen: set[str] = set()
    for name, value in fields.transport_headers:
        lower = name.lower()
        if lower in _DROPPED_HEADERS or not _FIELD_NAME.fullmatch(name):
            continue
        lines.append(f"{name}: {_clean(value)}")
        seen.add(lower)
    synthesized: Sequence[tuple[str, str | None]] = (
        ("From", _addr(fields.from_addr) if fields.from_addr else None),
        ("To", ", ".join(_addr(a) for a in fields.to) or None),
        ("Cc", ", ".join(_addr(a) for a in fields.cc) or None),
        ("Subject", fields.subject),
        ("Date", format_datetime(fields.sent.astimezone(UTC)) if fields.sent else None),
        ("Message-ID", fields.message_id),
        ("In-Reply-To", fields.in_reply_to),
        ("References", fields.references),
        ("Thread-Index", fields.thread_index),
    )
    for field_name, field_value in synthesized:
        if field_value is not None and field_name.lower() not in seen:
            lines.append(f"{field_name}: {_clean(field_value)}")
            seen.add(field_name.lower())
    if "message-id" not in seen and fields.item_id:
        # parse_message names such a message by a hash of its header block: without this
        # line two different messages with the same (few) fields would become one.
        lines.append(f"X-Item-Id: {_clean(fields.item_id)}")
    lines += ["MIME-Version: 1.0", 'Content-Type: text/plain; charset="utf-8"']
    lines.append("Content-Transfer-Encoding: 8bit")
    body = "\r\n".join(fields.text.splitlines())
    return ("\r\n".join(lines) + "\r\n\r\n" + body + ("\r\n" if body else "")).encode("utf-8")

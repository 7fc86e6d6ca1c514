"""Small builders for tests: Message values and raw RFC 5322 bytes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from responsewatch.core.models import Message

ME = "claire@martin-conseil.fr"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Paris
HOUR = timedelta(hours=1)


def msg(
    mid: str,
    sender: str,
    to: Sequence[str] = (ME,),
    at: datetime | None = T0,
    *,
    cc: Sequence[str] = (),
    subject: str = "Projet",
    refs: Sequence[str] = (),
    thanks: bool = False,
    automated: bool = False,
    arrival: datetime | None = None,
) -> Message:
    """A Message whose time is ``at`` whoever sent it (Date = arrival unless given)."""
    return Message(
        message_id=mid,
        from_addr=sender,
        to=tuple(to),
        cc=tuple(cc),
        subject=subject,
        date=at,
        arrival=arrival if arrival is not None else at,
        in_reply_to=tuple(refs[-1:]),
        references=tuple(refs),
        automated=automated,
        thanks_only=thanks,
    )


def raw(
    mid: str | None,
    sender: str,
    to: Sequence[str],
    at: datetime | None,
    *,
    subject: str = "Projet",
    refs: Sequence[str] = (),
    cc: Sequence[str] = (),
    body: str = "Pouvez-vous regarder ?\n",
    received: datetime | None = None,
    extra: Sequence[str] = (),
) -> bytes:
    lines = []
    if received is not None:
        lines.append(f"Received: from mx by mx.example; {format_datetime(received)}")
    lines += [f"From: {sender}", f"To: {', '.join(to)}"]
    if cc:
        lines.append(f"Cc: {', '.join(cc)}")
    lines.append(f"Subject: {subject}")
    if at is not None:
        lines.append(f"Date: {format_datetime(at)}")
    if mid is not None:
        lines.append(f"Message-ID: <{mid}>")
    if refs:
        lines.append(f"In-Reply-To: <{refs[-1]}>")
        lines.append("References: " + " ".join(f"<{r}>" for r in refs))
    lines.extend(extra)
    return ("\n".join(lines) + "\n\n" + body).encode("utf-8")

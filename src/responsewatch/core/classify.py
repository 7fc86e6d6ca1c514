"""Which messages count: automated mail, out-of-office replies, thanks-only notes.

Pure functions over already-unfolded header fields (lower-cased names) and text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from responsewatch.core.quoting import strip_quotes

__all__ = [
    "ACKNOWLEDGEMENTS",
    "is_auto_reply",
    "is_automated",
    "is_thanks_only",
    "new_text",
]

Fields = Mapping[str, Sequence[str]]

_AUTOMATED_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
# DESIGN.md names noreply, no-reply, donotreply, mailer-daemon, postmaster, notifications
# "such as": the spelling variants below are the same intent, seen in real mail.
_ROBOT_LOCAL_PARTS = frozenset(
    {
        "noreply",
        "no-reply",
        "no_reply",
        "donotreply",
        "do-not-reply",
        "do_not_reply",
        "mailer-daemon",
        "postmaster",
        "notifications",
        "notification",
    }
)
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[- ]?reply|r[ée]ponse automatique|out of (the )?office|"
    r"absence|abwesenheitsnotiz|autoreply)\b",
    re.IGNORECASE,
)


def _first(fields: Fields, name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


def is_robot_address(address: str | None) -> bool:
    if not address:
        return False
    local = address.partition("@")[0].split("+", 1)[0]
    return local in _ROBOT_LOCAL_PARTS


def is_automated(fields: Fields, from_addr: str | None) -> bool:
    """DESIGN.md "Automated mail": any one signal is enough."""
    auto_submitted = _first(fields, "auto-submitted")
    if auto_submitted is not None and auto_submitted.split(";", 1)[0].strip().lower() != "no":
        return True
    precedence = _first(fields, "precedence")
    if precedence is not None and precedence.strip().lower() in _AUTOMATED_PRECEDENCE:
        return True
    if any(
        name in fields for name in ("list-id", "list-unsubscribe", "x-autoreply", "x-autorespond")
    ):
        return True
    for return_path in fields.get("return-path", ()):
        if return_path.replace(" ", "").replace("\t", "") == "<>":
            return True
    content_type = _first(fields, "content-type")
    if content_type is not None and content_type.split(";", 1)[0].strip().lower() == (
        "multipart/report"
    ):
        return True
    return is_robot_address(from_addr)


def is_auto_reply(fields: Fields, subject: str) -> bool:
    """Out-of-office and other auto-replies (kept for the digest, never clock events)."""
    auto_submitted = (_first(fields, "auto-submitted") or "").strip().lower()
    if auto_submitted.startswith("auto-replied"):
        return True
    if "x-autoreply" in fields or "x-autorespond" in fields:
        return True
    return bool(_AUTO_REPLY_SUBJECT.match(subject))


# -- thanks-only ---------------------------------------------------------------------------

ACKNOWLEDGEMENTS = (
    "merci",
    "thanks",
    "thank you",
    "ok",
    "d'accord",
    "parfait",
    "bien reçu",
    "noted",
    "reçu",
    "super",
    "top",
    "great",
)
_ACK_RE = re.compile(
    r"(?<![\w'])("
    + "|".join(re.escape(a).replace("'", "['’]") for a in ACKNOWLEDGEMENTS)
    + r")(?![\w])",
    re.IGNORECASE,
)
_WORD_RE = re.compile(r"\w", re.UNICODE)
_MAX_WORDS = 12


def new_text(text: str) -> str:
    """The part of a body its author wrote now (the stripper shared with agreements).

    Everything from a reply header on is cut, inline answers below it included: DESIGN.md's
    thanks-only rule, which the JSON contract follows to the letter.
    """
    return strip_quotes(text, inline_answers=False)


def is_thanks_only(text: str) -> bool:
    """At most 12 words, no question mark, and an acknowledgement, in the new text."""
    # The new text is whole lines of ``text`` (line breaks are never word characters), so
    # an acknowledgement absent from ``text`` is absent from it too: most mail stops here.
    if _ACK_RE.search(text) is None:
        return False
    written = new_text(text)
    if "?" in written:
        return False
    words = [w for w in written.split() if _WORD_RE.search(w)]
    if not words or len(words) > _MAX_WORDS:
        return False
    return _ACK_RE.search(written) is not None

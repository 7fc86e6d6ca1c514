"""Reply/forward subject prefixes and the base subject used by the conversation fallback.

The prefix grammar is DESIGN.md's, no wider: a word from the reply or forward list, an
optional ``[n]``/``(n)`` counter, an optional dot, optional spaces (French ``RE :``), then a
colon (ASCII or full-width). Prefixes and leading list tags ``[...]`` may be stacked in any
order. Anything else ("Reg:", "RES:", "(fwd)" trailers) is part of the subject on purpose:
a look-alike that over-matches would glue unrelated conversations together.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "FORWARD_PREFIXES",
    "REPLY_PREFIXES",
    "base_subject",
    "clear_caches",
    "has_reply_prefix",
    "is_forward_subject",
    "split_subject",
    "subject_prefixes",
]

REPLY_PREFIXES: frozenset[str] = frozenset(
    {"re", "réf", "ref", "rép", "rep", "aw", "sv", "vs", "antw", "odp"}
)
FORWARD_PREFIXES: frozenset[str] = frozenset({"fwd", "fw", "tr", "wg", "rv"})

# Longest words first: "Fwd:" then matches without backtracking through "Fw".
_WORDS = sorted(REPLY_PREFIXES | FORWARD_PREFIXES, key=lambda w: (-len(w), w))
_PREFIX = re.compile(
    r"(?P<word>" + "|".join(re.escape(w) for w in _WORDS) + r")"
    r"(?:\[\d+\]|\(\d+\))?"  # counter: Re[2]: / Re(3):
    r"\.?"  # Réf. :
    r"\s*"  # French typography: RE : (also a no-break space)
    r"[:\uff1a]",  # ASCII or full-width colon
    re.IGNORECASE,
)
_LIST_TAG = r"\[[^\]]*\]"
# The whole leading run of whitespace, list tags and prefixes, in one match; the prefixes
# inside it are then picked out by _TAG_OR_PREFIX (same alternatives, same order).
_LEAD = re.compile(r"(?:\s*(?:" + _LIST_TAG + "|" + _PREFIX.pattern + r"))*\s*", re.IGNORECASE)
_TAG_OR_PREFIX = re.compile(_LIST_TAG + "|" + _PREFIX.pattern, re.IGNORECASE)
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=1 << 18)
def _scan(subject: str) -> tuple[tuple[str, ...], str]:
    """Split a subject into its leading prefixes (case-folded words) and the rest."""
    text = subject if subject.isascii() else unicodedata.normalize("NFC", subject)
    lead = _LEAD.match(text)
    end = lead.end() if lead is not None else 0  # never None: the pattern matches ""
    if end == 0:
        return (), text
    prefixes = tuple(
        word.casefold()
        for found in _TAG_OR_PREFIX.finditer(text, 0, end)
        if (word := found.group("word"))
    )
    return prefixes, text[end:]


@lru_cache(maxsize=1 << 18)
def split_subject(subject: str) -> tuple[tuple[str, ...], str]:
    """``(subject_prefixes(subject), base_subject(subject))`` in one scan."""
    prefixes, rest = _scan(subject)
    return prefixes, _SPACE.sub(" ", rest.casefold()).strip()


def subject_prefixes(subject: str) -> tuple[str, ...]:
    """The leading reply/forward prefixes, case-folded ("re", "aw", "fwd", "réf", ...), in order.

    Counters, dots and colons are dropped; list tags in between are skipped.
    """
    return _scan(subject)[0]


def has_reply_prefix(subject: str) -> bool:
    """True when any leading prefix is a reply prefix (``Fwd: Re: x`` counts)."""
    return any(p in REPLY_PREFIXES for p in subject_prefixes(subject))


def is_forward_subject(subject: str) -> bool:
    """True when the first leading prefix (after any list tags) is a forward prefix."""
    prefixes = subject_prefixes(subject)
    return bool(prefixes) and prefixes[0] in FORWARD_PREFIXES


def base_subject(subject: str) -> str:
    """The subject without leading prefixes and list tags, case-folded, whitespace collapsed."""
    return split_subject(subject)[1]


def clear_caches() -> None:
    """Drop the memoised subject splits (a long-running process calls this after a bulk
    computation: the cache speeds one recompute up and need not outlive it)."""
    split_subject.cache_clear()
    _scan.cache_clear()

"""Text from mail made safe to show: on a terminal, in the digest, in a spreadsheet.

Every header and body is written by whoever sent the message. Printed raw, an ESC sequence
recolours or retitles the terminal (OSC 8 even plants a hyperlink), a right-to-left override
disguises ``invoice‮exe.jpg``, a 20,000-character subject buries the digest, and a cell
starting with ``=`` is a formula in a spreadsheet. :func:`plain` is THE function every
printed value from mail goes through; :func:`csv_cell` the one for CSV cells.
"""

from __future__ import annotations

import re

__all__ = ["BIDI_CONTROLS", "csv_cell", "plain"]

# Embeddings, overrides, isolates and marks: they reorder what is shown, so they go.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_BIDI_RE = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")
# C0 (tab and newline included: a value is one line), DEL, C1, and the Unicode line and
# paragraph separators, which terminals and mail clients also break lines at.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NEEDS_WORK_RE = re.compile(f"{_BIDI_RE.pattern}|{_CONTROL_RE.pattern}")
ELLIPSIS = "…"


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


# One-line mode (web pages, the PDF report) also drops the zero-width and invisible
# characters a subject can hide text with; a lone surrogate (undecodable bytes) cannot be
# encoded into a page at all.
_INVISIBLE = "\u200b-\u200d\u2060-\u2064\ufeff\ufff9-\ufffb"
_INVISIBLE_RE = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + _INVISIBLE + "]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def plain(value: object, limit: int | None = None, *, one_line: bool = False) -> str:
    """``value`` as one line of inert text: bidi controls removed, other control
    characters shown as ``\\xNN`` escapes, and at most ``limit`` characters (the last one
    an ellipsis when cut). ``one_line``: every run of whitespace (line breaks included)
    becomes one space, ends stripped, invisible characters removed. Idempotent."""
    text = value if isinstance(value, str) else str(value)
    if one_line:
        # Removal before folding: "a \u202e b" must become "a b" in one pass, not two.
        text = _SURROGATE_RE.sub("\ufffd", _INVISIBLE_RE.sub("", text))
        text = " ".join(text.split())
    cut = False
    if limit is not None and len(text) > limit * 4 + 16:
        # Cut before the regexes run, so a huge value costs no more than a long one.
        text, cut = text[: limit * 4 + 16], True
    if _NEEDS_WORK_RE.search(text) is not None:
        text = _CONTROL_RE.sub(_visible, _BIDI_RE.sub("", text))
    if limit is not None and (cut or len(text) > limit):
        text = text[: max(limit - 1, 0)] + ELLIPSIS
    return text


# OWASP "CSV injection": these lead characters make a spreadsheet evaluate the cell.
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text: a leading ``'`` before a formula lead.
    Numbers and None pass unchanged (a negative number is data, not a formula)."""
    if isinstance(value, str) and value.startswith(_FORMULA_LEADS):
        return "'" + value
    return value

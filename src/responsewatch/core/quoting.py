"""The one quote stripper: the part of a body its sender wrote now.

Both rules that read a body use it: thanks-only (``classify``, DESIGN's word count on top)
and agreement detection (``agreements``, sign-off and disclaimer cuts on top). Two
strippers drifted before: a thanks-only note above an Outlook French header block was read
as a long message, and "Envoyé de mon iPhone" counted as words.

Cut: lines starting with ``>`` (skipped, so inline answers between them stay), and
everything from a reply header (``Le … a écrit :``, ``On … wrote:``, ``At …, X wrote:``,
``Am … schrieb X:``, ``-----Original Message-----`` and its fr/de forms, forward banners,
Outlook ``De :``/``From:``/``Von:`` … ``Objet :``/``Subject:``/``Betreff:`` blocks), the
signature after a ``-- `` line, and a mobile sign-off ("Sent from my iPhone"). A "wrote:"
header whose history is ``>``-quoted does not end the new text: replies written between
the quoted lines follow it (for agreements; thanks-only cuts there, as DESIGN.md says).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence

__all__ = ["fold", "html_to_text", "looks_like_html", "strip_quotes"]

_HEADER_MAX = 300  # a reply header longer than this is prose (and keeps the regexes linear)

# Typographic apostrophes, quotes, dashes and non-breaking spaces, as Outlook and macOS type them.
_FOLD = str.maketrans("’‘`´ʼ«»“”–—‑\u00a0\u202f\u2009", "'''''\"\"\"\"---   ")
_COMBINING_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str) -> str:
    """Lower-case, typographic quotes/spaces made plain, accents removed.

    Patterns are written against this form, so "Validé", "VALIDE" and "validé" are one.
    """
    if text.isascii():
        return text.lower()  # the common case, and the translation/NFKD below are no-ops on it
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    # The combining-mark blocks in one C-level pass (a per-character loop was the hot spot).
    return _COMBINING_MARKS.sub("", decomposed).lower()


# All patterns below are matched against fold()ed, stripped lines.
_SEPARATOR = re.compile(
    r"^\*?(?:-{2,} ?(?:original message|message d'origine|message original|mail original"
    r"|forwarded message|message transfere|e-mail d'origine|courriel d'origine|message initial"
    r"|ursprungliche nachricht|ursprungliche e-mail|weitergeleitete nachricht)"
    r" ?-{2,}|_{8,}|-{8,}|begin forwarded message ?:|debut du message (?:reexpedie|transfere) ?:"
    r"|-{3,} ?forwarded by\b|anfang der weitergeleiteten)"
)
_MOBILE = re.compile(
    r"^(?:envoye (?:de|depuis) mon|envoye a partir de|sent from my|sent from outlook"
    r"|sent from (?:yahoo|mail for|samsung|my)|sent via|sent with|get outlook for"
    r"|telecharger outlook|obtenir outlook|von meinem \w+ gesendet|gesendet von meinem"
    r"|von meinem (?:iphone|ipad|smartphone|handy)|envoye avec)"
)
# Gmail, Apple Mail, Thunderbird, Eudora: "Le …, X a écrit :", "On … wrote:", "At …, X wrote:".
_WROTE_START = re.compile(r"^(?:le|on|am|at|el|op|il)\s.*\d")
# German names the writer after the verb: "Am 16.11.2026 um 18:04 schrieb Claire <c@m.fr>:".
_WROTE_END = re.compile(
    r"\b(?:a ecrit|wrote|schrieb|ecrit|escribio|ha scritto)\s?:\s*$|\bschrieb\b[^:]{0,120}:\s*$"
)
_WROTE_ALONE = re.compile(
    r"^.{0,150}(?:<[^>]+@[^>]+>|\d|@).{0,80}\b(?:a ecrit|wrote|schrieb)\s?:\s*$"
)
# Lotus Notes: "John Arnold@ECT" / "Jane Doe <j@d.com> on 10/10/2000 08:32 AM".
_NOTES_BANNER = re.compile(
    r"^.{1,120}\bon \d{1,2}/\d{1,2}/\d{2,4},? \d{1,2}:\d{2}(?::\d{2})? ?[ap]m$"
)
_HEADER_FROM = re.compile(r"^\*?(?:de|from|von|expediteur|absender)\s?:\s?\*?\s?\S")
_HEADER_OTHER = re.compile(
    r"^\*?(?:envoye|envoye le|sent|date|datum|gesendet|a|to|an|objet|subject|betreff|cc"
    r"|destinataire|empfanger)\s?\*?:"
)
_NOTES_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{2,4},? \d{1,2}:\d{2}")
_NOTES_TAIL = re.compile(
    r"^\d{1,2}/\d{1,2}/\d{2,4},? \d{1,2}:\d{2}(?::\d{2})? ?(?:[ap]m)?$|^\S.{0,80}@\S+$"
    r"|\bon \d{1,2}/\d{1,2}/\d{2,4}\b.{0,20}$|^[ap]m$",
    re.IGNORECASE,
)
_HEADER_TO = re.compile(r"^\*?(?:to|a|an)\s?:\s?\S")
# One line that holds a whole Outlook block, as HTML-to-text conversions give it.
_INLINE_HEADER_BLOCK = re.compile(
    r"^\*?(?:de|from|von) ?:.{0,200}\b(?:objet|subject|betreff|envoye|sent|gesendet) ?:"
)
# Only lines starting or ending like this can be a header or a sign-off: the rest skip
# fold() and the patterns above (an anchored match and two string tests per line).
_MAYBE_START = re.compile(
    r"[-_*]|\W*(?:le|on|am|at|el|op|il|de|from|von|exp|abs|envoy|sent|get|t[eé]l|obt|begin"
    r"|d[eé]but|anfang|gesendet|von)|\W*(?:to|[aà]|an)\s?:",
    re.IGNORECASE,
)
_MAYBE_END = ("am", "pm", "AM", "PM", "Am", "Pm")


def _maybe_header(stripped: str) -> bool:
    return (
        stripped.endswith(":")
        or stripped.endswith(_MAYBE_END)
        or _MAYBE_START.match(stripped) is not None
    )


def _wrote_header_end(lines: Sequence[str], i: int, first: str) -> int | None:
    """Index of the last line of a "… wrote:" header starting at ``i``, else None."""
    # Every "wrote:" header ends with a colon: the regexes only run on such lines.
    if first.endswith(":") and _WROTE_ALONE.match(first):
        return i
    if not _WROTE_START.match(first):
        return None
    # Gmail and Apple Mail wrap "Le lun. 3 nov. 2026 à 10:12, X <x@y> a écrit :" at 72-78
    # columns, so the header may end one to three lines further down.
    joined = first
    for extra in range(4):
        if len(joined) > _HEADER_MAX:
            return None
        if joined.endswith(":") and _WROTE_END.search(joined):
            return i + extra
        nxt = i + extra + 1
        if nxt >= len(lines) or not lines[nxt].strip() or lines[nxt].lstrip().startswith(">"):
            return None
        joined = f"{joined} {fold(lines[nxt]).strip()}"
    return None


def _is_block_start(lines: Sequence[str], i: int, first: str) -> bool:
    """A separator, a mobile sign-off, a Notes banner or an Outlook header block."""
    if _SEPARATOR.match(first) or _MOBILE.match(first) or _INLINE_HEADER_BLOCK.match(first):
        return True
    if first.endswith(("am", "pm")) and len(first) <= _HEADER_MAX and _NOTES_BANNER.match(first):
        return True
    if _HEADER_FROM.match(first) or _HEADER_TO.match(first):
        # An Outlook block is a From line followed by other header lines (Lotus Notes puts
        # a date line and blank lines between them, or starts at "To:"); one "De :" line
        # on its own may be ordinary prose.
        following = [fold(x).strip() for x in lines[i + 1 : i + 16] if x.strip()][:4]
        return sum(bool(_HEADER_OTHER.match(x)) for x in following) >= (
            1 if _HEADER_FROM.match(first) else 2
        )
    return False


def _drop_notes_banner(kept: list[str]) -> None:
    """Lotus Notes writes "Name@ORG" (or "Name <addr> on DATE") and a date above "To:"."""
    while kept and not kept[-1].strip():
        kept.pop()
    for _ in range(3):
        if not kept or not _NOTES_TAIL.search(kept[-1].strip()):
            return
        kept.pop()
        if kept and _NOTES_TAIL.search(kept[-1].strip()) is None and kept[-1].strip():
            # The name line above a bare date line.
            if _NOTES_DATE.match(kept[-1].strip()) is None and len(kept[-1].split()) <= 5:
                kept.pop()
            return


def _quoted_follows(lines: Sequence[str], after: int) -> bool:
    for line in lines[after + 1 :]:
        if line.strip():
            return line.lstrip().startswith(">")
    return False


def strip_quotes(body: str, *, inline_answers: bool = True) -> str:
    """The new text of ``body``: no quoted lines, reply headers, history or signature.

    ``inline_answers=False`` is DESIGN.md's thanks-only reading to the letter: everything
    from a reply header on is history, even when answers sit between its quoted lines. The
    JSON contract (thanks-only decides turns) is compared with an independent
    implementation of that text, so only the agreement detector reads inline answers.
    """
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if line.lstrip().startswith(">"):
            i += 1
            continue  # inline replies keep their unquoted lines
        if stripped == "--":
            break
        if stripped and len(stripped) <= 4 * _HEADER_MAX and _maybe_header(stripped):
            first = fold(stripped)
            end = _wrote_header_end(lines, i, first)
            if end is not None:
                if inline_answers and _quoted_follows(lines, end):
                    i = end + 1  # quoted history below: answers may sit between its lines
                    continue
                break
            if _is_block_start(lines, i, first):
                if _HEADER_TO.match(first):
                    _drop_notes_banner(kept)
                break
        kept.append(line.rstrip())
        i += 1
    return "\n".join(kept).strip()


# --- HTML bodies --------------------------------------------------------------------------

_HTML_TAG = re.compile(r"<(?:html|body|div|p|br|table|span|font|head|meta)\b[^>]{0,500}>", re.I)
_HTML_DROP = re.compile(r"(?is)<(script|style|head|title)\b.*?</\1\s*>")
# Quoted history in HTML: Gmail's and Apple's blockquotes, Outlook's reply divider.
_HTML_HISTORY = re.compile(
    r"(?is)<div[^>]{0,200}\b(?:gmail_quote|divRplyFwdMsg|appendonsend|moz-cite-prefix"
    r"|yahoo_quoted)\b[^>]{0,200}>.*\Z|<hr\b[^>]{0,200}>.*\Z"
)
_BLOCKQUOTE = re.compile(r"(?i)<(/?)blockquote\b[^>]{0,500}>")
_HTML_BREAK = re.compile(
    r"(?i)<br\s*/?>|</(?:p|div|tr|li|h\d|table)\s*>|<(?:p|div|tr|li)\b[^>]{0,500}>"
)
_HTML_ANY_TAG = re.compile(r"<[^<>]{0,2000}>")


def _drop_blockquotes(text: str) -> str:
    """Text outside (possibly nested) blockquotes, in one pass: answers between them stay."""
    kept: list[str] = []
    depth = position = 0
    for tag in _BLOCKQUOTE.finditer(text):
        if depth == 0:
            kept.append(text[position : tag.start()])
        depth = max(0, depth - 1) if tag.group(1) else depth + 1
        position = tag.end()
        if depth == 0:
            kept.append("\n")
    if depth == 0:
        kept.append(text[position:])
    return "".join(kept)


def looks_like_html(text: str) -> bool:
    """An HTML body, whatever its Content-Type says (mislabelled text/plain included)."""
    head = text[:4000]
    return len(_HTML_TAG.findall(head)) >= 2


def html_to_text(text: str) -> str:
    """Visible text of an HTML body, without scripts, styles or quoted history."""
    text = _drop_blockquotes(_HTML_DROP.sub(" ", text))
    text = _HTML_HISTORY.sub("\n", text)
    text = _HTML_BREAK.sub("\n", text)
    text = html.unescape(_HTML_ANY_TAG.sub("", text))
    return "\n".join(" ".join(line.split()) for line in text.splitlines())

"""Raw message bytes -> :class:`Message`. Never raises: bad parts become warnings.

The fields the facts need are found in the header block by one regex pass and
unfolded (the stdlib parser does far more work than header facts need), values are
decoded leniently, and the body is only looked at for the thanks-only check, bounded
to its first few kilobytes.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import html as html_module
import quopri
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.header import decode_header
from email.utils import getaddresses, parsedate_tz

from responsewatch.core.absence import read_absence
from responsewatch.core.classify import is_auto_reply, is_automated, is_thanks_only
from responsewatch.core.forged import AUTH_FAIL, auth_failed
from responsewatch.core.models import Message

__all__ = [
    "WANTED_FIELDS",
    "HeaderBlock",
    "decode_encoded_words",
    "parse_date",
    "parse_message",
    "split_header_block",
]

_BODY_SCAN_BYTES = 16384
# Bounds on what one hostile message can cost (each far above real mail: the largest To+Cc
# in the corpora is 594 addresses, the longest References 22 ids).
_MAX_HEADER_BYTES = 1024 * 1024
_MAX_SUBJECT_CHARS = 4096  # cut BEFORE decode_header, whose cost grows with the words
_MAX_FIELD_CHARS = 128 * 1024  # an address or id list field, cut at a separator
_MAX_FIELD_VALUES = 16  # repeated To:/Cc:/References: fields
MAX_RECIPIENTS = 1000  # per field
MAX_REFERENCES = 500
# Dates outside [1970, 2100) are not believed (a year 0100 or 9999 would also make the
# business clock build holidays for every year between); a Date header more than a week
# after the receiving server's own arrival time is not believed either.
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_DATE_AFTER_ARRIVAL = timedelta(days=7)
_ANY_FIELD_RE = re.compile(rb"^[\x21-\x39\x3b-\x7e]+[ \t]*:", re.M)
_SIMPLE_ADDR_RE = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+$")
_ANGLE_ID_RE = re.compile(r"<([^<>]*)>")
_ENCODED_WORD_RE = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_CHARSET_RE = re.compile(r'charset\s*=\s*"?([^";\s]+)"?', re.IGNORECASE)
_BOUNDARY_RE = re.compile(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_TAG_RE = re.compile(r"<[^>]*>")
# The header fields the facts are made of; the others are never decoded.
WANTED_FIELDS = frozenset(
    {
        "message-id",
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "received",
        "in-reply-to",
        "references",
        "thread-index",
        "auto-submitted",
        "precedence",
        "list-id",
        "list-unsubscribe",
        "x-autoreply",
        "x-autorespond",
        "return-path",
        "content-type",
        "content-transfer-encoding",
        "x-gm-thrid",
        "authentication-results",
    }
)


class HeaderBlock:
    """Unfolded header fields of one message (only the ones we use), plus the raw block."""

    __slots__ = ("body_offset", "field_count", "fields", "raw")

    def __init__(self, fields: dict[str, list[str]], raw: bytes, body_offset: int, count: int):
        self.fields = fields
        self.raw = raw
        self.body_offset = body_offset
        self.field_count = count


def _decode_bytes(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _normalise_newlines(data: bytes) -> bytes:
    if b"\r" not in data:
        return data
    if b"\n" not in data[:4096]:
        return data.replace(b"\r", b"\n")  # old Mac line endings
    return data


def split_header_block(data: bytes) -> HeaderBlock:
    """Split at the blank line ending the header; unfold continuation lines."""
    data = _normalise_newlines(data)
    # The header ends at the first empty line (LF LF or CRLF CRLF; mixed endings too);
    # the block keeps its final line break. str.find runs in C, a regex here would not.
    end = body_offset = len(data)
    if data.startswith((b"\n", b"\r\n")):
        end, body_offset = 0, (2 if data.startswith(b"\r\n") else 1)
    else:
        lf = data.find(b"\n\n")
        crlf = data.find(b"\n\r\n")
        if lf >= 0 and (crlf < 0 or lf < crlf):
            end, body_offset = lf + 1, lf + 2
        elif crlf >= 0:
            end, body_offset = crlf + 1, crlf + 3
    raw = data[:end]
    fields: dict[str, list[str]] = {}
    block_bytes = raw
    if len(raw) > _MAX_HEADER_BYTES:
        # Fields are read from the first MB only (real headers are a few KB; the corpora's
        # largest is 200 KB); the identity hash still covers the whole block.
        block_bytes = raw[:_MAX_HEADER_BYTES]
    # Decoded once: a valid UTF-8 block gives every value as decoding each one would. Else
    # latin-1 (byte for byte) here, and each value is re-decoded on its own below.
    try:
        block, mixed = block_bytes.decode("utf-8"), False
    except UnicodeDecodeError:
        block, mixed = block_bytes.decode("latin-1"), True
    # One C-level pass finds the fields we use with their continuation lines; the many
    # others (Received chains, DKIM, X-*) never reach Python code.
    for name, value in _WANTED_FIELD_RE.findall(block):
        if "\n" in value:  # folded: unfold, trimming each line as bytes.strip() would
            value = " ".join(part.strip(_ASCII_BLANKS) for part in value.split("\n"))
        if mixed:
            value = _decode_bytes(value.encode("latin-1"))
        key = name.lower()
        if key in fields:
            fields[key].append(value.strip())
        else:
            fields[key] = [value.strip()]
    count = len(fields) or (1 if _ANY_FIELD_RE.search(raw) else 0)
    return HeaderBlock(fields, raw, body_offset, count)


# A field line starts with its name (then optional blanks and the colon); continuation
# lines start with a blank. Names match case-insensitively in ASCII only.
_WANTED_FIELD_RE = re.compile(
    "^("
    + "|".join(re.escape(n) for n in sorted(WANTED_FIELDS, key=len, reverse=True))
    + ")[ \t]*:(.*(?:\n[ \t].*)*)",
    re.MULTILINE | re.IGNORECASE | re.ASCII,
)
_ASCII_BLANKS = " \t\n\r\x0b\x0c"  # what bytes.strip() removes


def decode_encoded_words(value: str) -> str:
    """RFC 2047 decoding that survives unknown charsets and broken encodings."""
    if "=?" not in value or _ENCODED_WORD_RE.search(value) is None:
        return value
    try:
        parts = decode_header(value)
    except Exception:
        return value
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
            continue
        if charset is None:
            # Text between encoded words: decode_header turned it into bytes with
            # raw-unicode-escape, so "\u202e" would come back as six ASCII characters.
            try:
                out.append(chunk.decode("raw-unicode-escape"))
                continue
            except UnicodeDecodeError:
                pass
        for candidate in (charset, "utf-8", "latin-1"):
            if candidate is None:
                continue
            try:
                out.append(chunk.decode(candidate))
                break
            except (LookupError, UnicodeDecodeError):
                continue
    return "".join(out)


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# The shape nearly every mailer writes; anything else goes to the lenient stdlib parser.
_COMMON_DATE_RE = re.compile(
    r"\s*(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d{2}):(\d{2})"
    r"\s+([+-])(\d{2})(\d{2})(?:\s*\([^()]*\))?\s*"
)


def parse_date(value: str | None) -> datetime | None:
    """An RFC 5322 date (leniently) as aware UTC; a missing zone counts as UTC."""
    if not value:
        return None
    common = _COMMON_DATE_RE.fullmatch(value)
    if common is not None:
        day, month, year, hour, minute, second, sign, oh, om = common.groups()
        month_no = _MONTHS.get(month.lower())
        if month_no is not None:
            offset = (int(oh) * 3600 + int(om) * 60) * (-1 if sign == "-" else 1)
            year_no = int(year)
            if year_no < 100:  # as the stdlib reads "0001" (Enron has some): 69-99 -> 19xx
                year_no += 1900 if year_no > 68 else 2000
            try:
                local = datetime(year_no, month_no, int(day), int(hour), int(minute), int(second))
                return (local - timedelta(seconds=offset)).replace(tzinfo=UTC)
            except (ValueError, OverflowError):
                return None
    try:
        parsed = parsedate_tz(value)
    except Exception:
        return None
    if parsed is None:
        return None
    try:
        year = parsed[0]
        if year < 100:
            year += 2000 if year < 50 else 1900
        offset = parsed[9] or 0
        local = datetime(year, parsed[1], parsed[2], parsed[3], parsed[4], parsed[5])
        return (local - timedelta(seconds=offset)).replace(tzinfo=UTC)
    except (ValueError, OverflowError, TypeError):
        return None


def _message_id(value: str | None) -> str | None:
    if value is None:
        return None
    match = _ANGLE_ID_RE.search(value)
    found = match.group(1).strip() if match else value.strip().strip("<>").strip()
    return found or None


def _id_list(values: Sequence[str]) -> tuple[str, ...]:
    ids: list[str] = []
    for value in values:
        found = [i.strip() for i in _ANGLE_ID_RE.findall(value)]
        if not found and "<" not in value and ">" not in value:
            # Bare ids (no brackets) are common in list archives: one token, or several
            # that all look like addr-specs. Free text is not an id.
            tokens = value.split()
            if len(tokens) == 1 or (tokens and all("@" in t for t in tokens)):
                found = tokens
        # Interned: the same ids recur in every later message of a conversation.
        ids.extend(sys.intern(i) for i in found if i)
    return tuple(dict.fromkeys(ids))


def _fast_addresses(values: Sequence[str]) -> list[str] | None:
    """The common shapes (``a@b``, ``Name <a@b>``, comma lists) without the stdlib parser;
    None when quoting, comments or groups need the real thing."""
    out: list[str] = []
    for value in values:
        if '"' in value or "(" in value or ";" in value or "\\" in value:
            return None
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if "<" in part:
                start = part.rfind("<")
                stop = part.find(">", start)
                if stop < 0 or ":" in part:
                    return None
                part = part[start + 1 : stop].strip()
            if not _SIMPLE_ADDR_RE.match(part):
                return None
            out.append(part.lower())
    return out


@functools.lru_cache(maxsize=8192)
def _fast_address_tuple(value: str) -> tuple[str, ...] | None:
    """``_fast_addresses`` of one field value, cached: the same From and To values recur
    in every message of a correspondence."""
    fast = _fast_addresses((value,))
    return None if fast is None else tuple(dict.fromkeys(map(sys.intern, fast)))


_PIPERMAIL_RE = re.compile(r"([^\s<>@,;:\"]+) at ([^\s<>@,;:\"]+\.[^\s<>@,;:\"]+)")


def _addresses(values: Sequence[str], warnings: list[str], field: str) -> tuple[str, ...]:
    if not values:
        return ()
    if not any("@" in v for v in values):
        # List archives (pipermail) write "user at example.com".
        values = [_PIPERMAIL_RE.sub(r"\1@\2", v) for v in values]
    if len(values) == 1:
        known = _fast_address_tuple(values[0])
        if known is not None:
            return known
    else:
        fast = _fast_addresses(values)
        if fast is not None:
            return tuple(dict.fromkeys(map(sys.intern, fast)))
    out: list[str] = []
    try:
        pairs = getaddresses(values)
    except Exception:
        warnings.append(f"bad-address:{field}")
        return ()
    for _name, addr in pairs:
        addr = addr.strip().lower()
        if not addr:
            continue
        if "@" not in addr or any(c.isspace() for c in addr):
            warnings.append(f"bad-address:{field}")
            continue
        out.append(sys.intern(addr))
    return tuple(dict.fromkeys(out))


def _recipients(values: Sequence[str], warnings: list[str], field: str) -> tuple[str, ...]:
    found = _addresses(_bounded(values, ","), warnings, field)
    if len(found) > MAX_RECIPIENTS or len(values) > _MAX_FIELD_VALUES:
        warnings.append(f"too-many-recipients:{field}")
        return found[:MAX_RECIPIENTS]
    if any(len(v) > _MAX_FIELD_CHARS for v in values[:_MAX_FIELD_VALUES]):
        warnings.append(f"too-many-recipients:{field}")
    return found


def _references(values: Sequence[str], warnings: list[str]) -> tuple[str, ...]:
    ids = _id_list(_bounded(values, ">"))
    if len(ids) > MAX_REFERENCES:
        # The first (the thread's root) and the nearest ancestors are the useful ones.
        warnings.append("too-many-references")
        return ids[:10] + ids[-(MAX_REFERENCES - 10) :]
    return ids


def _thread_index_guid(value: str | None) -> str | None:
    if not value:
        return None
    try:
        raw = base64.b64decode("".join(value.split()), validate=False)
    except (binascii.Error, ValueError):
        return None
    if len(raw) < 22:
        return None
    return raw[6:22].hex()


def _received_date(values: Sequence[str]) -> datetime | None:
    if not values:
        return None
    top = values[0]
    if ";" not in top:
        return None
    return parse_date(top.rpartition(";")[2].strip())


def _decode_payload(payload: bytes, cte: str, charset: str | None) -> str:
    cte = cte.strip().lower()
    try:
        if cte == "base64":
            payload = base64.b64decode(b"".join(payload.split()), validate=False)
        elif cte == "quoted-printable":
            payload = quopri.decodestring(payload)
    except (binascii.Error, ValueError):
        pass
    for candidate in (charset, "utf-8", "latin-1"):
        if candidate is None:
            continue
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")


def _html_to_text(html: str) -> str:
    html = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", html)
    html = re.sub(r"(?is)<blockquote\b.*?</blockquote>", "\n", html)
    html = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", html)
    return html_module.unescape(_TAG_RE.sub("", html))


def body_text(data: bytes, header: HeaderBlock) -> str:
    """The first text part of a message (plain preferred), decoded, bounded in size."""
    content_type = (header.fields.get("content-type") or ["text/plain"])[0]
    main_type = content_type.split(";", 1)[0].strip().lower() or "text/plain"
    body = data[header.body_offset : header.body_offset + _BODY_SCAN_BYTES * 4]
    if main_type.startswith("multipart/"):
        return _first_text_part(body, content_type)
    if not main_type.startswith("text/"):
        return ""
    cte = (header.fields.get("content-transfer-encoding") or ["7bit"])[0]
    charset_match = _CHARSET_RE.search(content_type)
    text = _decode_payload(
        body[: _BODY_SCAN_BYTES * 2], cte, charset_match.group(1) if charset_match else None
    )
    return _html_to_text(text) if main_type == "text/html" else text


def _first_text_part(body: bytes, content_type: str) -> str:
    """Walk nested multiparts iteratively and return the first text/plain (else text/html)."""
    match = _BOUNDARY_RE.search(content_type)
    if match is None:
        return ""
    stack: list[tuple[bytes, str]] = [(body, match.group(1) or match.group(2))]
    html_fallback = ""
    steps = 0
    while stack and steps < 50:
        steps += 1
        chunk, boundary = stack.pop()
        delimiter = b"--" + boundary.encode("latin-1", "replace")
        parts = chunk.split(delimiter)[1:]
        nested: list[tuple[bytes, str]] = []
        for part in parts:
            if part.startswith(b"--"):
                break
            part = part.lstrip(b"\r\n")
            sub = split_header_block(part)
            sub_type = (sub.fields.get("content-type") or ["text/plain"])[0]
            kind = sub_type.split(";", 1)[0].strip().lower() or "text/plain"
            payload = part[sub.body_offset :]
            cte = (sub.fields.get("content-transfer-encoding") or ["7bit"])[0]
            charset = _CHARSET_RE.search(sub_type)
            if kind == "text/plain":
                return _decode_payload(payload, cte, charset.group(1) if charset else None)
            if kind == "text/html" and not html_fallback:
                html = _decode_payload(payload, cte, charset.group(1) if charset else None)
                html_fallback = _html_to_text(html)
            elif kind.startswith("multipart/"):
                inner = _BOUNDARY_RE.search(sub_type)
                if inner is not None:
                    nested.append((payload, inner.group(1) or inner.group(2)))
        stack.extend(reversed(nested))
    return html_fallback


def parse_message(
    data: bytes,
    *,
    internaldate: datetime | None = None,
    provider_thread: str | None = None,
) -> Message:
    """Parse one message; never raises. ``warnings`` lists what was wrong or missing."""
    warnings: list[str] = []
    try:
        header = split_header_block(data)
    except Exception:  # defensive: the contract is "never raises"
        header = HeaderBlock({}, data, len(data), 0)
        warnings.append("unparseable-header")
    if header.field_count == 0:
        warnings.append("no-header")
    fields = header.fields
    return _build(data, header, fields, warnings, internaldate, provider_thread)


def _is_report(fields: Mapping[str, list[str]]) -> bool:
    """Delivery reports (RFC 6522) are auto-replies too, but announce no absence."""
    kind = (_first(fields, "content-type") or "").split(";", 1)[0].strip().lower()
    return kind == "multipart/report"


def _bounded(values: Sequence[str], separator: str) -> list[str]:
    """At most _MAX_FIELD_VALUES values, each cut at its last ``separator`` before
    _MAX_FIELD_CHARS (so no address or id is cut in half)."""
    out = []
    for value in values[:_MAX_FIELD_VALUES]:
        if len(value) > _MAX_FIELD_CHARS:
            cut = value.rfind(separator, 0, _MAX_FIELD_CHARS)
            value = value[: cut if cut > 0 else _MAX_FIELD_CHARS]
        out.append(value)
    return out


def _sane(value: datetime | None, warnings: list[str], what: str) -> datetime | None:
    if value is not None and not _EARLIEST <= value < _LATEST:
        warnings.append(f"date-out-of-range:{what}")
        return None
    return value


def _first(fields: Mapping[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


def _build(
    data: bytes,
    header: HeaderBlock,
    fields: dict[str, list[str]],
    warnings: list[str],
    internaldate: datetime | None,
    provider_thread: str | None,
) -> Message:
    message_id = _message_id(_first(fields, "message-id"))
    if message_id is not None:
        message_id = sys.intern(message_id)
    else:
        warnings.append("missing-message-id")
        message_id = "sha256:" + hashlib.sha256(header.raw).hexdigest()
    from_addrs = _addresses(_bounded(fields.get("from", [])[:1], ","), warnings, "from")
    from_addr = from_addrs[0] if from_addrs else None
    results = fields.get("authentication-results")
    if results and from_addr is not None and auth_failed(results, from_addr.rpartition("@")[2]):
        warnings.append(AUTH_FAIL)
    date_value = _first(fields, "date")
    date = _sane(parse_date(date_value), warnings, "date")
    if date_value is not None and date is None and "date-out-of-range:date" not in warnings:
        warnings.append("bad-date")
    arrival = internaldate.astimezone(UTC) if internaldate is not None else None
    if arrival is None:
        arrival = _received_date(fields.get("received", ()))
    arrival = _sane(arrival, warnings, "arrival")
    if date is not None and arrival is not None and date - arrival > _DATE_AFTER_ARRIVAL:
        warnings.append("date-after-arrival")
        date = None
    subject = decode_encoded_words((_first(fields, "subject") or "")[:_MAX_SUBJECT_CHARS])
    if "\ufffd" in subject:
        warnings.append("encoding:subject")
    thread = provider_thread or _first(fields, "x-gm-thrid")
    automated = is_automated(fields, from_addr)
    text = ""
    try:
        text = body_text(data, header)
        thanks_only = is_thanks_only(text) if text else False
    except Exception:
        warnings.append("unparseable-body")
        thanks_only = False
    auto_reply = is_auto_reply(fields, subject)
    absence = None
    sent = arrival or date
    if auto_reply and sent is not None and not _is_report(fields):
        absence = read_absence(subject, text, sent.date())
    return Message(
        message_id=message_id,
        from_addr=from_addr,
        to=_recipients(fields.get("to", []), warnings, "to"),
        cc=_recipients(fields.get("cc", []), warnings, "cc"),
        subject=" ".join(subject.split()),
        date=date,
        arrival=arrival,
        in_reply_to=_id_list(_bounded(fields.get("in-reply-to", []), ">"))[-MAX_REFERENCES:],
        references=_references(fields.get("references", []), warnings),
        thread_index_guid=_thread_index_guid(_first(fields, "thread-index")),
        provider_thread=thread or None,
        automated=automated,
        auto_reply=auto_reply,
        thanks_only=thanks_only,
        warnings=tuple(warnings),
        absence=absence,
    )

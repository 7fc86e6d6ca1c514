"""Reading IMAP FETCH answers fast: straight off imaplib's socket file, one regex for the
shape servers usually answer with, a general item walk for any other.

imapclient's generic response parser runs at about a quarter of the speed of a raw FETCH,
so ``ImapMailSource`` sends its UID FETCH through imapclient's imaplib object and reads
the answer here.
"""

from __future__ import annotations

import functools
import imaplib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, BinaryIO, cast

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from responsewatch.ports import FolderRef, RawMessage

__all__ = [
    "FLAGS_ITEM",
    "MAX_LINE",
    "MAX_LITERAL",
    "MAX_LITERAL_KEPT",
    "UID_ITEM",
    "bounded_reader",
    "fetch_groups",
    "keywords_of",
    "parse_fetch",
    "parse_internaldate",
    "read_direct",
]


# What a server may send, bounded (a malicious or broken one could announce any size):
# a response line as long as imaplib allows; a literal of a header fetch is kept up to
# MAX_LITERAL_KEPT (the parser reads no further) and the rest read off in chunks, so memory
# stays flat; a literal announced above MAX_LITERAL ends the connection.
MAX_LINE: int = getattr(imaplib, "_MAXLINE", 1_000_000)  # private: not in typeshed
MAX_LITERAL = 64 * 1024 * 1024
MAX_LITERAL_KEPT = 1024 * 1024
_MAX_LITERALS_PER_MESSAGE = 16
_DRAIN_CHUNK = 65536

_MONTH_NAMES = b"JanFebMarAprMayJunJulAugSepOctNovDec"
_MONTHS = {_MONTH_NAMES[i : i + 3]: i // 3 + 1 for i in range(0, 36, 3)}
_LITERAL_TAIL = re.compile(rb"\{(\d+)\}$")
_LITERAL_LINE = re.compile(rb"\{(\d+)\}\r\n$")
# NAME value, where value is a number, "quoted", (list), NIL or a literal placeholder.
_ITEM = re.compile(
    rb"([A-Za-z0-9.\-]+(?:\[[^\]]*\](?:<\d+>)?)?) +"
    rb'(\d+|"(?:[^"\\]|\\.)*"|\((?:[^()"]|"(?:[^"\\]|\\.)*")*\)|NIL|\x00(\d+)\x00)'
)
UID_ITEM = re.compile(rb"\bUID (\d+)")
FLAGS_ITEM = re.compile(rb"\bFLAGS \(([^()]*)\)")
_QUOTED_ESCAPE = re.compile(rb"\\(.)")
# The fast path: one regex per item ORDER a server answers with (Dovecot: UID first;
# Cyrus: FLAGS first), built from the first message the general walk parsed in that order.
_FRAGMENTS = {
    b"UID": rb"UID (?P<uid>\d+)",
    b"INTERNALDATE": rb'INTERNALDATE "(?P<date>[^"]*)"',
    b"FLAGS": rb'FLAGS \((?P<flags>[^()"]*)\)',
    b"X-GM-THRID": rb"X-GM-THRID (?P<thread>\d+)",
    b"BODY[HEADER]": rb"BODY\[HEADER\] \x00(?P<header>\d+)\x00",
    b"BODY[TEXT]<0>": rb"BODY\[TEXT\]<0> \x00(?P<text>\d+)\x00",
}
_MAX_SHAPES = 8  # a server uses one or two orders; a hostile one must not grow this list


def _shape(order: tuple[bytes, ...]) -> re.Pattern[bytes]:
    return re.compile(rb"\d+ \(" + b" ".join(_FRAGMENTS[name] for name in order) + rb"\)$")


# Seeded with Dovecot's order; replaced as a whole (never mutated) so threads may share it.
_SEED_SHAPES: tuple[re.Pattern[bytes], ...] = tuple(
    _shape(order)
    for order in (
        (b"UID", b"INTERNALDATE", b"FLAGS", b"BODY[HEADER]", b"BODY[TEXT]<0>"),
        (b"UID", b"INTERNALDATE", b"FLAGS", b"BODY[HEADER]"),
    )
)
_shapes = _SEED_SHAPES
_last_shape = _SEED_SHAPES[0]


def read_direct(imap: imaplib.IMAP4, tag: bytes) -> list[tuple[bytes, list[bytes]]]:
    """The answer to the ``UID FETCH`` sent with ``tag``, read off imaplib's socket file.

    imaplib parses every line in Python (regex matches, untagged bookkeeping): for header
    fetches that is most of the cost. Here each line is one C ``readline`` and each
    literal one ``read``; the result has ``fetch_groups``' shape. The whole tagged
    exchange is consumed, so imaplib (and imapclient) carry on with the next command.
    """
    # imaplib reads its socket through makefile("rb"): bytes, whatever typeshed allows.
    sock = cast(BinaryIO, imap.file)
    readline, read = sock.readline, sock.read
    out: list[tuple[bytes, list[bytes]]] = []
    parts: list[bytes] = []
    literals: list[bytes] = []
    while True:
        line = readline(MAX_LINE + 1)
        if not line:
            raise IMAPClientAbortError("socket error: EOF during UID FETCH")
        if len(line) > MAX_LINE:
            raise IMAPClientAbortError(f"the server sent a line over {MAX_LINE} bytes")
        if line.startswith(tag + b" "):
            status = line[len(tag) + 1 :].strip()
            if not status.startswith(b"OK"):
                raise IMAPClientError(f"UID FETCH failed: {status.decode('utf-8', 'replace')}")
            return out
        m = _LITERAL_LINE.search(line)
        if m is not None:
            parts.append(line[: m.start()] + b"\x00%d\x00" % len(literals))
            literals.append(_read_literal(read, int(m.group(1))))
            if len(literals) > _MAX_LITERALS_PER_MESSAGE:
                raise IMAPClientAbortError("the server sent too many literals in one FETCH")
            continue  # the item list goes on after the literal
        parts.append(line.rstrip(b"\r\n"))
        if line.startswith(b"* ") and b" FETCH " not in parts[0]:
            parts, literals = [], []  # an untagged EXISTS/EXPUNGE/...: not ours
            continue
        seq, _, items = b"".join(parts)[2:].partition(b" FETCH ")
        out.append((seq + b" " + items, literals))  # as imaplib gives it: "N (UID ..."
        parts, literals = [], []


def _read_literal(read: Any, size: int) -> bytes:
    """The first MAX_LITERAL_KEPT bytes of a literal of ``size``; the rest is consumed."""
    if size > MAX_LITERAL:
        raise IMAPClientAbortError(f"the server announced a literal of {size} bytes")
    kept = read(min(size, MAX_LITERAL_KEPT))
    left = size - len(kept)
    if len(kept) < min(size, MAX_LITERAL_KEPT):
        raise IMAPClientAbortError("socket error: EOF inside a literal")
    while left > 0:
        chunk = read(min(left, _DRAIN_CHUNK))
        if not chunk:
            raise IMAPClientAbortError("socket error: EOF inside a literal")
        left -= len(chunk)
    return bytes(kept)


def bounded_reader(imap: imaplib.IMAP4) -> None:
    """Make imaplib's own literal reading (FETCH of whole messages, by imapclient) refuse
    a literal above MAX_LITERAL instead of allocating whatever the server announced."""
    original = imap.read

    def read(size: int) -> bytes:
        if size > MAX_LITERAL:
            raise IMAPClientAbortError(f"the server announced a literal of {size} bytes")
        return original(size)

    imap.read = read  # type: ignore[method-assign]


def fetch_groups(data: list[Any]) -> Iterator[tuple[bytes, list[bytes]]]:
    """Group imaplib's FETCH data by message: text with ``\\0k\\0`` for literal k, literals."""
    parts: list[bytes] = []
    literals: list[bytes] = []
    for element in data:
        if element is None:
            continue
        head, literal = element if isinstance(element, tuple) else (element, None)
        if head[:1].isdigit() and parts:  # "N (" starts the next message
            yield b"".join(parts), literals
            parts, literals = [], []
        if literal is not None:
            m = _LITERAL_TAIL.search(head)
            if m is not None:
                head = head[: m.start()] + b"\x00%d\x00" % len(literals)
            literals.append(literal)
        parts.append(head)
    if parts:
        yield b"".join(parts), literals


def parse_fetch(folder: FolderRef, text: bytes, literals: list[bytes]) -> RawMessage | None:
    global _last_shape
    m = _last_shape.match(text)  # a mailbox's answers nearly all have one shape
    if m is not None:
        return _from_shape(folder, m, literals)
    for shape in _shapes:
        m = shape.match(text)
        if m is not None:  # one regex instead of a token walk
            _last_shape = shape
            return _from_shape(folder, m, literals)
    raw, order = _parse_items(folder, text, literals)
    if raw is not None:
        _learn(order)
    return raw


def _from_shape(folder: FolderRef, m: re.Match[bytes], literals: list[bytes]) -> RawMessage | None:
    groups = m.groupdict()
    header = int(groups["header"])
    text = groups.get("text")
    if header >= len(literals) or (text is not None and int(text) >= len(literals)):
        return None  # placeholders are ours, but a literal count can still be off: be safe
    data = literals[header] + literals[int(text)] if text is not None else literals[header]
    thread = groups.get("thread")
    return RawMessage(
        folder,
        int(groups["uid"]),
        data,
        parse_internaldate(groups["date"]),
        thread.decode() if thread else None,
        keywords_of(groups["flags"]),
    )


def _learn(order: tuple[bytes, ...]) -> None:
    global _shapes
    if len(_shapes) >= _MAX_SHAPES or len(set(order)) != len(order):
        return
    if not set(order) <= _FRAGMENTS.keys() or not {b"UID", b"BODY[HEADER]"} <= set(order):
        return
    if {b"INTERNALDATE", b"FLAGS"} <= set(order):
        _shapes = (*_shapes, _shape(order))


def keywords_of(flags: bytes) -> tuple[str, ...]:
    """``$RwAck \\Seen`` -> ``("$RwAck",)``: keywords only, system flags dropped."""
    return tuple(sorted(f.decode("utf-8", "replace") for f in flags.split() if f[:1] != b"\\"))


def _parse_items(
    folder: FolderRef, text: bytes, literals: list[bytes]
) -> tuple[RawMessage | None, tuple[bytes, ...]]:
    """Any item order and any value form (quoted, NIL, literal): the general, slower walk.

    Also returns the item order when every value had the fast path's form."""
    uid = None
    internaldate = None
    header: bytes | None = None  # None: no BODY[HEADER] item at all (unsolicited FETCH)
    body = b""
    keywords: tuple[str, ...] = ()
    thread = None
    order: list[bytes] = []
    usual = True  # every body came as a literal, INTERNALDATE quoted: the fast path's form
    for name, value, literal in _ITEM.findall(text, text.find(b"(") + 1):
        name = name.upper()
        order.append(name)
        if name == b"UID":
            uid = int(value)
        elif name == b"INTERNALDATE":
            internaldate = parse_internaldate(value[1:-1])
        elif name == b"FLAGS":
            keywords = keywords_of(value[1:-1])
        elif name == b"X-GM-THRID":
            thread = value.decode()
        elif name.startswith((b"BODY[HEADER]", b"BODY[TEXT]")):
            usual = usual and bool(literal)
            if literal:
                content = literals[int(literal)]
            elif value.startswith(b'"'):
                content = _QUOTED_ESCAPE.sub(rb"\1", value[1:-1])
            else:
                content = b""  # NIL
            if name.startswith(b"BODY[HEADER]"):
                header = content
            else:
                body = content
    if uid is None or header is None:
        return None, ()  # an unsolicited FETCH (a flag change elsewhere), not our answer
    raw = RawMessage(folder, uid, header + body, internaldate, thread, keywords)
    return raw, tuple(order) if usual and internaldate is not None else ()


@functools.lru_cache(maxsize=64)
def _zone(offset: bytes) -> timezone:
    """``b"+0130"`` -> a fixed-offset zone (cached: a mailbox uses only a few offsets)."""
    sign = -1 if offset[:1] == b"-" else 1
    return timezone(timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])) * sign)


def parse_internaldate(value: bytes) -> datetime | None:
    """``"02-Mar-2026 09:15:07 +0100"`` (day may be space-padded) -> aware UTC datetime."""
    try:
        tz = _zone(value[21:26])
        local = datetime(
            int(value[7:11]),
            _MONTHS[value[3:6]],
            int(value[0:2]),
            int(value[12:14]),
            int(value[15:17]),
            int(value[18:20]),
            tzinfo=tz,
        )
    except (KeyError, ValueError):
        try:  # a server that does not pad the day: the slow, lenient way
            local = datetime.strptime(value.decode("ascii").strip(), "%d-%b-%Y %H:%M:%S %z")
        except (UnicodeDecodeError, ValueError):
            return None
    return local.astimezone(UTC)

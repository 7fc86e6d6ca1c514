"""Parsing never raises and extracts the facts DESIGN.md relies on."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from responsewatch.core.classify import is_thanks_only
from responsewatch.core.parsing import (
    WANTED_FIELDS,
    decode_encoded_words,
    parse_date,
    parse_message,
    split_header_block,
)


def test_message_id_brackets_and_whitespace_removed() -> None:
    m = parse_message(b"Message-ID:   <abc@x.example>  \nFrom: a@b.c\n\nbody")
    assert m.message_id == "abc@x.example"
    assert parse_message(b"Message-ID: abc@x.example\n\n").message_id == "abc@x.example"


def test_missing_message_id_is_sha256_of_header_block_with_final_line_break() -> None:
    data = b"From: a@b.c\r\nSubject: hi\r\n\r\nbody\r\n"
    m = parse_message(data)
    assert m.message_id == "sha256:" + hashlib.sha256(b"From: a@b.c\r\nSubject: hi\r\n").hexdigest()
    assert "missing-message-id" in m.warnings
    lf = b"From: a@b.c\nSubject: hi\n\nbody\n"
    assert (
        parse_message(lf).message_id
        == "sha256:" + hashlib.sha256(b"From: a@b.c\nSubject: hi\n").hexdigest()
    )


def test_empty_or_garbled_message_id_counts_as_missing() -> None:
    assert parse_message(b"Message-ID: <>\nFrom: a@b.c\n\n").message_id.startswith("sha256:")
    assert parse_message(b"Message-ID:\nFrom: a@b.c\n\n").message_id.startswith("sha256:")


def test_duplicate_message_id_header_takes_the_first() -> None:
    m = parse_message(b"Message-ID: <one@x>\nMessage-ID: <two@x>\n\n")
    assert m.message_id == "one@x"


def test_addresses_lowercased_group_syntax_and_invalid_entries() -> None:
    m = parse_message(
        b'From: "Jean" <Jean.Dupont@ACME.fr>\n'
        b"To: undisclosed-recipients:;, Team: a@x.fr, B@Y.fr;\n"
        b"Cc: not an address, c@z.fr\n\n"
    )
    assert m.from_addr == "jean.dupont@acme.fr"
    assert m.to == ("a@x.fr", "b@y.fr")
    assert m.cc == ("c@z.fr",)
    assert "bad-address:cc" in m.warnings


def test_rfc2047_subject_with_broken_charset_never_raises() -> None:
    assert decode_encoded_words("=?utf-8?q?R=C3=A9union?=") == "Réunion"
    assert decode_encoded_words("=?x-unknown?b?SGVsbG8=?=") == "Hello"
    m = parse_message(b"Subject: =?utf-8?B?!!!notbase64?=\n\n")
    assert isinstance(m.subject, str)


def test_folded_and_8bit_headers() -> None:
    m = parse_message("Subject: Devis\n  signé\nFrom: é@x.fr\n\n".encode("latin-1"))
    assert m.subject == "Devis signé"


def test_dates_odd_formats_and_missing_zone() -> None:
    assert parse_date("Mon, 2 Nov 2026 10:00:00 +0100") == datetime(2026, 11, 2, 9, tzinfo=UTC)
    assert parse_date("2 Nov 26 10:00 GMT") == datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert parse_date("Mon, 2 Nov 2026 10:00:00") == datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert parse_date("not a date") is None
    assert parse_date("Mon, 32 Nov 2026 10:00:00 +0000") is None
    m = parse_message(b"Date: garbage\n\n")
    assert m.date is None and "bad-date" in m.warnings


def test_arrival_from_topmost_received_header() -> None:
    m = parse_message(
        b"Received: by top; Mon, 2 Nov 2026 10:05:00 +0100\n"
        b"Received: by lower; Mon, 2 Nov 2026 10:01:00 +0100\n"
        b"Date: Mon, 2 Nov 2026 09:00:00 +0100\n\n"
    )
    assert m.arrival == datetime(2026, 11, 2, 9, 5, tzinfo=UTC)
    assert m.date == datetime(2026, 11, 2, 8, tzinfo=UTC)


def test_internaldate_wins_over_received() -> None:
    when = datetime(2026, 1, 1, 12, tzinfo=UTC)
    m = parse_message(b"Received: x; Mon, 2 Nov 2026 10:05:00 +0100\n\n", internaldate=when)
    assert m.arrival == when


def test_references_in_reply_to_bare_and_free_text() -> None:
    m = parse_message(
        b"In-Reply-To: Your message of Monday <p@x>\nReferences: <a@x>\n <b@x> <>\n\n"
    )
    assert m.in_reply_to == ("p@x",)
    assert m.references == ("a@x", "b@x")
    assert parse_message(b"In-Reply-To: bare@host\n\n").in_reply_to == ("bare@host",)
    assert parse_message(b"In-Reply-To: some free text\n\n").in_reply_to == ()


def test_thread_index_guid_is_bytes_6_to_21() -> None:
    raw = bytes(range(22)) + b"\x01\x02\x03\x04\x05"
    value = base64.b64encode(raw).decode()
    m = parse_message(f"Thread-Index: {value}\n\n".encode())
    assert m.thread_index_guid == bytes(range(6, 22)).hex()
    assert parse_message(b"Thread-Index: !!!\n\n").thread_index_guid is None


def test_thanks_only_reads_the_new_text_of_the_plain_part() -> None:
    plain = (
        b"From: a@b.c\nContent-Type: text/plain; charset=utf-8\n\n"
        b"Merci beaucoup !\n\n> Question ?\n"
    )
    assert parse_message(plain).thanks_only
    qp = (
        b"Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable"
        b"\n\nBien re=E7u, merci.\n"
    )
    assert parse_message(qp).thanks_only
    multipart = (
        b"Content-Type: multipart/alternative; boundary=XX\n\n--XX\n"
        b"Content-Type: text/plain\n\nThanks!\n--XX\n"
        b"Content-Type: text/html\n\n<p>Thanks!</p>\n--XX--\n"
    )
    assert parse_message(multipart).thanks_only
    html_only = (
        b"Content-Type: text/html\n\n<div>Parfait, merci</div><blockquote>Long ?</blockquote>"
    )
    assert parse_message(html_only).thanks_only
    assert not parse_message(b"Content-Type: text/plain\n\nMerci, mais pourquoi ?\n").thanks_only


def test_no_header_at_all_is_flagged() -> None:
    assert "no-header" in parse_message(b"just some text\nwithout headers\n").warnings
    assert "no-header" in parse_message(b"").warnings


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    parse_message(data)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "From: ",
                "To: ",
                "Cc: ",
                "Subject: =?",
                "Date: ",
                "Message-ID: <",
                "References: <",
                "Content-Type: multipart/mixed; boundary=",
                "Thread-Index: ",
                "\n",
                " ",
                "\r\n",
                "é",
                "@",
                ">",
                "<",
                ";",
                ",",
                '"',
                "=?utf-8?b?",
                "?=",
                "--",
                "\n\n",
            ]
        ),
        max_size=60,
    )
)
def test_never_raises_on_header_like_soup(parts: list[str]) -> None:
    parse_message("".join(parts).encode("utf-8"))


@settings(max_examples=400, deadline=None)
@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2090, 12, 31)),
    st.integers(-12 * 60, 14 * 60).map(lambda m: m - m % 15),
    st.booleans(),
    st.sampled_from(["", " (CET)", "  ", " (UTC)"]),
)
def test_fast_date_path_agrees_with_the_stdlib_reading(
    when: datetime, offset_min: int, weekday: bool, tail: str
) -> None:
    from email.utils import parsedate_to_datetime

    sign = "-" if offset_min < 0 else "+"
    text = (
        (when.strftime("%a, ") if weekday else "")
        + when.strftime("%d %b %Y %H:%M:%S ")
        + f"{sign}{abs(offset_min) // 60:02d}{abs(offset_min) % 60:02d}{tail}"
    )
    assert parse_date(text) == parsedate_to_datetime(text).astimezone(UTC)


def test_four_digit_years_below_100_read_like_the_stdlib() -> None:
    # Enron has "0001": the stdlib (and so every lenient reader) takes it for 2001.
    assert parse_date("Tue, 20 Nov 0001 01:36:24 -0800") == datetime(
        2001, 11, 20, 9, 36, 24, tzinfo=UTC
    )
    assert parse_date("Tue, 20 Nov 0099 01:36:24 +0000") == datetime(
        1999, 11, 20, 1, 36, 24, tzinfo=UTC
    )


def _reference_fields(data: bytes) -> dict[str, list[str]]:
    """The plain reading of a header block, line by line (the parser finds the same fields
    with one regex pass): a line starting with a blank continues the field before it."""
    raw = split_header_block(data).raw
    fields: dict[str, list[str]] = {}
    name, parts = "", []
    for line in [*raw.split(b"\n"), b"end-of-block:"]:
        if line[:1] in (b" ", b"\t"):
            parts.append(line)
            continue
        if name in WANTED_FIELDS:
            value = parts[0] if len(parts) == 1 else b" ".join(p.strip() for p in parts)
            try:
                text = value.decode("utf-8")
            except UnicodeDecodeError:
                text = value.decode("latin-1")
            fields.setdefault(name, []).append(text.strip())
        colon = line.find(b":")
        name = line[:colon].rstrip(b" \t").decode("latin-1").lower() if colon > 0 else ""
        parts = [line[colon + 1 :]]
    return fields


_NAMES = st.sampled_from(
    ["From", "FROM", "to", "Cc", "Subject", "Date", "Message-Id", "References", "Received",
     "X-Mailer", "To-Do", "Content-Type", "Return-Path", "", " From", "x from", "\u017fubject"]
)  # fmt: skip
_VALUE_BYTES = st.lists(
    st.sampled_from(
        [b"a@b.c", b" ", b"\t", b"<x@y>", b":", b"\r", b"\xc3\xa9", b"\xe9", b"\xff",
         b"\xc2\xa0", b"\xa0", b"\xc2\x85", b"\x0b", b"\x1c", b"=?utf-8?q?x?=", b"\xe2\x80\xa8"]
    ),
    max_size=6,
).map(b"".join)  # fmt: skip
_FIELD_LINE = st.tuples(
    _NAMES,
    st.sampled_from([b":", b" :", b"\t:", b""]),
    _VALUE_BYTES,
    st.lists(st.tuples(st.sampled_from([b" ", b"\t", b"  "]), _VALUE_BYTES), max_size=3),
).map(lambda f: f[0].encode() + f[1] + f[2] + b"".join(b"\n" + c + v for c, v in f[3]))
_HEADER_BLOCK = st.tuples(
    st.lists(_FIELD_LINE, max_size=12), st.sampled_from([b"\n", b"\r\n"]), st.binary(max_size=8)
).map(lambda h: h[1].join(h[0]) + h[1] + h[1] + h[2])  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(_HEADER_BLOCK)
def test_header_fields_match_the_line_by_line_reading(data: bytes) -> None:
    assert split_header_block(data).fields == _reference_fields(data)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["Merci", "thanks", "ok", "> merci", "> ok ?", "mot", "?", "-- ",
                         "On Mon, Jo wrote:", "Le 3 mai, Jo a", "écrit :", "top", "\r", "\x1c",
                         "\u2028", " ", "\n", "thank", "you", "bien reçu", "book"]),
        max_size=40,
    )
)  # fmt: skip
def test_thanks_only_shortcut_agrees_with_reading_the_new_text(pieces: list[str]) -> None:
    from responsewatch.core.classify import _ACK_RE, _MAX_WORDS, _WORD_RE, new_text

    text = "".join(pieces)
    written = new_text(text)
    words = [w for w in written.split() if _WORD_RE.search(w)]
    full = "?" not in written and 0 < len(words) <= _MAX_WORDS and bool(_ACK_RE.search(written))
    assert is_thanks_only(text) == full

"""Folder discovery rules and the FETCH fast path, without a server (servers: test_imap_servers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imapclient.imap_utf7 import decode as decode_utf7
from imapclient.imap_utf7 import encode as encode_utf7

from responsewatch.adapters import imap_fetch
from responsewatch.adapters.imap_folders import (
    ServerFolder,
    closest_folders,
    discover_roles,
    role_by_name,
)
from responsewatch.app.sent_check import advice, reads_my_mail
from responsewatch.ports import FolderRef

F = FolderRef("a", "INBOX", "inbox")


def folders(*names: str, flags: dict[str, bytes] | None = None) -> list[ServerFolder]:
    flags = flags or {}
    return [ServerFolder(n, frozenset({flags[n]}) if n in flags else frozenset()) for n in names]


def test_flags_win_and_names_fill_in_only_missing_roles() -> None:
    listing = folders("INBOX", "Sent", "Sent Items", "Archive", flags={"Sent Items": b"\\sent"})
    assert discover_roles(listing, "") == [
        ("INBOX", "inbox"),
        ("Sent Items", "sent"),
        ("Archive", "archive"),
    ]


def test_usual_names_under_the_personal_prefix() -> None:
    listing = folders("INBOX", "INBOX.Sent", "INBOX.Drafts", "INBOX.Clients.Sent", "INBOX.Archive")
    assert discover_roles(listing, "INBOX.") == [
        ("INBOX", "inbox"),
        ("INBOX.Sent", "sent"),
        ("INBOX.Archive", "archive"),
    ]  # a "Sent" deeper in the tree is a client's folder, not the Sent folder


def test_localised_names_and_modified_utf7() -> None:
    wire = encode_utf7("Éléments envoyés")
    assert wire == b"&AMk-l&AOk-ments envoy&AOk-s"  # what the server sends in LIST
    name = decode_utf7(wire)  # what imapclient hands us
    for sent in (name, "Gesendete Objekte", "Envoyés", "[Gmail]/Sent Mail", "sent items"):
        assert role_by_name(sent, "") == "sent", sent
    assert role_by_name("INBOX.Gesendet", "INBOX.") == "sent"
    for export in ("sent_items", "_sent_mail", "INBOX.sent_items", "Sent-Mail"):  # Enron, ...
        assert role_by_name(export, "INBOX.") == "sent", export
    assert role_by_name("[Gmail]/All Mail", "") == "all"
    assert role_by_name("Factures", "") == role_by_name("INBOX", "INBOX.") == ""


def test_noselect_folders_are_never_read() -> None:
    listing = [ServerFolder("Sent", frozenset({b"\\noselect"}))]
    assert discover_roles(listing, "") == [("INBOX", "inbox")]


def test_closest_folders_suggests_the_namespaced_name() -> None:
    names = ["INBOX", "INBOX.Sent", "INBOX.Drafts", "INBOX.Trash"]
    assert closest_folders("Sent", names) == ["INBOX.Sent"]
    assert closest_folders("INBOX.Snet", names)[0] == "INBOX.Sent"
    assert closest_folders("Factures 2025", names) == []


# -- FETCH -------------------------------------------------------------------------------

ITEMS = {
    b"UID": b"UID 42",
    b"INTERNALDATE": b'INTERNALDATE " 2-Mar-2026 09:15:07 +0100"',
    b"FLAGS": b"FLAGS (\\Seen $RwAck)",
    b"BODY[HEADER]": b"BODY[HEADER] \x000\x00",
    b"BODY[TEXT]<0>": b"BODY[TEXT]<0> \x001\x00",
}
LITERALS = [b"Subject: x\r\n\r\n", b"body\r\n"]


@pytest.fixture(autouse=True)
def _fresh_shapes() -> Iterator[None]:
    imap_fetch._shapes = imap_fetch._SEED_SHAPES
    yield
    imap_fetch._shapes = imap_fetch._SEED_SHAPES


@settings(max_examples=60)
@given(st.permutations(list(ITEMS)))
def test_any_item_order_gives_the_same_message(order: list[bytes]) -> None:
    imap_fetch._shapes = imap_fetch._SEED_SHAPES  # each example starts with room to learn
    text = b"7 (" + b" ".join(ITEMS[name] for name in order) + b")"
    raw = imap_fetch.parse_fetch(F, text, LITERALS)
    assert raw is not None
    assert (raw.uid, raw.data, raw.keywords) == (42, b"Subject: x\r\n\r\nbody\r\n", ("$RwAck",))
    assert raw.internaldate is not None and raw.internaldate.isoformat() == (
        "2026-03-02T08:15:07+00:00"
    )
    # The order is now known: the next message of that shape takes the one-regex path.
    assert any(shape.match(text) for shape in imap_fetch._shapes)


def test_cyrus_order_is_learned_once_and_then_fast() -> None:
    text = (
        b'1 (FLAGS (\\Recent) UID 9 INTERNALDATE " 2-Jan-2026 00:00:00 +0000" '
        b"BODY[HEADER] \x000\x00 BODY[TEXT]<0> \x001\x00)"
    )
    imap_fetch.parse_fetch(F, text, LITERALS)
    walked = []
    real = imap_fetch._parse_items

    def counting(*args: object) -> object:
        walked.append(1)
        return real(*args)  # type: ignore[arg-type]

    imap_fetch._parse_items = counting  # type: ignore[assignment]
    try:
        for uid in range(10, 20):
            raw = imap_fetch.parse_fetch(F, text.replace(b"UID 9", b"UID %d" % uid), LITERALS)
            assert raw is not None and raw.uid == uid
    finally:
        imap_fetch._parse_items = real
    assert walked == []


def test_odd_values_still_parse_and_shapes_stay_bounded() -> None:
    quoted = b'3 (UID 5 FLAGS () INTERNALDATE "02-Mar-2026 09:15:07 +0100" BODY[HEADER] "A: b")'
    raw = imap_fetch.parse_fetch(F, quoted, [])
    assert raw is not None and raw.data == b"A: b"
    for n in range(50):  # a hostile server inventing item orders cannot grow the cache
        junk = b"%d (X-ITEM%d 1 UID 5 FLAGS () BODY[HEADER] \x000\x00)" % (n, n)
        assert imap_fetch.parse_fetch(F, junk, LITERALS) is not None
    assert len(imap_fetch._shapes) <= imap_fetch._MAX_SHAPES
    unsolicited = b"4 (FLAGS (\\Seen) UID 8)"
    assert imap_fetch.parse_fetch(F, unsolicited, []) is None


# -- the advice when no mail from me was read -------------------------------------------


def test_advice_guesses_the_sent_folder_and_ignores_drafts_and_trash() -> None:
    me = frozenset({"claire@martin-conseil.fr"})
    server = ["INBOX", "INBOX.Brouillons", "INBOX.Corbeille", "INBOX.Mes envois"]
    found = advice("mail", me, ["INBOX"], server)
    assert found.guess() == "INBOX.Mes envois"
    assert found.folders_line() == 'folders = ["INBOX", "INBOX.Mes envois"]'
    assert "the server has INBOX, INBOX.Brouillons" in found.text()
    assert advice("mail", me, ["INBOX"], ["INBOX", "Sent Items"]).guess() == "Sent Items"
    many = advice("mail", me, ["INBOX"], ["INBOX", "Clients", "Factures"])
    assert many.guess() is None  # no folder stands out: say so rather than guess wrong
    assert '"<the folder your sent mail is in>"' in many.folders_line()


def test_reads_my_mail_needs_a_sent_like_folder_or_a_fair_share() -> None:
    assert reads_my_mail({}) is None and reads_my_mail({"INBOX": (0, 0)}) is None
    assert reads_my_mail({"INBOX": (142, 1)}) is False  # a Cc to self (Enron arnold-j)
    assert reads_my_mail({"INBOX": (142, 1), "INBOX.sent_items": (200, 200)}) is True
    assert reads_my_mail({"INBOX": (90, 0), "[Gmail]/All Mail": (100, 30)}) is True
    assert reads_my_mail({"INBOX": (300, 0), "Mes envois": (1, 1)}) is True

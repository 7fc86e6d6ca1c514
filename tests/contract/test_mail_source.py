"""The MailSource contract: every implementation passes it (memory fake, real Dovecot, Cyrus
and Courier, Graph through its HTTP fake); what needs UIDs and waiting (``WatchedSource``)
runs on ``uid_world``. Graph's own behaviour (delta paging, throttling, tokens) is in
test_graph_source.py."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from imapclient.exceptions import IMAPClientError

from responsewatch.core.parsing import parse_message
from responsewatch.errors import SourceUnavailable
from responsewatch.ports import Cursor, FolderRef, MailSource

if TYPE_CHECKING:  # at runtime "conftest" may name another directory's conftest module
    from conftest import MailWorld, UidWorld

T0 = datetime(2026, 3, 2, 9, 15, 7, tzinfo=timezone(timedelta(hours=1)))


def msg(n: int, *, msgid: str | None = None, body: str = "Bonjour,\r\nmerci.\r\n") -> bytes:
    mid = msgid or f"m{n}@client.example"
    return (
        f"From: Client <c@client.example>\r\n"
        f"To: Me <me@consult.example>\r\n"
        f"Subject: message {n}\r\n"
        f"Date: Mon, 2 Mar 2026 09:{n % 60:02d}:00 +0100\r\n"
        f"Message-ID: <{mid}>\r\n"
        f"\r\n{body}"
    ).encode()


def facts(data: bytes) -> tuple[object, ...]:
    m = parse_message(data)
    return (
        m.message_id, m.from_addr, m.to, m.cc, m.subject, m.date, m.in_reply_to,
        m.references, m.thanks_only, m.automated, m.auto_reply,
    )  # fmt: skip


def folder(src: MailSource, role: str) -> FolderRef:
    return next(f for f in src.folders() if f.role == role)


def test_folders_include_inbox_and_sent_with_roles(world: MailWorld) -> None:
    refs = world.source().folders()
    assert {(f.name, f.role) for f in refs} >= {
        (world.name("INBOX"), "inbox"),
        (world.name("Sent"), "sent"),
    }
    assert all(f.account == "acct" for f in refs)
    assert len({f.name for f in refs}) == len(refs)


def test_fetch_all_returns_every_message_in_uid_order_with_headers(world: MailWorld) -> None:
    sent = [msg(n) for n in range(5)]
    for n, data in enumerate(sent):
        world.append("INBOX", data, T0 + timedelta(minutes=n))
    src = world.source()
    got = list(src.fetch_since(folder(src, "inbox"), None))
    assert [r.uid for r in got] == sorted(r.uid for r in got)
    assert len({r.uid for r in got}) == 5
    if world.whole:  # small messages come back whole: header + the (complete) text part
        assert [r.data for r in got] == sent
    # Rebuilt or not, parse_message must see the same facts.
    assert [facts(r.data) for r in got] == [facts(d) for d in sent]
    assert all(r.folder == folder(src, "inbox") for r in got)


def test_fetch_since_cursor_returns_only_newer_uids(uid_world: UidWorld) -> None:
    for n in range(4):
        uid_world.append("INBOX", msg(n), T0)
    src = uid_world.source()
    inbox = folder(src, "inbox")
    first = list(src.fetch_since(inbox, None))
    cursor = Cursor(src.uidvalidity(inbox), first[1].uid)
    assert [r.data for r in src.fetch_since(inbox, cursor)] == [msg(2), msg(3)]
    # At the end nothing comes back, although IMAP "UID n:*" matches the last message.
    end = Cursor(cursor.uidvalidity, first[-1].uid)
    assert list(src.fetch_since(inbox, end)) == []
    uid_world.append("INBOX", msg(9), T0)
    assert [r.data for r in src.fetch_since(inbox, end)] == [msg(9)]


def test_empty_folder_yields_nothing(world: MailWorld) -> None:
    src = world.source()
    assert list(src.fetch_since(folder(src, "sent"), None)) == []


def test_same_message_id_in_two_folders_comes_from_both(world: MailWorld) -> None:
    data = msg(1, msgid="shared@consult.example")
    world.append("INBOX", data, T0)
    world.append("Sent", data, T0)
    src = world.source()
    got = [r for f in src.folders() for r in src.fetch_since(f, None)]
    assert sorted(r.folder.role for r in got if b"<shared@consult.example>" in r.data) == [
        "inbox",
        "sent",
    ]


def test_internaldate_is_tz_aware_and_equals_what_was_appended(world: MailWorld) -> None:
    whens = [
        T0,
        datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 7, 1, 2, 0, tzinfo=timezone(timedelta(hours=-7))),
    ]
    for n, when in enumerate(whens):
        world.append("INBOX", msg(n), when)
    src = world.source()
    got = list(src.fetch_since(folder(src, "inbox"), None))
    assert all(r.internaldate is not None and r.internaldate.utcoffset() is not None for r in got)
    assert [r.internaldate for r in got] == whens


def test_uidvalidity_change_is_detected_and_old_cursor_ignored(uid_world: UidWorld) -> None:
    for n in range(3):
        uid_world.append("Sent", msg(n), T0)
    src = uid_world.source()
    sent = folder(src, "sent")
    before = src.uidvalidity(sent)
    old = Cursor(before, max(r.uid for r in src.fetch_since(sent, None)))
    uid_world.recreate("Sent")
    uid_world.append("Sent", msg(7), T0)
    after = src.uidvalidity(sent)
    assert after != before
    # The new UIDs restart below the old cursor: everything in the new generation comes back.
    assert [r.data for r in src.fetch_since(sent, old)] == [msg(7)]


def test_keywords_surface_without_system_flags(world: MailWorld) -> None:
    world.append("INBOX", msg(1), T0, ["$RwAck"])
    world.append("INBOX", msg(2), T0, ["$RwAgreement", "$RwAck"])
    world.append("INBOX", msg(3), T0)
    src = world.source()
    got = list(src.fetch_since(folder(src, "inbox"), None))
    assert [set(r.keywords) for r in got] == [{"$RwAck"}, {"$RwAck", "$RwAgreement"}, set()]


def test_no_message_lost_across_batch_boundaries(uid_world: UidWorld) -> None:
    for n in range(10):
        uid_world.append("INBOX", msg(n), T0 + timedelta(seconds=n))
    src = uid_world.source(batch_size=3)
    inbox = folder(src, "inbox")
    got = list(src.fetch_since(inbox, None))
    assert [r.data for r in got] == [msg(n) for n in range(10)]
    resumed = list(src.fetch_since(inbox, Cursor(src.uidvalidity(inbox), got[3].uid)))
    assert [r.uid for r in resumed] == [r.uid for r in got[4:]]


def test_status_reports_uidvalidity_and_last_uid(uid_world: UidWorld) -> None:
    for n in range(3):
        uid_world.append("INBOX", msg(n), T0)
    src = uid_world.source()
    inbox = folder(src, "inbox")
    status = src.status(inbox)
    assert status.uidvalidity == src.uidvalidity(inbox)
    assert status.last_uid == max(r.uid for r in src.fetch_since(inbox, None))


def test_unknown_folder_raises_source_unavailable(world: MailWorld) -> None:
    src = world.source()
    ghost = FolderRef("acct", "NoSuchFolder", "")
    try:
        list(src.fetch_since(ghost, None))
    except SourceUnavailable as e:
        assert e.account == "acct"
    else:
        raise AssertionError("fetch_since on a missing folder must raise SourceUnavailable")


def test_wait_for_changes_wakes_on_new_mail_and_times_out_without(uid_world: UidWorld) -> None:
    src = uid_world.source()
    inbox = folder(src, "inbox")
    t = time.monotonic()
    assert src.wait_for_changes(inbox, 0.3) is False
    assert 0.25 < time.monotonic() - t < 3

    # Delivered once the source says it is waiting (IDLE acknowledged): never missed.
    armed: list[bool] = []

    def deliver() -> None:
        armed.append(True)
        uid_world.append("INBOX", msg(1), T0)

    assert src.wait_for_changes(inbox, 10, on_waiting=deliver) is True
    assert armed == [True]
    assert [r.data for r in src.fetch_since(inbox, None)] == [msg(1)]


def test_malformed_messages_still_come_back_whole(uid_world: UidWorld) -> None:
    odd = [
        b"no header at all, just a line of text\r\n",
        b"Subject: =?bogus?Q?x?=\r\nFrom: \xff\xfe broken <<@>>\r\n\r\n\xe9t\xe9 8-bit body\r\n",
        b"Subject: only a header, no body\r\n",
    ]
    stored = []
    for data in odd:
        try:
            uid_world.append("INBOX", data, T0)
        except IMAPClientError:  # Cyrus refuses a header-less message at APPEND
            assert uid_world.kind.startswith("cyrus") and not data.startswith(b"Subject")
            continue
        stored.append(data)
    src = uid_world.source()
    got = list(src.fetch_since(folder(src, "inbox"), None))
    assert len(stored) >= 2 and len(got) == len(stored)
    for r, data in zip(got, stored, strict=True):
        if uid_world.kind == "courier" and b"\r\n\r\n" not in data:
            # Courier ends a header section that has no blank line with a bare CR.
            assert r.data.rstrip(b"\r\n") == data.rstrip(b"\r\n")
        else:
            assert r.data == data

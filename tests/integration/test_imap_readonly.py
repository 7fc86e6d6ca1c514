"""ImapMailSource against a real Dovecot: read-only proof, auth, TLS, faults, IDLE.

The last section drives the adapter through a fake IMAPClient for what Dovecot cannot
show (Gmail extensions, XOAUTH2).
"""

from __future__ import annotations

import logging
import os
import shutil
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from imapclient import IMAPClient
from imapclient.datetime_util import datetime_to_INTERNALDATE
from structlog.testing import capture_logs
from tests.servers.dovecot import Dovecot, DovecotUnavailable, MailUser

from responsewatch.adapters import imap as imap_adapter
from responsewatch.adapters import imap_fetch
from responsewatch.adapters.imap import ImapAccount, ImapMailSource
from responsewatch.errors import AuthFailed, ConfigError, SourceUnavailable
from responsewatch.ports import Cursor, FolderRef

pytestmark = pytest.mark.dovecot

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
INBOX = FolderRef("acct", "INBOX", "inbox")


@pytest.fixture
def own_dovecot() -> Iterator[Dovecot]:
    """A server this test may kill without hurting the others."""
    server = Dovecot.start_new()
    yield server
    server.close()


def msg(n: int) -> bytes:
    return (
        f"From: c@client.example\r\nTo: me@consult.example\r\nSubject: n{n}\r\n"
        f"Message-ID: <r{n}@client.example>\r\n\r\nText {n}\r\n"
    ).encode()


def account(server: Dovecot, user: MailUser, **kw: Any) -> ImapAccount:
    password = user.password
    defaults: dict[str, Any] = {
        "name": "acct",
        "host": "127.0.0.1",
        "port": server.imap_port,
        "tls": "none-loopback-only",
        "username": user.name,
        "secret": lambda: password,
        "timeout": 5.0,
    }
    return ImapAccount(**(defaults | kw))


def snapshot(server: Dovecot, user: MailUser) -> dict[str, Any]:
    """Flags per UID (without the per-session \\Recent) and HIGHESTMODSEQ of every folder."""
    out: dict[str, Any] = {}
    with server.session(user) as c:
        for _flags, _delim, name in c.list_folders():
            status = c.folder_status(name, [b"HIGHESTMODSEQ", b"UIDVALIDITY", b"MESSAGES"])
            c.select_folder(name, readonly=True)
            uids = c.search(["ALL"])
            flags = {u: set(f) - {b"\\Recent"} for u, f in c.get_flags(uids).items()}
            out[name] = (status, flags)
    return out


# -- read-only -------------------------------------------------------------------------------


def test_full_fetch_changes_no_flag_and_no_modseq(dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    dovecot.append_many(user, "INBOX", [(msg(n), T0, ()) for n in range(6)])
    dovecot.append(user, "INBOX", msg(6), T0, ["\\Flagged", "$RwAck"])
    dovecot.append(user, "Sent", msg(7), T0, ["\\Seen"])
    dovecot.append(user, "Archive", msg(8), T0)
    before = snapshot(dovecot, user)
    assert before["INBOX"][1] and all(not f for f in list(before["INBOX"][1].values())[:6])

    src = ImapMailSource(account(dovecot, user, batch_size=4))
    try:
        refs = src.folders()
        assert {f.role for f in refs} >= {"inbox", "sent", "archive"}
        got = [r for f in refs for r in src.fetch_since(f, None)]
        for f in refs:
            src.status(f)
            src.uidvalidity(f)
        src.wait_for_changes(INBOX, 0.2)
    finally:
        src.close()

    assert len(got) == 9
    assert snapshot(dovecot, user) == before  # no \Seen added, HIGHESTMODSEQ unchanged


# -- authentication --------------------------------------------------------------------------


def test_wrong_password_is_auth_failed_and_never_shows_the_secret(
    dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    user = dovecot.add_user()
    secret = "Wr0ng-Secret-Value-42"
    src = ImapMailSource(account(dovecot, user, secret=lambda: secret))
    caplog.set_level(logging.DEBUG)  # imapclient logs every command at DEBUG
    with capture_logs() as logs, pytest.raises(AuthFailed) as info:
        src.folders()
    exc = info.value
    assert exc.exit_code == 3 and exc.account == "acct"
    assert user.name in str(exc)
    assert secret not in str(exc) and secret not in repr(exc.args)
    assert secret not in repr(logs) and secret not in caplog.text
    assert any(e["event"] == "imap.login_failed" for e in logs)
    # The right password on a fresh source works: nothing sticky.
    ok = ImapMailSource(account(dovecot, user))
    assert ok.folders()
    ok.close()


# -- transport security ----------------------------------------------------------------------


def _spy(made: list[IMAPClient]) -> Any:
    def connect(*args: Any, **kwargs: Any) -> IMAPClient:
        made.append(IMAPClient(*args, **kwargs))
        return made[-1]

    return connect


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_tls_modes_verify_the_test_certificate(dovecot: Dovecot, tls: str) -> None:
    user = dovecot.add_user()
    dovecot.append(user, "INBOX", msg(1), T0)
    port = dovecot.imaps_port if tls == "implicit" else dovecot.imap_port
    made: list[IMAPClient] = []
    acct = account(dovecot, user, tls=tls, port=port, ssl_context=dovecot.ssl_context())
    src = ImapMailSource(acct, connect=_spy(made))
    try:
        assert [r.data for r in src.fetch_since(INBOX, None)] == [msg(1)]
        assert isinstance(made[0].socket(), ssl.SSLSocket)
    finally:
        src.close()


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_tls_refuses_an_untrusted_certificate_by_default(dovecot: Dovecot, tls: str) -> None:
    user = dovecot.add_user()
    port = dovecot.imaps_port if tls == "implicit" else dovecot.imap_port
    src = ImapMailSource(account(dovecot, user, tls=tls, port=port))  # system trust store
    with pytest.raises(SourceUnavailable) as info:
        src.folders()
    assert not isinstance(info.value, AuthFailed)
    assert "certificate" in str(info.value).lower()


def test_plain_text_on_loopback_works(dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    dovecot.append(user, "INBOX", msg(1), T0)
    made: list[IMAPClient] = []
    src = ImapMailSource(account(dovecot, user), connect=_spy(made))
    assert [r.uid for r in src.fetch_since(INBOX, None)] == [1]
    assert not isinstance(made[0].socket(), ssl.SSLSocket)
    src.close()


@pytest.mark.parametrize("host", ["imap.example.net", "10.0.0.1", "127.0.0.1.example.net"])
def test_plain_text_to_a_non_loopback_host_is_a_config_error(dovecot: Dovecot, host: str) -> None:
    made: list[IMAPClient] = []
    with pytest.raises(ConfigError) as info:
        ImapMailSource(account(dovecot, dovecot.add_user(), host=host), connect=_spy(made))
    assert info.value.exit_code == 2
    assert "none-loopback-only" in str(info.value) and host in str(info.value)
    assert made == []


# -- faults ----------------------------------------------------------------------------------


def test_server_killed_mid_fetch_is_source_unavailable_then_recovers(own_dovecot: Dovecot) -> None:
    user = own_dovecot.add_user()
    own_dovecot.append_many(user, "INBOX", [(msg(n), T0, ()) for n in range(6)])
    src = ImapMailSource(account(own_dovecot, user, batch_size=2))
    it = src.fetch_since(INBOX, None)
    first = next(it)
    next(it)
    own_dovecot.kill()
    t = time.monotonic()
    with pytest.raises(SourceUnavailable) as info:
        list(it)  # the third message needs a new FETCH on a dead connection
    assert not isinstance(info.value, AuthFailed)
    with pytest.raises(SourceUnavailable):
        src.folders()  # reconnect attempt: refused
    assert time.monotonic() - t < 5

    own_dovecot.start()
    resumed = list(src.fetch_since(INBOX, Cursor(src.uidvalidity(INBOX), first.uid)))
    assert [r.data for r in resumed] == [msg(n) for n in range(1, 6)]
    src.close()


# -- new mail --------------------------------------------------------------------------------


def test_idle_signals_a_message_appended_by_another_connection(dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    src = ImapMailSource(account(dovecot, user))
    assert list(src.fetch_since(INBOX, None)) == []
    armed: list[float] = []

    def deliver() -> None:  # the server has acknowledged IDLE: mail from now on is seen
        armed.append(time.monotonic())
        dovecot.append(user, "INBOX", msg(1), T0)

    assert src.wait_for_changes(INBOX, 10, on_waiting=deliver) is True
    assert len(armed) == 1
    # The session is usable after IDLE: the caller catches up by UID.
    assert [r.data for r in src.fetch_since(INBOX, None)] == [msg(1)]
    src.close()


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_server_going_away_during_idle_raises_quickly(own_dovecot: Dovecot, how: str) -> None:
    src = ImapMailSource(account(own_dovecot, own_dovecot.add_user()))
    src.folders()
    gone: list[float] = []

    def go_away() -> None:  # once the server has acknowledged IDLE, not after a guessed delay
        if not gone:
            getattr(own_dovecot, how)()
            gone.append(time.monotonic())

    with pytest.raises(SourceUnavailable):
        src.wait_for_changes(INBOX, 60, on_waiting=go_away)
    assert len(gone) == 1
    assert time.monotonic() - gone[0] < 10  # noticed at once; never a hang


def test_idle_is_reissued_and_still_sees_mail(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imap_adapter, "IDLE_REISSUE_S", 0.25)  # stands in for 9 minutes
    idles: list[float] = []

    class CountingIdle(IMAPClient):
        def idle(self) -> Any:
            idles.append(time.monotonic())
            return super().idle()

    user = dovecot.add_user()
    src = ImapMailSource(account(dovecot, user), connect=CountingIdle)
    assert src.wait_for_changes(INBOX, 0.6) is False
    assert len(idles) >= 2
    timers: list[threading.Timer] = []

    def deliver_later() -> None:  # after a few re-issues of an acknowledged IDLE
        timers.append(threading.Timer(0.8, dovecot.append, (user, "INBOX", msg(1), T0)))
        timers[0].start()

    try:
        assert src.wait_for_changes(INBOX, 10, on_waiting=deliver_later) is True
    finally:
        for timer in timers:
            timer.join()
    assert len(idles) >= 5
    src.close()


class _NoIdle(IMAPClient):
    def capabilities(self) -> tuple[bytes, ...]:
        return tuple(c for c in super().capabilities() if c != b"IDLE")


def test_without_idle_it_polls(dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    src = ImapMailSource(account(dovecot, user), connect=_NoIdle)
    assert src.wait_for_changes(INBOX, 0.3, poll_interval=0.1) is False
    deliver = lambda: dovecot.append(user, "INBOX", msg(1), T0)  # noqa: E731
    assert src.wait_for_changes(INBOX, 10, poll_interval=0.1, on_waiting=deliver) is True
    src.close()


def test_missing_dovecot_fails_with_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(DovecotUnavailable, match="apt-get install"):
        Dovecot.start_new()


# -- without a server: Gmail and XOAUTH2 through a fake client --------------------------------


class _FakeImaplib:
    debug = 5

    def __init__(self, calls: list[tuple[str, Any]]) -> None:
        self.calls = calls

    def uid(self, command: str, uids: str, query: str) -> tuple[str, list[Any]]:
        self.calls.append(("uid", (command, uids, query)))
        header = b"Message-ID: <g@x>\r\n\r\n"
        return "OK", [
            # Items in another order than asked, a space-padded day, a quoted text part,
            # a literal text part, and an unsolicited FETCH for a flag change elsewhere.
            (b"5 (X-GM-THRID 1700000000005 UID 5 FLAGS (\\Seen $RwAck) BODY[HEADER] {20}", header),
            b' INTERNALDATE " 2-Mar-2026 10:00:00 -0500" BODY[TEXT]<0> "say \\"hi\\"")',
            b"7 (FLAGS (\\Seen))",
            (b'9 (UID 9 INTERNALDATE "02-Mar-2026 16:30:00 +0130" BODY[HEADER] {20}', header),
            (b" BODY[TEXT]<0> {2}", b"ok"),
            b" FLAGS () X-GM-THRID 1700000000009)",
        ]


class FakeGmail:
    """Just enough of IMAPClient (and of its imaplib object) to look like Gmail."""

    last: FakeGmail

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.calls: list[tuple[str, Any]] = [("connect", kwargs)]
        self.normalise_times = True
        self._imap = _FakeImaplib(self.calls)
        FakeGmail.last = self

    def oauth2_login(self, user: str, token: str) -> None:
        self.calls.append(("oauth2_login", (user, token)))

    def login(self, user: str, password: str) -> None:
        raise AssertionError("password login used for an xoauth2 account")

    def capabilities(self) -> tuple[bytes, ...]:
        return (b"IMAP4REV1", b"X-GM-EXT-1", b"IDLE", b"UIDPLUS")

    def list_folders(self) -> list[tuple[tuple[bytes, ...], bytes, str]]:
        return [
            ((b"\\HasNoChildren",), b"/", "INBOX"),
            ((b"\\HasChildren", b"\\Noselect"), b"/", "[Gmail]"),
            ((b"\\All", b"\\HasNoChildren"), b"/", "[Gmail]/All Mail"),
            ((b"\\HasNoChildren", b"\\Sent"), b"/", "[Gmail]/Sent Mail"),
            ((b"\\HasNoChildren", b"\\Trash"), b"/", "[Gmail]/Trash"),
        ]

    def select_folder(self, name: str, readonly: bool = False) -> dict[bytes, Any]:
        self.calls.append(("select", (name, readonly)))
        return {b"UIDVALIDITY": 7, b"EXISTS": 3}

    def search(self, criteria: list[str]) -> list[int]:
        return [5, 7, 9]

    def logout(self) -> None: ...

    def shutdown(self) -> None: ...


def test_gmail_uses_all_mail_and_thread_ids_with_xoauth2() -> None:
    acct = ImapAccount(
        "g", "imap.gmail.com", 993, "implicit", "me@gmail.com", lambda: "tok", auth="xoauth2"
    )
    src = ImapMailSource(acct, connect=FakeGmail)
    refs = src.folders()
    assert [(f.name, f.role) for f in refs] == [
        ("INBOX", "inbox"),
        ("[Gmail]/All Mail", "all"),
        ("[Gmail]/Sent Mail", "sent"),
    ]
    got = list(src.fetch_since(refs[1], None))
    fake = FakeGmail.last
    assert ("oauth2_login", ("me@gmail.com", "tok")) in fake.calls
    assert fake.calls[0][1]["ssl"] is True
    assert fake._imap.debug == 0  # no message headers in DEBUG logs
    assert ("select", ("[Gmail]/All Mail", True)) in fake.calls
    _command, uids, query = next(args for name, args in fake.calls if name == "uid")
    assert uids == "5:9" and "X-GM-THRID" in query
    assert "BODY[" not in query.replace("BODY.PEEK[", "")  # PEEK only: never sets \Seen
    assert [(r.uid, r.provider_thread, r.data, r.keywords) for r in got] == [
        (5, "1700000000005", b'Message-ID: <g@x>\r\n\r\nsay "hi"', ("$RwAck",)),
        (9, "1700000000009", b"Message-ID: <g@x>\r\n\r\nok", ()),
    ]
    assert [r.internaldate for r in got] == [
        datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
    ]


def test_explicit_folders_override_discovery_and_must_exist() -> None:
    base = ("g", "imap.gmail.com", 993, "implicit", "me@gmail.com", lambda: "tok")
    src = ImapMailSource(
        ImapAccount(*base, auth="xoauth2", folders=("INBOX", "[Gmail]/Sent Mail")),
        connect=FakeGmail,
    )
    assert [(f.name, f.role) for f in src.folders()] == [
        ("INBOX", "inbox"),
        ("[Gmail]/Sent Mail", "sent"),
    ]
    bad = ImapMailSource(ImapAccount(*base, auth="xoauth2", folders=("Nope",)), connect=FakeGmail)
    with pytest.raises(ConfigError, match="Nope"):
        bad.folders()


@given(
    when=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
    minutes=st.integers(-14 * 60, 14 * 60),
)
def test_internaldate_parser_round_trips(when: datetime, minutes: int) -> None:
    aware = when.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=minutes)))
    text = datetime_to_INTERNALDATE(aware).encode()
    assert imap_fetch.parse_internaldate(text) == aware
    assert imap_fetch.parse_internaldate(b" " + text.lstrip(b"0")) == aware  # space-padded day


def test_invalid_account_settings_are_reported_together() -> None:
    with pytest.raises(ConfigError) as info:
        ImapMailSource(ImapAccount("a", "h", 0, "ssl", "u", lambda: "p", auth="basic"))
    assert len(info.value.problems) == 3
    assert all(p.startswith("accounts[a].") for p in info.value.problems)

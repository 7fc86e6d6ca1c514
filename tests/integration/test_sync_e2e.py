"""End to end over real IMAP: Dovecot -> `sync --once` -> `report` == `analyze` on files.

Plus what the sync adds on top of fetching: $Rw keywords (fetched and changed later,
via CONDSTORE), Gmail's \\All de-duplicated with INBOX/Sent, alias warnings.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_imap_readonly import FakeGmail
from tests.servers.config import ME, imap_account_toml, write_config
from tests.servers.courier import Courier
from tests.servers.cyrus import Cyrus
from tests.servers.dovecot import Dovecot, MailUser
from tests.support.mailgen import generate, write_maildir
from typer.testing import CliRunner

from responsewatch.adapters.imap import ImapAccount, ImapMailSource
from responsewatch.adapters.memory import MemoryMailSource
from responsewatch.adapters.store import SqliteStore
from responsewatch.app.sync import alias_warnings, sync_source
from responsewatch.cli import app
from responsewatch.ports import FolderRef, RawMessage

pytestmark = pytest.mark.dovecot

NOW = "2026-11-20T11:00:00+01:00"
INTEROP = ("cyrus_debian", "cyrus_upstream", "courier")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def clock() -> datetime:
    return datetime(2026, 3, 3, tzinfo=UTC)


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result


def msg(n: int, sender: str = "c@acme.fr", *, mid: str | None = None) -> bytes:
    return (
        f"From: {sender}\r\nTo: {ME}\r\nSubject: n{n}\r\n"
        f"Date: Mon, 2 Mar 2026 09:00:00 +0100\r\n"
        f"Message-ID: <{mid or f'e{n}@acme.fr'}>\r\n\r\nText {n}\r\n"
    ).encode()


def imap_source(server: Dovecot, user: MailUser, **kw: Any) -> ImapMailSource:
    password = user.password
    return ImapMailSource(
        ImapAccount(
            "mail", "127.0.0.1", server.imap_port, "none-loopback-only", user.name,
            lambda: password, timeout=5.0, **kw,
        )
    )  # fmt: skip


def snapshot(server: Dovecot | Cyrus | Courier, user: MailUser) -> dict[str, Any]:
    """Flags per UID (without the per-session \\Recent) and, with CONDSTORE, HIGHESTMODSEQ."""
    out: dict[str, Any] = {}
    with server.session(user) as c:
        items = [b"UIDVALIDITY", b"MESSAGES"]
        if b"CONDSTORE" in c.capabilities():
            items.append(b"HIGHESTMODSEQ")
        for _flags, _delim, name in c.list_folders():
            status = c.folder_status(name, items)
            if not status[b"MESSAGES"]:  # Courier: an empty folder's UIDVALIDITY is not kept
                status.pop(b"UIDVALIDITY")
            c.select_folder(name, readonly=True)
            flags = {u: set(f) - {b"\\Recent"} for u, f in c.get_flags(c.search(["ALL"])).items()}
            out[name] = (status, flags)
    return out


@pytest.mark.parametrize(
    "kind",
    ["dovecot", *(pytest.param(k, marks=pytest.mark.interop) for k in INTEROP)],
)
def test_sync_once_then_report_equals_analyze_on_the_same_files(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path
) -> None:
    server: Dovecot | Cyrus | Courier = request.getfixturevalue(kind)
    messages = generate(40)
    user = server.add_user()
    for folder in ("INBOX", "Sent"):
        server.append_many(
            user, folder, [(m.data, m.internaldate, ()) for m in messages if m.folder == folder]
        )
    before = snapshot(server, user)
    tls = "implicit" if isinstance(server, Dovecot) else "none-loopback-only"
    account = imap_account_toml(server, user, tmp_path, tls=tls, batch_size=50)
    config = write_config(tmp_path, [account])

    synced = invoke("sync", "--config", str(config), "--once")
    assert synced.exit_code == 0, synced.output
    assert "warning" not in synced.output  # Sent found, mail from me in it
    store = SqliteStore.open(tmp_path / "responsewatch.db", readonly=True)
    sent = "Sent" if isinstance(server, Dovecot) else server.folder("Sent")
    try:
        stored = store.message_count()
        cursors = {f: store.cursor(FolderRef("mail", f)) for f in ("INBOX", sent)}
    finally:
        store.close()
    assert all(c is not None and c.last_uid > 0 for c in cursors.values()), cursors

    report = invoke("report", "--config", str(config), "--now", NOW, "--format", "json")
    assert report.exit_code == 0, report.output
    maildir = tmp_path / "Maildir"
    write_maildir(messages, maildir)
    analyze = invoke(
        "analyze", str(maildir), "--config", str(config), "--now", NOW, "--format", "json"
    )
    assert analyze.exit_code == 0, analyze.output
    from_imap, from_files = json.loads(report.stdout), json.loads(analyze.stdout)
    insights = from_imap.pop("insights")  # the one key report adds to analyze's document
    assert {"after_hours", "quiet", "owed_to_me"} <= set(insights)
    assert from_imap["totals"]["messages"] == stored > 100
    assert from_imap == from_files

    # A second run is incremental: nothing new, nothing doubled.
    again = invoke("sync", "--config", str(config), "--once")
    assert again.exit_code == 0 and "0 read" in again.output
    assert snapshot(server, user) == before  # no flag set, HIGHESTMODSEQ unchanged


def test_keywords_are_stored_when_fetched_and_when_set_later(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    user = dovecot.add_user()
    dovecot.append(user, "INBOX", msg(1), T0, ["$RwAck", "$Forwarded"])
    dovecot.append(user, "INBOX", msg(2), T0)
    dovecot.append(user, "INBOX", msg(3), T0)
    store = SqliteStore.open(tmp_path / "s.db")
    src = imap_source(dovecot, user)
    try:
        sync_source(src, store, now=clock)
        assert set(store.acks()) == {"e1@acme.fr"}
        assert store.messages_with_keyword("$Forwarded") == {}  # only our own keywords
        inbox = FolderRef("mail", "INBOX", "inbox")
        assert store.cursor(inbox).highest_modseq is not None  # type: ignore[union-attr]

        # The user flags message 2 in their mail client, after it was fetched.
        with dovecot.session(user) as admin:
            admin.select_folder("INBOX")
            admin.add_flags([2], ["$RwAgreement", "$RwAck"])
        dovecot.append(user, "INBOX", msg(4), T0)
        report = sync_source(src, store, now=clock)
        assert report.fetched == 1  # only the new message is fetched again
        assert set(store.acks()) == {"e1@acme.fr", "e2@acme.fr"}
        assert set(store.messages_with_keyword("$RwAgreement")) == {"e2@acme.fr"}
        assert sync_source(src, store, now=clock).keywords == 0  # modseq moved on
    finally:
        src.close()
        store.close()


class _GmailWithStatus(FakeGmail):
    def folder_status(self, folder: str, items: list[bytes]) -> dict[bytes, int]:
        return {b"UIDVALIDITY": 7, b"UIDNEXT": 10}

    def unselect_folder(self) -> None: ...

    def close_folder(self) -> None: ...


def test_gmail_all_mail_is_deduplicated_with_inbox_and_sent(tmp_path: Path) -> None:
    acct = ImapAccount(
        "g", "imap.gmail.com", 993, "implicit", "me@gmail.com", lambda: "tok", auth="xoauth2"
    )
    src = ImapMailSource(acct, connect=_GmailWithStatus)
    store = SqliteStore.open(tmp_path / "g.db")
    try:
        report = sync_source(src, store, now=clock)
        # INBOX, \All and \Sent each hand over the same two messages (same Message-ID).
        assert report.fetched == 6 and report.folders == [
            "INBOX",
            "[Gmail]/All Mail",
            "[Gmail]/Sent Mail",
        ]
        assert store.message_count() == 1
        only = next(store.messages())
        assert only.message_id == "g@x" and only.provider_thread == "1700000000005"
        assert len(store.locations("g@x")) == 6
        assert set(store.acks()) == {"g@x"}
    finally:
        store.close()


def test_alias_warnings_list_unknown_senders_of_sent_mail(dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    sent = [msg(n, ME, mid=f"s{n}@x") for n in range(5)]
    sent += [msg(10 + n, "Claire <CLAIRE@perso.example>", mid=f"p{n}@x") for n in range(3)]
    sent.append(msg(20, "c.martin@martin-conseil.fr", mid="a@x"))
    dovecot.append_many(user, "Sent", [(d, T0, ()) for d in sent])
    src = imap_source(dovecot, user)
    try:
        warnings = alias_warnings(src, frozenset({ME}))
        assert warnings == ["claire@perso.example", "c.martin@martin-conseil.fr"]
        assert alias_warnings(src, frozenset({ME}), sample=1) == ["c.martin@martin-conseil.fr"]
    finally:
        src.close()
    box = {FolderRef("m", "INBOX", "inbox"): [RawMessage(FolderRef("m", "INBOX"), 1, msg(1))]}
    assert alias_warnings(MemoryMailSource("m", box), frozenset({ME})) == []  # no Sent folder


def test_sync_once_archives_a_detected_agreement_without_touching_flags(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    """The deferred archiver: decided while the folder streams, fetched (BODY.PEEK[]) after."""
    user = dovecot.add_user()
    agreement = (
        f"From: Jean Dupont <jean.dupont@acme.fr>\r\nTo: {ME}\r\nSubject: Devis phase 2\r\n"
        "Date: Mon, 2 Mar 2026 09:00:00 +0100\r\nMessage-ID: <ok@acme.fr>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Bonjour Claire,\r\n\r\nBon pour accord sur le devis de la phase 2.\r\n\r\n"
        "Cordialement,\r\nJean\r\n" + "x" * 5000 + "\r\n"
    ).encode()
    question = msg(2).replace(b"Text 2", b"Pouvez-vous valider le devis ?")
    dovecot.append_many(user, "INBOX", [(agreement, T0, ()), (question, T0, ())])
    config = write_config(tmp_path, [imap_account_toml(dovecot, user, tmp_path)])
    assert invoke("sync", "--config", str(config), "--once").exit_code == 0
    listed = invoke("archive", "list", "--config", str(config), "--format", "json")
    (entry,) = json.loads(listed.stdout)
    assert entry["message_id"] == "ok@acme.fr" and entry["client"] == "Acme"
    assert entry["phrase"] == "bon pour accord"
    stored = next((tmp_path / "archive").rglob("*.eml")).read_bytes()
    assert stored == agreement  # the whole original, byte for byte, beyond the 2 KB prefix
    source = imap_source(dovecot, user)
    try:
        flags = source._conn().select_folder("INBOX", readonly=True)
        assert flags is not None
        fetched = source._conn().fetch(source._conn().search(["ALL"]), ["FLAGS"])
        assert all(b"\\Seen" not in item[b"FLAGS"] for item in fetched.values())
    finally:
        source.close()
    assert invoke("archive", "verify", "--config", str(config)).exit_code == 0


def test_check_logs_in_lists_folders_and_warns_about_aliases(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    user = dovecot.add_user()
    alias = msg(9, sender="claire.martin@old-domain.fr")
    dovecot.append_many(user, "Sent", [(alias, T0, ()), (msg(10, ME, mid="me@x"), T0, ())])
    good = write_config(tmp_path, [imap_account_toml(dovecot, user, tmp_path, tls="implicit")])
    result = invoke("check", "--config", str(good))
    assert result.exit_code == 0, result.output
    assert "will read INBOX (inbox)" in result.output and "Sent (sent)" in result.output
    assert "claire.martin@old-domain.fr" in result.output
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad = write_config(
        bad_dir, [imap_account_toml(dovecot, user, bad_dir, password="not-the-password")]
    )
    failed = invoke("check", "--config", str(bad))
    assert failed.exit_code == 3
    assert "not-the-password" not in failed.output

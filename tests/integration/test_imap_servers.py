"""Any IMAP server, never silently half-read: folder discovery, the Sent check and IDLE
quirks on Dovecot, Cyrus (Debian and upstream namespaces) and Courier."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_daemon import ids, wait_for
from tests.servers.config import ME, imap_account_toml, write_config
from tests.servers.courier import Courier
from tests.servers.cyrus import Cyrus
from tests.servers.dovecot import Dovecot, MailUser
from tests.support.daemon_thread import RunningDaemon
from typer.testing import CliRunner

from responsewatch.adapters.imap import ImapAccount, ImapMailSource
from responsewatch.cli import app
from responsewatch.ports import FolderRef

pytestmark = pytest.mark.interop

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SERVERS = ["dovecot", "cyrus_debian", "cyrus_upstream", "courier"]
Server = Dovecot | Cyrus | Courier


def server_of(request: pytest.FixtureRequest, kind: str) -> Server:
    server: Server = request.getfixturevalue(kind)
    return server


def name_on(server: Server, logical: str) -> str:
    return server.folder(logical) if not isinstance(server, Dovecot) else logical


def msg(n: int, sender: str = "jean@acme.fr") -> bytes:
    return (
        f"From: {sender}\r\nTo: {ME}\r\nSubject: Point {n}\r\n"
        f"Date: Mon, 2 Mar 2026 09:00:00 +0100\r\nMessage-ID: <s{n}@acme.fr>\r\n\r\nTexte\r\n"
    ).encode()


def source(server: Server, user: MailUser, *, port: int | None = None, **kw: Any) -> ImapMailSource:
    password = user.password
    return ImapMailSource(
        ImapAccount(
            "mail", "127.0.0.1", port or server.imap_port, "none-loopback-only", user.name,
            lambda: password, timeout=10.0, **kw,
        )
    )  # fmt: skip


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def bare_user(server: Server) -> MailUser:
    """A mailbox with INBOX only (Dovecot always auto-creates its Sent: delete it)."""
    if isinstance(server, Dovecot):
        user = server.add_user()
        with server.session(user) as c:
            for name in ("Sent", "Archive"):
                c.delete_folder(name)
        return user
    return server.add_user(folders=())


@pytest.mark.parametrize("kind", SERVERS)
def test_auto_finds_sent_and_archive_on_every_server(
    request: pytest.FixtureRequest, kind: str
) -> None:
    server = server_of(request, kind)
    user = server.add_user()
    src = source(server, user)
    try:
        refs = src.folders()
    finally:
        src.close()
    roles = {f.role: f.name for f in refs}
    assert roles["inbox"] == "INBOX"
    assert roles["sent"] == name_on(server, "Sent")
    assert roles["archive"] == name_on(server, "Archive")
    assert len(refs) == 3  # Drafts and Trash are not read


def test_cyrus_roles_hidden_from_plain_list_are_asked_for(cyrus_upstream: Cyrus) -> None:
    user = cyrus_upstream.add_user(folders=())
    with cyrus_upstream.session(user) as c:
        cyrus_upstream.create(c, "Mes envois", "Sent")  # a name no guess would find
        plain = {name: flags for flags, _d, name in c.list_folders()}
    assert b"\\Sent" not in plain["Mes envois"]  # what made "auto" read INBOX alone before
    src = source(cyrus_upstream, user)
    try:
        assert ("Mes envois", "sent") in {(f.name, f.role) for f in src.folders()}
    finally:
        src.close()


def test_localised_sent_folder_in_modified_utf7_is_found(courier: Courier) -> None:
    user = courier.add_user(folders=())
    with courier.session(user) as c:
        c.create_folder("INBOX.Éléments envoyés")  # imapclient sends &AMk-l&AOk-ments ...
    courier.append(user, "Éléments envoyés", msg(1, ME), T0)
    src = source(courier, user)
    try:
        (sent,) = [f for f in src.folders() if f.role == "sent"]
        assert sent.name == "INBOX.Éléments envoyés"
        assert [r.data for r in src.fetch_since(sent, None)] == [msg(1, ME)]
    finally:
        src.close()


@pytest.mark.parametrize("kind", ["cyrus_debian", "courier"])
def test_mailbox_without_sent_makes_check_exit_2_with_the_line_to_add(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path
) -> None:
    server = server_of(request, kind)
    user = bare_user(server)
    with server.session(user) as c:
        c.create_folder(server.folder("Mes envois"))
    server.append_many(user, "INBOX", [(msg(n), T0, ()) for n in range(3)])
    server.append(user, "Mes envois", msg(9, ME), T0)
    config = write_config(tmp_path, [imap_account_toml(server, user, tmp_path)])
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert "no folder read holds mail from you" in out and ME in out
    assert f"the server has INBOX, {server.folder('Mes envois')}" in out.replace("'", "")
    assert f'folders = ["INBOX", "{server.folder("Mes envois")}"]' in out

    # sync --once reads what it can, and says so loudly.
    synced = invoke("sync", "--config", str(config), "--once")
    assert synced.exit_code == 0, synced.output
    assert "3 read" in synced.output and "no folder read holds mail from you" in synced.output

    # With the advised line, check is happy.
    fixed_dir = tmp_path / "fixed"
    fixed_dir.mkdir()
    fixed = write_config(
        fixed_dir,
        [
            imap_account_toml(
                server, user, fixed_dir, folders=["INBOX", server.folder("Mes envois")]
            )
        ],
    )
    ok = invoke("check", "--config", str(fixed))
    assert ok.exit_code == 0, ok.output
    assert "found mail from you" in ok.output


def test_sent_mail_only_from_an_alias_exits_2_naming_it(
    cyrus_debian: Cyrus, tmp_path: Path
) -> None:
    user = cyrus_debian.add_user()
    cyrus_debian.append(user, "INBOX", msg(1), T0)
    cyrus_debian.append(user, "Sent", msg(2, "claire.martin@old-domain.fr"), T0)
    config = write_config(tmp_path, [imap_account_toml(cyrus_debian, user, tmp_path)])
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 2
    assert "claire.martin@old-domain.fr: if that is you" in " ".join(result.output.split())


def test_empty_mailbox_is_not_an_error(courier: Courier, tmp_path: Path) -> None:
    user = courier.add_user()
    config = write_config(tmp_path, [imap_account_toml(courier, user, tmp_path)])
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "nothing to check yet" in result.output


@pytest.mark.parametrize("kind", ["cyrus_debian", "courier"])
def test_misspelt_folder_is_a_config_error_with_a_suggestion(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path
) -> None:
    server = server_of(request, kind)
    user = server.add_user()
    config = write_config(
        tmp_path, [imap_account_toml(server, user, tmp_path, folders=["INBOX", "Sent"])]
    )
    for command in (["check"], ["sync", "--once"]):
        result = invoke(*command, "--config", str(config))
        assert result.exit_code == 2, result.output
        out = " ".join(result.output.split())
        assert "'Sent' does not exist on the server; did you mean 'INBOX.Sent'" in out


@pytest.mark.timeout(60)
def test_courier_late_idle_still_delivers_within_the_poll_interval(courier: Courier) -> None:
    """Courier without IMAP_ENHANCEDIDLE tells an idling client about new mail only after
    its own 60 s poll; the adapter's check every ``poll_interval`` catches it instead."""
    user = courier.add_user()
    src = source(courier, user, port=courier.slow_idle_port)
    inbox = FolderRef("mail", "INBOX", "inbox")
    try:
        assert src.wait_for_changes(inbox, 0.3, poll_interval=1.0) is False
        timer = threading.Timer(0.5, courier.append, (user, "INBOX", msg(1), T0))
        timer.start()
        t = time.monotonic()
        try:
            assert src.wait_for_changes(inbox, 30, poll_interval=1.0, after_uid=0) is True
        finally:
            timer.join()
        assert time.monotonic() - t < 5  # not the server's 60 s
        assert [r.data for r in src.fetch_since(inbox, None)] == [msg(1)]
        # Mail that came while the caller was not waiting: at once, although EXAMINE on
        # Courier has no UIDNEXT to compare.
        courier.append(user, "INBOX", msg(2), T0)
        t = time.monotonic()
        assert src.wait_for_changes(inbox, 30, poll_interval=20.0, after_uid=1) is True
        assert time.monotonic() - t < 2
    finally:
        src.close()


@pytest.mark.timeout(60)
def test_cyrus_idle_new_mail_in_the_store_within_5_s(cyrus_debian: Cyrus, tmp_path: Path) -> None:
    server = cyrus_debian
    user = server.add_user()
    server.append(user, "INBOX", msg(1), T0)
    server.append(user, "Sent", msg(2, ME), T0)
    config = write_config(tmp_path, [imap_account_toml(server, user, tmp_path)])
    db = tmp_path / "responsewatch.db"
    run = RunningDaemon(config)
    try:
        assert run.daemon is not None
        wait_for(lambda: ids(db) == ["s1@acme.fr", "s2@acme.fr"], 10)
        wait_for(run.watchers_idle, 10)
        assert {w.folder.name for a in run.daemon.workers for w in a.watchers} == {
            "INBOX",
            name_on(server, "Sent"),
        }
        time.sleep(0.3)  # the watchers are in IDLE now
        server.append(user, "INBOX", msg(3), T0)
        assert wait_for(lambda: "s3@acme.fr" in ids(db), 5) < 5
        assert run.daemon.sent_missing == {"mail": 0}
    finally:
        run.shutdown()
    assert run.code == 0


@pytest.mark.timeout(60)
def test_run_without_sent_warns_and_sets_the_metric(
    courier: Courier, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import urllib.request

    user = courier.add_user(folders=())
    courier.append_many(user, "INBOX", [(msg(n), T0, ()) for n in range(2)])
    config = write_config(
        tmp_path, [imap_account_toml(courier, user, tmp_path)], daemon='recompute_every = "1s"'
    )
    run = RunningDaemon(config)
    try:
        assert run.daemon is not None and run.daemon.metrics_port
        daemon = run.daemon
        wait_for(lambda: daemon.sent_missing.get("mail") == 1, 10)
        url = f"http://127.0.0.1:{daemon.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        assert 'responsewatch_sent_folder_missing{account="mail"} 1.0' in text
        # The user's first reply lands in INBOX (Bcc to self): the next recompute clears it.
        courier.append(user, "INBOX", msg(7, ME), T0)
        wait_for(lambda: daemon.sent_missing.get("mail") == 0, 15)
    finally:
        run.shutdown()
    logged = capsys.readouterr().out
    assert "sent_folder_missing" in logged and "sent_folder_found" in logged


def test_hostile_folder_names_are_printed_not_interpreted(
    cyrus_debian: Cyrus, tmp_path: Path
) -> None:
    user = cyrus_debian.add_user(folders=())
    with cyrus_debian.session(user) as c:
        c.create_folder("INBOX.[bold]Factures")  # rich markup: would vanish unescaped
    cyrus_debian.append(user, "INBOX", msg(1), T0)
    config = write_config(tmp_path, [imap_account_toml(cyrus_debian, user, tmp_path)])
    for command in (["check"], ["sync", "--once"]):
        result = invoke(*command, "--config", str(config))
        assert result.exit_code == (2 if command == ["check"] else 0), result.output
        assert 'folders = ["INBOX", "INBOX.[bold]Factures"]' in " ".join(result.output.split())


def test_real_inbox_with_a_cc_to_self_is_still_not_enough(courier: Courier, tmp_path: Path) -> None:
    """Enron's arnold-j inbox (real mail) holds one message from him among 142: without
    his sent folder, check must still refuse."""
    from tests.corpus.test_parsing_corpus import ENRON
    from tests.support.enron import CORPUS, messages

    user = courier.add_user(folders=())
    inbox = messages(CORPUS / "arnold-j" / "inbox.mbox.gz")
    assert len(inbox) == 142
    courier.append_many(user, "INBOX", inbox)
    me = ENRON["arnold-j"]
    config = write_config(tmp_path, [imap_account_toml(courier, user, tmp_path)])
    config.write_text(config.read_text().replace(ME, me))
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 2, result.output
    assert f"no folder read holds mail from you ({me})" in " ".join(result.output.split())

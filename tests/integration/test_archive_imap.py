"""The archive against a real Dovecot: BODY.PEEK[] fetch, no flag ever changes, opt-in tag.

The server is the session ``dovecot`` fixture of tests/conftest.py (fresh user per test).

Every IMAP command the program sends is recorded at the imaplib level, so "no write" is
checked on the wire (no SELECT, STORE, APPEND, EXPUNGE...) and on the server (flags and
HIGHESTMODSEQ unchanged).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from imapclient import IMAPClient
from tests.servers.dovecot import Dovecot, MailUser

from responsewatch.adapters.archive import ARCHIVED_KEYWORD, EvidenceArchive
from responsewatch.adapters.imap import ImapAccount, ImapMailSource
from responsewatch.adapters.store import SqliteStore
from responsewatch.app.archive_app import AgreementWatcher, add_by_message_id
from responsewatch.app.bootstrap import FixedClock, bootstrap
from responsewatch.app.sync import sync_source
from responsewatch.config import AccountSettings, Settings
from responsewatch.core.parsing import parse_message
from responsewatch.core.rules import ClientRule, Rules
from responsewatch.ports import FolderRef

pytestmark = pytest.mark.dovecot

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ME = "claire@martin-conseil.fr"
INBOX = FolderRef("main", "INBOX", "inbox")
WRITES = {"SELECT", "STORE", "APPEND", "EXPUNGE", "COPY", "MOVE", "CREATE", "DELETE", "CLOSE"}


@pytest.fixture(scope="module")
def signer() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def mail(n: int, body: str, pem: bytes) -> bytes:
    data = (
        f"From: Paul <paul@acme.fr>\r\nTo: {ME}\r\nSubject: Devis {n}\r\n"
        f"Date: Mon, 02 Mar 2026 09:00:00 +0100\r\nMessage-ID: <i{n}@acme.fr>\r\n\r\n{body}"
        + "Cordialement,\r\nPaul\r\n"
        + "Texte de la proposition.\r\n" * 200  # > 2 KB
    ).encode()
    sig = dkim.sign(data, b"s1", b"acme.fr", pem, include_headers=[b"from", b"subject"])
    return bytes(sig) + data


def recording(commands: list[str]) -> Callable[..., IMAPClient]:
    def connect(*args: Any, **kw: Any) -> IMAPClient:
        client = IMAPClient(*args, **kw)
        original = client._imap._command

        def command(name: str, *rest: Any) -> Any:
            commands.append(f"{name} {rest[0]}" if name == "UID" else name)
            return original(name, *rest)

        client._imap._command = command
        return client

    return connect


def source(server: Dovecot, user: MailUser, commands: list[str]) -> ImapMailSource:
    password = user.password
    account = ImapAccount(
        name="main",
        host="127.0.0.1",
        port=server.imap_port,
        tls="none-loopback-only",
        username=user.name,
        secret=lambda: password,
        timeout=5.0,
    )
    return ImapMailSource(account, connect=recording(commands))


def server_state(server: Dovecot, user: MailUser) -> tuple[int, dict[int, set[bytes]]]:
    with server.session(user) as c:
        status = c.folder_status("INBOX", [b"HIGHESTMODSEQ"])
        c.select_folder("INBOX", readonly=True)
        flags = {
            u: set(f[b"FLAGS"]) - {b"\\Recent"} for u, f in c.fetch(c.search(), ["FLAGS"]).items()
        }
    return int(status[b"HIGHESTMODSEQ"]), flags


def settings(tmp_path: Path, **kw: Any) -> Settings:
    rules = Rules(me=frozenset({ME}), clients=(ClientRule("acme", domains=("acme.fr",)),))
    return Settings(
        rules=rules,
        store_path=tmp_path / "rw.db",
        archive_path=tmp_path / "archive",
        accounts=(AccountSettings(name="main", type="imap"),),
        **kw,
    )


def fill(server: Dovecot, user: MailUser, pem: bytes) -> dict[int, bytes]:
    bodies = {
        1: "Bonjour,\r\n\r\nBon pour accord sur le devis.\r\n",
        2: "Bonjour,\r\n\r\nPouvez-vous valider le devis ?\r\n",
        3: "Bonjour,\r\n\r\nVoici le planning.\r\n",
    }
    sent = {n: mail(n, b, pem) for n, b in bodies.items()}
    for n, data in sent.items():
        server.append(user, "INBOX", data, T0, ("$RwAgreement",) if n == 3 else ())
    return sent


def sync_with_hook(src: ImapMailSource, watcher: AgreementWatcher) -> None:
    hook = watcher.hook(src)
    for raw in src.fetch_since(INBOX, None):
        assert len(raw.data) < 3000  # the sync only has header + 2 KB of text
        hook(raw, parse_message(raw.data, internaldate=raw.internaldate))


def test_agreement_archived_from_imap_without_any_write(
    dovecot: Dovecot, signer: tuple[bytes, str], tmp_path: Path
) -> None:
    pem, record = signer
    user = dovecot.add_user()
    sent = fill(dovecot, user, pem)
    before = server_state(dovecot, user)
    commands: list[str] = []
    src = source(dovecot, user, commands)
    archive = EvidenceArchive(tmp_path / "archive", lookup=lambda n: record)
    try:
        sync_with_hook(src, AgreementWatcher(settings(tmp_path), archive, now=lambda: T0))
    finally:
        src.close()
    entries = {e.message_id: e for e in archive.entries()}
    assert {m: e.phrase for m, e in entries.items()} == {
        "i1@acme.fr": "bon pour accord",
        "i3@acme.fr": "keyword:$RwAgreement",
    }
    for n in (1, 3):
        entry = entries[f"i{n}@acme.fr"]
        assert archive.read_object(entry.sha256) == sent[n]  # byte for byte, > 2 KB
        assert entry.dkim.result == "pass" and entry.dkim.key_record == record
    assert archive.verify().ok
    assert "UID FETCH" in commands and "EXAMINE" in commands
    assert not WRITES & {c.split()[-1] for c in commands}, commands
    assert server_state(dovecot, user) == before  # no \Seen, no keyword, same HIGHESTMODSEQ
    assert all(b"\\Seen" not in flags for flags in before[1].values())


def test_tag_on_server_is_the_only_write_and_only_when_enabled(
    dovecot: Dovecot, signer: tuple[bytes, str], tmp_path: Path
) -> None:
    pem, record = signer
    user = dovecot.add_user()
    fill(dovecot, user, pem)
    _, before = server_state(dovecot, user)
    commands: list[str] = []
    src = source(dovecot, user, commands)
    archive = EvidenceArchive(tmp_path / "archive", lookup=lambda n: record)
    try:
        watcher = AgreementWatcher(settings(tmp_path, archive_tag_on_server=True), archive)
        sync_with_hook(src, watcher)
    finally:
        src.close()
    _, after = server_state(dovecot, user)
    keyword = ARCHIVED_KEYWORD.encode()
    assert after == {1: before[1] | {keyword}, 2: before[2], 3: before[3] | {keyword}}
    assert all(b"\\Seen" not in f for f in after.values())
    assert commands.count("SELECT") == 2 and commands.count("UID STORE") == 2


def test_archive_add_fetches_from_the_stored_location(
    dovecot: Dovecot, signer: tuple[bytes, str], tmp_path: Path
) -> None:
    pem, record = signer
    user = dovecot.add_user()
    sent = fill(dovecot, user, pem)
    before = server_state(dovecot, user)
    commands: list[str] = []
    config = settings(tmp_path)
    store = SqliteStore.open(config.store_path)
    reader = source(dovecot, user, commands)
    sync_source(reader, store, now=lambda: T0)
    reader.close()
    app = bootstrap(
        config,
        clock=FixedClock(T0),
        store=store,
        source_factory=lambda a: source(dovecot, user, commands),
    )
    archive = EvidenceArchive(config.archive_path, lookup=lambda n: record)
    entry, added = add_by_message_id(app, archive, "<i2@acme.fr>")
    store.close()
    assert added and entry.phrase == "manual" and entry.client == "acme"
    assert archive.read_object(entry.sha256) == sent[2]
    assert server_state(dovecot, user) == before
    assert not WRITES & {c.split()[-1] for c in commands}, commands

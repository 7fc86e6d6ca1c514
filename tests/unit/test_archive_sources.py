"""Every source archives: the same agreement, read through an mbox.gz file account, Microsoft
Graph (HTTP fake), and the in-memory IMAP stand-in, makes the same decision into the same
archive, with the whole original message stored."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import httpx
from tests.fakes.graph_server import FakeGraph

from responsewatch.adapters.archive import EvidenceArchive
from responsewatch.adapters.graph import GraphAccount, GraphMailSource
from responsewatch.adapters.memory import MemoryMailSource
from responsewatch.adapters.store import SqliteStore
from responsewatch.app.archive_app import AgreementWatcher
from responsewatch.app.bootstrap import FixedClock, bootstrap
from responsewatch.app.sync import sync_source
from responsewatch.config import AccountSettings, Settings
from responsewatch.core.rules import ClientRule, Rules
from responsewatch.ports import FolderRef

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ME = "claire@martin-conseil.fr"
LONG = "Conditions détaillées du devis, ligne après ligne.\r\n" * 80  # beyond any preview


def agreement(n: int) -> bytes:
    return (
        f"From: Paul <paul@acme.fr>\r\nTo: {ME}\r\nSubject: Devis {n}\r\n"
        f"Date: Mon, 02 Mar 2026 09:00:00 +0100\r\nMessage-ID: <s{n}@acme.fr>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"\r\nBonjour,\r\n\r\nBon pour accord sur le devis {n}.\r\n\r\nPaul\r\n\r\n{LONG}"
    ).encode()


def other(n: int) -> bytes:
    return agreement(n).replace(b"Bon pour accord sur le devis", b"Voici le planning du devis")


def settings_for(tmp_path: Path, accounts: tuple[AccountSettings, ...]) -> Settings:
    rules = Rules(me=frozenset({ME}), clients=(ClientRule("acme", domains=("acme.fr",)),))
    return Settings(
        rules=rules,
        accounts=accounts,
        store_path=tmp_path / "rw.db",
        archive_path=tmp_path / "archive",
    )


def decisions(root: Path) -> list[tuple[str, str, str]]:
    return sorted((e.message_id, e.client, e.phrase) for e in EvidenceArchive(root).entries())


WANT = [("s1@acme.fr", "acme", "bon pour accord"), ("s3@acme.fr", "acme", "bon pour accord")]


def test_an_imported_mbox_gz_account_yields_evidence(tmp_path: Path) -> None:
    mbox = tmp_path / "old-archive.mbox.gz"
    with gzip.open(mbox, "wb") as out:
        for n, data in ((1, agreement(1)), (2, other(2)), (3, agreement(3))):
            out.write(f"From paul@acme.fr Mon Mar  2 09:00:0{n} 2026\n".encode())
            out.write(data.replace(b"\r\n", b"\n") + b"\n")
    settings = settings_for(tmp_path, (AccountSettings("old", "mbox", path=str(mbox)),))
    app = bootstrap(settings, clock=FixedClock(T0))
    try:
        assert [r.error for r in app.sync_once()] == [None]
        assert [r.error for r in app.sync_once()] == [None]  # read again: nothing twice
    finally:
        app.close()
    assert decisions(settings.archive_path) == WANT
    archive = EvidenceArchive(settings.archive_path)
    first = archive.entries()[0]
    assert archive.read_object(first.sha256) == agreement(1).replace(b"\r\n", b"\n")
    assert archive.verify().ok


def test_graph_archives_the_original_mime_fetched_by_item_id(tmp_path: Path) -> None:
    graph = FakeGraph()
    for _n, data in ((1, agreement(1)), (2, other(2)), (3, agreement(3))):
        graph.append("inbox", data, T0)
    source = GraphMailSource(
        GraphAccount(name="m365", folders=()),
        client=httpx.Client(transport=graph.transport()),
        tokens=_Token(),
    )
    settings = settings_for(tmp_path, (AccountSettings("m365", "graph"),))
    store = SqliteStore.open(settings.store_path)
    archive = EvidenceArchive(settings.archive_path, lookup=lambda n: None, head=store)
    watcher = AgreementWatcher(settings, archive, now=lambda: T0)
    sync_source(source, store, now=lambda: T0, archiver=watcher.deferred(source))
    assert decisions(settings.archive_path) == WANT
    entry = archive.entries()[0]
    assert archive.read_object(entry.sha256) == agreement(1)  # the whole MIME, not a preview
    fetched = [r.url.path for r in graph.requests if r.url.path.endswith("/$value")]
    assert len(fetched) == 2  # only the two agreements
    assert store.pending_archive("m365") == []


def test_imap_like_source_makes_the_same_decisions(tmp_path: Path) -> None:
    inbox = FolderRef("main", "INBOX", "inbox")
    src = MemoryMailSource("main", {inbox: []})
    for data in (agreement(1), other(2), agreement(3)):
        src.append(inbox, data, internaldate=T0)
    settings = settings_for(tmp_path, (AccountSettings("main", "imap", host="x"),))
    store = SqliteStore.open(settings.store_path)
    watcher = AgreementWatcher(
        settings, EvidenceArchive(settings.archive_path, lookup=lambda n: None)
    )
    sync_source(src, store, now=lambda: T0, archiver=watcher.deferred(src))
    assert decisions(settings.archive_path) == WANT


class _Token:
    def token(self, *, refresh: bool = False) -> str:
        return "token-1"

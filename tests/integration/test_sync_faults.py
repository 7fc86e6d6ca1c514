"""Faults during sync: crashes at random points, UIDVALIDITY change, wrong password, a
connection dropped mid-FETCH, malformed messages. Each ends with the store exactly as an
undisturbed sync would have left it: same Message-IDs, cursors and locations, no doubles.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.servers.config import ME, imap_account_toml, write_config
from tests.servers.dovecot import HOST, Dovecot
from tests.support import corpora

from responsewatch.adapters.imap import ImapAccount, ImapMailSource
from responsewatch.adapters.store import SqliteStore
from responsewatch.app.bootstrap import bootstrap
from responsewatch.app.sync import sync_source
from responsewatch.config import load_settings
from responsewatch.core.parsing import parse_message
from responsewatch.ports import FolderRef

pytestmark = pytest.mark.dovecot

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CLI = [sys.executable, "-c", "from responsewatch.cli import main; main()"]


def clock() -> datetime:
    return datetime(2026, 3, 3, tzinfo=UTC)


def msg(n: int) -> bytes:
    return (
        f"From: Jean <jean{n % 7}@acme.fr>\r\nTo: {ME}\r\nSubject: Point {n}\r\n"
        f"Date: Mon, 2 Mar 2026 09:{n % 60:02d}:00 +0100\r\nMessage-ID: <f{n}@acme.fr>\r\n"
        f"\r\nBonjour, voici le point {n}.\r\n"
    ).encode()


def store_state(path: Path) -> dict[str, Any]:
    """Everything a sync writes, in a comparable form (ingestion times left out)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {
            "ids": [r[0] for r in db.execute("SELECT message_id FROM messages ORDER BY 1")],
            "cursors": db.execute(
                "SELECT account, folder, uidvalidity, last_uid, highest_modseq FROM cursors "
                "ORDER BY 1, 2"
            ).fetchall(),
            "locations": db.execute("SELECT * FROM locations ORDER BY 1, 2, 3, 4").fetchall(),
        }
    finally:
        db.close()


def count(path: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    except sqlite3.OperationalError:
        return 0
    try:
        return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0
    finally:
        db.close()


def sync_cli(config: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"RESPONSEWATCH_LOG_FORMAT": "json"}
    return subprocess.Popen(
        [*CLI, "sync", "--config", str(config), "--once"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


@pytest.mark.timeout(120)
def test_kill_9_at_random_points_of_a_backfill_then_resume_gives_the_same_store(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    n = 3000
    user = dovecot.add_user()
    dovecot.write_maildir(user, ((msg(i), T0 + timedelta(minutes=i)) for i in range(n)))
    dovecot.write_maildir(user, ((msg(n + i), T0) for i in range(20)), folder="Sent")
    account = imap_account_toml(dovecot, user, tmp_path, batch_size=40)
    crashed = write_config(tmp_path, [account], store=tmp_path / "crashed.db")
    clean = write_config(tmp_path, [account], store=tmp_path / "clean.db", name="clean.toml")

    rng = random.Random(20260302)
    thresholds = sorted(rng.sample(range(40, n - 40), 20))
    kills = 0
    for threshold in thresholds:
        proc = sync_cli(crashed)
        try:
            while proc.poll() is None and count(tmp_path / "crashed.db") < threshold:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.02))  # between two commits, or inside one
            if proc.poll() is None:
                proc.kill()
                kills += 1
        finally:
            proc.wait(10)
    assert kills >= 15, "the sync finished before most kills: make the backfill longer"
    assert count(tmp_path / "crashed.db") < n + 20

    resumed = sync_cli(crashed)
    _out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err.decode()
    app = bootstrap(load_settings(clean))
    try:
        assert [r.error for r in app.sync_once()] == [None]
    finally:
        app.close()
    state = store_state(tmp_path / "crashed.db")
    assert len(state["ids"]) == n + 20
    assert len(state["locations"]) == n + 20  # one location per message: nothing doubled
    assert state == store_state(tmp_path / "clean.db")


def test_uidvalidity_change_resyncs_the_folder_without_duplicates(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    user = dovecot.add_user()
    dovecot.append_many(user, "Sent", [(msg(i), T0, ()) for i in range(5)])
    password = user.password
    src = ImapMailSource(
        ImapAccount(
            "mail", HOST, dovecot.imap_port, "none-loopback-only", user.name, lambda: password
        )
    )
    store = SqliteStore.open(tmp_path / "s.db")
    sent = FolderRef("mail", "Sent", "sent")
    try:
        sync_source(src, store, now=clock)
        before = store.cursor(sent)
        dovecot.recreate_folder(user, "Sent")  # DELETE + CREATE: new UIDVALIDITY
        dovecot.append_many(user, "Sent", [(msg(i), T0, ()) for i in (3, 4, 5)])
        report = sync_source(src, store, now=clock)
        after = store.cursor(sent)
    finally:
        src.close()
        store.close()
    assert before is not None and after is not None
    assert after.uidvalidity != before.uidvalidity and after.last_uid == 3
    assert report.fetched == 3 and report.added == 1  # f3, f4 were known already
    state = store_state(tmp_path / "s.db")
    assert state["ids"] == sorted(f"f{i}@acme.fr" for i in range(6))
    sent_rows = [r for r in state["locations"] if r[1] == "Sent"]
    assert {r[2] for r in sent_rows} == {after.uidvalidity}  # old generation forgotten
    assert sorted(r[4] for r in sent_rows) == ["f3@acme.fr", "f4@acme.fr", "f5@acme.fr"]


def test_wrong_password_exits_3_with_a_clear_message_and_no_secret(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    user = dovecot.add_user()
    secret = "Not-The-Password-7319"
    account = imap_account_toml(dovecot, user, tmp_path, password=secret)
    proc = sync_cli(write_config(tmp_path, [account]))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3
    text = (out + err).decode()
    assert "login refused" in text and user.name in text
    assert secret not in text
    assert '"event": "sync_failed"' in text  # the JSON log line is there, without the secret


class CuttingProxy:
    """TCP proxy to Dovecot that cuts its first connection after ``cut_after`` bytes
    from the server: the server 'drops the connection' in the middle of a FETCH."""

    def __init__(self, target: int, cut_after: int) -> None:
        self._target = target
        self._budget: int | None = cut_after
        self._listener = socket.create_server((HOST, 0))
        self.port = int(self._listener.getsockname()[1])
        self.cuts = 0
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((HOST, self._target))
            budget, self._budget = self._budget, None  # only the first connection is cut
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, budget), daemon=True
            ).start()

    def _pump(self, src: socket.socket, dst: socket.socket, budget: int | None) -> None:
        sent = 0
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if budget is not None and sent + len(data) > budget:
                    dst.sendall(data[: budget - sent])
                    self.cuts += 1
                    break
                dst.sendall(data)
                sent += len(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self._closing = True
        self._listener.close()


@pytest.fixture
def proxy_factory() -> Iterator[Any]:
    made: list[CuttingProxy] = []

    def make(target: int, cut_after: int) -> CuttingProxy:
        made.append(CuttingProxy(target, cut_after))
        return made[-1]

    yield make
    for p in made:
        p.close()


@pytest.mark.timeout(60)
def test_connection_dropped_mid_fetch_then_next_sync_completes(
    dovecot: Dovecot, tmp_path: Path, proxy_factory: Any
) -> None:
    n = 400
    user = dovecot.add_user()
    dovecot.write_maildir(user, ((msg(i), T0) for i in range(n)))
    proxy = proxy_factory(dovecot.imap_port, 60_000)  # the mailbox is ~100 KB on the wire
    account = imap_account_toml(dovecot, user, tmp_path, batch_size=25)
    config = write_config(tmp_path, [account.replace(str(dovecot.imap_port), str(proxy.port))])
    app = bootstrap(load_settings(config))
    try:
        first = app.sync_once()
        assert proxy.cuts == 1 and first[0].error is not None
        partial = app.store.message_count()
        assert 0 < partial < n  # the batches before the cut are committed
        assert app.store.sync_errors() == {("mail", "SourceUnavailable"): 1}
        second = app.sync_once()
        assert second[0].error is None and second[0].fetched == n - partial
    finally:
        app.close()
    state = store_state(tmp_path / "responsewatch.db")
    assert state["ids"] == sorted(f"f{i}@acme.fr" for i in range(n))
    assert len(state["locations"]) == n


def _malformed_corpus() -> list[bytes]:
    root = corpora.require() / "malformed"
    skip = {"COPYING", ".gitattributes"}
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.name not in skip
        and p.suffix not in (".json", ".gz", ".md")
        and "address-lists" not in p.parts
    )
    return [p.read_bytes() for p in files]


def test_malformed_messages_on_the_server_are_ingested_and_counted(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    corpus = _malformed_corpus()
    assert len(corpus) > 200
    user = dovecot.add_user()
    dovecot.write_maildir(user, ((data, T0) for data in corpus))
    password = user.password
    src = ImapMailSource(
        ImapAccount(
            "mail", HOST, dovecot.imap_port, "none-loopback-only", user.name,
            lambda: password, batch_size=50,
        )
    )  # fmt: skip
    store = SqliteStore.open(tmp_path / "m.db")
    try:
        inbox = FolderRef("mail", "INBOX", "inbox")
        report = sync_source(src, store, now=clock, folders=[inbox])
        got = list(src.fetch_since(inbox, None))
    finally:
        src.close()
    assert report.fetched == len(corpus) and report.error is None
    parsed = [parse_message(r.data) for r in got]
    headerless = sum("no-header" in m.warnings for m in parsed)
    assert report.skipped == headerless
    distinct = {m.message_id for m in parsed if "no-header" not in m.warnings}
    assert store.message_count() == len(distinct) > 150
    assert len(store.locations(next(iter(distinct)))) >= 1
    store.close()

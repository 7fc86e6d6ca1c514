"""Nothing lost to a crash: ``sync --once`` killed (SIGKILL) at many points of a backfill
full of agreements, on the real Dovecot, ends after a rerun with the archive a clean run
makes: the same Message-IDs, a chain that verifies, no entry twice, no decision left over.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.servers.config import ME, imap_account_toml, write_config
from tests.servers.dovecot import Dovecot

from responsewatch.adapters.archive import EvidenceArchive
from responsewatch.adapters.store import SqliteStore

pytestmark = pytest.mark.dovecot

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CLI = [sys.executable, "-c", "from responsewatch.cli import main; main()"]
N = 400
FILLER = "Détail de la proposition, lot par lot, avec le calendrier.\r\n" * 40  # > 2 KB


def message(n: int) -> bytes:
    body = (
        f"Bonjour Claire,\r\n\r\nBon pour accord sur le devis {n}.\r\n\r\nPaul\r\n"
        if n % 2 == 0
        else f"Bonjour Claire,\r\n\r\nVoici le point {n} de la semaine.\r\n\r\nPaul\r\n"
    )
    return (
        f"From: Paul Durand <paul{n % 5}@acme.fr>\r\nTo: {ME}\r\nSubject: Devis {n}\r\n"
        f"Date: Mon, 2 Mar 2026 09:{n % 60:02d}:00 +0100\r\nMessage-ID: <a{n}@acme.fr>\r\n"
        f"\r\n{body}\r\n{FILLER}"
    ).encode()


def count_facts(path: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    except sqlite3.OperationalError:
        return 0
    try:
        return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def ledger_lines(root: Path) -> int:
    try:
        return (root / "ledger.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def sync_cli(config: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"RESPONSEWATCH_LOG_FORMAT": "json"}
    return subprocess.Popen(
        [*CLI, "sync", "--config", str(config), "--once"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


class Forked:
    """``sync --once`` in a forked child (no interpreter start-up per kill), killed with
    SIGKILL like any process: no handler, no cleanup, no flush."""

    def __init__(self, config: Path) -> None:
        self.code: int | None = None
        self.pid = os.fork()
        if self.pid == 0:  # the child
            code = 1
            try:
                from responsewatch.app.bootstrap import bootstrap
                from responsewatch.config import load_settings

                app = bootstrap(load_settings(config))
                errors = [r.error for r in app.sync_once()]
                app.close()
                code = 0 if errors == [None] else 3
            finally:
                os._exit(code)

    def poll(self) -> int | None:
        if self.code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
        return self.code

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)

    def wait(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.code


def archived_ids(root: Path) -> list[str]:
    lines = (root / "ledger.jsonl").read_bytes().splitlines()
    return [json.loads(line)["message_id"] for line in lines]


@pytest.mark.timeout(300)
def test_kill_9_during_ingest_and_archiving_then_rerun_gives_the_clean_archive(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    user = dovecot.add_user()
    dovecot.write_maildir(user, ((message(i), T0 + timedelta(minutes=i)) for i in range(N)))
    account = imap_account_toml(dovecot, user, tmp_path, batch_size=50)
    crashed_archive, clean_archive = tmp_path / "crashed-archive", tmp_path / "clean-archive"
    crashed = write_config(
        tmp_path, [account], store=tmp_path / "crashed.db", archive=crashed_archive
    )
    clean = write_config(
        tmp_path,
        [account],
        store=tmp_path / "clean.db",
        name="clean.toml",
        archive=clean_archive,
    )
    rng = random.Random(20261203)
    # Half the kills while the facts stream in (decisions stored, nothing archived yet),
    # half while the stored decisions are archived.
    points = [("facts", t) for t in sorted(rng.sample(range(50, N - 50), 7))]
    points += [("ledger", t) for t in sorted(rng.sample(range(5, N // 2 - 5), 7))]
    kills = {"facts": 0, "ledger": 0}
    for what, threshold in points:
        proc = Forked(crashed)
        try:
            while proc.poll() is None:
                reached = (
                    count_facts(tmp_path / "crashed.db")
                    if what == "facts"
                    else ledger_lines(crashed_archive)
                )
                if reached >= threshold:
                    break
                time.sleep(0.003)
            time.sleep(rng.uniform(0, 0.01))
            if proc.poll() is None:
                proc.kill()
                kills[what] += 1
        finally:
            if proc.wait(60) is None:  # never leave a child behind
                proc.kill()
                proc.wait(10)
    assert kills["facts"] >= 5 and kills["ledger"] >= 5, kills

    resumed = sync_cli(crashed)  # the real CLI, for the run after the crashes
    _out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err.decode()[-2000:]
    clean_run = sync_cli(clean)
    _out, err = clean_run.communicate(timeout=120)
    assert clean_run.returncode == 0, err.decode()[-2000:]

    got, want = archived_ids(crashed_archive), archived_ids(clean_archive)
    assert len(want) == N // 2  # every agreement, in a clean run
    assert len(got) == len(set(got)), "an entry was archived twice"
    assert sorted(got) == sorted(want)
    archive = EvidenceArchive(crashed_archive)
    result = archive.verify()
    assert result.ok, result.problems[:3]
    for entry in archive.entries()[:5]:  # the whole original, not the 2 KB the sync reads
        assert archive.read_object(entry.sha256) == message(int(entry.message_id[1:-8]))
    store = SqliteStore.open(tmp_path / "crashed.db")
    try:
        assert store.pending_archive("mail") == []
        assert store.archive_head(str(crashed_archive)) == archive.head()
    finally:
        store.close()
    print(f"kills: {kills}, entries {len(got)}")


def test_full_fetches_go_by_uid_set_after_one_examine(dovecot: Dovecot, tmp_path: Path) -> None:
    """250 agreements: 3 ``UID FETCH set (BODY.PEEK[])``, not 250 FETCH + 250 EXAMINE, and
    still no write: no flag and no HIGHESTMODSEQ change on the server."""
    from imapclient import IMAPClient

    from responsewatch.adapters.imap import ImapAccount, ImapMailSource
    from responsewatch.app.archive_app import AgreementWatcher
    from responsewatch.app.sync import sync_source
    from responsewatch.config import AccountSettings, Settings
    from responsewatch.core.rules import ClientRule, Rules

    user = dovecot.add_user()
    dovecot.write_maildir(user, ((message(2 * i), T0) for i in range(250)), flags="")
    with dovecot.session(user) as c:
        before = c.folder_status("INBOX", [b"HIGHESTMODSEQ"])[b"HIGHESTMODSEQ"]
    commands: list[str] = []

    def connect(*args: object, **kw: object) -> IMAPClient:
        client = IMAPClient(*args, **kw)  # type: ignore[arg-type]
        original = client._imap._command

        def command(name: str, *rest: object) -> object:
            commands.append(f"{name} {rest[0]}" if name == "UID" else name)
            return original(name, *rest)

        client._imap._command = command
        return client

    password = user.password
    src = ImapMailSource(
        ImapAccount(
            name="mail", host="127.0.0.1", port=dovecot.imap_port, tls="none-loopback-only",
            username=user.name, secret=lambda: password, timeout=10.0,
        ),
        connect=connect,
    )  # fmt: skip
    rules = Rules(me=frozenset({ME}), clients=(ClientRule("acme", domains=("acme.fr",)),))
    settings = Settings(
        rules=rules, store_path=tmp_path / "rw.db", archive_path=tmp_path / "archive",
        accounts=(AccountSettings(name="mail", type="imap"),),
    )  # fmt: skip
    store = SqliteStore.open(settings.store_path)
    archive = EvidenceArchive(settings.archive_path, lookup=lambda n: None, head=store)
    try:
        watcher = AgreementWatcher(settings, archive, now=lambda: T0)
        sync_source(src, store, now=lambda: T0, archiver=watcher.deferred(src))
    finally:
        src.close()
        store.close()
    assert len(archive.entries()) == 250
    full = [c for c in commands if c == "UID FETCH"]
    assert len(full) == 3, commands  # header FETCHes go straight to the socket, unrecorded
    # One EXAMINE per folder synced; INBOX's three full FETCHes need none of their own.
    first = commands.index("EXAMINE")
    assert commands[first : first + 4] == ["EXAMINE", "UID FETCH", "UID FETCH", "UID FETCH"]
    assert not {"SELECT", "STORE", "UID STORE", "APPEND", "EXPUNGE"} & set(commands)
    with dovecot.session(user) as c:
        assert c.folder_status("INBOX", [b"HIGHESTMODSEQ"])[b"HIGHESTMODSEQ"] == before
        c.select_folder("INBOX", readonly=True)
        flags = c.fetch(c.search(), ["FLAGS"])
    assert all(b"\\Seen" not in f[b"FLAGS"] for f in flags.values())


@pytest.mark.timeout(60)
def test_the_daemon_archives_an_agreement_pushed_by_idle(dovecot: Dovecot, tmp_path: Path) -> None:
    """``run``: the IDLE watcher's catch-up decides, the single writer stores the decision
    with the batch, the watcher archives it; the head copy goes through the writer too."""
    import threading

    from responsewatch.app.daemon import run_daemon
    from responsewatch.app.watch import WatchTiming

    user = dovecot.add_user()
    dovecot.append(user, "INBOX", message(1), T0)  # not an agreement
    archive_root = tmp_path / "archive"
    config = write_config(
        tmp_path, [imap_account_toml(dovecot, user, tmp_path)], archive=archive_root
    )
    stop = threading.Event()
    started = threading.Event()
    timing = WatchTiming(backoff_base_s=0.05, backoff_cap_s=0.5, wait_s=60.0, sync_every_s=60.0)
    thread = threading.Thread(
        target=run_daemon,
        args=(config,),
        kwargs={"stop": stop, "timing": timing, "on_start": lambda d: started.set()},
        daemon=True,
    )
    thread.start()
    try:
        assert started.wait(10)
        deadline = time.monotonic() + 10
        while count_facts(tmp_path / "responsewatch.db") < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the watchers are in IDLE
        dovecot.append(user, "INBOX", message(2), T0)  # an agreement
        deadline = time.monotonic() + 10
        while ledger_lines(archive_root) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert archived_ids(archive_root) == ["a2@acme.fr"]
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()
    store = SqliteStore.open(tmp_path / "responsewatch.db")
    try:
        assert store.pending_archive("mail") == []
        assert store.archive_head(str(archive_root)) == EvidenceArchive(archive_root).head()
    finally:
        store.close()

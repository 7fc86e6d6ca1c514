"""The daemon (`responsewatch run`): IDLE to store within seconds, survives a server restart,
isolates a failing account, publishes snapshots, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.servers.config import ME, imap_account_toml, write_config
from tests.servers.dovecot import Dovecot
from tests.support.daemon_thread import FAST, RunningDaemon

from responsewatch.adapters.memory import MemoryMailSource
from responsewatch.app.daemon import Daemon, Snapshot
from responsewatch.app.watch import backoff_delay
from responsewatch.config import AccountSettings, settings_from_mapping
from responsewatch.core.models import Analysis
from responsewatch.ports import FolderRef

pytestmark = pytest.mark.dovecot

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CLI = [sys.executable, "-c", "from responsewatch.cli import main; main()"]


def msg(n: int, sender: str = "jean@acme.fr") -> bytes:
    return (
        f"From: {sender}\r\nTo: {ME}\r\nSubject: Point {n}\r\n"
        f"Date: Mon, 2 Mar 2026 09:00:00 +0100\r\nMessage-ID: <d{n}@acme.fr>\r\n\r\nTexte\r\n"
    ).encode()


def ids(db_path: Path) -> list[str]:
    if not db_path.exists():
        return []
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return [r[0] for r in db.execute("SELECT message_id FROM messages ORDER BY 1")]
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def rows(db_path: Path, query: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def wait_for(predicate: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``predicate()`` held; fails the test after ``timeout``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - start


@pytest.fixture
def own_dovecot() -> Iterator[Dovecot]:
    """A server this test may kill without hurting the others."""
    server = Dovecot.start_new()
    yield server
    server.close()


@pytest.mark.timeout(60)
def test_new_mail_reaches_the_store_within_5_s_and_stop_is_clean(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    user = dovecot.add_user()
    dovecot.append(user, "INBOX", msg(1), T0)
    dovecot.append(user, "Sent", msg(2, ME), T0, ["$RwAck"])
    files = tmp_path / "old.mbox"
    files.write_bytes(b"From x\n" + msg(3).replace(b"\r\n", b"\n") + b"\n")
    accounts = [
        imap_account_toml(dovecot, user, tmp_path),
        f'[[accounts]]\nname = "old"\ntype = "mbox"\npath = "{files}"\n',
    ]
    config = write_config(tmp_path, accounts, daemon='recompute_every = "1s"')
    db = tmp_path / "responsewatch.db"
    published: list[Analysis] = []
    run = RunningDaemon(config)
    try:
        assert run.daemon is not None
        run.daemon.snapshot.on_snapshot.append(published.append)
        wait_for(lambda: ids(db) == ["d1@acme.fr", "d2@acme.fr", "d3@acme.fr"], 10)
        wait_for(run.watchers_waiting, 10)  # the watchers are in IDLE now
        dovecot.append(user, "INBOX", msg(4), T0)
        assert wait_for(lambda: "d4@acme.fr" in ids(db), 5) < 5
        wait_for(lambda: bool(published) and published[-1].totals.messages == 4, 5)
        assert run.daemon.snapshot.latest() is published[-1]
    finally:
        took = run.shutdown()
    assert run.code == 0 and took < 10
    assert rows(db, "SELECT message_id, keyword FROM keywords") == [("d2@acme.fr", "$RwAck")]
    cursors = dict(rows(db, "SELECT folder, last_uid FROM cursors"))
    assert cursors["INBOX"] == 2 and cursors["Sent"] == 1
    assert len(rows(db, "SELECT * FROM locations")) == 3  # the mbox message has none


@pytest.mark.timeout(60)
def test_server_killed_and_restarted_during_idle_misses_nothing(
    own_dovecot: Dovecot, tmp_path: Path
) -> None:
    server = own_dovecot
    user = server.add_user()
    server.append(user, "INBOX", msg(1), T0)
    config = write_config(tmp_path, [imap_account_toml(server, user, tmp_path)])
    db = tmp_path / "responsewatch.db"
    run = RunningDaemon(config)
    try:
        wait_for(lambda: ids(db) == ["d1@acme.fr"], 10)
        wait_for(run.watchers_waiting, 10)
        server.kill()  # the whole process group: existing IMAP sessions die too
        # Mail delivered while we are cut off, straight into the Maildir.
        server.write_maildir(user, [(msg(2), T0 + timedelta(hours=1))])
        wait_for(lambda: run.watcher_failures() >= 2, 10)  # failed reconnects, with backoff
        server.start()
        wait_for(lambda: "d2@acme.fr" in ids(db), 10)  # caught up by UID after reconnecting
        assert run.daemon is not None
        wait_for(run.watchers_waiting, 5)
        server.append(user, "INBOX", msg(3), T0)  # and IDLE works again
        wait_for(lambda: "d3@acme.fr" in ids(db), 5)
    finally:
        took = run.shutdown()
    assert run.code == 0 and took < 10
    assert ids(db) == ["d1@acme.fr", "d2@acme.fr", "d3@acme.fr"]
    assert len(rows(db, "SELECT * FROM locations WHERE folder = 'INBOX'")) == 3
    errors = dict(
        ((a, k), n) for a, k, n in rows(db, "SELECT account, kind, count FROM sync_errors")
    )
    assert errors.get(("mail", "SourceUnavailable"), 0) >= 1


@pytest.mark.timeout(60)
def test_run_subprocess_isolates_a_failing_account_and_stops_on_sigterm(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    good, bad = dovecot.add_user(), dovecot.add_user()
    dovecot.append(good, "INBOX", msg(1), T0)
    secret = "Wrong-Secret-0815"
    accounts = [
        imap_account_toml(dovecot, bad, tmp_path, name="broken", password=secret),
        imap_account_toml(dovecot, good, tmp_path, name="good"),
    ]
    config = write_config(tmp_path, accounts)
    db = tmp_path / "responsewatch.db"
    log_path = tmp_path / "daemon.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [*CLI, "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            env=os.environ | {"RESPONSEWATCH_LOG_FORMAT": "json"},
        )
        try:
            wait_for(lambda: ids(db) == ["d1@acme.fr"], 15)
            wait_for(lambda: b"account_watching" in log_path.read_bytes(), 10)
            wait_for(
                lambda: bool(rows(db, "SELECT 1 FROM sync_errors WHERE account = 'broken'")), 10
            )
            dovecot.append(good, "INBOX", msg(2), T0)
            wait_for(lambda: "d2@acme.fr" in ids(db), 5)
            start = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(15)
            took = time.monotonic() - start
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code == 0 and took < 10
    text = log_path.read_text()
    assert secret not in text
    events = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    assert "daemon_started" in names and names[-1] == "daemon_stopped"
    failed = [e for e in events if e["event"] == "sync_failed"]
    assert failed and all(e["account"] == "broken" and e["kind"] == "AuthFailed" for e in failed)
    assert "Texte" not in text  # no message bodies in logs


# -- without a server: the daemon over the in-memory source --------------------------------


def test_stop_during_a_backfill_commits_whole_batches_and_resumes(tmp_path: Path) -> None:
    inbox = FolderRef("mem", "INBOX", "inbox")
    box = MemoryMailSource("mem", {inbox: [], FolderRef("mem", "Sent", "sent"): []})
    for n in range(3000):
        box.append(inbox, msg(n), internaldate=T0)
    settings = settings_from_mapping(
        {
            "me": {"addresses": [ME]},
            "store": {"path": str(tmp_path / "mem.db")},
            "accounts": [{"name": "mem", "type": "graph"}],
            "metrics": {"listen": "127.0.0.1:0"},  # never the shared default port
        }
    )

    def factory(account: AccountSettings) -> MemoryMailSource:
        return box

    daemon = Daemon(settings, source_factory=factory, timing=FAST)
    daemon.start()
    wait_for(lambda: len(ids(tmp_path / "mem.db")) >= 500, 20)
    assert daemon.shutdown() == 0
    stored = len(ids(tmp_path / "mem.db"))
    assert stored % 500 == 0 or stored == 3000  # whole batches only
    (cursor,) = rows(tmp_path / "mem.db", "SELECT last_uid FROM cursors WHERE folder='INBOX'")
    assert cursor[0] == stored

    again = Daemon(settings, source_factory=factory, timing=FAST)
    again.start()
    try:
        wait_for(lambda: len(ids(tmp_path / "mem.db")) == 3000, 20)
        wait_for(lambda: bool(again.workers[0].watchers), 5)
        box.append(inbox, msg(9999), internaldate=T0)
        wait_for(lambda: "d9999@acme.fr" in ids(tmp_path / "mem.db"), 5)
    finally:
        assert again.shutdown() == 0


def test_first_recompute_runs_even_when_the_scheduler_starts_late(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow NAS can take seconds between scheduling the "run now" jobs and starting the
    scheduler; APScheduler's default 1 s grace would then skip the first recompute and
    leave the metrics empty for a whole ``recompute_every``."""
    from apscheduler.schedulers.background import BackgroundScheduler

    started = BackgroundScheduler.start

    def slow_start(self: BackgroundScheduler, *args: Any, **kwargs: Any) -> None:
        time.sleep(2.5)
        started(self, *args, **kwargs)

    monkeypatch.setattr(BackgroundScheduler, "start", slow_start)
    inbox = FolderRef("mem", "INBOX", "inbox")
    box = MemoryMailSource("mem", {inbox: []})
    box.append(inbox, msg(1), internaldate=T0)
    settings = settings_from_mapping(
        {
            "me": {"addresses": [ME]},
            "store": {"path": str(tmp_path / "late.db")},
            "accounts": [{"name": "mem", "type": "graph"}],
            "daemon": {"recompute_every": "1h", "recompute_in_child": False},
            "metrics": {"listen": "127.0.0.1:0"},
        }
    )
    daemon = Daemon(settings, source_factory=lambda _a: box, timing=FAST)
    daemon.start()
    try:
        wait_for(lambda: daemon.snapshot.latest() is not None, 10)
    finally:
        assert daemon.shutdown() == 0


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, base=1.0, cap=300.0, rng=rng) for n in range(1, 15)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0 and 2.0 <= delays[2] <= 4.0
    assert all(150.0 <= d <= 300.0 for d in delays[9:])
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered


def test_snapshot_callbacks_run_and_one_failing_does_not_stop_the_others() -> None:
    snap = Snapshot()
    seen: list[object] = []

    def boom(_a: Analysis) -> None:
        raise RuntimeError("metrics exporter bug")

    snap.on_snapshot.extend([boom, seen.append])
    assert snap.latest() is None
    marker: Any = object()
    snap.publish(marker, T0)
    assert snap.latest() is marker and seen == [marker] and snap.published_at() == T0


@pytest.mark.timeout(60)
def test_metrics_scraped_over_http_agree_with_report(dovecot: Dovecot, tmp_path: Path) -> None:
    """A daemon on a real Dovecot mailbox: /metrics parsed with prometheus_client's parser
    and checked against `report --format json` for the same store and instant."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families
    from tests.support.mailgen import generate
    from typer.testing import CliRunner

    from responsewatch.cli import app

    user = dovecot.add_user()
    messages = generate(25, seed=4)
    for folder in ("INBOX", "Sent"):
        dovecot.append_many(
            user, folder, [(m.data, m.internaldate, ()) for m in messages if m.folder == folder]
        )
    config = write_config(
        tmp_path, [imap_account_toml(dovecot, user, tmp_path)], daemon='recompute_every = "1s"'
    )
    run = RunningDaemon(config)
    try:
        assert run.daemon is not None and run.daemon.metrics_port
        expected = len({m.data for m in messages})
        wait_for(lambda: len(ids(tmp_path / "responsewatch.db")) >= expected - 3, 15)
        wait_for(run.watchers_idle, 10)
        run.daemon.recompute()
        analysis = run.daemon.snapshot.latest()
        assert analysis is not None
        url = f"http://127.0.0.1:{run.daemon.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    finally:
        run.shutdown()
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    report = CliRunner().invoke(
        app,
        ["report", "--config", str(config), "--now", analysis.now.isoformat(), "--format", "json"],
    )
    doc = json.loads(report.stdout)
    assert doc["totals"]["messages"] == analysis.totals.messages
    for client in doc["clients"]:
        name = client["client"]
        by_state = {
            state: samples[
                ("responsewatch_awaiting_reply_threads", (("client", name), ("state", state)))
            ]
            for state in ("ok", "due_soon", "overdue")
        }
        assert sum(by_state.values()) == client["awaiting"]
        assert by_state["overdue"] == client["overdue"]
        assert (
            samples[("responsewatch_sla_breaches_total", (("client", name),))]
            == (client["breaches"])
        )
        count = samples[("responsewatch_reply_latency_seconds_count", (("client", name),))]
        assert count == client["replied"]
    assert (
        samples[("responsewatch_messages_ingested_total", (("account", "mail"),))]
        == (doc["totals"]["messages"])
    )

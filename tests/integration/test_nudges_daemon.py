"""The daemon's nudges end to end: a real Dovecot mailbox, real Apprise to a local HTTP
receiver (``json://``) and a local SMTP server (``mailto://``, aiosmtpd).

Short thresholds (warn_at 12 s) keep the tests fast; the nudge tick is shortened to 1 s
for the in-process daemons (the subprocess one keeps the shipped 10 s tick).
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from tests.servers.config import ME, imap_account_toml
from tests.servers.dovecot import Dovecot
from tests.servers.webhook import Webhook
from tests.support.daemon_thread import RunningDaemon

from responsewatch.app import notify_app

pytestmark = pytest.mark.dovecot

HOST = "127.0.0.1"
TOKEN = "Hk-7rT0ken-q"  # in the Apprise URL: never in any output or log line
CLI = [sys.executable, "-c", "from responsewatch.cli import main; main()"]
WARN_S = 5
HOUR = timedelta(hours=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


def rows(db: Path, query: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(query).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def client_mail(n: int, subject: str) -> bytes:
    return (
        f"From: Jean <jean@acme.fr>\r\nTo: {ME}\r\nSubject: {subject}\r\n"
        f"Date: Mon, 2 Mar 2026 09:00:00 +0100\r\nMessage-ID: <n{n}@acme.fr>\r\n\r\n"
        "Pouvez-vous regarder ?\r\n"
    ).encode()


@dataclass
class Sink:
    received: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname=HOST, port=port)
    try:
        controller.start()
    except Exception as exc:
        pytest.fail(f"aiosmtpd could not start: {exc!r}")
    yield sink, port
    controller.stop()


@pytest.fixture
def hook() -> Iterator[Webhook]:
    server = Webhook()
    yield server
    server.close()


def config_for(
    tmp_path: Path, dovecot: Dovecot, user: Any, urls: list[str], extra: str = ""
) -> Path:
    secret = tmp_path / "notify.urls"
    secret.write_text("\n".join(urls) + "\n")
    secret.chmod(0o600)
    path = tmp_path / "rw.toml"
    path.write_text(
        f'[me]\naddresses = ["{ME}"]\nlanguage = "en"\n'
        f'[sla]\nwarn_at = "{WARN_S}s"\nreply_within = "1h"\n'
        '[[clients]]\nname = "Acme"\ndomains = ["acme.fr"]\n'
        f'[store]\npath = "{tmp_path / "rw.db"}"\n[archive]\npath = "{tmp_path / "archive"}"\n'
        '[metrics]\nlisten = "127.0.0.1:0"\n'
        '[daemon]\nrecompute_every = "1s"\nrecompute_in_child = false\n'
        f'[notify]\nurls_file = "{secret}"\nquiet = "never"\n{extra}\n'
        + imap_account_toml(dovecot, user, tmp_path)
    )
    return path


def titles(hook: Webhook) -> list[str]:
    return [r["body"]["title"] for r in hook.received]


@pytest.mark.timeout(120)
def test_overdue_at_start_up_and_a_crossing_while_running_each_delivered_once(
    dovecot: Dovecot,
    tmp_path: Path,
    hook: Webhook,
    smtp: tuple[Sink, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(notify_app, "NOTIFY_EVERY_S", 1.0)
    sink, port = smtp
    user = dovecot.add_user()
    dovecot.append(user, "INBOX", client_mail(1, "Ancien dossier"), datetime.now(UTC) - 2 * HOUR)
    mailto = f"mailto://{HOST}:{port}?to={ME}&from=rw@martin-conseil.fr&mode=insecure"
    config = config_for(tmp_path, dovecot, user, [f"json://rw:{TOKEN}@{HOST}:{hook.port}/", mailto])
    run = RunningDaemon(config)
    try:
        wait_for(lambda: len(hook.received) >= 1 and len(sink.received) >= 1, 30)
        assert titles(hook) == ["1 reply overdue: Acme"]
        assert sink.received[0]["Subject"] == "1 reply overdue: Acme"
        assert "Message-ID: <n1@acme.fr>" in hook.received[0]["body"]["message"]
        wait_for(run.watchers_idle, 10)
        time.sleep(0.3)  # in IDLE now
        arrived = datetime.now(UTC).replace(microsecond=0)  # INTERNALDATE has whole seconds
        dovecot.append(user, "INBOX", client_mail(2, "Nouvelle demande"), arrived)
        wait_for(lambda: len(hook.received) >= 2, 60)
        delay = time.time() - (arrived.timestamp() + WARN_S)
        assert 0 <= delay < 60, delay
        assert titles(hook) == ["1 reply overdue: Acme", "1 reply due soon: Acme"]
        wait_for(lambda: len(sink.received) >= 2, 10)
        time.sleep(1.5)  # more ticks and recomputes: nothing is sent twice
        assert len(hook.received) == 2 and len(sink.received) == 2
    finally:
        run.shutdown(expect_code=0)
    print(f"threshold crossing -> delivery: {delay:.2f} s (1 s tick)")
    # A restart sends nothing again.
    again = RunningDaemon(config)
    try:
        assert again.daemon is not None
        wait_for(
            lambda: again.daemon is not None and again.daemon.snapshot.latest() is not None, 10
        )
        time.sleep(1.5)
    finally:
        again.shutdown(expect_code=0)
    assert len(hook.received) == 2 and len(sink.received) == 2
    statuses = rows(tmp_path / "rw.db", "SELECT kind, status, attempts FROM nudges ORDER BY 1, 3")
    assert statuses == [("due_soon", "sent", 1)] * 2 + [("overdue", "sent", 1)] * 2


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


@pytest.mark.timeout(120)
def test_receiver_down_then_500_is_retried_counted_and_sync_goes_on(
    dovecot: Dovecot, tmp_path: Path, hook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify_app, "NOTIFY_EVERY_S", 1.0)
    user = dovecot.add_user()
    dovecot.append(user, "INBOX", client_mail(1, "Urgent"), datetime.now(UTC) - 2 * HOUR)
    config = config_for(tmp_path, dovecot, user, [f"json://rw:{TOKEN}@{HOST}:{hook.port}/"])
    hook.down()
    run = RunningDaemon(config)
    try:
        assert run.daemon is not None
        port = run.daemon.metrics_port
        assert port is not None
        failed = 'responsewatch_notifications_total{kind="overdue",outcome="failed"}'
        wait_for(lambda: failed in scrape(port), 30)
        # Sync and recompute go on while the service is down.
        wait_for(run.watchers_idle, 10)
        time.sleep(0.3)
        dovecot.append(user, "INBOX", client_mail(2, "Autre"), datetime.now(UTC))
        wait_for(
            lambda: ("n2@acme.fr",) in rows(tmp_path / "rw.db", "SELECT message_id FROM messages"),
            10,
        )
        snapshot = run.daemon.snapshot
        wait_for(lambda: (a := snapshot.latest()) is not None and a.totals.messages == 2, 10)
        [(status,)] = rows(tmp_path / "rw.db", "SELECT status FROM nudges")
        assert status in ("sending", "failed") and hook.received == []
        hook.statuses = [500]  # back, but answering 500 once
        hook.up()
        wait_for(lambda: len(hook.received) >= 1, 40)
        assert titles(hook) == ["1 reply overdue: Acme"]
        text = scrape(port)
        assert 'kind="overdue",outcome="sent"} 1.0' in text
        wait_for(lambda: len(hook.received) >= 2, 30)  # n2 crosses warn_at WARN_S later
        assert titles(hook)[1] == "1 reply due soon: Acme"
        assert hook.attempts >= 2
        assert TOKEN not in text
    finally:
        run.shutdown(expect_code=0)


@pytest.mark.timeout(120)
def test_kill_9_between_record_and_send_sends_once_after_restart(
    dovecot: Dovecot, tmp_path: Path, hook: Webhook
) -> None:
    user = dovecot.add_user()
    dovecot.append(user, "INBOX", client_mail(1, "Signature"), datetime.now(UTC) - 2 * HOUR)
    config = config_for(tmp_path, dovecot, user, [f"json://rw:{TOKEN}@{HOST}:{hook.port}/"])
    db = tmp_path / "rw.db"
    hook.hang = True  # the send starts and never completes
    log_path = tmp_path / "daemon.log"
    env = os.environ | {"RESPONSEWATCH_LOG_FORMAT": "json"}
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen([*CLI, "run", "--config", str(config)],
                                stdout=log_file, stderr=log_file, env=env)  # fmt: skip
        try:
            wait_for(lambda: hook.hung >= 1, 40)
            assert rows(db, "SELECT status, attempts FROM nudges") == [("sending", 1)]
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        hook.hang = False
        assert hook.received == []
        proc = subprocess.Popen([*CLI, "run", "--config", str(config)],
                                stdout=log_file, stderr=log_file, env=env)  # fmt: skip
        try:
            wait_for(lambda: len(hook.received) >= 1, 40)
            wait_for(lambda: rows(db, "SELECT status FROM nudges") == [("sent",)], 10)
            time.sleep(1.5)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert titles(hook) == ["1 reply overdue: Acme"]
    assert rows(db, "SELECT status, attempts FROM nudges") == [("sent", 2)]
    text = log_path.read_text()
    events = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert [e["event"] for e in events].count("nudge_sent") == 1
    assert TOKEN not in text and "Pouvez-vous" not in text

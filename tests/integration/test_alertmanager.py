"""Alertmanager for Prometheus users: the shipped configuration passes `amtool check-config`
and the Compose stack wires it; and end to end, a real Prometheus (Debian `prometheus`)
scraping the real daemon with deploy/prometheus/rules.yml, and a real Alertmanager (Debian
`prometheus-alertmanager`) routing to a local webhook: an overdue turn in a real Dovecot
mailbox reaches the webhook as ReplyOverdue. A server that cannot start fails the test."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from tests.servers.config import ME, imap_account_toml
from tests.servers.dovecot import Dovecot
from tests.servers.webhook import Webhook

from responsewatch.app.daemon import Daemon, run_daemon

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"
RULES = DEPLOY / "prometheus" / "rules.yml"
HOST = "127.0.0.1"


def binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or (
            f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
        )
        if found:
            return found
    pytest.fail(
        f"none of {names} is installed: apt-get install -y prometheus prometheus-alertmanager"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.1)


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def test_shipped_alertmanager_config_passes_amtool() -> None:
    done = subprocess.run([binary("amtool"), "check-config", str(ALERTMANAGER)],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    config = yaml.safe_load(ALERTMANAGER.read_text())
    names = {r["name"] for r in config["receivers"]}
    assert any("email_configs" in r for r in config["receivers"])
    assert any("webhook_configs" in r for r in config["receivers"])
    assert config["route"]["receiver"] in names and "client" in config["route"]["group_by"]
    assert "smtp_auth_password" not in config["global"]  # the secret is a file


def test_compose_runs_alertmanager_and_prometheus_alerts_to_it() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    am = compose["services"]["alertmanager"]
    assert all(str(p).startswith("127.0.0.1:") for p in am["ports"])
    assert "./alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro" in am["volumes"]
    assert "smtp_password" in am["secrets"] and "alertmanager-data" in compose["volumes"]
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = [t for a in prom["alerting"]["alertmanagers"] for s in a["static_configs"]
               for t in s["targets"]]  # fmt: skip
    assert targets == ["alertmanager:9093"]


class Process:
    def __init__(self, args: list[str], log: Path, ready_url: str, name: str) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)  # fmt: skip
        try:
            wait_for(lambda: ready(ready_url) or self.proc.poll() is not None, 30, name)
        except AssertionError:
            self.stop()
            pytest.fail(f"{name} did not start: {log.read_text()[-2000:]}")
        if self.proc.poll() is not None:
            pytest.fail(f"{name} exited: {log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def hook() -> Iterator[Webhook]:
    server = Webhook()
    yield server
    server.close()


@pytest.mark.dovecot
@pytest.mark.timeout(120)
def test_an_overdue_turn_reaches_the_webhook_as_reply_overdue(
    dovecot: Dovecot, tmp_path: Path, hook: Webhook
) -> None:
    user = dovecot.add_user()
    mail = (
        f"From: jean@acme.fr\r\nTo: {ME}\r\nSubject: Contrat\r\nMessage-ID: <am1@acme.fr>\r\n"
        "Date: Mon, 2 Mar 2026 09:00:00 +0100\r\n\r\nPouvez-vous regarder ?\r\n"
    ).encode()
    dovecot.append(user, "INBOX", mail, datetime.now(UTC) - timedelta(hours=30))
    config = tmp_path / "rw.toml"
    config.write_text(
        f'[me]\naddresses = ["{ME}"]\n[[clients]]\nname = "Acme"\ndomains = ["acme.fr"]\n'
        f'[store]\npath = "{tmp_path / "rw.db"}"\n[archive]\npath = "{tmp_path / "archive"}"\n'
        '[metrics]\nlisten = "127.0.0.1:0"\n[daemon]\nrecompute_every = "1s"\n'
        "recompute_in_child = false\n" + imap_account_toml(dovecot, user, tmp_path)
    )
    stop = threading.Event()
    started: list[Daemon] = []
    thread = threading.Thread(
        target=run_daemon, args=(config,),
        kwargs={"stop": stop, "on_start": started.append}, daemon=True,
    )  # fmt: skip
    thread.start()
    processes: list[Process] = []
    try:
        wait_for(lambda: bool(started), 10, "daemon")
        metrics_port = started[0].metrics_port
        wait_for(lambda: started[0].snapshot.latest() is not None, 10, "first analysis")
        am_port, prom_port = free_port(), free_port()
        am_config = tmp_path / "alertmanager.yml"
        am_config.write_text(yaml.safe_dump({
            "route": {"receiver": "hook", "group_by": ["alertname", "client"],
                      "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"},
            "receivers": [{"name": "hook", "webhook_configs": [{"url": hook.url}]}],
        }))  # fmt: skip
        processes.append(Process(
            [binary("prometheus-alertmanager", "alertmanager"), f"--config.file={am_config}",
             f"--storage.path={tmp_path / 'am'}", f"--web.listen-address={HOST}:{am_port}",
             "--cluster.listen-address="],
            tmp_path / "alertmanager.log", f"http://{HOST}:{am_port}/-/ready", "alertmanager",
        ))  # fmt: skip
        prom_config = tmp_path / "prometheus.yml"
        prom_config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "alerting": {"alertmanagers": [{"static_configs": [
                {"targets": [f"{HOST}:{am_port}"]}]}]},
            "scrape_configs": [{"job_name": "responsewatch", "static_configs": [
                {"targets": [f"{HOST}:{metrics_port}"]}]}],
        }))  # fmt: skip
        processes.append(Process(
            [binary("prometheus"), f"--config.file={prom_config}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address={HOST}:{prom_port}"],
            tmp_path / "prometheus.log", f"http://{HOST}:{prom_port}/-/ready", "prometheus",
        ))  # fmt: skip
        wait_for(lambda: bool(hook.received), 60, "ReplyOverdue at the webhook")
    finally:
        for process in reversed(processes):
            process.stop()
        stop.set()
        thread.join(15)
    alerts = [a for r in hook.received for a in r["body"]["alerts"]]
    overdue = [a for a in alerts if a["labels"]["alertname"] == "ReplyOverdue"]
    assert overdue and overdue[0]["labels"]["client"] == "Acme"
    assert overdue[0]["labels"]["severity"] == "critical" and overdue[0]["status"] == "firing"
    assert not [a for a in alerts if a["labels"]["alertname"] == "ReplyDueSoon"]

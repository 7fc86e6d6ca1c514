"""Nudge delivery with real Apprise to a real local HTTP receiver (``json://``) and a real
SMTP server (aiosmtpd, ``mailto://`` and ``notify.via_digest_smtp``), the nudges table in a
real SQLite store, retries and counting, `notify --test` / `--preview`, and no URL token in
any output or log line."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs
from tests.servers.webhook import Webhook
from tests.support.build import ME, msg
from typer.testing import CliRunner

from responsewatch.adapters.notify import AppriseChannel, NotificationCounter, Retry
from responsewatch.adapters.nudge_log import NudgeLog
from responsewatch.adapters.store import SqliteStore
from responsewatch.app.notify_app import NudgeService, make_channels
from responsewatch.app.pipeline import compute
from responsewatch.cli import app
from responsewatch.config import load_settings
from responsewatch.core.models import Analysis
from responsewatch.core.rules import ClientRule, Rules

HOST = "127.0.0.1"
TOKEN = "Tok3n-Zq9xWv"  # must never be printed or logged
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # Monday 09:00 in Paris
FAST = Retry(attempts=3, wait_initial=0.01, wait_max=0.05, timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Sink:
    received: list[email.message.EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname=HOST, port=port)
    try:
        controller.start()
    except Exception as exc:  # a server that cannot start is a failure, never a skip
        pytest.fail(f"aiosmtpd could not start: {exc!r}")
    yield sink, port
    controller.stop()


@pytest.fixture
def hook() -> Iterator[Webhook]:
    server = Webhook()
    yield server
    server.close()


def json_url(hook: Webhook) -> str:
    return f"json://rw:{TOKEN}@{HOST}:{hook.port}/hook"


def mailto_url(port: int) -> str:
    return f"mailto://{HOST}:{port}?to={ME}&from=rw@martin-conseil.fr&mode=insecure"


def write_config(tmp_path: Path, urls: list[str], extra: str = "", smtp_port: int = 0) -> Path:
    secret = tmp_path / "notify.urls"
    secret.write_text("# one Apprise URL a line\n" + "\n".join(urls) + "\n")
    secret.chmod(0o600)
    digest = ""
    if smtp_port:
        digest = (f'[digest]\nto = "{ME}"\nsmtp = {{ host = "{HOST}", port = {smtp_port}, '
                  'tls = "none-loopback-only" }\n')  # fmt: skip
    path = tmp_path / "rw.toml"
    path.write_text(
        f'[me]\naddresses = ["{ME}"]\nlanguage = "en"\n'
        '[[clients]]\nname = "Acme"\ndomains = ["acme.fr"]\n'
        '[[clients]]\nname = "Bolt"\ndomains = ["bolt.com"]\n'
        f'[store]\npath = "{tmp_path / "rw.db"}"\n[archive]\npath = "{tmp_path / "archive"}"\n'
        f"{digest}"
        f'[notify]\nurls_file = "{secret}"\nquiet = "never"\n'
        'open_url = "https://webmail.example/?search={message_id}"\n'
        f"{extra}"
    )
    return path


MAILS = [
    msg("a1@acme.fr", "jean@acme.fr", at=T0, subject="Planning"),
    msg("b1@bolt.com", "eve@bolt.com", at=T0 + timedelta(minutes=5), subject="Devis"),
]


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def service(config: Path, clock: Clock, **kw: Any) -> NudgeService:
    s = load_settings(config)
    store = SqliteStore.open(s.store_path)
    store.add_messages(MAILS, account="mail")
    store.close()
    return NudgeService(s, make_channels(s), NudgeLog(s.store_path), now=clock,
                        retry=FAST, **kw)  # fmt: skip


RULES = Rules(me=frozenset({ME}), clients=(ClientRule("Acme", ("acme.fr",)),
                                           ClientRule("Bolt", ("bolt.com",))))  # fmt: skip


def analysis(now: datetime) -> Analysis:
    return compute({m.message_id: m for m in MAILS}, RULES, now=now)[0]


def test_one_grouped_notification_per_channel_once(
    tmp_path: Path, hook: Webhook, smtp: tuple[Sink, int]
) -> None:
    sink, port = smtp
    config = write_config(tmp_path, [json_url(hook), mailto_url(port)])
    clock = Clock(T0 + timedelta(hours=17))
    svc = service(config, clock)
    assert svc.tick(analysis(clock.at), clock.at) == []  # nothing due before warn_at
    clock.at = T0 + timedelta(hours=18, minutes=6)
    sent = svc.tick(analysis(clock.at), clock.at)
    assert [r.ok for r in sent] == [True, True]
    assert len(hook.received) == 1 and len(sink.received) == 1
    body = hook.received[0]["body"]
    assert body["title"] == "2 replies due soon: Acme, Bolt"
    for text in (
        "• Acme: Planning",
        "Message-ID: <a1@acme.fr>",
        "waiting 18 h 06",
        "deadline Tue 3 Nov 09:00",
        "https://webmail.example/?search=a1%40acme.fr",
    ):
        assert text in body["message"]  # fmt: skip
    mail = sink.received[0]
    assert mail["Subject"] == "2 replies due soon: Acme, Bolt"
    assert "Message-ID: <b1@bolt.com>" in mail.get_body(("plain",)).get_content()
    rows = svc.log.rows()
    assert {r[3] for r in rows} == {"sent"} and len(rows) == 4  # 2 nudges x 2 channels
    # Later ticks: nothing again, until the deadline brings the overdue nudges.
    clock.at += timedelta(minutes=30)
    assert svc.tick(analysis(clock.at), clock.at) == []
    clock.at = T0 + timedelta(hours=24, minutes=10)
    assert len(svc.tick(analysis(clock.at), clock.at)) == 2
    assert hook.received[-1]["body"]["title"] == "2 replies overdue: Acme, Bolt"
    assert len(hook.received) == 2 and len(sink.received) == 2
    svc.log.close()


def test_500_is_retried_and_counted_down_is_retried_on_later_ticks(
    tmp_path: Path, hook: Webhook
) -> None:
    config = write_config(tmp_path, [json_url(hook)])
    clock = Clock(T0 + timedelta(hours=19))
    counter = NotificationCounter()
    svc = service(config, clock, counter=counter)
    hook.statuses = [500, 500]
    [result] = svc.tick(analysis(clock.at), clock.at)
    assert result.ok and hook.attempts == 3 and len(hook.received) == 1
    assert (counter.value("due_soon", "failed"), counter.value("due_soon", "sent")) == (4, 2)
    hook.down()  # the service is gone for a while
    clock.at = T0 + timedelta(hours=24, minutes=10)
    with capture_logs() as logs:
        [failed] = svc.tick(analysis(clock.at), clock.at)
    assert not failed.ok and {r[3] for r in svc.log.rows() if r[0] == "overdue"} == {"failed"}
    assert counter.value("overdue", "failed") == 6  # 3 attempts x 2 nudges
    assert any(e["event"] == "nudge_failed" for e in logs)
    clock.at += timedelta(seconds=1)
    assert svc.tick(analysis(clock.at), clock.at) == []  # cooling down, no hammering
    hook.up()
    clock.at += timedelta(seconds=30)
    [back] = svc.tick(analysis(clock.at), clock.at)
    assert back.ok and hook.received[-1]["body"]["title"] == "2 replies overdue: Acme, Bolt"
    assert counter.value("overdue", "sent") == 2
    registry = CollectorRegistry()
    registry.register(counter)
    labels = {"kind": "overdue", "outcome": "sent"}
    assert registry.get_sample_value("responsewatch_notifications_total", labels) == 2
    svc.log.close()


def test_a_nudge_left_sending_by_a_crash_is_sent_again(tmp_path: Path, hook: Webhook) -> None:
    config = write_config(tmp_path, [json_url(hook)])
    clock = Clock(T0 + timedelta(hours=30))
    svc = service(config, clock)
    channel = svc.channels[0].id
    # The previous process recorded "sending" and died before (or during) the send.
    svc.log.mark(channel, [("overdue", "Acme\na1@acme.fr")], "sending", clock.at, attempt=True)
    [result] = svc.tick(analysis(clock.at), clock.at)
    assert result.ok and len(hook.received) == 1
    assert hook.received[0]["body"]["title"] == "2 replies overdue: Acme, Bolt"
    rows = {(r[0], r[1]): (r[3], r[4]) for r in svc.log.rows()}
    assert rows[("overdue", "Acme\na1@acme.fr")] == ("sent", 2)
    assert svc.tick(analysis(clock.at), clock.at) == []
    svc.log.close()


def test_a_reply_stored_after_the_analysis_cancels_the_nudge(tmp_path: Path, hook: Webhook) -> None:
    config = write_config(tmp_path, [json_url(hook)])
    clock = Clock(T0 + timedelta(hours=30))
    svc = service(config, clock)
    stale = analysis(clock.at)
    analysed_at = clock.at - timedelta(seconds=5)
    reply = msg("r1@mc.fr", ME, ["jean@acme.fr"], at=T0 + timedelta(hours=29), refs=["a1@acme.fr"])
    svc.log.store.add_messages([reply], account="mail")
    refreshed: list[int] = []

    def refresh():
        refreshed.append(1)
        s = svc.settings
        facts = {m.message_id: m for m in svc.log.store.messages()}
        return compute(facts, s.rules, now=clock.at)[0]

    [result] = svc.tick(stale, analysed_at, refresh)
    assert refreshed == [1] and result.ok
    assert hook.received[0]["body"]["title"] == "1 reply overdue: Bolt"
    svc.log.close()


def test_via_digest_smtp(tmp_path: Path, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    config = write_config(tmp_path, [], extra="via_digest_smtp = true\n", smtp_port=port)
    config.with_name("notify.urls").write_text("")
    text = config.read_text().replace(f'urls_file = "{tmp_path / "notify.urls"}"\n', "")
    config.write_text(text)
    clock = Clock(T0 + timedelta(hours=25))
    svc = service(config, clock)
    assert [c.label for c in svc.channels] == [f"digest.smtp {HOST}:{port} -> {ME}"]
    [result] = svc.tick(analysis(clock.at), clock.at)
    assert result.ok and sink.received[0]["To"] == ME
    assert sink.received[0]["Auto-Submitted"] == "auto-generated"
    assert sink.received[0]["Subject"] == "2 replies overdue: Acme, Bolt"
    svc.log.close()


def test_notify_cli_test_and_preview_never_show_the_token(
    tmp_path: Path, hook: Webhook, capfd: pytest.CaptureFixture[str]
) -> None:
    dead = free_port()
    urls = [json_url(hook), f"json://rw:{TOKEN}@{HOST}:{dead}/x", f"ntfy://{HOST}:{dead}/{TOKEN}"]
    config = write_config(tmp_path, urls)
    runner = CliRunner()
    with capture_logs() as logs:
        done = runner.invoke(app, ["notify", "--config", str(config), "--test"])
    assert done.exit_code == 3, done.output
    lines = done.output.splitlines()
    assert lines[0].startswith("ok      #1 json://rw:****@127.0.0.1:")
    assert lines[1].startswith("FAILED  #2 json://") and lines[2].startswith("FAILED  #3 ntfy://")
    assert hook.received[0]["body"]["title"] == "responsewatch test notification"
    # Preview: what would go out now, sending nothing.
    store = SqliteStore.open(tmp_path / "rw.db")
    store.add_messages(MAILS, account="mail")
    store.close()
    preview = runner.invoke(
        app, ["notify", "--config", str(config), "--preview", "--now", "2026-11-03T10:00"]
    )
    assert preview.exit_code == 0, preview.output
    assert "3 to send now" not in preview.output and "2 to send now, 0 held" in preview.output
    assert "title: 2 replies overdue: Acme, Bolt" in preview.output
    assert len(hook.received) == 1
    quiet = config.read_text().replace('quiet = "never"', 'quiet = "outside_business_hours"')
    config.write_text(quiet + '[sla]\nwarn_at = "1h"\nreply_within = "3d"\n')
    night = runner.invoke(
        app, ["notify", "--config", str(config), "--preview", "--now", "2026-11-02T20:00"]
    )  # due soon since 10:00, deadline Thursday: held until Tuesday 09:00
    assert night.exit_code == 0 and "0 to send now, 2 held" in night.output, night.output
    assert "held until 2026-11-03T09:00+01:00: due_soon        Acme" in night.output
    assert runner.invoke(app, ["notify", "--config", str(config)]).exit_code == 2
    out, err = capfd.readouterr()
    everything = done.output + preview.output + night.output + out + err + repr(logs)
    assert TOKEN not in everything
    logging.getLogger("apprise").warning("probe")  # apprise's logger never reaches stderr
    assert "probe" not in capfd.readouterr().err


def test_channel_repr_and_errors_hide_the_url(hook: Webhook) -> None:
    channel = AppriseChannel(f"json://rw:{TOKEN}@{HOST}:{free_port()}/p/{TOKEN}", 1)
    assert TOKEN not in repr(channel) and TOKEN not in channel.label and TOKEN not in channel.id
    with pytest.raises(Exception) as info:
        channel.send("t", "b")
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value.args)


def test_agreement_nudge_when_asked(tmp_path: Path, hook: Webhook) -> None:
    from responsewatch.adapters.archive import EvidenceArchive

    extra = 'kinds = ["agreement"]\n'
    config = write_config(tmp_path, [json_url(hook)], extra=extra)
    clock = Clock(T0 + timedelta(hours=30))
    svc = service(config, clock, watching_since=clock.at)
    raw = b"From: jean@acme.fr\r\nMessage-ID: <ok1@acme.fr>\r\n\r\nBon pour accord.\r\n"
    EvidenceArchive(tmp_path / "archive", lookup=lambda _name: None).add(
        raw, message_id="ok1@acme.fr", client="Acme", phrase="bon pour accord",
        now=clock.at, received_at=clock.at - timedelta(minutes=2),
    )  # fmt: skip
    [result] = svc.tick(analysis(clock.at), clock.at)  # overdue turns: not in kinds
    assert result.ok and hook.received[0]["body"]["title"] == "1 agreement archived: Acme"
    assert "• Acme: bon pour accord" in hook.received[0]["body"]["message"]
    assert svc.tick(analysis(clock.at), clock.at) == []
    svc.log.close()

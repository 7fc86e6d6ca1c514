"""The digest through a real SMTP server (aiosmtpd) over implicit TLS and STARTTLS, exactly
once per day, with failure injection (4xx, 5xx, a process killed mid-send)."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from structlog.testing import capture_logs
from tests.unit.test_insights import scenario

from responsewatch.adapters.smtp import SendFailed, SmtpSender
from responsewatch.adapters.store import SqliteStore
from responsewatch.app.bootstrap import App, FixedClock, bootstrap
from responsewatch.app.digest_app import (
    digest_command,
    due_day,
    make_sender,
    schedule_digest,
    send_digest_once,
    send_now,
)
from responsewatch.config import SecretRef, Settings, SmtpSettings
from responsewatch.errors import AuthFailed

HOST = "127.0.0.1"
USER, PASSWORD = "claire", "s3cret-smtp"
MESSAGES, RULES, NOW = scenario()  # NOW: Monday 23 November 2026, 10:00 in Paris
TO = "claire@martin-conseil.fr"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tls")
    key, crt = root / "key.pem", root / "cert.pem"
    done = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(crt)],
        capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, f"openssl failed (apt-get install openssl): {done.stderr!r}"
    return crt, key


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Sink:
    """Receives mail; ``replies`` scripts the answers to DATA (None = 250)."""

    replies: list[str | None] = field(default_factory=list)
    received: list[EmailMessage] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.replies.pop(0) if self.replies else None
        if reply is not None:
            return reply
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        if ok:
            self.logins.append(mechanism)
        return AuthResult(success=ok, handled=False)  # False: the server replies 535


@dataclass
class Server:
    sink: Sink
    port: int
    tls: str
    ca_file: str | None


def start(sink: Sink, tls: str, cert: tuple[Path, Path] | None) -> tuple[Controller, int]:
    port = free_port()
    kwargs: dict[str, Any] = {}
    if cert is not None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        if tls == "implicit":
            # The whole session is TLS; aiosmtpd only counts STARTTLS as "TLS" for AUTH.
            kwargs.update(ssl_context=ctx, auth_require_tls=False)
        else:
            kwargs.update(tls_context=ctx, require_starttls=True)
        kwargs["authenticator"] = sink.authenticate
    controller = Controller(sink, hostname=HOST, port=port, **kwargs)
    try:
        controller.start()
    except Exception as exc:  # a server that cannot start is a failure, never a skip
        pytest.fail(f"aiosmtpd could not start on {HOST}:{port}: {exc!r}")
    return controller, port


@pytest.fixture(params=["implicit", "starttls"])
def server(request: pytest.FixtureRequest, cert: tuple[Path, Path]) -> Iterator[Server]:
    sink = Sink()
    controller, port = start(sink, request.param, cert)
    try:
        yield Server(sink, port, request.param, str(cert[0]))
    finally:
        controller.stop()


def make_settings(srv: Server, tmp_path: Path, **overrides: Any) -> Settings:
    smtp = SmtpSettings(
        host=HOST,
        port=srv.port,
        tls=srv.tls,
        username=USER if srv.ca_file else "",
        secret=SecretRef(env="RW_TEST_SMTP_PASSWORD"),
        ca_file=srv.ca_file,
        timeout=10,
    )
    base = Settings(
        rules=RULES,
        me_name="Claire Martin",
        store_path=tmp_path / "rw.db",
        archive_path=tmp_path / "archive",
        digest_to=TO,
        digest_from="digest@martin-conseil.fr",
        digest_at=time(7, 30),
        digest_smtp=smtp,
    )
    return replace(base, **overrides)


def make_app(settings: Settings) -> App:
    store = SqliteStore.open(settings.store_path)
    if store.message_count() == 0:
        store.add_messages(MESSAGES, account="main")
    return bootstrap(settings, clock=FixedClock(NOW), store=store)


def fast(settings: Settings) -> SmtpSender:
    """The configured sender without the production backoff delays."""
    return SmtpSender(make_sender(settings).account, delays=(0, 0, 0))


@pytest.fixture(autouse=True)
def smtp_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RW_TEST_SMTP_PASSWORD", PASSWORD)


def test_digest_arrives_once_per_day(server: Server, tmp_path: Path) -> None:
    language = "fr" if server.tls == "implicit" else "en"
    app = make_app(make_settings(server, tmp_path, language=language))
    outcome = send_digest_once(app, NOW, sender=fast(app.settings))
    assert "sent" in outcome
    (mail,) = server.sink.received
    assert server.sink.logins  # logged in, over TLS (STARTTLS is required by the server)
    assert mail.get_content_type() == "multipart/alternative"
    text, related = mail.iter_parts()
    html, image = related.iter_parts()
    assert (text.get_content_type(), related.get_content_type()) == (
        "text/plain",
        "multipart/related",
    )
    assert (html.get_content_type(), image.get_content_type()) == ("text/html", "image/png")
    assert f"cid:{image['Content-ID'].strip('<>')}" in html.get_content()
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Date"].datetime == NOW
    assert mail["X-Responsewatch-Digest"] == "2026-11-23"
    title = "Réponses à faire" if language == "fr" else "Replies due"
    assert title in text.get_content()
    status, attempts, message_id = app.store.digest_state("2026-11-23") or ("", 0, None)
    assert (status, attempts) == ("sent", 1)
    assert mail["Message-ID"] == f"<{message_id}>"
    # A later cycle, a restart, and an explicit `digest --send`: nothing more that day.
    assert "already sent" in send_digest_once(
        app, NOW + timedelta(hours=1), sender=fast(app.settings)
    )
    restarted = make_app(app.settings)
    assert "already sent" in send_digest_once(restarted, NOW, sender=fast(app.settings))
    assert "already sent" in send_now(restarted, NOW, sender=fast(app.settings))
    assert len(server.sink.received) == 1


def test_temporary_failure_then_success_sends_one_mail(server: Server, tmp_path: Path) -> None:
    server.sink.replies = ["451 4.3.0 Try again later"]
    app = make_app(make_settings(server, tmp_path))
    with capture_logs() as logs:
        assert "sent" in send_digest_once(app, NOW, sender=fast(app.settings))
    assert len(server.sink.received) == 1
    warnings = [e["event"] for e in logs if e["log_level"] == "warning"]
    assert warnings == ["smtp_retry", "stamina.retry_scheduled"]  # one retry, run by stamina
    assert app.store.digest_state("2026-11-23") == (
        "sent",
        1,
        server.sink.received[0]["Message-ID"].strip("<>"),
    )


def test_permanent_failure_is_logged_counted_and_retried_next_cycle(
    server: Server, tmp_path: Path
) -> None:
    server.sink.replies = ["554 5.7.1 Rejected"]
    app = make_app(make_settings(server, tmp_path))
    with capture_logs() as logs:
        outcome = send_digest_once(app, NOW, sender=fast(app.settings))
    assert "not sent" in outcome and "554" in outcome
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["digest_failed"]
    assert server.sink.received == []  # a 5xx is not retried within the cycle
    status, attempts, first_id = app.store.digest_state("2026-11-23") or ("", 0, None)
    assert (status, attempts) == ("failed", 1)
    # The next cycle retries, with the same Message-ID, and then the day is settled.
    assert "sent" in send_digest_once(app, NOW + timedelta(minutes=15), sender=fast(app.settings))
    assert app.store.digest_state("2026-11-23") == ("sent", 2, first_id)
    assert "already sent" in send_digest_once(
        app, NOW + timedelta(minutes=30), sender=fast(app.settings)
    )
    assert [m["Message-ID"] for m in server.sink.received] == [f"<{first_id}>"]


def test_permanent_failure_raises_for_the_cli(server: Server, tmp_path: Path) -> None:
    server.sink.replies = ["550 5.1.1 No such user"]
    app = make_app(make_settings(server, tmp_path))
    with pytest.raises(SendFailed) as caught:
        send_now(app, NOW, sender=fast(app.settings))
    assert caught.value.permanent and caught.value.exit_code == 3


class Killed(BaseException):
    """The process dies: nothing after this point runs."""


def test_killed_after_sending_is_not_resent_automatically(server: Server, tmp_path: Path) -> None:
    settings = make_settings(server, tmp_path)
    app = make_app(settings)
    record = app.store.record_digest

    def die_before_sent(day: str, status: str, at: datetime, **kw: Any) -> None:
        if status == "sent":
            raise Killed
        record(day, status, at, **kw)

    app.store.record_digest = die_before_sent  # type: ignore[method-assign]
    with pytest.raises(Killed):
        send_digest_once(app, NOW, sender=fast(settings))
    assert len(server.sink.received) == 1
    # After a restart: the outcome is unknown, so the scheduler does not send again.
    restarted = make_app(settings)
    with capture_logs() as logs:
        outcome = send_digest_once(restarted, NOW + timedelta(minutes=15), sender=fast(settings))
    assert "not resent" in outcome
    assert [e["event"] for e in logs] == ["digest_outcome_unknown"]
    assert restarted.store.digest_state("2026-11-23")[0] == "unknown"  # type: ignore[index]
    assert "not resent" in send_digest_once(
        restarted, NOW + timedelta(minutes=30), sender=fast(settings)
    )
    assert len(server.sink.received) == 1
    # The consultant checks the inbox and asks explicitly: resent with the same Message-ID.
    assert "sent" in send_now(restarted, NOW + timedelta(hours=1), sender=fast(settings))
    first, second = server.sink.received
    assert first["Message-ID"] == second["Message-ID"]
    assert restarted.store.digest_state("2026-11-23")[0] == "sent"  # type: ignore[index]


def test_wrong_password_is_auth_failed(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RW_TEST_SMTP_PASSWORD", "wrong")
    app = make_app(make_settings(server, tmp_path))
    with pytest.raises(AuthFailed):
        send_now(app, NOW, sender=fast(app.settings))
    assert server.sink.received == []


def test_untrusted_certificate_is_a_permanent_failure(server: Server, tmp_path: Path) -> None:
    app = make_app(make_settings(server, tmp_path))
    smtp = replace(app.settings.digest_smtp, ca_file=None)  # type: ignore[type-var]
    settings = replace(app.settings, digest_smtp=smtp)
    with pytest.raises(SendFailed, match="certificate"):
        send_now(app, NOW, sender=fast(settings))


def test_skip_when_empty_records_the_day(server: Server, tmp_path: Path) -> None:
    settings = make_settings(server, tmp_path, digest_skip_when_empty=True)
    store = SqliteStore.open(settings.store_path)  # no messages: nothing to say
    app = bootstrap(
        replace(settings, rules=replace(RULES, clients=())), clock=FixedClock(NOW), store=store
    )
    assert "skipped" in send_digest_once(app, NOW, sender=fast(settings))
    assert app.store.digest_state("2026-11-23")[0] == "skipped"  # type: ignore[index]
    assert server.sink.received == []


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 23, 6, 29, tzinfo=UTC), None),  # 07:29: Friday's is 2 days old
        (datetime(2026, 11, 23, 6, 30, tzinfo=UTC), "2026-11-23"),  # 07:30: due
        (datetime(2026, 11, 23, 12, 30, tzinfo=UTC), "2026-11-23"),  # 6 h late: within grace
        (datetime(2026, 11, 23, 12, 31, tzinfo=UTC), None),  # missed beyond the grace
        (datetime(2026, 11, 21, 8, 0, tzinfo=UTC), None),  # Saturday: weekends off
        (datetime(2026, 3, 30, 5, 30, tzinfo=UTC), "2026-03-30"),  # 07:30 CEST after DST
        (datetime(2026, 3, 30, 6, 30, tzinfo=UTC), "2026-03-30"),
    ],
)
def test_due_day(now: datetime, expected: str | None) -> None:
    settings = Settings(rules=RULES, digest_at=time(7, 30))
    found = due_day(settings, now)
    assert (found.isoformat() if found else None) == expected


def test_due_day_on_weekends_when_enabled() -> None:
    settings = Settings(rules=RULES, digest_at=time(7, 30), digest_weekends=True)
    assert due_day(settings, datetime(2026, 11, 21, 8, 0, tzinfo=UTC)) is not None


def test_schedule_digest_adds_the_cron_and_catch_up_jobs(tmp_path: Path) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    settings = Settings(
        rules=RULES,
        store_path=tmp_path / "rw.db",
        archive_path=tmp_path / "archive",
        digest_at=time(7, 30),
    )
    app = bootstrap(settings, clock=FixedClock(NOW))
    scheduler = BackgroundScheduler(timezone="Europe/Paris")
    schedule_digest(scheduler, app)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"digest", "digest-catch-up"}
    cron = jobs["digest"]
    fields = {f.name: str(f) for f in cron.trigger.fields}
    assert (fields["day_of_week"], fields["hour"], fields["minute"]) == ("mon-fri", "7", "30")
    assert str(cron.trigger.timezone) == "Europe/Paris"
    assert cron.misfire_grace_time == 6 * 3600 and cron.coalesce
    first = cron.trigger.get_next_fire_time(None, NOW)
    assert first == datetime(2026, 11, 24, 6, 30, tzinfo=UTC)
    app.close()


def test_scheduled_jobs_fire_and_the_digest_arrives_once(server: Server, tmp_path: Path) -> None:
    """The jobs as the daemon schedules them, run by a started scheduler: the catch-up job
    (first run at once) sends today's digest; the cron job fired afterwards sends nothing."""
    import threading

    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
    from apscheduler.schedulers.background import BackgroundScheduler

    app = make_app(make_settings(server, tmp_path))
    runs: list[tuple[str, bool]] = []
    ran = threading.Condition()

    def on_run(event: JobExecutionEvent) -> None:
        with ran:
            runs.append((event.job_id, event.exception is None))
            ran.notify_all()

    def wait_for(job_id: str) -> None:
        with ran:
            assert ran.wait_for(lambda: any(j == job_id for j, _ in runs), timeout=30), runs

    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_listener(on_run, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    schedule_digest(scheduler, app, sender=fast(app.settings))
    scheduler.start()
    try:
        wait_for("digest-catch-up")
        assert len(server.sink.received) == 1
        assert server.sink.received[0]["X-Responsewatch-Digest"] == "2026-11-23"
        scheduler.modify_job("digest", next_run_time=datetime.now(UTC))
        wait_for("digest")
    finally:
        scheduler.shutdown(wait=True)
    assert all(ok for _job, ok in runs), runs
    assert len(server.sink.received) == 1
    assert (app.store.digest_state("2026-11-23") or ("",))[0] == "sent"
    app.close()


def test_cli_digest_command_preview_and_send(tmp_path: Path) -> None:
    sink = Sink()
    controller, port = start(sink, "none-loopback-only", None)
    try:
        store_path = tmp_path / "rw.db"
        store = SqliteStore.open(store_path)
        store.add_messages(MESSAGES, account="main")
        store.close()
        config = tmp_path / "rw.toml"
        config.write_text(
            f"""
[me]
addresses = ["{TO}"]
language = "en"
[[clients]]
name = "acme"
domains = ["acme.fr"]
[store]
path = "{store_path}"
[archive]
path = "{tmp_path / "archive"}"
[digest]
to = "{TO}"
[digest.smtp]
host = "{HOST}"
port = {port}
tls = "none-loopback-only"
""",
            encoding="utf-8",
        )
        out = tmp_path / "preview.html"
        lines = list(digest_command(config, preview=out, send=False, now="2026-11-23T10:00"))
        assert lines[0] == f"wrote {out}"
        assert "data:image/png;base64," in out.read_text(encoding="utf-8")
        assert "Replies due" in out.with_suffix(".txt").read_text(encoding="utf-8")
        assert sink.received == []
        (line,) = digest_command(config, preview=None, send=True, now="2026-11-23T10:00")
        assert "sent" in line and len(sink.received) == 1
        (line,) = digest_command(config, preview=None, send=True, now="2026-11-23T18:00")
        assert "already sent" in line and len(sink.received) == 1
    finally:
        controller.stop()

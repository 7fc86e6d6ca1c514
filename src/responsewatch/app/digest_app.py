"""The daily digest use case: build, preview, send exactly once per day, schedule.

Exactly once per day (the ``digests`` table, one row per local date):

- before the SMTP transaction the row is set to ``sending`` (with the Message-ID and one
  more attempt), after it to ``sent``; a failed send sets ``failed`` with the error;
- ``sent`` (or ``skipped``: nothing to say and ``digest.skip_when_empty``) -> nothing more
  that day, whoever asks: the scheduler, a retry, a restart or ``digest --send``;
- ``failed`` -> retried by the next cycle (every :data:`RETRY_EVERY_S`) with the SAME
  Message-ID, as long as the day's send time is within ``digest.misfire_grace``; a day whose
  send time was missed (daemon stopped, machine asleep) is sent late, once, within the grace;
- ``sending`` found by a later cycle means the process stopped during the send: the mail
  may or may not have left. **The scheduler never resends it**: a duplicate digest teaches
  the consultant to distrust it, a missing one is noticed and costs one command. The row
  becomes ``unknown``, an error is logged, and ``digest --send`` (an explicit decision
  after checking the inbox) resends it with the same Message-ID, so clients that
  de-duplicate by Message-ID (Gmail, for one) still show one digest.
"""

from __future__ import annotations

import secrets
import ssl
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import structlog

from responsewatch.adapters.render import digest_email, render_digest
from responsewatch.adapters.smtp import SmtpAccount, SmtpSender
from responsewatch.app.bootstrap import App, FixedClock, bootstrap
from responsewatch.app.commands import parse_now
from responsewatch.config import Settings, load_settings
from responsewatch.core.digest import Digest, build_digest
from responsewatch.core.insights import Insights
from responsewatch.errors import ConfigError, RwError
from responsewatch.secrets import secret_provider

__all__ = [
    "RETRY_EVERY_S",
    "build_for",
    "compose",
    "digest_command",
    "due_day",
    "make_sender",
    "schedule_digest",
    "send_digest_once",
]

log = structlog.get_logger("responsewatch.digest")

RETRY_EVERY_S = 15 * 60
# (client, phrase, received_at, message_id) of agreements captured since the last digest.
AgreementRow = tuple[str, str, datetime, str]
AgreementSource = Callable[[App, datetime], Sequence[AgreementRow]]


class Sender(Protocol):
    """What the use case needs from an SMTP adapter (``SmtpSender`` or a test double)."""

    def send(self, msg: EmailMessage) -> None: ...


def archive_agreements(app: App, since: datetime) -> Sequence[AgreementRow]:
    """Agreements archived since ``since``, from the evidence archive. A broken archive
    is logged (``archive verify`` tells more) but never holds the digest back."""
    from responsewatch.app.archive_evidence import digest_agreements

    try:
        return digest_agreements(app, since)
    except RwError as exc:
        log.warning("digest_agreements_unavailable", error=str(exc))
        return ()


def build_for(
    app: App, now: datetime, *, agreements: AgreementSource = archive_agreements
) -> tuple[Digest, Insights]:
    s = app.settings
    analysis, ins = app.report_with_insights(now)  # the facts are loaded once, not twice
    rows = agreements(app, now - timedelta(days=1))
    return build_digest(analysis, ins, s.rules, now=now, agreements=rows), ins


def _addresses(s: Settings) -> tuple[str, str]:
    to = s.digest_to or (sorted(s.rules.me)[0] if s.rules.me else "")
    sender = s.digest_from or (s.digest_smtp.username if s.digest_smtp else "") or to
    if not to or "@" not in to:
        raise ConfigError("digest.to: required to send the digest (your own address)")
    if "@" not in sender:
        raise ConfigError("digest.from: must be an e-mail address")
    return sender, to


def compose(s: Settings, digest: Digest, message_id: str) -> EmailMessage:
    sender, to = _addresses(s)
    return digest_email(
        digest, language=s.language, from_addr=sender, to_addr=to, message_id=message_id
    )


def make_sender(s: Settings) -> SmtpSender:
    smtp = s.digest_smtp
    if smtp is None or not smtp.host:
        raise ConfigError("digest.smtp: required to send the digest ([digest.smtp] host = ...)")
    context = None
    if smtp.ca_file:
        try:
            context = ssl.create_default_context(cafile=str(Path(smtp.ca_file).expanduser()))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"digest.smtp.ca_file: cannot load {smtp.ca_file} ({exc})") from None
    secret = smtp.secret
    return SmtpSender(
        SmtpAccount(
            host=smtp.host,
            port=smtp.port,
            tls=smtp.tls,
            username=smtp.username,
            secret=secret_provider(secret, "digest.smtp"),
            ssl_context=context,
            timeout=smtp.timeout,
        )
    )


def due_day(s: Settings, now: datetime) -> date | None:
    """The digest day whose send time (``digest.at`` local) is the latest one <= now, if
    it is a digest day (weekends optional) and still within ``digest.misfire_grace``."""
    tz = ZoneInfo(s.timezone)
    local = now.astimezone(tz)
    day = local.date()
    if local.time() < s.digest_at:
        day -= timedelta(days=1)
    if not s.digest_weekends and day.weekday() >= 5:
        return None
    scheduled = datetime.combine(day, s.digest_at, tzinfo=tz)
    late = (now - scheduled).total_seconds()
    return day if 0 <= late <= s.digest_misfire_grace_s else None


def _new_message_id(s: Settings, day: date) -> str:
    # Short on purpose: a Message-ID longer than a header line gets folded, and some
    # parsers keep the folding space.
    sender = s.digest_from or s.digest_to or "responsewatch.invalid"
    return f"digest.{day.isoformat()}.{secrets.token_hex(6)}@{sender.rpartition('@')[2]}"


def _send_day(
    app: App,
    day: date,
    now: datetime,
    sender: Sender,
    *,
    message_id: str | None,
    skip_when_empty: bool,
    agreements: AgreementSource,
) -> str:
    s = app.settings
    key = day.isoformat()
    digest, _ = build_for(app, now, agreements=agreements)
    if skip_when_empty and digest.is_empty:
        app.store.record_digest(key, "skipped", now)
        log.info("digest_skipped", day=key, reason="nothing to report")
        return f"{key}: nothing to report, digest skipped"
    mid = message_id or _new_message_id(s, day)
    msg = compose(s, digest, mid)
    app.store.record_digest(key, "sending", now, message_id=mid, attempt=True)
    try:
        sender.send(msg)
    except RwError as exc:
        app.store.record_digest(key, "failed", now, error=str(exc))
        log.error("digest_failed", day=key, error=str(exc), kind=type(exc).__name__)
        raise
    app.store.record_digest(key, "sent", now)
    log.info("digest_sent", day=key, message_id=mid, to=msg["To"])
    return f"{key}: digest sent to {msg['To']} (Message-ID <{mid}>)"


def send_digest_once(
    app: App,
    now: datetime,
    *,
    sender: Sender | None = None,
    agreements: AgreementSource = archive_agreements,
) -> str:
    """One scheduler cycle: send the due digest unless its day is settled. Never raises an
    RwError (logged, counted in the day's row, retried next cycle); returns what it did."""
    s = app.settings
    if not s.digest_enabled:
        return "digest disabled"
    day = due_day(s, now)
    if day is None:
        return "no digest due"
    key = day.isoformat()
    state = app.store.digest_state(key)
    message_id = None
    if state is not None:
        status, attempts, message_id = state
        if status in ("sent", "skipped"):
            return f"{key}: already {status}"
        if status in ("sending", "unknown"):
            if status == "sending":
                app.store.record_digest(
                    key, "unknown", now, error="stopped during the send; not resent automatically"
                )
            log.error(
                "digest_outcome_unknown",
                day=key,
                message_id=message_id,
                attempts=attempts,
                hint="check the inbox; `responsewatch digest --send` resends it",
            )
            return f"{key}: outcome of an interrupted send unknown; not resent"
    try:
        return _send_day(
            app,
            day,
            now,
            sender or make_sender(s),
            message_id=message_id,
            skip_when_empty=s.digest_skip_when_empty,
            agreements=agreements,
        )
    except ConfigError as exc:
        log.error("digest_not_sent", day=key, error=str(exc), kind="ConfigError")
        return f"{key}: digest not sent ({exc})"
    except RwError as exc:  # a send failure, already logged and counted by _send_day
        return f"{key}: digest not sent ({exc}); retrying next cycle"


def send_now(
    app: App,
    now: datetime,
    *,
    sender: Sender | None = None,
    agreements: AgreementSource = archive_agreements,
) -> str:
    """``digest --send``: today's digest now, unless it was already sent today. Raises."""
    s = app.settings
    day = now.astimezone(ZoneInfo(s.timezone)).date()
    state = app.store.digest_state(day.isoformat())
    message_id = None
    if state is not None:
        status, _attempts, message_id = state
        if status == "sent":
            return f"{day.isoformat()}: already sent (Message-ID <{message_id}>); nothing sent"
    return _send_day(
        app,
        day,
        now,
        sender or make_sender(s),
        message_id=message_id,
        skip_when_empty=False,
        agreements=agreements,
    )


def _preview_paths(out: Path) -> tuple[Path, Path]:
    if out.suffix.lower() == ".txt":
        return out.with_suffix(".html"), out
    return out, out.with_suffix(".txt")


def digest_command(
    config: Path, *, preview: Path | None, send: bool, now: str | None
) -> Iterable[str]:
    """``responsewatch digest``: lines to print."""
    settings = load_settings(config)
    at = parse_now(now, settings.timezone).astimezone(UTC)
    app = bootstrap(settings, clock=FixedClock(at))
    try:
        if send:
            return [send_now(app, at)]
        assert preview is not None
        digest, _ = build_for(app, at)
        rendered = render_digest(digest, settings.language)
        html_path, text_path = _preview_paths(preview)
        try:
            html_path.write_text(rendered.html, encoding="utf-8")
            text_path.write_text(rendered.text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--preview {preview}: cannot write ({exc.strerror})") from None
        return [f"wrote {html_path}", f"wrote {text_path}", f"subject: {rendered.subject}"]
    finally:
        app.close()


@dataclass(slots=True)
class _DigestJob:
    """Both triggers call this; the lock keeps two cycles from overlapping."""

    app: App
    sender: Sender | None
    agreements: AgreementSource
    lock: threading.Lock

    def __call__(self) -> str:
        with self.lock:
            return send_digest_once(
                self.app, self.app.clock.now(), sender=self.sender, agreements=self.agreements
            )


def schedule_digest(
    scheduler: Any,
    app: App,
    *,
    sender: Sender | None = None,
    agreements: AgreementSource = archive_agreements,
) -> None:
    """Add the digest jobs to an APScheduler 3.x scheduler (the daemon calls this once).

    ``digest``: cron at ``digest.at`` in ``me.timezone`` (Mon-Fri unless ``digest.weekends``),
    ``misfire_grace_time`` = ``digest.misfire_grace``, ``coalesce=True``.
    ``digest-catch-up``: every :data:`RETRY_EVERY_S`, first run immediately, so a digest
    missed while the daemon was down is sent late and a failed one is retried; it does
    nothing once the day is settled. Example::

        scheduler = BackgroundScheduler(timezone=settings.timezone)
        schedule_digest(scheduler, app)
        scheduler.start()
    """
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    s = app.settings
    if not s.digest_enabled:
        return
    tz = ZoneInfo(s.timezone)
    job = _DigestJob(app, sender, agreements, threading.Lock())
    trigger = CronTrigger(
        day_of_week=None if s.digest_weekends else "mon-fri",
        hour=s.digest_at.hour,
        minute=s.digest_at.minute,
        timezone=tz,
    )
    scheduler.add_job(
        job,
        trigger,
        id="digest",
        name="daily digest",
        misfire_grace_time=int(s.digest_misfire_grace_s),
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
    scheduler.add_job(
        job,
        IntervalTrigger(seconds=RETRY_EVERY_S, timezone=tz),
        id="digest-catch-up",
        name="daily digest catch-up and retry",
        next_run_time=app.clock.now(),
        # However late the scheduler starts after this call, the first run still happens
        # (APScheduler's default grace of 1 s would skip it until the next interval).
        misfire_grace_time=None,
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )

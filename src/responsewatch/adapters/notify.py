"""Delivery of nudges: Apprise URLs (ntfy, Gotify, Telegram, Matrix, e-mail, ...) and the
digest's SMTP account, each a ``NotifyChannel`` with bounded retries (stamina).

Apprise URLs carry tokens, so they are secrets: a channel is shown by a label built from
Apprise's own privacy rendering of the URL, reduced to scheme and (masked) host, and
identified in the store by a hash. Apprise's log lines go to a capture, never to stderr,
and the failure detail kept from them has every piece of the URL replaced by ``****``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

import apprise
import stamina
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from responsewatch.adapters.smtp import SendFailed, SmtpSender
from responsewatch.errors import AuthFailed, SourceUnavailable

__all__ = [
    "AppriseChannel",
    "NotificationCounter",
    "NotifyChannel",
    "NotifyFailed",
    "SmtpChannel",
    "deliver",
]

_APPRISE_LOG = logging.getLogger("apprise")
_APPRISE_LOG.addHandler(logging.NullHandler())
_APPRISE_LOG.propagate = False  # its lines may name hosts, topics or tokens


class NotifyFailed(SourceUnavailable):
    """A notification did not reach one channel (exit code 3 for `notify --test`)."""

    def __init__(self, channel: str, detail: str) -> None:
        super().__init__(channel, detail)
        self.args = (f"{channel}: {detail}",)

    def __str__(self) -> str:
        return f"{self.account}: {self.detail}"


class NotifyChannel(Protocol):
    id: str  # stable and not secret: the store's key for this channel
    label: str  # safe to print and log

    def send(self, title: str, body: str) -> None: ...


def _pieces(url: str) -> list[str]:
    """Every part of a URL that could be a secret, longest first (for redaction)."""
    parts = urllib.parse.urlsplit(url)
    found = {parts.username or "", parts.password or "", parts.hostname or ""}
    found.update(p for p in parts.path.split("/"))
    found.update(v for _k, v in urllib.parse.parse_qsl(parts.query))
    found.update(urllib.parse.unquote(p) for p in list(found))
    return sorted((p for p in found if len(p) >= 3), key=len, reverse=True)


def redact(text: str, url: str) -> str:
    for piece in _pieces(url):
        text = text.replace(piece, "****")
    return text


def safe_label(url: str, index: int) -> str:
    """``#1 json://127.0.0.1:8080/…``: Apprise's privacy URL without path or query."""
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if not plugin:
        scheme = url.partition("://")[0] if "://" in url else "?"
        return f"#{index} {scheme[:16]}://(invalid URL)"
    private = urllib.parse.urlsplit(plugin.url(privacy=True))
    tail = "/…" if private.path.strip("/") else ""
    return f"#{index} {private.scheme}://{private.netloc}{tail}"


class AppriseChannel:
    """One Apprise URL. ``send`` raises :class:`NotifyFailed` with a redacted detail."""

    def __init__(self, url: str, index: int) -> None:
        self._url = url
        self.id = "apprise:" + hashlib.sha256(url.encode()).hexdigest()[:16]
        self.label = safe_label(url, index)

    def __repr__(self) -> str:  # never the URL
        return f"AppriseChannel({self.label!r})"

    def send(self, title: str, body: str) -> None:
        notifier = apprise.Apprise()
        if not notifier.add(self._url):
            raise NotifyFailed(self.label, "not a valid Apprise URL")
        with apprise.LogCapture(level=logging.INFO) as captured:
            try:
                ok = bool(
                    notifier.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
                )
            except Exception as exc:  # a plugin bug must not leak past the adapter
                raise NotifyFailed(self.label, type(exc).__name__) from None
            lines = captured.getvalue() if hasattr(captured, "getvalue") else ""
        if not ok:
            detail = " ".join(
                line.split(" - ", 2)[-1]
                for line in str(lines).splitlines()
                if " - WARNING - " in line or " - ERROR - " in line
            )
            raise NotifyFailed(self.label, redact(detail, self._url)[:300] or "not delivered")


class SmtpChannel:
    """The digest's SMTP account (``notify.via_digest_smtp``): a plain-text e-mail to me."""

    def __init__(self, sender: SmtpSender, *, from_addr: str, to_addr: str) -> None:
        self._sender = sender
        self._from, self._to = from_addr, to_addr
        self.id = "smtp:" + hashlib.sha256(to_addr.encode()).hexdigest()[:16]
        self.label = f"digest.smtp {sender.account.host}:{sender.account.port} -> {to_addr}"

    def send(self, title: str, body: str) -> None:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self._from, self._to, title
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = make_msgid(domain=self._from.rpartition("@")[2] or None)
        msg["Auto-Submitted"] = "auto-generated"  # our own nudges never start a clock
        msg.set_content(body or title)
        try:
            self._sender.send(msg)
        except AuthFailed as exc:
            raise NotifyFailed(self.label, f"login refused: {exc.detail}") from None
        except SendFailed as exc:
            raise NotifyFailed(self.label, str(exc.detail)) from None


class NotificationCounter(Collector):
    """``responsewatch_notifications_total{kind,outcome}``: every delivery attempt."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}

    def add(self, kinds: Sequence[str], outcome: str) -> None:
        with self._lock:
            for kind in kinds:
                self._counts[(kind, outcome)] = self._counts.get((kind, outcome), 0) + 1

    def value(self, kind: str, outcome: str) -> int:
        with self._lock:
            return self._counts.get((kind, outcome), 0)

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "responsewatch_notifications",
            "Nudge delivery attempts, by nudge kind and outcome (sent, failed)",
            labels=["kind", "outcome"],
        )
        with self._lock:
            items = sorted(self._counts.items())
        for (kind, outcome), n in items:
            family.add_metric([kind, outcome], n)
        yield family


@dataclass(frozen=True, slots=True)
class Retry:
    attempts: int = 3
    wait_initial: float = 1.0
    wait_max: float = 10.0
    timeout: float = 60.0


def deliver(
    channel: NotifyChannel,
    title: str,
    body: str,
    *,
    on_attempt: Callable[[bool], None] = lambda _ok: None,
    retry: Retry | None = None,
) -> None:
    """Send through ``channel`` with exponential backoff; raises the last NotifyFailed."""
    policy = retry or Retry()
    for attempt in stamina.retry_context(
        on=NotifyFailed,
        attempts=policy.attempts,
        timeout=policy.timeout,
        wait_initial=policy.wait_initial,
        wait_max=policy.wait_max,
    ):
        with attempt:
            try:
                channel.send(title, body)
            except NotifyFailed:
                on_attempt(False)
                raise
            on_attempt(True)

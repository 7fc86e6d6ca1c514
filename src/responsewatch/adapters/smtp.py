"""Send one message over SMTP: implicit TLS (SMTP_SSL) or STARTTLS, login, bounded retries.

Temporary failures (4xx replies, refused or dropped connections, timeouts) are retried
by stamina, ``delays`` giving the pause before each new attempt. Permanent failures
(5xx replies, certificate errors) are raised at once. Every foreign exception is
translated here (style rule 6): authentication refused -> :class:`AuthFailed`, anything
else -> :class:`SourceUnavailable` (exit code 3), whose ``detail`` carries the SMTP code
and ``permanent`` tells the caller whether trying again later can help.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage

import stamina
import structlog

from responsewatch.errors import AuthFailed, SourceUnavailable
from responsewatch.netutil import is_loopback

__all__ = ["Connect", "SendFailed", "SmtpAccount", "SmtpSender", "connect_smtp"]

log = structlog.get_logger("responsewatch.smtp")

Connect = Callable[["SmtpAccount"], smtplib.SMTP]
DEFAULT_DELAYS = (2.0, 10.0, 30.0)


@dataclass(frozen=True, slots=True)
class SmtpAccount:
    host: str
    port: int = 465
    tls: str = "implicit"  # implicit | starttls | none-loopback-only
    username: str = ""
    secret: Callable[[], str] | None = None  # called only when logging in
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False)
    timeout: float = 30.0

    @property
    def name(self) -> str:
        return f"digest.smtp {self.host}:{self.port}"


class SendFailed(SourceUnavailable):
    """The message was not sent. ``permanent``: a 5xx reply or an untrusted certificate, so
    trying again unchanged cannot help; otherwise the retries were exhausted."""

    def __init__(self, account: str, detail: str, *, permanent: bool) -> None:
        super().__init__(account, detail)
        self.permanent = permanent


class _Temporary(Exception):
    """A failure worth retrying; carries the translated error for the last attempt."""

    def __init__(self, error: SendFailed) -> None:
        super().__init__(str(error))
        self.error = error


def connect_smtp(account: SmtpAccount) -> smtplib.SMTP:
    """A connected, TLS-protected (except on loopback when asked) SMTP session."""
    if account.tls not in ("implicit", "starttls") and not is_loopback(account.host):
        # Refused before connecting: a plain-text session never reaches another machine.
        raise SourceUnavailable(account.name, "tls = none-loopback-only needs a loopback host")
    context = account.ssl_context or ssl.create_default_context()
    if account.tls == "implicit":
        return smtplib.SMTP_SSL(
            account.host, account.port, timeout=account.timeout, context=context
        )
    client = smtplib.SMTP(account.host, account.port, timeout=account.timeout)
    if account.tls == "starttls":
        try:
            client.starttls(context=context)
        except BaseException:
            client.close()
            raise
    return client


def _permanent(account: SmtpAccount, detail: str) -> SendFailed:
    return SendFailed(account.name, detail, permanent=True)


def _temporary(account: SmtpAccount, detail: str) -> _Temporary:
    return _Temporary(SendFailed(account.name, detail, permanent=False))


class SmtpSender:
    """Sends messages through one SMTP account. No I/O until :meth:`send`."""

    def __init__(
        self,
        account: SmtpAccount,
        *,
        connect: Connect = connect_smtp,
        delays: Sequence[float] = DEFAULT_DELAYS,
    ) -> None:
        self.account = account
        self._connect = connect
        self._delays = tuple(delays)

    def send(self, msg: EmailMessage) -> None:
        """Deliver ``msg`` to its To/Cc/Bcc recipients; raises once retries are exhausted.

        stamina runs the attempts; the pause before retry ``n`` is ``delays[n-1]``."""
        failures = 0

        def pause(exc: Exception) -> bool | float:
            nonlocal failures
            if not isinstance(exc, _Temporary) or failures >= len(self._delays):
                return False  # permanent, or the last attempt: no more waiting
            delay = self._delays[failures]
            failures += 1
            log.warning(
                "smtp_retry",
                host=self.account.host,
                attempt=failures,
                delay_s=delay,
                error=str(exc.error.detail),
            )
            return delay

        try:
            for attempt in stamina.retry_context(
                on=pause, attempts=len(self._delays) + 1, timeout=None
            ):
                with attempt:
                    self._send_once(msg)
        except _Temporary as exc:
            raise exc.error from exc.__cause__

    def _send_once(self, msg: EmailMessage) -> None:
        account = self.account
        try:
            client = self._connect(account)
        except ssl.SSLCertVerificationError as exc:
            raise _permanent(account, f"TLS certificate not trusted: {exc.verify_message}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise _temporary(account, f"cannot connect: {exc}") from exc
        try:
            if account.username:
                secret = account.secret() if account.secret else ""
                try:
                    client.login(account.username, secret)
                except smtplib.SMTPAuthenticationError as exc:
                    if 400 <= exc.smtp_code < 500:
                        raise _temporary(account, f"login: {exc.smtp_code}") from exc
                    raise AuthFailed(account.name, f"login refused for {account.username}") from exc
            refused = client.send_message(msg)
            if refused:
                # Some recipients accepted, others not: never resend to those who got it.
                some = ", ".join(f"{rcpt}: {code}" for rcpt, (code, _) in refused.items())
                log.error("smtp_recipients_refused", host=account.host, refused=some)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "recipients refused: " + ", ".join(
                f"{rcpt} {code} {text.decode('utf-8', 'replace')}"
                for rcpt, (code, text) in exc.recipients.items()
            )
            if all(400 <= c < 500 for c in codes):
                raise _temporary(account, detail) from exc
            raise _permanent(account, detail) from exc
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            detail = f"{exc.smtp_code} {text}"
            if 400 <= exc.smtp_code < 500:
                raise _temporary(account, detail) from exc
            raise _permanent(account, detail) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise _temporary(account, f"connection lost: {exc}") from exc
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()

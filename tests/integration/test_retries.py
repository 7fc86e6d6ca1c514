"""Retries run by stamina: SMTP against a real aiosmtpd, Graph against the HTTP fake.

Most tests put stamina in testing mode (no real sleeping) and check the wait each adapter
decided; one per adapter lets stamina really sleep a short wait and measures it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import stamina
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs
from tests.fakes.graph_server import FakeGraph
from tests.integration.test_smtp_digest import HOST, Sink, start

from responsewatch.adapters.graph import GraphAccount, GraphMailSource, _retry_after
from responsewatch.adapters.smtp import SendFailed, SmtpAccount, SmtpSender
from responsewatch.errors import SourceUnavailable
from responsewatch.ports import FolderRef

INBOX = FolderRef("acct", "inbox", "inbox")


class _Token:
    def token(self, *, refresh: bool = False) -> str:
        return "token-1"


def _throttled(status: int, retry_after: str) -> httpx.Response:
    code = "TooManyRequests" if status == 429 else "ServiceUnavailable"
    return httpx.Response(
        status, headers={"Retry-After": retry_after}, json={"error": {"code": code}}
    )


def _graph(fake: FakeGraph, **kw: Any) -> GraphMailSource:
    client = httpx.Client(transport=fake.transport())
    return GraphMailSource(GraphAccount("acct", **kw), client=client, tokens=_Token())


def _waits(logs: list[dict[str, Any]], event: str) -> list[float]:
    return [float(e["delay_s"]) for e in logs if e["event"] == event]


@pytest.fixture
def testing() -> Iterator[None]:
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


# -- Graph --------------------------------------------------------------------------------


def test_graph_honours_an_http_date_retry_after(testing: None) -> None:
    fake = FakeGraph()
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=40), usegmt=True)
    fake.fail_next(_throttled(503, soon), _throttled(429, "3"))
    with capture_logs() as logs:
        assert list(_graph(fake).fetch_since(INBOX, None)) == []
    first, second = _waits(logs, "graph_retry")
    assert 37 <= first <= 40 and second == 3.0


def test_graph_without_retry_after_backs_off_exponentially(testing: None) -> None:
    fake = FakeGraph()
    fake.fail_next(*[httpx.Response(504) for _ in range(3)])
    with capture_logs() as logs:
        list(_graph(fake).fetch_since(INBOX, None))
    assert _waits(logs, "graph_retry") == [1.0, 2.0, 4.0]


def test_graph_gives_up_when_the_waits_would_pass_the_budget(testing: None) -> None:
    fake = FakeGraph()
    fake.fail_next(_throttled(429, "30"), _throttled(429, "30"), _throttled(429, "30"))
    with capture_logs() as logs, pytest.raises(SourceUnavailable, match="2 attempts and 30s"):
        list(_graph(fake, max_wait_s=50).fetch_since(INBOX, None))
    assert _waits(logs, "graph_retry") == [30.0]  # the second 30 s would pass 50 s


def test_graph_really_waits_retry_after() -> None:
    fake = FakeGraph()
    fake.fail_next(_throttled(429, "0.4"))
    started = time.monotonic()
    assert list(_graph(fake).fetch_since(INBOX, None)) == []
    assert time.monotonic() - started >= 0.4
    assert len(fake.delta_requests()) == 2


@given(st.text(max_size=40))
def test_any_retry_after_header_is_a_finite_wait_or_none(value: str) -> None:
    try:
        resp = httpx.Response(429, headers={"Retry-After": value})
    except (UnicodeEncodeError, ValueError):
        return  # not a header httpx can carry
    got = _retry_after(resp)
    assert got is None or 0.0 <= got < float("inf")


def test_retry_after_forms() -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

    def of(value: str) -> float | None:
        return _retry_after(httpx.Response(429, headers={"Retry-After": value}), now)

    assert of("120") == 120.0
    assert of("Thu, 03 Dec 2026 12:01:30 GMT") == 90.0
    assert of("Thu, 03 Dec 2026 12:01:30 -0000") == 90.0  # no zone given: still GMT
    assert of("Thu, 03 Dec 2026 11:00:00 GMT") == 0.0  # in the past: at once
    assert of("-5") == 0.0
    assert of("soon") is None and of("nan") is None and of("inf") is None


# -- SMTP against aiosmtpd ----------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    controller, port = start(sink, "none", None)
    try:
        yield sink, port
    finally:
        controller.stop()


def _mail() -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "rw@example.org", "me@example.org", "digest"
    msg.set_content("hello")
    return msg


def _sender(port: int, delays: tuple[float, ...]) -> SmtpSender:
    return SmtpSender(SmtpAccount(HOST, port, tls="none-loopback-only"), delays=delays)


def test_smtp_retries_temporary_replies_with_the_configured_pauses(
    smtp: tuple[Sink, int],
) -> None:
    sink, port = smtp
    sink.replies = ["451 4.3.0 busy", "421 4.7.0 later"]
    started = time.monotonic()
    with capture_logs() as logs:
        _sender(port, (0.2, 0.3)).send(_mail())
    assert time.monotonic() - started >= 0.5  # stamina slept both pauses
    assert _waits(logs, "smtp_retry") == [0.2, 0.3]
    assert len(sink.received) == 1


def test_smtp_gives_up_after_its_attempts_with_a_temporary_error(
    smtp: tuple[Sink, int], testing: None
) -> None:
    sink, port = smtp
    sink.replies = ["451 4.3.0 busy"] * 5
    with pytest.raises(SendFailed, match="451") as caught:
        _sender(port, (5.0, 5.0)).send(_mail())
    assert not caught.value.permanent
    assert sink.replies == ["451 4.3.0 busy"] * 2  # three attempts, no more
    assert sink.received == []


def test_smtp_does_not_retry_a_permanent_reply(smtp: tuple[Sink, int], testing: None) -> None:
    sink, port = smtp
    sink.replies = ["554 5.7.1 no", None]
    with pytest.raises(SendFailed, match="554") as caught:
        _sender(port, (0.0, 0.0)).send(_mail())
    assert caught.value.permanent and sink.replies == [None]

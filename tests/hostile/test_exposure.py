"""Exposure: the metrics endpoint under hostile clients, plaintext SMTP only to loopback."""

from __future__ import annotations

import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from responsewatch.adapters.metrics import serve_metrics
from responsewatch.adapters.metrics_http import MetricsServer
from responsewatch.adapters.smtp import SmtpAccount, connect_smtp
from responsewatch.config import load_settings
from responsewatch.errors import ConfigError, SourceUnavailable
from tests.unit.test_metrics import demo_registry


@pytest.fixture
def metrics() -> Iterator[MetricsServer]:
    server, thread = serve_metrics(demo_registry(), "127.0.0.1:0")
    assert isinstance(server, MetricsServer)
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)
    assert not thread.is_alive()


def _get(server: MetricsServer, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{server.server_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_only_metrics_and_healthz_are_served(metrics: MetricsServer) -> None:
    status, text = _get(metrics, "/metrics")
    assert status == 200
    assert "responsewatch_awaiting_reply_threads" in {
        f.name for f in text_string_to_metric_families(text)
    }
    assert _get(metrics, "/healthz") == (200, "ok\n")
    for path in ("/", "/metrics/../etc", "/favicon.ico", "/metricsx"):
        status, text = _get(metrics, path)
        assert status == 404 and "responsewatch_" not in text


def test_300_half_open_connections_hold_no_threads(metrics: MetricsServer) -> None:
    before = threading.active_count()
    silent = []
    try:
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", metrics.server_port), timeout=5)
            s.sendall(b"GET /metr")  # and never finishes the request
            silent.append(s)
        time.sleep(0.3)
        assert threading.active_count() - before <= 3  # not one per connection
        # Connections over the bound were refused, not held: a scrape still gets through
        # once some are dropped; the silent ones beyond it are already closed.
        closed = 0
        for s in silent:
            s.settimeout(0.01)
            try:
                closed += s.recv(1) == b""
            except (TimeoutError, BlockingIOError):
                pass
            except OSError:
                closed += 1
        assert closed >= 300 - 64
    finally:
        for s in silent:
            s.close()
    time.sleep(0.2)
    assert _get(metrics, "/metrics")[0] == 200


def test_a_silent_client_is_dropped_after_the_read_timeout() -> None:
    server = MetricsServer(demo_registry(), "127.0.0.1", 0, read_timeout=0.3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        s = socket.create_connection(("127.0.0.1", server.server_port), timeout=5)
        started = time.monotonic()
        assert s.recv(1) == b""  # closed by the server
        assert time.monotonic() - started < 3
        s.close()
        big = socket.create_connection(("127.0.0.1", server.server_port), timeout=5)
        cut = False  # an endless header is cut too, long before its read timeout
        try:
            for _ in range(100):
                big.sendall(b"X-Pad: " + b"a" * 4096 + b"\r\n")
            cut = big.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            cut = True
        big.close()
        assert cut
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- SMTP: the host is checked before any byte is sent -------------------------------------


class _NoNetwork:
    """Audit hook: records every socket.connect and blocks any to a non-loopback address."""

    active = False
    attempts: ClassVar[list[object]] = []

    @classmethod
    def hook(cls, event: str, args: tuple[object, ...]) -> None:
        if cls.active and event == "socket.connect":
            cls.attempts.append(args[1])
            raise OSError("test: no network beyond loopback")


sys.addaudithook(_NoNetwork.hook)


def test_plaintext_smtp_to_another_host_is_refused_before_connecting() -> None:
    account = SmtpAccount(host="smtp.example.net", port=25, tls="none-loopback-only")
    _NoNetwork.attempts.clear()
    _NoNetwork.active = True
    try:
        with pytest.raises(SourceUnavailable, match="loopback"):
            connect_smtp(account)
    finally:
        _NoNetwork.active = False
    assert _NoNetwork.attempts == []


def test_digest_smtp_is_checked_at_config_time(tmp_path: Path) -> None:
    cfg = tmp_path / "rw.toml"
    cfg.write_text(
        '[me]\naddresses = ["me@example.org"]\n'
        '[digest]\nto = "me@example.org"\n'
        '[digest.smtp]\nhost = "smtp.example.net"\nport = 25\ntls = "none-loopback-only"\n'
        'password_env = "X"\n'
    )
    with pytest.raises(ConfigError, match=r"digest\.smtp\.tls"):
        load_settings(cfg)
    cfg.write_text(cfg.read_text().replace("smtp.example.net", "127.0.0.1"))
    assert load_settings(cfg).digest_smtp is not None

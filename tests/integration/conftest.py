"""Integration-test guards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from responsewatch.app import daemon as daemon_module


@pytest.fixture(autouse=True)
def _metrics_on_a_free_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Two test runs share this machine: an in-process daemon serving /metrics on the default
    127.0.0.1:9877 makes one of them fail at random. Every test must ask for port 0."""
    serve = daemon_module.Daemon._serve_metrics

    def checked(self: daemon_module.Daemon) -> None:
        listen = self.settings.metrics_listen
        if listen.rpartition(":")[2] != "0":
            pytest.fail(f"test daemon binds fixed port {listen}; set [metrics] listen = ...:0")
        serve(self)

    monkeypatch.setattr(daemon_module.Daemon, "_serve_metrics", checked)
    yield

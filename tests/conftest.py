"""Fixtures shared by every test folder: ONE real Dovecot per test session."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import pytest
import structlog

from tests.servers.courier import Courier
from tests.servers.cyrus import Cyrus
from tests.servers.dovecot import Dovecot
from tests.support import corpora


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A real Dovecot for the session; raises (test error, never a skip) if it cannot start.

    Tests share it through fresh users (``dovecot.add_user()``); a test that kills or
    restarts a server starts its own instead.
    """
    server = Dovecot.start_new()
    yield server
    server.close()


@pytest.fixture(scope="session")
def cyrus_debian() -> Iterator[Cyrus]:
    """Cyrus 3.6 as Debian ships it: ``INBOX.Sent``, roles in plain LIST."""
    server = Cyrus.start_new("debian")
    yield server
    server.close()


@pytest.fixture(scope="session")
def cyrus_upstream() -> Iterator[Cyrus]:
    """Cyrus 3.6 with the upstream namespace (``Sent``) and ``specialusealways: 0``."""
    server = Cyrus.start_new("upstream")
    yield server
    server.close()


@pytest.fixture(scope="session")
def courier() -> Iterator[Courier]:
    """Courier-IMAP 5.0: no SPECIAL-USE, ``INBOX.`` namespace, two IDLE flavours."""
    server = Courier.start_new()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """CLI tests call ``configure_logging()``, which binds structlog to the CliRunner's
    stderr; once that is closed every later log line would raise. Restore after each test."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def _one_corpus_skip_line(report: pytest.CollectReport | pytest.TestReport) -> None:
    """Every skip for missing corpora gets one location, so ``-ra`` folds them into ONE
    line saying where the corpora go (instead of one line per test and module)."""
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and "corpus tests skipped" in longrepr[2]:
        report.longrepr = (corpora.__file__, 0, longrepr[2])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None, Any, None]:
    outcome = yield
    _one_corpus_skip_line(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    outcome = yield
    _one_corpus_skip_line(outcome.get_result())

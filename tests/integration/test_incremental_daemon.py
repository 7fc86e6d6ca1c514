"""The daemon recomputes only when its inputs change; time alone is carried forward exactly."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from tests.support.build import HOUR, ME, T0, raw

from responsewatch.adapters.store import SqliteStore
from responsewatch.app.bootstrap import bootstrap
from responsewatch.app.daemon import Daemon
from responsewatch.app.rebuild import FINGERPRINT_KEY, fingerprint
from responsewatch.config import settings_from_mapping
from responsewatch.core.models import TurnState


@dataclass
class Clock:
    at: datetime
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        with self.lock:
            return self.at

    def move(self, delta: timedelta) -> None:
        with self.lock:
            self.at += delta


def wait_for(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def deliver(maildir: Path, name: str, data: bytes) -> None:
    (maildir / "tmp" / name).write_bytes(data)
    (maildir / "tmp" / name).rename(maildir / "new" / name)


@pytest.mark.timeout(60)
def test_idle_recomputes_nothing_and_new_mail_recomputes(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    deliver(maildir, "1.a", raw("q1", "jean@acme.fr", [ME], T0, received=T0))
    settings = settings_from_mapping(
        {
            "me": {"addresses": [ME]},
            "store": {"path": str(tmp_path / "s.db")},
            "clients": [{"name": "acme", "domains": ["acme.fr"], "warn_at": "6h"}],
            "accounts": [{"name": "files", "type": "maildir", "path": str(maildir)}],
            "metrics": {"listen": "127.0.0.1:0"},
            "daemon": {"recompute_every": "1h", "sync_every": "1s", "recompute_in_child": False},
        }
    )
    clock = Clock(T0 + HOUR)
    daemon = Daemon(settings, clock=clock)
    daemon.start()
    reader = SqliteStore.open(settings.store_path, readonly=True)
    try:
        wait_for(lambda: reader.message_count() == 1, 20)
        assert reader.meta(FINGERPRINT_KEY) == fingerprint(settings)  # recorded at start-up
        daemon.recompute()
        inc = daemon.incremental
        assert inc is not None
        runs = inc.full_runs
        states = []
        for _ in range(3):  # ok -> due_soon -> overdue, with no new mail: no full run
            clock.move(8 * HOUR)
            daemon.recompute()
            latest = daemon.snapshot.latest()
            assert latest is not None
            app = bootstrap(settings)
            try:
                assert latest == app.analysis(clock.now())[0]
            finally:
                app.close()
            states.append(latest.awaiting[0].state)
        assert states == [TurnState.DUE_SOON, TurnState.DUE_SOON, TurnState.OVERDUE]
        assert inc.full_runs == runs and inc.advanced >= 3
        deliver(maildir, "2.a", raw("r1", ME, ["jean@acme.fr"], T0 + 2 * HOUR, refs=["q1"]))
        # No recompute call: the write wakes the recompute job (its interval is an hour).
        wait_for(lambda: getattr(daemon.snapshot.latest(), "replies", None), 20)
        latest = daemon.snapshot.latest()
        assert inc.full_runs == runs + 1
        assert latest is not None and not latest.awaiting and len(latest.replies) == 1
    finally:
        reader.close()
        assert daemon.shutdown() == 0

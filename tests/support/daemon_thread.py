"""``run_daemon`` on a thread, as the CLI would call it (minus signal handlers): the one
harness the daemon integration tests share."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from responsewatch.app.daemon import Daemon, run_daemon
from responsewatch.app.watch import WatchTiming

# Quick retries so failure tests stay short; long waits so nothing re-syncs on its own.
FAST = WatchTiming(backoff_base_s=0.05, backoff_cap_s=0.5, wait_s=60.0, sync_every_s=60.0)


class RunningDaemon:
    def __init__(self, config: Path, *, start_timeout: float = 10.0, **kw: Any) -> None:
        self.stop = threading.Event()
        self.code: int | None = None
        self.daemon: Daemon | None = None
        started = threading.Event()
        options: dict[str, Any] = {"timing": FAST, **kw}

        def on_start(d: Daemon) -> None:
            self.daemon = d
            started.set()

        def main() -> None:
            self.code = run_daemon(config, stop=self.stop, on_start=on_start, **options)

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        assert started.wait(start_timeout), "daemon did not start"

    def _watchers(self) -> list[Any]:
        assert self.daemon is not None
        return [w for a in self.daemon.workers for w in a.watchers]

    def watchers_idle(self) -> bool:
        watchers = self._watchers()
        return bool(watchers) and all(w.catch_ups >= 1 for w in watchers)

    def watchers_waiting(self) -> bool:
        """Every watcher has caught up and its server acknowledged IDLE."""
        watchers = self._watchers()
        return bool(watchers) and all(w.waiting.is_set() for w in watchers)

    def watcher_failures(self) -> int:
        return min(w.failures for w in self._watchers())

    def shutdown(self, *, expect_code: int | None = None) -> float:
        """Stop it and wait; the seconds it took. ``expect_code``: the exit code it must give."""
        start = time.monotonic()
        self.stop.set()
        self.thread.join(15)
        assert not self.thread.is_alive()
        if expect_code is not None:
            assert self.code == expect_code
        return time.monotonic() - start

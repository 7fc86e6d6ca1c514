"""The composition root wires once: the daemon builds its object graphs at start and reuses
them on every pass; the use cases never import ``bootstrap``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_daemon import T0, msg
from tests.servers.config import ME
from tests.support.daemon_thread import FAST

from responsewatch.adapters.memory import MemoryMailSource
from responsewatch.app import daemon as daemon_module
from responsewatch.app.bootstrap import App
from responsewatch.app.daemon import Daemon
from responsewatch.config import settings_from_mapping
from responsewatch.ports import FolderRef


def test_the_daemon_bootstraps_at_start_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[App] = []
    real = daemon_module.bootstrap

    def counting(*args: Any, **kwargs: Any) -> App:
        app = real(*args, **kwargs)
        built.append(app)
        return app

    monkeypatch.setattr(daemon_module, "bootstrap", counting)
    inbox = FolderRef("mem", "INBOX", "inbox")
    box = MemoryMailSource("mem", {inbox: []})
    box.append(inbox, msg(1), internaldate=T0)
    settings = settings_from_mapping(
        {
            "me": {"addresses": [ME]},
            "store": {"path": str(tmp_path / "w.db")},
            "archive": {"path": str(tmp_path / "archive")},
            "accounts": [{"name": "mem", "type": "graph"}],
            "daemon": {"recompute_in_child": False},
            "metrics": {"listen": "127.0.0.1:0"},
        }
    )
    daemon = Daemon(settings, source_factory=lambda _a: box, timing=FAST)
    daemon.start()
    try:
        at_start = len(built)
        for _ in range(3):  # three $RwAgreement passes, as the scheduler runs them
            daemon._archive_marked()
        daemon.recompute()
        assert len(built) == at_start
        assert all(a.store is not b.store for a in built for b in built if a is not b)
    finally:
        assert daemon.shutdown() == 0


def test_importing_the_use_cases_does_not_load_the_composition_root() -> None:
    code = (
        "import sys, responsewatch.app.archive_app, responsewatch.app.usecases; "
        "print('responsewatch.app.bootstrap' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_digest_loads_the_facts_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.integration.test_smtp_digest import MESSAGES, NOW, RULES

    from responsewatch.adapters.store import SqliteStore
    from responsewatch.app.bootstrap import FixedClock, bootstrap
    from responsewatch.app.digest_app import build_for

    settings = settings_from_mapping(
        {"me": {"addresses": sorted(RULES.me)}, "store": {"path": str(tmp_path / "d.db")}}
    )
    store = SqliteStore.open(settings.store_path)
    store.add_messages(MESSAGES, account="main")
    app = bootstrap(settings, clock=FixedClock(NOW), store=store)
    loads: list[int] = []
    real = SqliteStore.messages

    def counting(self: SqliteStore) -> Any:
        loads.append(1)
        return real(self)

    monkeypatch.setattr(SqliteStore, "messages", counting)
    try:
        digest, _insights = build_for(app, NOW, agreements=lambda _app, _since: ())
    finally:
        app.close()
    assert len(loads) == 1
    assert digest is not None

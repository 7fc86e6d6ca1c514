"""The daemon's recompute in a child process gives exactly the in-process analysis."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.support.mailgen import ME, generate

from responsewatch.adapters.store import MIGRATIONS, SqliteStore
from responsewatch.app.bootstrap import bootstrap
from responsewatch.app.incremental import _compute_in_child
from responsewatch.app.recompute import analysis_in_child, compute_analysis
from responsewatch.config import Settings, settings_from_mapping
from responsewatch.core.parsing import parse_message
from responsewatch.errors import DataError


def test_child_process_analysis_equals_in_process(tmp_path: Path) -> None:
    settings = settings_from_mapping(
        {
            "me": {"addresses": [ME]},
            "store": {"path": str(tmp_path / "s.db")},
            "clients": [{"name": "Acme", "domains": ["acme.fr"]}],
        }
    )
    app = bootstrap(settings)
    app.store.add_messages(parse_message(g.data) for g in generate(30, seed=9))
    app.store.add_ack(
        next(iter(app.store.messages())).message_id, "t", datetime(2026, 9, 2, tzinfo=UTC)
    )
    at = datetime(2026, 12, 1, tzinfo=UTC)
    expected = app.analysis(at)[0]
    app.close()
    got = analysis_in_child(settings, at)
    assert got == expected
    assert got.totals.messages > 100 and got.replies


def _older_store(path: Path) -> None:
    """A store one schema step behind: what a writable open would migrate."""
    db = sqlite3.connect(path, isolation_level=None)
    for version, step in enumerate(MIGRATIONS[:-1], start=1):
        step(db)
        db.execute(f"PRAGMA user_version = {version}")
    db.close()


def _settings(tmp_path: Path) -> Settings:
    return settings_from_mapping(
        {"me": {"addresses": [ME]}, "store": {"path": str(tmp_path / "s.db")}}
    )


@pytest.mark.parametrize("child", ["recompute", "incremental"])
def test_recompute_child_never_migrates_the_store(tmp_path: Path, child: str) -> None:
    settings = _settings(tmp_path)
    _older_store(settings.store_path)
    before = settings.store_path.read_bytes()
    at = datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(DataError, match="schema"):
        if child == "recompute":
            compute_analysis(settings, at)
        else:
            _compute_in_child(settings, at, False)
    db = sqlite3.connect(settings.store_path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) - 1
    db.close()
    assert settings.store_path.read_bytes() == before


def test_recompute_child_reads_a_current_store_without_writing(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    app = bootstrap(settings)
    app.store.add_messages(parse_message(g.data) for g in generate(5, seed=3))
    stored = app.store.message_count()
    app.close()
    changes = SqliteStore.open(settings.store_path, readonly=True)
    token = changes.input_changes()
    got = compute_analysis(settings, datetime(2026, 12, 1, tzinfo=UTC))
    assert got.totals.messages == stored > 5
    assert changes.input_changes() == token
    changes.close()

"""SQLite store: migrations, round trip of facts, atomic batches, data errors."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.support.build import ME, T0, msg

from responsewatch.adapters.store import MIGRATIONS, SqliteStore, migrate
from responsewatch.errors import DataError
from responsewatch.ports import Cursor, FolderRef

INBOX = FolderRef("main", "INBOX", "inbox")


def test_round_trip_of_every_fact(tmp_path: Path) -> None:
    store = SqliteStore.open(tmp_path / "s.db")
    original = msg(
        "a@x",
        "jean@acme.fr",
        [ME, "b@x.fr"],
        T0,
        cc=["c@x.fr"],
        subject="Réunion",
        refs=["p1", "p2"],
        thanks=True,
    )
    assert store.add_messages([original]) == 1
    assert store.add_messages([original]) == 0  # the same Message-ID is one message
    (back,) = list(store.messages())
    assert back == original
    store.close()


def test_wal_and_user_version(tmp_path: Path) -> None:
    SqliteStore.open(tmp_path / "s.db").close()
    db = sqlite3.connect(tmp_path / "s.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_migrations_from_every_older_version_and_rerun_is_noop(tmp_path: Path) -> None:
    for start in range(len(MIGRATIONS)):
        db = sqlite3.connect(tmp_path / f"v{start}.db", isolation_level=None)
        for version, step in enumerate(MIGRATIONS[:start], start=1):
            step(db)
            db.execute(f"PRAGMA user_version = {version}")
        migrate(db)
        migrate(db)
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        db.close()


def test_store_from_a_newer_version_is_a_data_error(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "s.db")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.commit()
    db.close()
    with pytest.raises(DataError, match="newer responsewatch"):
        SqliteStore.open(tmp_path / "s.db")


def test_corrupt_file_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "s.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DataError):
        SqliteStore.open(tmp_path / "s.db")


def test_batch_and_cursor_commit_together(tmp_path: Path) -> None:
    store = SqliteStore.open(tmp_path / "s.db")
    batch = [(1, msg("a@x", "p@x.fr")), (2, msg("b@x", "p@x.fr"))]
    assert store.save_batch(INBOX, batch, Cursor(7, 2)) == 2
    assert store.cursor(INBOX) == Cursor(7, 2)
    assert store.locations("a@x") == [("main", "INBOX", 7, 1)]
    assert store.sync_status()["main"][1] == 2

    class Boom(Exception):
        pass

    def exploding():
        yield (3, msg("c@x", "p@x.fr"))
        raise Boom

    with pytest.raises(Boom):
        store.save_batch(INBOX, exploding(), Cursor(7, 3))  # type: ignore[arg-type]
    assert store.cursor(INBOX) == Cursor(7, 2)
    assert store.message_count() == 2
    store.reset_folder(INBOX)
    assert store.cursor(INBOX) is None and store.message_count() == 2


def test_acks_keywords_and_digest_rows(tmp_path: Path) -> None:
    store = SqliteStore.open(tmp_path / "s.db")
    at = datetime(2026, 11, 3, tzinfo=UTC)
    store.add_ack("a@x", "t1", at)
    store.add_keywords([("b@x", "$RwAck"), ("c@x", "$RwAgreement")], at)
    assert store.acks() == {"a@x": at, "b@x": at}
    assert set(store.messages_with_keyword("$rwagreement")) == {"c@x"}
    store.record_digest("2026-11-03", "sending", at, attempt=True)
    store.record_digest("2026-11-03", "sent", at, message_id="<d@x>")
    assert store.digest_state("2026-11-03") == ("sent", 1, "<d@x>")
    store.record_sync_error("main", "AuthFailed", at)
    store.record_sync_error("main", "AuthFailed", at)
    assert store.sync_errors() == {("main", "AuthFailed"): 2}

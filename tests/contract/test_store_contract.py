"""The Store contract (``ports.Store`` / ``ports.SyncSink``), on every implementation.

``SqliteStore`` on a file is the Store; the daemon's ``StoreWriter`` (a queue in front of a
SqliteStore) is a SyncSink, so the sink half of the contract runs on both: what a sync
writes through either must read back the same. The read-only open is checked last.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.build import ME, T0, msg

from responsewatch.adapters.store import MIGRATIONS, SqliteStore
from responsewatch.adapters.store_writer import StoreWriter
from responsewatch.errors import DataError
from responsewatch.ports import Cursor, FolderRef, PendingArchive, Store, SyncSink

INBOX = FolderRef("acct", "INBOX", "inbox")
SENT = FolderRef("acct", "Sent", "sent")


class Sink:
    """A SyncSink under test and a way to read back what it committed."""

    def __init__(self, kind: str, path: Path) -> None:
        self.kind = kind
        self._path = path
        self.store = SqliteStore.open(path)
        self._writer: StoreWriter | None = None
        self.sink: SyncSink = self.store
        if kind == "writer":
            self._writer = StoreWriter(path)
            self._writer.start()
            self.sink = self._writer

    def committed(self) -> Store:
        """The store as another connection sees it once everything queued is applied."""
        if self._writer is not None:
            assert self._writer.flush()
            assert self._writer.error is None
        return self.store

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.store.close()


@pytest.fixture(params=["sqlite", "writer"])
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sink]:
    s = Sink(request.param, tmp_path / "s.db")
    yield s
    s.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = SqliteStore.open(tmp_path / "s.db")
    yield s
    s.close()


def pending(mid: str, uid: int, folder: FolderRef = INBOX) -> PendingArchive:
    return PendingArchive(mid, folder, 7, uid, "", "Acme", "bon pour accord", "…", "fr", T0)


# -- the sink half: what a sync writes ---------------------------------------------------------


def test_save_batch_stores_facts_and_cursor_together_and_once(sink: Sink) -> None:
    batch = [(1, msg("a@x", "jean@acme.fr")), (2, msg("b@x", ME, ["jean@acme.fr"]))]
    assert sink.sink.cursor(INBOX) is None
    sink.sink.save_batch(INBOX, batch, Cursor(7, 2, 40))
    assert sink.sink.cursor(INBOX) == Cursor(7, 2, 40)
    sink.sink.save_batch(INBOX, batch, Cursor(7, 2, 41))  # a re-fetch after a crash
    got = sink.committed()
    assert sorted(m.message_id for m in got.messages()) == ["a@x", "b@x"]
    assert got.message_count() == 2
    assert got.cursor(INBOX) == Cursor(7, 2, 41)
    assert got.cursor(SENT) is None
    assert got.message("a@x") == batch[0][1]
    assert got.message("nope@x") is None


def test_message_ids_at_answers_this_uidvalidity_only(sink: Sink) -> None:
    sink.sink.save_batch(INBOX, [(5, msg("a@x", "j@acme.fr"))], Cursor(7, 5))
    sink.sink.save_batch(SENT, [(5, msg("s@x", ME))], Cursor(7, 5))
    assert sink.sink.message_ids_at(INBOX, 7, [5, 6]) == {5: "a@x"}
    assert sink.sink.message_ids_at(SENT, 7, [5]) == {5: "s@x"}
    assert sink.sink.message_ids_at(INBOX, 8, [5]) == {}
    assert sink.committed().locations("a@x") == [("acct", "INBOX", 7, 5)]


def test_message_ids_at_beyond_the_parameter_limit(sink: Sink) -> None:
    batch = [(uid, msg(f"m{uid}@x", "j@acme.fr")) for uid in range(1, 1202)]
    sink.sink.save_batch(INBOX, batch, Cursor(7, 1201))
    got = sink.sink.message_ids_at(INBOX, 7, list(range(1, 1300)))
    assert got == {uid: f"m{uid}@x" for uid in range(1, 1202)}


def test_reset_folder_forgets_cursor_and_locations_not_facts(sink: Sink) -> None:
    sink.sink.save_batch(INBOX, [(1, msg("a@x", "j@acme.fr"))], Cursor(7, 1))
    sink.sink.reset_folder(INBOX)
    assert sink.sink.cursor(INBOX) is None
    assert sink.sink.message_ids_at(INBOX, 7, [1]) == {}
    assert [m.message_id for m in sink.committed().messages()] == ["a@x"]


def test_add_messages_is_idempotent_by_message_id(sink: Sink) -> None:
    sink.sink.add_messages([msg("a@x", "j@acme.fr"), msg("b@x", "j@acme.fr")], account="f")
    sink.sink.add_messages([msg("a@x", "j@acme.fr")], account="f")
    assert sink.committed().message_count() == 2


def test_keywords_are_kept_once_with_their_first_sighting(sink: Sink) -> None:
    sink.sink.add_keywords([("a@x", "$RwAck"), ("b@x", "$RwAgreement")], T0)
    sink.sink.add_keywords([("a@x", "$RwAck")], T0 + timedelta(hours=1))
    got = sink.committed()
    assert got.messages_with_keyword("$rwack") == {"a@x": T0}
    assert got.messages_with_keyword("$RwAgreement") == {"b@x": T0}
    assert got.acks() == {"a@x": T0}  # $RwAck is an acknowledgement


def test_sync_success_and_errors_are_recorded(sink: Sink) -> None:
    sink.sink.record_sync_success("acct", T0)
    sink.sink.record_sync_error("acct", "AuthFailed", T0)
    sink.sink.record_sync_error("acct", "AuthFailed", T0 + timedelta(minutes=1))
    got = sink.committed()
    assert got.sync_status()["acct"][0] == T0
    assert got.sync_errors() == {("acct", "AuthFailed"): 2}


def test_pending_archive_is_stored_with_the_batch_and_carried_out(sink: Sink) -> None:
    batch = [(1, msg("a@x", "j@acme.fr")), (2, msg("b@x", "j@acme.fr"))]
    sink.sink.save_batch(INBOX, batch, Cursor(7, 2), [pending("a@x", 1), pending("b@x", 2)])
    assert [p.message_id for p in sink.sink.pending_archive("acct", "INBOX")] == ["a@x", "b@x"]
    assert sink.sink.pending_archive("acct", "Sent") == []
    assert sink.sink.pending_archive("other") == []
    assert sink.sink.pending_archive("acct")[0] == pending("a@x", 1)
    sink.sink.archive_done(["a@x"])
    assert sink.sink.archive_failed("b@x", "timeout", give_up_after=2) is False
    assert [p.message_id for p in sink.sink.pending_archive("acct")] == ["b@x"]
    assert sink.sink.archive_failed("b@x", "timeout", give_up_after=2) is True
    assert sink.sink.pending_archive("acct") == []


# -- the rest of the Store ---------------------------------------------------------------------


def test_acks_are_idempotent_and_the_earliest_wins(store: Store) -> None:
    store.add_ack("a@x", "t1", T0 + timedelta(hours=2))
    store.add_ack("a@x", "t1", T0 + timedelta(hours=5))
    store.add_keywords([("a@x", "$RwAck")], T0 + timedelta(hours=1))
    assert store.acks() == {"a@x": T0 + timedelta(hours=1)}


def test_input_changes_moves_with_facts_keywords_and_acks_only(store: Store) -> None:
    seen = [store.input_changes()]
    store.record_sync_success("acct", T0)
    store.set_meta("k", "v")
    store.record_digest("2026-11-02", "sent", T0, attempt=True)
    assert store.input_changes() == seen[0]  # bookkeeping is not an input
    store.add_messages([msg("a@x", "j@acme.fr")])
    seen.append(store.input_changes())
    store.add_messages([msg("a@x", "j@acme.fr")])  # nothing new: no change
    assert store.input_changes() == seen[-1]
    store.add_keywords([("a@x", "$RwAgreement")], T0)
    seen.append(store.input_changes())
    store.add_ack("a@x", "t", T0)
    seen.append(store.input_changes())
    assert len(set(seen)) == 4


def test_meta_round_trips_and_overwrites(store: Store) -> None:
    assert store.meta("rules") is None
    store.set_meta("rules", "v1")
    store.set_meta("rules", "v2")
    assert store.meta("rules") == "v2"


def test_archive_head_round_trips_per_root(store: Store) -> None:
    assert store.archive_head("/a") is None
    store.set_archive_head("/a", 3, "h3")
    store.set_archive_head("/a", 4, "h4")
    store.set_archive_head("/b", 1, "h1")
    assert store.archive_head("/a") == (4, "h4")
    assert store.archive_head("/b") == (1, "h1")


def test_digest_attempts_accumulate_and_keep_the_message_id(store: Store) -> None:
    store.record_digest("2026-11-02", "failed", T0, error="smtp down", attempt=True)
    store.record_digest("2026-11-02", "sent", T0, message_id="<d@x>", attempt=True)
    store.record_digest("2026-11-02", "sent", T0)
    assert store.digest_state("2026-11-02") == ("sent", 2, "<d@x>")
    assert store.digest_state("2026-11-03") is None
    assert store.digests() == [("2026-11-02", "sent", 2, "<d@x>")]


def test_mail_from_counts_my_mail_per_folder(store: Store) -> None:
    store.save_batch(INBOX, [(1, msg("a@x", "j@acme.fr"))], Cursor(7, 1))
    store.save_batch(SENT, [(1, msg("s@x", ME.upper())), (2, msg("t@x", ME))], Cursor(7, 2))
    assert store.mail_from("acct", [ME]) == {"INBOX": (1, 0), "Sent": (2, 2)}
    assert store.mail_from("other", [ME]) == {}


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 60), st.sampled_from(["a", "b", "c", "d"])), max_size=30))
def test_message_ids_at_agrees_with_what_was_saved(
    tmp_path_factory: pytest.TempPathFactory, saves: list[tuple[int, str]]
) -> None:
    path = tmp_path_factory.mktemp("s") / "s.db"
    store = SqliteStore.open(path)
    expected: dict[int, str] = {}
    for uid, name in saves:
        mid = f"{name}{uid}@x"
        store.save_batch(INBOX, [(uid, msg(mid, "j@acme.fr"))], Cursor(7, uid))
        expected[uid] = mid  # a UID holds one message: the latest save says which
    assert store.message_ids_at(INBOX, 7, list(range(1, 61))) == expected
    store.close()


# -- read-only: the recompute children and the daemon's readers ---------------------------------


def test_readonly_store_reads_but_cannot_write(tmp_path: Path) -> None:
    writable = SqliteStore.open(tmp_path / "s.db")
    writable.add_messages([msg("a@x", "j@acme.fr")])
    reader = SqliteStore.open(tmp_path / "s.db", readonly=True)
    assert [m.message_id for m in reader.messages()] == ["a@x"]
    with pytest.raises(DataError, match="readonly"):
        reader.add_messages([msg("b@x", "j@acme.fr")])
    with pytest.raises(DataError):
        reader.set_meta("k", "v")
    assert writable.message_count() == 1
    reader.close()
    writable.close()


def test_readonly_open_never_migrates_or_creates(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        SqliteStore.open(tmp_path / "absent.db", readonly=True)
    assert not (tmp_path / "absent.db").exists()
    db = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    for version, step in enumerate(MIGRATIONS[:-1], start=1):
        step(db)
        db.execute(f"PRAGMA user_version = {version}")
    with pytest.raises(DataError, match="schema"):
        SqliteStore.open(tmp_path / "old.db", readonly=True)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) - 1
    db.close()

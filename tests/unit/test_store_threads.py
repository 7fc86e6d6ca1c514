"""Persisted conversations updated batch by batch equal the global computation."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.build import T0
from tests.unit.test_advance import VARIANTS
from tests.unit.test_latency import mailboxes as latency_mailboxes
from tests.unit.test_threading import MY, msg
from tests.unit.test_threading import mailboxes as threading_mailboxes

from responsewatch.adapters.store import SqliteStore
from responsewatch.app.pipeline import compute
from responsewatch.app.report import analysis_json
from responsewatch.app.threads_app import compute_from_store, threads_fingerprint
from responsewatch.core.models import Message
from responsewatch.core.threading import build_conversations

_SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _batches(box: list[Message], rnd: random.Random) -> list[list[Message]]:
    order = list(box)
    rnd.shuffle(order)
    cuts = sorted(rnd.sample(range(len(order) + 1), k=min(3, len(order) + 1)))
    out, start = [], 0
    for cut in [*cuts, len(order)]:
        out.append(order[start:cut])
        start = cut
    return out


def _facts(store: SqliteStore) -> dict[str, Message]:
    return {m.message_id: m for m in store.messages()}


def _refresh(store: SqliteStore, me: frozenset[str], fallback: bool) -> int:
    return store.refresh_threads(
        me, subject_fallback=fallback, fingerprint=threads_fingerprint(me, fallback)
    )


@_SETTINGS
@given(threading_mailboxes(), st.booleans(), st.randoms(use_true_random=False))
def test_partition_after_each_batch_equals_the_global_one(
    tmp_path_factory: object, box: list[Message], fallback: bool, rnd: random.Random
) -> None:
    # Copies across folders: some messages arrive twice, in later batches.
    box = box + [m for m in box if rnd.random() < 0.3]
    path = Path(str(tmp_path_factory.mktemp("s"))) / "store.sqlite"  # type: ignore[attr-defined]
    store = SqliteStore.open(path)
    try:
        for batch in _batches(box, rnd):
            store.add_messages(batch)
            _refresh(store, MY, fallback)
            facts = _facts(store)
            expected = build_conversations(list(facts.values()), MY, subject_fallback=fallback)
            assert store.stored_conversations(facts, MY) == expected
    finally:
        store.close()


@_SETTINGS
@given(
    latency_mailboxes(),
    st.sampled_from(sorted(VARIANTS)),
    st.randoms(use_true_random=False),
    st.integers(0, 8 * 24 * 60),
)
def test_analysis_json_equals_the_full_computation(
    tmp_path_factory: object, box: list[Message], variant: str, rnd: random.Random, at: int
) -> None:
    rules = VARIANTS[variant]
    now = T0 + timedelta(minutes=at)
    path = Path(str(tmp_path_factory.mktemp("s"))) / "store.sqlite"  # type: ignore[attr-defined]
    store = SqliteStore.open(path)
    try:
        for batch in _batches(box, rnd):
            store.add_messages(batch)
            facts = _facts(store)
            got, got_convs = compute_from_store(store, facts, rules, now=now)
            want, want_convs = compute(facts, rules, now=now)
            assert got_convs == want_convs
            assert analysis_json(got) == analysis_json(want)
    finally:
        store.close()


def test_a_late_message_merges_two_conversations_and_a_closer_parent_splits_one(
    tmp_path: Path,
) -> None:
    h = timedelta(hours=1)
    store = SqliteStore.open(tmp_path / "s.sqlite")
    first = [
        msg("a", 0 * h, subject="Budget"),
        msg("b", 1 * h, subject="Other", refs=("x",)),
        msg("c", 5 * h, subject="Re: Budget"),  # joins a by subject
    ]
    store.add_messages(first)
    _refresh(store, MY, True)
    # "y" references both a and x: a, b, c become one.
    store.add_messages([msg("y", 2 * h, subject="Misc", refs=("a", "x"))])
    assert _refresh(store, MY, True) == 4
    facts = _facts(store)
    convs = store.stored_conversations(facts, MY)
    assert [set(c.message_ids) for c in convs] == [{"a", "b", "c", "y"}]
    # A new "Budget" at 4 h, from someone sharing nobody with c, becomes c's closest
    # earlier parent: c leaves the merged conversation (subject joins are not monotone).
    store.add_messages([msg("e", 4 * h, subject="Budget", frm="z@q.r", to=("w@q.r",))])
    _refresh(store, MY, True)
    facts = _facts(store)
    convs = store.stored_conversations(facts, MY)
    assert convs == build_conversations(list(facts.values()), MY)
    assert sorted(sorted(c.message_ids) for c in convs) == [["a", "b", "y"], ["c"], ["e"]]
    store.close()


def test_unrelated_batch_rethreads_only_itself(tmp_path: Path) -> None:
    h = timedelta(hours=1)
    store = SqliteStore.open(tmp_path / "s.sqlite")
    store.add_messages([msg(f"m{i}", i * h, subject=f"S{i}") for i in range(200)])
    assert _refresh(store, MY, True) == 200
    store.add_messages([msg("new", 300 * h, subject="Fresh", refs=("m3",))])
    assert _refresh(store, MY, True) == 2  # the new message and m3's conversation
    assert _refresh(store, MY, True) == 0
    assert _refresh(store, MY, False) == 201  # another fingerprint rewrites all
    store.close()


def test_a_read_only_store_that_lags_falls_back_to_the_full_computation(tmp_path: Path) -> None:
    h = timedelta(hours=1)
    path = tmp_path / "s.sqlite"
    writer = SqliteStore.open(path)
    writer.add_messages([msg("a", 0 * h), msg("b", 1 * h, subject="Re: Budget")])
    reader = SqliteStore.open(path, readonly=True)
    rules = VARIANTS["calendar"]
    facts = _facts(reader)
    got = compute_from_store(reader, facts, rules, now=T0)
    assert got == compute(facts, rules, now=T0)
    assert not reader.threads_current(threads_fingerprint(rules.me, True))
    compute_from_store(writer, facts, rules, now=T0)  # the writer catches up
    assert reader.threads_current(threads_fingerprint(rules.me, True))
    assert compute_from_store(reader, facts, rules, now=T0) == compute(facts, rules, now=T0)
    reader.close()
    writer.close()


def test_the_daemon_writer_refreshes_conversations_right_after_new_facts(tmp_path: Path) -> None:
    from responsewatch.app.daemon import StoreWriter

    path = tmp_path / "s.sqlite"
    writer = StoreWriter(path)
    fingerprint = threads_fingerprint(MY, True)
    writer.refresh_threads = lambda store: store.refresh_threads(
        MY, subject_fallback=True, fingerprint=fingerprint
    )
    writer.start()
    h = timedelta(hours=1)
    writer.add_messages([msg("a", 0 * h), msg("b", 1 * h, subject="Re: Budget")])
    assert writer.flush()
    reader = SqliteStore.open(path, readonly=True)
    assert reader.threads_current(fingerprint)
    facts = _facts(reader)
    assert reader.stored_conversations(facts, MY) == build_conversations(list(facts.values()), MY)
    reader.close()
    writer.close()

"""Acknowledgements (`responsewatch ack` and the IMAP keyword `$RwAck`), DESIGN.md "Who
must answer whom": an acknowledged turn closes without a latency, is left out of the latency
statistics and counted as `acknowledged`.

Readings pinned here: a turn closes at its EARLIEST acknowledgement; an acknowledgement
dated before the turn's first message does not close it; a client message after the
acknowledgement opens a new turn. The property at the end checks the analysis against a
plain, separate reading of those rules on random mailboxes with random acknowledgements.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.build import HOUR, ME, T0, msg
from tests.unit.test_latency import NOW, RULES, mailboxes, run, stats

from responsewatch.adapters.store import SqliteStore
from responsewatch.app.pipeline import compute
from responsewatch.app.report import analysis_json
from responsewatch.core.models import Analysis, Message


def acked(a: Analysis) -> list[tuple[str, str, datetime]]:
    return [(k.client, k.message_id, k.acknowledged_at) for k in a.acknowledged]


def test_the_earliest_acknowledgement_of_a_turn_closes_it() -> None:
    messages = [
        msg("c1", "jean@acme.fr", at=T0),
        msg("c2", "jean@acme.fr", at=T0 + HOUR, refs=["c1"]),
        # my answer comes between the two acknowledgements: the turn is already closed
        msg("r1", ME, ["jean@acme.fr"], at=T0 + 4 * HOUR, refs=["c2"]),
    ]
    a = run(messages, acks={"c1": T0 + 6 * HOUR, "c2": T0 + 2 * HOUR})
    assert acked(a) == [("acme", "c1", T0 + 2 * HOUR)]
    assert a.replies == () and a.awaiting == ()
    s = stats(a, "acme")
    assert (s.turns, s.replied, s.acknowledged, s.median_reply_seconds) == (1, 0, 1, None)


def test_a_reply_before_the_acknowledgement_wins() -> None:
    messages = [
        msg("c1", "jean@acme.fr", at=T0),
        msg("r1", ME, ["jean@acme.fr"], at=T0 + 3 * HOUR, refs=["c1"]),
    ]
    a = run(messages, acks={"c1": T0 + 5 * HOUR})
    assert [(r.message_id, r.latency_seconds) for r in a.replies] == [("c1", 3 * 3600)]
    assert a.acknowledged == ()


def test_an_acknowledgement_dated_before_the_turn_is_ignored() -> None:
    messages = [
        msg("c1", "jean@acme.fr", at=T0 + 10 * HOUR),
        msg("c2", "jean@acme.fr", at=T0 + 11 * HOUR, refs=["c1"]),
    ]
    a = run(messages, acks={"c1": T0 + 9 * HOUR})
    assert a.acknowledged == ()
    assert [w.message_ids for w in a.awaiting] == [("c1", "c2")]
    # ... while one at the very instant of the first message counts (and c2, after it,
    # opens a new turn).
    b = run(messages, acks={"c1": T0 + 10 * HOUR})
    assert acked(b) == [("acme", "c1", T0 + 10 * HOUR)]
    assert [w.message_ids for w in b.awaiting] == [("c2",)]


def test_a_client_message_after_the_acknowledgement_opens_a_new_turn() -> None:
    messages = [
        msg("c1", "jean@acme.fr", at=T0),
        msg("c2", "jean@acme.fr", at=T0 + HOUR, refs=["c1"]),
        msg("c3", "jean@acme.fr", at=T0 + 5 * HOUR, refs=["c2"]),
        msg("r1", ME, ["jean@acme.fr"], at=T0 + 7 * HOUR, refs=["c3"]),
    ]
    a = run(messages, acks={"c1": T0 + 2 * HOUR})
    assert acked(a) == [("acme", "c1", T0 + 2 * HOUR)]
    # latency runs from c3, the new turn's first message, not from c1
    assert [(r.message_id, r.latency_seconds) for r in a.replies] == [("c3", 2 * 3600)]
    s = stats(a, "acme")
    assert (s.turns, s.replied, s.acknowledged, s.awaiting) == (2, 1, 1, 0)
    assert s.median_reply_seconds == 2 * 3600


def test_acknowledged_turns_leave_latency_statistics_and_breaches() -> None:
    # Without the ack the turn is overdue (a breach); acknowledged, it is neither.
    messages = [msg("c1", "jean@acme.fr", at=T0)]
    before = stats(run(messages), "acme")
    assert (before.overdue, before.breaches, before.awaiting) == (1, 1, 1)
    a = run(messages, acks={"c1": T0 + 30 * HOUR})
    s = stats(a, "acme")
    assert (s.overdue, s.breaches, s.awaiting, s.acknowledged, s.turns) == (0, 0, 0, 1, 1)
    assert (s.median_reply_seconds, s.p90_reply_seconds) == (None, None)
    row = next(c for c in analysis_json(a)["clients"] if c["client"] == "acme")
    assert (row["acknowledged"], row["awaiting"], row["median_reply_seconds"]) == (1, 0, None)


def test_an_acknowledgement_closes_only_the_turns_holding_its_message() -> None:
    messages = [
        msg("c1", "jean@acme.fr", at=T0),
        msg("b1", "mike@bolt.com", at=T0 + HOUR, refs=["c1"]),
    ]
    a = run(messages, acks={"b1": T0 + 2 * HOUR})
    assert acked(a) == [("bolt", "b1", T0 + 2 * HOUR)]
    assert [w.client for w in a.awaiting] == ["acme"]


def test_store_keeps_the_earliest_of_ack_and_rwack_keyword(tmp_path: Path) -> None:
    store = SqliteStore.open(tmp_path / "rw.db")
    try:
        store.add_keywords([("c1", "$RWACK"), ("c2", "$RwAck"), ("c3", "$Other")], T0 + 5 * HOUR)
        store.add_ack("c1", "t1", T0 + 2 * HOUR)  # earlier than the keyword: kept
        store.add_ack("c2", "t1", T0 + 9 * HOUR)  # later than the keyword: ignored
        store.add_keywords([("c2", "$RwAck")], T0 + 7 * HOUR)  # first sighting stays
        assert store.acks() == {"c1": T0 + 2 * HOUR, "c2": T0 + 5 * HOUR}
    finally:
        store.close()


# -- property: a separate, plain reading of the rules ----------------------------------------

CLIENT_OF = {"acme.fr": "acme", "bolt.com": "bolt"}


def client_of(address: str | None) -> str | None:
    return CLIENT_OF.get((address or "").rpartition("@")[2]) if address != ME else None


def reference(
    box: list[Message], conversations: list[tuple[str, tuple[str, ...]]], acks: dict[str, datetime]
) -> tuple[set[tuple[str, str, datetime]], set[tuple[str, str]], set[tuple[str, ...]]]:
    """(acknowledged, replies, awaiting turns) read literally from DESIGN.md, per conversation:
    in time order, first close every open turn whose earliest acknowledgement at or after its
    first message is due, then let the message open, extend or answer turns."""
    by_id = {m.message_id: m for m in box}
    done: set[tuple[str, str, datetime]] = set()
    replies: set[tuple[str, str]] = set()
    waiting: set[tuple[str, ...]] = set()
    for _thread, ids in conversations:
        timed = sorted(
            ((m.date, m.message_id, m) for m in (by_id[i] for i in ids) if m.date is not None),
            key=lambda t: (t[0], t[1]),
        )
        turns: dict[str, list[Message]] = {}

        def close(upto: datetime | None, turns: dict[str, list[Message]] = turns) -> None:
            for client, turn in list(turns.items()):
                since = turn[0].date
                assert since is not None
                times = [acks[m.message_id] for m in turn if m.message_id in acks]
                times = [t for t in times if t >= since]
                if times and (upto is None or min(times) <= upto):
                    done.add((client, turn[0].message_id, min(times)))
                    del turns[client]

        for when, _mid, m in timed:
            close(when)
            sender = client_of(m.from_addr)
            if sender is not None and not m.automated and ME in m.to:
                if not m.thanks_only:
                    turns.setdefault(sender, []).append(m)
            elif m.from_addr == ME and not m.automated and not m.subject.startswith("TR:"):
                for client in {c for c in map(client_of, (*m.to, *m.cc)) if c}:
                    turn = turns.get(client)
                    if turn is not None and when > turn[0].date:  # type: ignore[operator]
                        replies.add((turn[0].message_id, m.message_id))
                        del turns[client]
        close(None)
        waiting |= {tuple(m.message_id for m in turn) for turn in turns.values()}
    return done, replies, waiting


@st.composite
def box_and_acks(draw: st.DrawFn) -> tuple[list[Message], dict[str, datetime]]:
    box = draw(mailboxes())
    acks: dict[str, datetime] = {}
    for m in box:
        if m.from_addr != ME and draw(st.integers(0, 2)) == 0:
            base = m.date or T0
            acks[m.message_id] = base + timedelta(minutes=draw(st.integers(-600, 3000)))
    return box, acks


@settings(max_examples=100, deadline=None)
@given(box_and_acks())
def test_acknowledgements_follow_the_plain_reading(case: tuple[list[Message], dict]) -> None:
    box, acks = case
    a, conversations = compute({m.message_id: m for m in box}, RULES, now=NOW, acks=acks)
    done, replies, waiting = reference(
        box, [(c.thread_id, c.message_ids) for c in conversations], acks
    )
    assert set(acked(a)) == done
    assert {(r.message_id, r.reply_message_id) for r in a.replies} == replies
    assert {w.message_ids for w in a.awaiting} == waiting
    counts: dict[str, int] = defaultdict(int)
    for client, _mid, at in done:
        counts[client] += 1
        assert at in acks.values()
    for s in a.clients:
        assert s.acknowledged == counts[s.client]
        assert s.turns == s.replied + s.acknowledged + s.awaiting
        # acknowledged turns never reach the latency figures
        latencies = [r.latency_seconds for r in a.replies if r.client == s.client]
        assert s.median_reply_seconds == (statistics.median(latencies) if latencies else None)

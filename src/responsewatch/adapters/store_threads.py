"""Persisted conversations (issue 17 step 4): which stored message belongs to which
conversation, kept up to date batch by batch with ``core.threading.build_conversations``
run on the affected messages only.

Tables (migration ``_v_threads``):

- ``conv_message(message_id, thread_id)``: the partition itself, one row per stored message.
- ``conv_node(node, thread_id)``: every key a message can be linked through (its own id,
  each In-Reply-To/References id, its provider thread and Thread-Index GUID, the last two
  behind a NUL prefix no Message-ID carries). A superset of the links the union-find
  really used (a forged "from me" message's references are listed too): that only makes
  the affected set larger, never wrong.
- ``conv_base(base, message_id)``: the subject-fallback index, base subject -> messages.

Why re-threading the affected set equals the global answer. Let C be the set built by
:func:`affected` for a batch N of new messages: start from N; repeatedly add every stored
conversation that holds a node of a message in C, or a message whose base subject is the
base subject of a message in C; add all messages of such a conversation. At the fixed
point, C is a union of old conversations plus N that is closed under (a) header links:
a header union joins two messages sharing a node; two old messages doing so were already
in one old conversation (header unions only grow when messages are added), and a new
message's nodes are looked up directly; (b) the subject fallback: it only joins messages
of the same base subject, and every stored message of each base in C is in C. In
``build_conversations`` the entries are sorted by (time, undated last, id) whatever the
input, so the entries of C keep their relative order; each subject candidate in C sees
the same pool for its base (complete in C), the same "most recent strictly earlier"
parent, and the same participants of the parent's conversation, because a component
containing a message of C only ever unions with components in C (a and b), so it is
built by the same unions in the same order. Hence the conversations of C are exactly the
global conversations meeting C, and those outside C are unchanged (same members, same
earliest message, so the same ``thread_id``). Subject unions are not monotone (a new
message can become a closer parent and so split an old subject join): that is why whole
bases are reloaded, not only whole conversations.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime

from responsewatch.core.models import Conversation, Message, message_time
from responsewatch.core.subjects import split_subject
from responsewatch.core.threading import build_conversations

__all__ = [
    "affected",
    "create_tables",
    "message_ids_of",
    "nodes_of",
    "rewrite",
    "stored_conversations",
    "update",
]

_CHUNK = 500  # ids per IN (...): well under SQLite's variable limit
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Loader = Callable[[Sequence[str]], Iterable[Message]]


def create_tables(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE conv_message (message_id TEXT NOT NULL, thread_id TEXT NOT NULL)")
    db.execute("CREATE TABLE conv_node (node TEXT NOT NULL, thread_id TEXT NOT NULL)")
    db.execute("CREATE TABLE conv_base (base TEXT NOT NULL, message_id TEXT NOT NULL)")
    _create_indexes(db)


def _create_indexes(db: sqlite3.Connection) -> None:
    db.execute("CREATE UNIQUE INDEX conv_message_by_id ON conv_message(message_id)")
    db.execute("CREATE INDEX conv_message_by_thread ON conv_message(thread_id)")
    db.execute("CREATE INDEX conv_node_by_node ON conv_node(node)")
    db.execute("CREATE INDEX conv_node_by_thread ON conv_node(thread_id)")
    db.execute("CREATE INDEX conv_base_by_base ON conv_base(base)")
    db.execute("CREATE INDEX conv_base_by_message ON conv_base(message_id)")


def nodes_of(msg: Message) -> Iterator[str]:
    yield msg.message_id
    yield from msg.in_reply_to
    yield from msg.references
    if msg.provider_thread is not None:
        yield "\0p" + msg.provider_thread
    if msg.thread_index_guid is not None:
        yield "\0g" + msg.thread_index_guid


def _base_of(msg: Message) -> str:
    return split_subject(msg.subject)[1]


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _select(db: sqlite3.Connection, sql: str, keys: Iterable[str]) -> set[str]:
    """``sql`` has one ``{}`` for the placeholders; returns the first column."""
    found: set[str] = set()
    ordered = sorted(set(keys))
    for chunk in _chunks(ordered):
        marks = ",".join("?" * len(chunk))
        found.update(row[0] for row in db.execute(sql.format(marks), chunk))
    return found


def message_ids_of(db: sqlite3.Connection, threads: Iterable[str]) -> set[str]:
    return _select(db, "SELECT message_id FROM conv_message WHERE thread_id IN ({})", threads)


def affected(
    db: sqlite3.Connection, new: Mapping[str, Message], load: Loader
) -> tuple[dict[str, Message], set[str]]:
    """The closure C of the module docstring: its messages (new ones included) and the
    ids of the stored conversations it covers."""
    messages = dict(new)
    threads: set[str] = set()
    done_nodes: set[str] = set()
    done_bases: set[str] = set()
    fresh_msgs = list(new.values())
    while fresh_msgs:
        nodes = {n for m in fresh_msgs for n in nodes_of(m)} - done_nodes
        bases = {b for m in fresh_msgs if (b := _base_of(m))} - done_bases
        done_nodes |= nodes
        done_bases |= bases
        found = _select(db, "SELECT thread_id FROM conv_node WHERE node IN ({})", nodes)
        by_base = _select(db, "SELECT message_id FROM conv_base WHERE base IN ({})", bases)
        found |= _select(db, "SELECT thread_id FROM conv_message WHERE message_id IN ({})", by_base)
        found -= threads
        threads |= found
        wanted = [mid for mid in sorted(message_ids_of(db, found)) if mid not in messages]
        fresh_msgs = []
        for chunk in _chunks(wanted):
            for msg in load(chunk):
                messages[msg.message_id] = msg
                fresh_msgs.append(msg)
    return messages, threads


def _insert(
    db: sqlite3.Connection, conversations: Iterable[Conversation], messages: Mapping[str, Message]
) -> None:
    member: list[tuple[str, str]] = []
    node_rows: list[tuple[str, str]] = []
    base_rows: list[tuple[str, str]] = []
    for conv in conversations:
        tid = conv.thread_id
        for mid in conv.message_ids:
            msg = messages[mid]
            member.append((mid, tid))
            node_rows.extend((node, tid) for node in set(nodes_of(msg)))
            base = _base_of(msg)
            if base:
                base_rows.append((base, mid))
    db.executemany("INSERT INTO conv_message VALUES (?, ?)", member)
    db.executemany("INSERT INTO conv_node VALUES (?, ?)", node_rows)
    db.executemany("INSERT INTO conv_base VALUES (?, ?)", base_rows)


def update(
    db: sqlite3.Connection,
    new: Mapping[str, Message],
    load: Loader,
    me: frozenset[str],
    *,
    subject_fallback: bool,
) -> int:
    """Re-thread what the new messages touch; returns how many messages were re-threaded.
    Run inside the caller's transaction."""
    if not new:
        return 0
    messages, threads = affected(db, new, load)
    conversations = build_conversations(
        list(messages.values()), me, subject_fallback=subject_fallback
    )
    ids = sorted(messages)
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        db.execute(f"DELETE FROM conv_message WHERE message_id IN ({marks})", chunk)
        db.execute(f"DELETE FROM conv_base WHERE message_id IN ({marks})", chunk)
    for chunk in _chunks(sorted(threads)):
        marks = ",".join("?" * len(chunk))
        db.execute(f"DELETE FROM conv_node WHERE thread_id IN ({marks})", chunk)
    _insert(db, conversations, messages)
    return len(messages)


def rewrite(
    db: sqlite3.Connection,
    messages: Mapping[str, Message],
    me: frozenset[str],
    *,
    subject_fallback: bool,
) -> list[Conversation]:
    """Replace the derived tables by the global answer (a rebuild). Inside a transaction."""
    conversations = build_conversations(
        list(messages.values()), me, subject_fallback=subject_fallback
    )
    # Bulk load without the indexes, then build each index once (sorted): several times
    # faster than keeping three B-trees balanced row by row.
    for table in ("conv_message", "conv_node", "conv_base"):
        db.execute(f"DROP TABLE {table}")
    db.execute("CREATE TABLE conv_message (message_id TEXT NOT NULL, thread_id TEXT NOT NULL)")
    db.execute("CREATE TABLE conv_node (node TEXT NOT NULL, thread_id TEXT NOT NULL)")
    db.execute("CREATE TABLE conv_base (base TEXT NOT NULL, message_id TEXT NOT NULL)")
    _insert(db, conversations, messages)
    _create_indexes(db)
    return conversations


def stored_conversations(
    db: sqlite3.Connection, messages: Mapping[str, Message], me: frozenset[str]
) -> list[Conversation]:
    """The persisted partition, in ``build_conversations``' order: each conversation's
    messages by (time, undated last, id), conversations by their first message."""
    groups: dict[str, list[tuple[tuple[bool, datetime, str], str]]] = {}
    for mid, tid in db.execute("SELECT message_id, thread_id FROM conv_message"):
        msg = messages.get(mid)
        if msg is None:
            continue
        time = message_time(msg, me)
        groups.setdefault(tid, []).append(((time is None, time or _EPOCH, mid), mid))
    keyed = []
    for tid, members in groups.items():
        members.sort()
        keyed.append((members[0][0], Conversation(tid, tuple(mid for _, mid in members))))
    keyed.sort(key=lambda pair: pair[0])
    return [conv for _, conv in keyed]

"""Messages -> conversations (DESIGN.md "Conversations").

Links are unions in a union-find over message ids (no recursion, so a 50,000-deep reply
chain costs nothing special): provider conversation ids, In-Reply-To/References (ids of
absent messages included, so two replies to a message we never saw still meet), and the
Outlook Thread-Index GUID. Then, optionally, the subject fallback joins a reply that carries
no reference at all to the most recent earlier message with the same base subject, under a
30-day and a shared-participant condition.

The result depends only on the set of messages: the input is put in a canonical order first,
and every tie is broken by message id.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from responsewatch.core.forged import is_suspicious
from responsewatch.core.models import Conversation, Message, message_time
from responsewatch.core.subjects import REPLY_PREFIXES, split_subject

__all__ = ["SUBJECT_WINDOW", "build_conversations", "thread_id_for"]

SUBJECT_WINDOW = timedelta(days=30)

# Stand-in for "undated" in sort keys; the leading bool already puts undated messages last.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_SortKey = tuple[bool, datetime, str]


def thread_id_for(first_message_id: str) -> str:
    """The opaque, stable id of a conversation whose earliest message is ``first_message_id``."""
    return "t" + hashlib.sha256(first_message_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class _Entry(NamedTuple):
    """One message after de-duplication: its time, its pooled links, its representative."""

    message_id: str
    time: datetime | None
    links: Collection[str]
    msg: Message


def _sort_key(time: datetime | None, message_id: str) -> _SortKey:
    return (time is None, time or _EPOCH, message_id)


class _UnionFind:
    """Union-find over ints: iterative find with path compression, union by size.

    Nodes ``0..n-1`` are the messages (in entry order); ids only referenced get later nodes.
    """

    def __init__(self, ids: Sequence[str]) -> None:
        self.index: dict[str, int] = {mid: i for i, mid in enumerate(ids)}
        self.parent: list[int] = list(range(len(ids)))
        self.size: list[int] = [1] * len(ids)

    def node_under(self, item: str, root: int) -> int:
        """The node of ``item``; one seen for the first time hangs straight under ``root``
        (no union needed: the common case for references to absent messages)."""
        idx = self.index.get(item)
        if idx is None:
            idx = self.index[item] = len(self.parent)
            self.parent.append(root)
            self.size.append(1)
            self.size[root] += 1
        return idx

    def find(self, idx: int) -> int:
        parent = self.parent
        root = idx
        while parent[root] != root:
            root = parent[root]
        while parent[idx] != root:
            parent[idx], idx = root, parent[idx]
        return root

    def union(self, a: int, b: int) -> int:
        """Merge the sets of nodes ``a`` and ``b``; return the surviving root."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        return ra


def _participants(msg: Message, me: frozenset[str]) -> set[str]:
    people = {a.lower() for a in msg.to}
    people.update(a.lower() for a in msg.cc)
    if msg.from_addr:
        people.add(msg.from_addr.lower())
    people.difference_update(me)
    return people


def _dedupe(messages: Iterable[Message], me: frozenset[str]) -> list[_Entry]:
    """One entry per message id, sorted by (time, undated last, id), whatever the input order.

    Copies of one id (the caller should already have merged them) pool their links; the
    other facts come from a deterministic representative so that order cannot matter.
    """
    first: dict[str, Message] = {}
    copies: dict[str, list[Message]] = {}
    for msg in messages:
        seen = first.setdefault(msg.message_id, msg)
        if seen is not msg:
            copies.setdefault(msg.message_id, [seen]).append(msg)
    keyed: list[tuple[_SortKey, _Entry]] = []
    for message_id, rep in first.items():
        group = copies.get(message_id)
        if group is None:
            # A repeated id in a links tuple is only a no-op union: no set needed.
            links: Collection[str] = rep.in_reply_to + rep.references
        else:
            pooled: set[str] = set()
            rep = min(group, key=lambda m: _rep_key(m, me))
            for msg in group:
                pooled.update(msg.in_reply_to)
                pooled.update(msg.references)
            links = frozenset(pooled)
        if rep.warnings and is_suspicious(rep, me):
            links = ()  # a forged "from me" links nothing (it could merge conversations)
        time = message_time(rep, me)
        keyed.append((_sort_key(time, message_id), _Entry(message_id, time, links, rep)))
    keyed.sort(key=lambda pair: pair[0])
    return [entry for _, entry in keyed]


def _rep_key(msg: Message, me: frozenset[str]) -> tuple[object, ...]:
    return (
        *_sort_key(message_time(msg, me), msg.message_id),
        msg.subject,
        msg.from_addr or "",
        tuple(sorted(msg.to)),
        tuple(sorted(msg.cc)),
        msg.provider_thread or "",
        msg.thread_index_guid or "",
    )


def _link_by_headers(entries: Sequence[_Entry], uf: _UnionFind, me: frozenset[str]) -> None:
    by_provider: dict[str, int] = {}
    by_guid: dict[str, int] = {}
    find, node_under = uf.find, uf.node_under
    for i, entry in enumerate(entries):
        if entry.links:
            root = find(i)
            for ref in entry.links:
                other = find(node_under(ref, root))
                if other != root:
                    root = uf.union(root, other)
        if entry.msg.provider_thread is not None:
            uf.union(by_provider.setdefault(entry.msg.provider_thread, i), i)
        guid = entry.msg.thread_index_guid
        if guid is not None and not (entry.msg.warnings and is_suspicious(entry.msg, me)):
            uf.union(by_guid.setdefault(guid, i), i)


def _link_by_subject(entries: Sequence[_Entry], me: frozenset[str], uf: _UnionFind) -> None:
    me_lower = frozenset(a.lower() for a in me)
    # Every dated message, per base subject, in time order: the pool of possible parents.
    pool: dict[str, list[int]] = {}
    pool_times: dict[str, list[datetime]] = {}
    candidates: list[tuple[int, datetime, str]] = []
    for i, entry in enumerate(entries):  # already in (time, id) order, undated last
        if entry.time is None:
            break
        if entry.msg.warnings and is_suspicious(entry.msg, me):
            continue
        prefixes, base = split_subject(entry.msg.subject)
        if not base:
            continue
        pool.setdefault(base, []).append(i)
        pool_times.setdefault(base, []).append(entry.time)
        if not entry.links and not REPLY_PREFIXES.isdisjoint(prefixes):
            candidates.append((i, entry.time, base))
    if not candidates:
        return

    # Participants (minus me) per current conversation root, merged as unions happen. Only
    # conversations holding a candidate or a possible parent can ever be asked about.
    bases = {base for _, _, base in candidates}
    relevant = {uf.find(i) for base in bases for i in pool[base]}
    people: dict[int, set[str]] = {}
    find = uf.find
    for i, entry in enumerate(entries):
        root = find(i)
        if root not in relevant:
            continue
        msg = entry.msg
        bucket = people.get(root)
        if bucket is None:
            bucket = people[root] = set()
        bucket.update(map(str.lower, msg.to))  # map: C-level, this loop sees every message
        bucket.update(map(str.lower, msg.cc))
        if msg.from_addr:
            bucket.add(msg.from_addr.lower())
    for bucket in people.values():
        bucket -= me_lower
    own = {cand: _participants(entries[cand].msg, me_lower) for cand, _, _ in candidates}

    for cand, time, base in candidates:
        at = bisect_left(pool_times[base], time) - 1  # the most recent STRICTLY earlier one
        if at < 0 or time - pool_times[base][at] > SUBJECT_WINDOW:
            continue
        parent_root = uf.find(pool[base][at])
        cand_root = uf.find(cand)
        if parent_root == cand_root or people[parent_root].isdisjoint(own[cand]):
            continue
        merged = uf.union(parent_root, cand_root)
        absorbed = cand_root if merged == parent_root else parent_root
        people[merged] |= people.pop(absorbed)


def build_conversations(
    messages: Sequence[Message], me: frozenset[str], *, subject_fallback: bool = True
) -> list[Conversation]:
    """Partition ``messages`` into conversations (DESIGN.md "Conversations").

    ``me`` holds my lower-cased addresses: they decide which time a message counts at and
    are ignored by the subject fallback's shared-participant test. Messages with the same
    ``message_id`` count as one. The result does not depend on the input order; each
    conversation's ``message_ids`` and the list itself are in (time, undated last, id) order.
    """
    entries = _dedupe(messages, me)
    uf = _UnionFind([e.message_id for e in entries])
    _link_by_headers(entries, uf, me)
    if subject_fallback:
        _link_by_subject(entries, me, uf)

    groups: dict[int, list[str]] = {}
    for i, entry in enumerate(entries):  # sorted, so each group comes out sorted too
        groups.setdefault(uf.find(i), []).append(entry.message_id)
    # Groups were created in the order of their first (earliest) message.
    return [Conversation(thread_id_for(ids[0]), tuple(ids)) for ids in groups.values()]

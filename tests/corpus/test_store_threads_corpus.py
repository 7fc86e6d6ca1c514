"""On real mail (3 Enron users and a mailing list): conversations persisted batch by batch,
in a random order, equal the global threading, and the analysis JSON is byte-identical."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from responsewatch.adapters.store import SqliteStore
from responsewatch.app.pipeline import compute, load_corpus
from responsewatch.app.report import analysis_json
from responsewatch.app.threads_app import compute_from_store, threads_fingerprint
from responsewatch.core.models import message_time
from responsewatch.core.rules import Rules
from responsewatch.core.threading import build_conversations
from tests.corpus.test_parsing_corpus import ENRON

CASES = [("real/enron/" + u, ENRON[u]) for u in sorted(ENRON)[:3]]
# A list year: many subject-only replies, no "me" among the participants.
CASES.append(("real/lists/linux-mips-2013.mbox.gz", "nobody@example.invalid"))


@pytest.mark.parametrize("index", range(4))
def test_random_batches_equal_the_global_answer(corpora: Path, tmp_path: Path, index: int) -> None:
    where, me_addr = CASES[index]
    messages = load_corpus([corpora / where]).messages
    me = frozenset({me_addr})
    rules = Rules(me=me)
    rnd = random.Random(index)
    order = list(messages.values())
    rnd.shuffle(order)
    cuts = sorted(rnd.sample(range(1, len(order)), k=min(5, len(order) - 1)))
    store = SqliteStore.open(tmp_path / "s.sqlite")
    start, rethreaded = 0, 0
    for cut in [*cuts, len(order)]:
        store.add_messages(order[start:cut])
        start = cut
        rethreaded += store.refresh_threads(
            me, subject_fallback=True, fingerprint=threads_fingerprint(me, True)
        )
    facts = {m.message_id: m for m in store.messages()}
    assert store.stored_conversations(facts, me) == build_conversations(list(facts.values()), me)
    times = sorted(t for m in facts.values() if (t := message_time(m, me)) is not None)
    now = times[len(times) * 2 // 3]
    got = compute_from_store(store, facts, rules, now=now)[0]
    want = compute(facts, rules, now=now)[0]
    assert json.dumps(analysis_json(got)) == json.dumps(analysis_json(want))
    store.close()
    print(f"{where}: {len(facts)} messages, {rethreaded} re-threaded over {len(cuts) + 1} batches")

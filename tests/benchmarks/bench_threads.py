"""Persisted conversations at scale: full rewrite (a rebuild) and one new message.

Fills a store with ``--messages`` generated messages, then times, in the same run:
- the full path's threading (``build_conversations`` on all facts, the baseline);
- ``refresh_threads(force=True)``: reading the facts, threading, writing the tables;
- one new client reply to an old conversation: ``refresh_threads`` (incremental);
- ``App``-style analysis from stored conversations vs ``pipeline.compute``.

Usage: python tests/benchmarks/bench_threads.py [--messages 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from responsewatch.adapters.store import SqliteStore  # noqa: E402
from responsewatch.app.pipeline import compute  # noqa: E402
from responsewatch.app.threads_app import compute_from_store, threads_fingerprint  # noqa: E402
from responsewatch.core.parsing import parse_message  # noqa: E402
from responsewatch.core.rules import Rules  # noqa: E402
from responsewatch.core.threading import build_conversations  # noqa: E402
from tests.support.build import raw  # noqa: E402
from tests.support.mailgen import CLIENTS, ME, generate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    me = frozenset({ME})
    rules = Rules(me=me)
    fp = threads_fingerprint(me, True)
    generated = generate(args.messages // 4 + 1)[: args.messages]
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore.open(Path(tmp) / "store.sqlite")
        store.add_messages(parse_message(g.data) for g in generated)
        facts = {m.message_id: m for m in store.messages()}
        n = len(facts)
        t = time.perf_counter()
        convs = build_conversations(list(facts.values()), me)
        threading_s = time.perf_counter() - t
        t = time.perf_counter()
        store.refresh_threads(me, subject_fallback=True, fingerprint=fp, force=True)
        rewrite_s = time.perf_counter() - t
        old = next(c for c in convs if len(c.message_ids) > 2)
        client = next(iter(CLIENTS.values()))[0]
        new = parse_message(
            raw("<bench-new@x>", client, [ME], None, subject="Re: x", refs=[old.message_ids[-1]])
        )
        store.add_messages([new])
        t = time.perf_counter()
        touched = store.refresh_threads(me, subject_fallback=True, fingerprint=fp)
        one_s = time.perf_counter() - t
        facts = {m.message_id: m for m in store.messages()}
        now = max(m.arrival or m.date for m in facts.values() if (m.arrival or m.date))  # type: ignore[type-var]
        t = time.perf_counter()
        full, _ = compute(facts, rules, now=now)
        full_s = time.perf_counter() - t
        t = time.perf_counter()
        got, _ = compute_from_store(store, facts, rules, now=now)
        stored_s = time.perf_counter() - t
        assert got == full
        store.close()
    print(f"messages: {n}")
    print(f"threading all (baseline): {threading_s:.2f} s")
    print(
        f"rewrite tables (read+thread+write): {rewrite_s:.2f} s "
        f"(ratio {rewrite_s / threading_s:.2f}; 1M extrapolated {rewrite_s * 1e6 / n:.0f} s)"
    )
    print(
        f"one new message: {one_s * 1000:.1f} ms, {touched} messages re-threaded "
        f"(ratio to threading all {one_s / threading_s:.4f})"
    )
    print(
        f"analysis: full {full_s:.2f} s, from stored conversations {stored_s:.2f} s "
        f"(ratio {stored_s / full_s:.2f})"
    )


if __name__ == "__main__":
    main()

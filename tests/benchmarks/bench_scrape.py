"""Scrape cost of /metrics for a store of 100,000 messages and 50 clients.

Target: p99 under 50 ms. The Analysis is computed once, as the daemon does after a sync;
each scrape then runs ``generate_latest`` over the full registry (our collector, which
also reads sync status, sync errors from SQLite, plus process metrics). As an in-run
baseline it times a registry holding only prometheus_client's process collector, and it
repeats the scrapes while another thread writes to the same store (separate connection,
WAL) to show scraping and ingestion do not wait for each other.
Usage: python tests/benchmarks/bench_scrape.py [--messages 100000] [--scrapes 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from prometheus_client import generate_latest  # noqa: E402
from prometheus_client.process_collector import ProcessCollector  # noqa: E402
from prometheus_client.registry import CollectorRegistry  # noqa: E402

from responsewatch.adapters.metrics import ResponsewatchCollector, build_registry  # noqa: E402
from responsewatch.adapters.store import SqliteStore  # noqa: E402
from responsewatch.app.pipeline import compute, no_gc  # noqa: E402
from responsewatch.core.models import Message  # noqa: E402
from responsewatch.core.rules import ClientRule, Rules  # noqa: E402

ME = "claire@martin-conseil.fr"
CLIENTS = 50
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)


def generate(count: int, seed: int = 3) -> list[Message]:
    """Conversations of 1-3 rounds (client asks, I answer after minutes to days), with
    my own initiatives answered by the client, spread over a year, 50 client domains."""
    rng = random.Random(seed)
    out: list[Message] = []
    span = (NOW - START).total_seconds() - 10 * 86400
    conv = 0
    while len(out) < count:
        conv += 1
        client = rng.randrange(CLIENTS)
        contact = f"p{rng.randrange(6)}@c{client:02d}.example"
        t = START + timedelta(seconds=rng.random() * span)
        refs: list[str] = []
        mine_first = rng.random() < 0.25
        for rnd in range(rng.choice((1, 1, 2, 3))):
            sender, to = (ME, [contact]) if mine_first else (contact, [ME])
            mid = f"m{conv}.{rnd}.a@{sender.rpartition('@')[2]}"
            out.append(_msg(mid, sender, to, t, refs, rnd))
            refs.append(mid)
            t += timedelta(seconds=rng.lognormvariate(9.0, 1.3))  # median ~2.25 h
            if t >= NOW or rng.random() < 0.03:  # a few stay unanswered
                break
            sender, to = (contact, [ME]) if mine_first else (ME, [contact])
            mid = f"m{conv}.{rnd}.b@{sender.rpartition('@')[2]}"
            out.append(_msg(mid, sender, to, t, refs, rnd))
            refs.append(mid)
            t += timedelta(seconds=rng.lognormvariate(10.0, 1.0))
    return out[:count]


def _msg(mid: str, sender: str, to: list[str], at: datetime, refs: list[str], rnd: int) -> Message:
    return Message(
        message_id=mid,
        from_addr=sender,
        to=tuple(to),
        subject=("RE: " if refs else "") + f"Sujet {mid.split('.')[0]}",
        date=at,
        arrival=at,
        in_reply_to=tuple(refs[-1:]),
        references=tuple(refs),
    )


def timed(scrape: Callable[[], bytes], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        scrape()
        out.append((time.perf_counter() - t) * 1000)
    return out


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--scrapes", type=int, default=200)
    args = ap.parse_args()
    rules = Rules(
        me=frozenset({ME}),
        clients=tuple(
            ClientRule(f"client{i:02d}", domains=(f"c{i:02d}.example",)) for i in range(CLIENTS)
        ),
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store.db"
        store = SqliteStore.open(path)
        store.add_messages(generate(args.messages), account="main")
        store.record_sync_success("main", NOW)
        store.record_sync_error("main", "SourceUnavailable", NOW)

        t = time.perf_counter()
        with no_gc():
            messages = {m.message_id: m for m in store.messages()}
        analysis, _ = compute(messages, rules, now=NOW, acks=store.acks())
        recompute = time.perf_counter() - t
        del messages

        collector = ResponsewatchCollector(
            analysis=lambda: analysis,
            sync_status=store.sync_status,
            sync_errors=store.sync_errors,
            agreements=dict,
            rules=rules,
            top_clients=50,
        )
        registry = build_registry(collector)
        baseline = CollectorRegistry()
        ProcessCollector(registry=baseline)

        t = time.perf_counter()
        first = generate_latest(registry)
        first_ms = (time.perf_counter() - t) * 1000
        base = timed(lambda: generate_latest(baseline), args.scrapes)
        ours = timed(lambda: generate_latest(registry), args.scrapes)

        # Scrapes while a writer thread ingests into the same store (its own connection).
        stop = threading.Event()
        batches: list[float] = []

        def writer() -> None:
            w = SqliteStore.open(path)
            n = 0
            while not stop.is_set():
                n += 1
                extra = [
                    Message(f"x{n}.{i}@c00.example", "p0@c00.example", (ME,), date=NOW)
                    for i in range(200)
                ]
                t0 = time.perf_counter()
                w.add_messages(extra, account="main")
                batches.append((time.perf_counter() - t0) * 1000)
            w.close()

        thread = threading.Thread(target=writer)
        thread.start()
        busy = timed(lambda: generate_latest(registry), args.scrapes)
        stop.set()
        thread.join()
        store.close()

    print(
        f"{args.messages} messages, {CLIENTS} clients: {len(analysis.replies)} replies, "
        f"{len(analysis.client_replies)} client replies, {len(analysis.awaiting)} awaiting; "
        f"analysis computed once in {recompute:.2f}s"
    )
    lines = len(first.splitlines())
    print(f"exposition: {len(first)} bytes, {lines} lines")
    print(f"first scrape (builds the per-client aggregate): {first_ms:.1f} ms")
    bp50, bp99 = p(base, 50), p(base, 99)
    print(f"baseline (process collector only): p50 {bp50:.2f} ms, p99 {bp99:.2f} ms")
    for label, values in (("scrape", ours), ("scrape during ingestion", busy)):
        p50, p99 = p(values, 50), p(values, 99)
        print(
            f"{label}: p50 {p50:.2f} ms ({p50 / bp50:.1f}x baseline), "
            f"p99 {p99:.2f} ms ({p99 / bp99:.1f}x baseline), max {max(values):.1f} ms "
            "(target p99 < 50 ms)"
        )
    print(
        f"ingestion during scrapes: {len(batches)} batches of 200, "
        f"p50 {p(batches, 50):.1f} ms, max {max(batches):.1f} ms"
    )


if __name__ == "__main__":
    main()

"""Render cost of the status page and /api/status for 100,000 messages and 50 clients.

Target: under 100 ms each. The analysis and its insights are computed once (the daemon's
recompute), published to the StatusState (which builds the board), then the real HTTP
server is timed over loopback: GET / (the page, rendered per request), GET /api/status
(first request serialises, later ones are served from the snapshot's cache) and, as the
in-run baseline, GET /healthz (the same server and socket path with a tiny body). The page
is timed again while another thread keeps recomputing, to show a view never waits for it.
Usage: python tests/benchmarks/bench_status.py [--messages 100000] [--requests 100]
"""

from __future__ import annotations

import argparse
import gc
import http.client
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from responsewatch.adapters.store import SqliteStore  # noqa: E402
from responsewatch.adapters.web import WebServer  # noqa: E402
from responsewatch.app.bootstrap import FixedClock, bootstrap  # noqa: E402
from responsewatch.app.status_app import StatusSite, StatusState, read_health  # noqa: E402
from responsewatch.config import settings_from_mapping  # noqa: E402
from tests.benchmarks.bench_scrape import CLIENTS, ME, NOW, generate  # noqa: E402


def get(port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    body = conn.getresponse().read()
    conn.close()
    return body


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--freeze", action="store_true", help="gc.freeze() after the publish")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mapping = {
            "me": {"addresses": [ME], "language": "en"},
            "clients": [
                {"name": f"client{i:02d}", "domains": [f"c{i:02d}.example"]} for i in range(CLIENTS)
            ],
            "store": {"path": str(Path(tmp) / "store.db")},
            "archive": {"path": str(Path(tmp) / "archive")},
            "accounts": [{"name": "main", "type": "mbox", "path": "x.mbox"}],
        }
        settings = settings_from_mapping(mapping, base=Path(tmp))
        store = SqliteStore.open(settings.store_path)
        store.add_messages(generate(args.messages), account="main")
        store.record_sync_success("main", NOW)
        store.close()
        app = bootstrap(settings, clock=FixedClock(NOW))
        t = time.perf_counter()
        analysis, _ = app.analysis(NOW)
        plain_s = time.perf_counter() - t
        t = time.perf_counter()
        analysis, found = app.report_with_insights(NOW)
        with_insights_s = time.perf_counter() - t
        health = read_health(settings, app.store.sync_status(), app.store.sync_errors())
        state = StatusState(settings)
        t = time.perf_counter()
        state.publish(analysis, found, NOW, health)
        publish_ms = (time.perf_counter() - t) * 1000
        if args.freeze:
            gc.collect()
            gc.freeze()
        site = StatusSite(settings, state, ack=lambda *_: None, now=lambda: NOW)
        server = WebServer(site, "127.0.0.1:0")
        server.start()
        port = server.port
        try:
            page = get(port, "/")
            t = time.perf_counter()
            api = get(port, "/api/status")
            api_first_ms = (time.perf_counter() - t) * 1000
            base = timed(lambda: get(port, "/healthz"), args.requests)
            pages = timed(lambda: get(port, "/"), args.requests)
            apis = timed(lambda: get(port, "/api/status"), args.requests)
            stop = threading.Event()
            recomputes: list[float] = []

            def recompute() -> None:
                while not stop.is_set():
                    t0 = time.perf_counter()
                    a, f = app.report_with_insights(NOW)
                    state.publish(a, f, NOW, health)
                    recomputes.append(time.perf_counter() - t0)

            thread = threading.Thread(target=recompute)
            thread.start()
            busy = timed(lambda: get(port, "/"), args.requests)
            stop.set()
            thread.join()
        finally:
            server.close()
            app.close()
    print(
        f"{args.messages} messages, {CLIENTS} clients: {len(analysis.awaiting)} awaiting, "
        f"{len(analysis.replies)} replies; page {len(page)} bytes, /api/status {len(api)} bytes"
    )
    print(
        f"recompute: analysis {plain_s:.2f} s, with insights {with_insights_s:.2f} s "
        f"({with_insights_s / plain_s:.2f}x); board + report JSON (in the recompute child) "
        f"{publish_ms:.1f} ms"
    )
    bp50, bp99 = p(base, 50), p(base, 99)
    print(f"baseline GET /healthz: p50 {bp50:.2f} ms, p99 {bp99:.2f} ms")
    print(f"GET /api/status first (serialises): {api_first_ms:.1f} ms")
    for label, values in (
        ("GET /", pages),
        ("GET /api/status (cached)", apis),
        ("GET / during recomputes", busy),
    ):
        p50, p99 = p(values, 50), p(values, 99)
        print(
            f"{label}: p50 {p50:.2f} ms ({p50 / bp50:.1f}x baseline), p99 {p99:.2f} ms "
            f"({p99 / bp99:.1f}x baseline), max {max(values):.1f} ms (target < 100 ms)"
        )
    print(f"recomputes during those page views: {len(recomputes)}")


if __name__ == "__main__":
    main()

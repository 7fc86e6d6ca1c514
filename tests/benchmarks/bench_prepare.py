"""The status API's report JSON: peak memory and time, json.dumps (before) vs streamed.

The daemon prepares the status page in process after each full computation and each
state change; ``json.dumps`` of the whole report built a dict for every reply plus one
string of all of them. Both sides run on the same analysis in the same process; the peak
is tracemalloc's (Python allocations), so the ratio is what matters.

Usage: python tests/benchmarks/bench_prepare.py [--messages 100000]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from responsewatch.app.pipeline import compute  # noqa: E402
from responsewatch.app.report import analysis_json  # noqa: E402
from responsewatch.app.status_json import compressed_report  # noqa: E402
from responsewatch.core.insights import Insights, insights, insights_json  # noqa: E402
from responsewatch.core.models import Analysis  # noqa: E402
from responsewatch.core.parsing import parse_message  # noqa: E402
from responsewatch.core.rules import ClientRule, Rules  # noqa: E402
from tests.support.mailgen import CLIENTS, ME, generate  # noqa: E402


def before(analysis: Analysis, found: Insights) -> bytes:
    doc = {**analysis_json(analysis), "insights": insights_json(found)}
    text = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    del doc
    return zlib.compress(text, 1)


def measure(fn: Callable[[], bytes]) -> tuple[bytes, float, float]:
    gc.collect()
    tracemalloc.start()
    t = time.perf_counter()
    out = fn()
    took = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] - len(out)
    tracemalloc.stop()
    return out, took, peak / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100_000)
    args = ap.parse_args()
    rules = Rules(
        me=frozenset({ME}),
        clients=tuple(ClientRule(d.split(".")[0], (d,)) for d in CLIENTS),
    )
    generated = generate(args.messages // 4 + 1, seed=5)[: args.messages]
    facts = {m.message_id: m for m in (parse_message(g.data) for g in generated)}
    now = max(m.arrival or m.date for m in facts.values() if (m.arrival or m.date))  # type: ignore[type-var]
    analysis, conversations = compute(facts, rules, now=now)
    found = insights(
        facts, analysis, rules, now=now, quiet_after_s=14 * 86400, conversations=conversations
    )
    print(
        f"{len(facts)} messages, {len(analysis.replies)} replies, "
        f"{len(analysis.client_replies)} client replies"
    )
    old, old_s, old_mb = measure(lambda: before(analysis, found))
    new, new_s, new_mb = measure(lambda: compressed_report(analysis, found))
    assert zlib.decompress(old) == zlib.decompress(new), "the streamed report differs"
    print(f"before: {old_s:6.2f} s, peak {old_mb:7.1f} MB (report {len(old) / 1e6:.1f} MB zlib)")
    print(f" after: {new_s:6.2f} s, peak {new_mb:7.1f} MB")
    print(f"ratio after/before: time {new_s / old_s:.2f}, peak {new_mb / old_mb:.3f}")


if __name__ == "__main__":
    main()

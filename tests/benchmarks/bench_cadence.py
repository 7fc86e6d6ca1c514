"""What the reporting cadence adds to an analysis: the same facts analysed without a cadence
(the baseline) and with `report_every` on every client, in the same run.

Prints both times and their ratio (target: <= 1.10, the cadence is one pass over the facts).
Usage: python tests/benchmarks/bench_cadence.py [--messages 100000]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from responsewatch.core.business_time import BusinessClock  # noqa: E402
from responsewatch.core.cadence import cadences  # noqa: E402
from responsewatch.core.latency import analyze  # noqa: E402
from responsewatch.core.parsing import parse_message  # noqa: E402
from responsewatch.core.rules import ClientRule, Rules, Sla  # noqa: E402
from responsewatch.core.threading import build_conversations  # noqa: E402
from tests.benchmarks.timing import best_of  # noqa: E402
from tests.support.mailgen import CLIENTS, ME, generate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100_000)
    args = ap.parse_args()
    raw = generate(max(1, args.messages * 10 // 46), seed=3, span_days=365)[: args.messages]
    messages = {m.message_id: m for m in (parse_message(g.data) for g in raw)}
    clients = tuple(ClientRule(d, domains=(d,)) for d in CLIENTS)
    plain = Rules(me=frozenset({ME}), clients=clients)
    weekly = replace(plain, sla=Sla(report_every_s=7 * 86400.0))
    conversations = build_conversations(list(messages.values()), plain.me)
    now = datetime(2027, 1, 1, tzinfo=UTC)
    clock = BusinessClock(plain.hours)

    def run(rules: Rules) -> None:
        analyze(messages, conversations, rules, now=now, clock=clock)

    base = best_of(3, lambda: run(plain))
    with_cadence = best_of(3, lambda: run(weekly))
    replies = analyze(messages, conversations, plain, now=now, clock=clock).replies
    names = [c.name for c in clients]
    alone = best_of(
        3, lambda: cadences(messages, weekly, replies, clients=names, now=now, clock=clock)
    )
    print(f"{len(messages)} messages, {len(conversations)} conversations")
    print(f"analysis without cadence: {base:.3f}s")
    print(f"analysis with cadence:    {with_cadence:.3f}s")
    print(f"cadence pass alone:       {alone:.3f}s ({alone / base:.2f} of the analysis)")
    print(f"ratio: {with_cadence / base:.2f} (target <= 1.10)")


if __name__ == "__main__":
    main()

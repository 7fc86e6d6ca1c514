"""The cost of leave: the analysis with no leave (baseline) vs. with many leave periods,
my auto-replies and clients' absences read, on the same generated mailbox, in one run.

Prints both times and their ratio (target: <= 1.3).
Usage: python tests/benchmarks/bench_leave.py [--messages 50000] [--periods 200]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from responsewatch.app.pipeline import compute  # noqa: E402
from responsewatch.core.leave import LeaveRules, LeaveSpan  # noqa: E402
from responsewatch.core.parsing import parse_message  # noqa: E402
from responsewatch.core.rules import ClientRule, Rules  # noqa: E402
from tests.benchmarks.timing import best_of  # noqa: E402
from tests.support.mailgen import ME, generate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=50_000)
    ap.add_argument("--periods", type=int, default=200)
    args = ap.parse_args()
    start = datetime(2026, 9, 1, tzinfo=UTC)
    raw = generate(max(1, args.messages * 10 // 46), seed=5, start=start, span_days=365)
    parsed = [parse_message(m.data, internaldate=m.internaldate) for m in raw[: args.messages]]
    messages = {m.message_id: m for m in parsed}
    rules = Rules(
        me=frozenset({ME}),
        clients=(
            ClientRule("acme", domains=("acme.fr",)),
            ClientRule("bolt", domains=("bolt-industries.com",)),
            ClientRule("celsius", domains=("celsius-energie.fr",)),
        ),
    )
    # Half-day periods every ~two days across the year: many cuts in the business windows.
    spans = tuple(
        LeaveSpan(start + timedelta(hours=43 * i), start + timedelta(hours=43 * i + 12), "bench")
        for i in range(args.periods)
    )
    with_leave = replace(
        rules, leave=LeaveRules(spans, from_my_auto_replies=True, from_client_auto_replies=True)
    )
    now = start + timedelta(days=370)
    base = best_of(3, lambda: compute(messages, rules, now=now))
    leave = best_of(3, lambda: compute(messages, with_leave, now=now))
    a = compute(messages, with_leave, now=now)[0]
    print(f"{len(messages)} messages, {args.periods} leave periods, {len(a.replies)} replies")
    print(f"no leave (baseline): {base * 1000:.0f} ms")
    print(f"with leave:          {leave * 1000:.0f} ms")
    print(f"ratio:               {leave / base:.2f} (target <= 1.3)")


if __name__ == "__main__":
    main()

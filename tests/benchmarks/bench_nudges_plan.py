"""Cost of one nudge tick (``plan_nudges``) on real mail: the Enron mailboxes of
../shared/corpora/real (inbox + sent of each user, mail we did not write), on the calendar
and the business clock, at the first tick (nothing sent yet) and in the steady state (all
due nudges already sent: what every 10 s tick costs). Baseline in the same run: the full
analysis (threading + turns) of the same mail, which the tick avoids.
Usage: python tests/benchmarks/bench_nudges_plan.py
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from responsewatch.app.pipeline import compute, load_corpus  # noqa: E402
from responsewatch.core.business_time import BusinessClock  # noqa: E402
from responsewatch.core.nudges import NudgePolicy, plan_nudges  # noqa: E402
from responsewatch.core.rules import Rules, Sla  # noqa: E402

ENRON = ROOT.parent / "shared" / "corpora" / "real" / "enron"


def timed(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    policy = NudgePolicy(quiet="outside_business_hours")
    print(f"{'user':<12} {'msgs':>5} {'await':>5} {'clock':<8} {'nudges':>6} {'first ms':>8} "
          f"{'steady ms':>9} {'analysis ms':>11} {'steady/analysis':>15}")  # fmt: skip
    for user in sorted(p for p in ENRON.iterdir() if p.is_dir()):
        corpus = load_corpus([user / "inbox.mbox.gz", user / "sent_items.mbox.gz"])
        sent_mail = load_corpus([user / "sent_items.mbox.gz"]).messages.values()
        me = Counter(m.from_addr for m in sent_mail if m.from_addr).most_common(1)[0][0]
        times = [m.arrival or m.date for m in corpus.messages.values() if m.arrival or m.date]
        now = max(t for t in times if t is not None) + timedelta(days=1)
        for clock_name in ("calendar", "business"):
            rules = Rules(me=frozenset({me}), sla=replace(Sla(), clock=clock_name))
            clock = BusinessClock(rules.hours)

            def analyse(r: Rules = rules, msgs: Any = corpus.messages, at: Any = now) -> Any:
                return compute(msgs, r, now=at)[0]

            t_analysis, analysis = timed(analyse, repeat=2)

            def tick(sent: Any, a: Any = analysis, r: Rules = rules, c: Any = clock,
                     at: Any = now) -> Any:  # fmt: skip
                return plan_nudges(a, r, c, policy, now=at, sent=sent)

            t_first, first = timed(lambda: tick(()))
            due = {n.key for n in (*first.send, *(h.nudge for h in first.held))}
            t_steady, _ = timed(lambda d=due: tick(d))  # type: ignore[misc]
            print(f"{user.name:<12} {len(corpus.messages):>5} {len(analysis.awaiting):>5} "
                  f"{clock_name:<8} {len(due):>6} {t_first * 1e3:>8.2f} {t_steady * 1e3:>9.2f} "
                  f"{t_analysis * 1e3:>11.1f} {t_steady / t_analysis:>15.4f}")  # fmt: skip


if __name__ == "__main__":
    main()

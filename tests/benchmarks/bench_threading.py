"""Conversations on 100,000 messages (the wall-clock check moved out of the unit tests).

Prints our time, a baseline's (sorting the same messages by time and indexing every
reference once: the least any threader must do) and their ratio; quadratic behaviour
shows as a ratio in the hundreds. Usage: python tests/benchmarks/bench_threading.py [-n N]
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from responsewatch.core.models import Message  # noqa: E402
from responsewatch.core.threading import build_conversations  # noqa: E402
from tests.benchmarks.timing import best_of  # noqa: E402
from tests.unit.test_threading import MY, msg  # noqa: E402


def mailbox(n: int) -> list[Message]:
    return [
        msg(
            f"m{i}",
            i * timedelta(minutes=7),
            subject=("Re: " if i % 3 else "") + f"topic {i % 5000}",
            frm=f"p{i % 400}@acme.fr",
            refs=(f"m{i // 2}",) if i % 5 == 0 and i else (),
        )
        for i in range(n)
    ]


def baseline(messages: list[Message]) -> int:
    ordered = sorted(messages, key=lambda m: (m.date is None, m.date, m.message_id))
    index: dict[str, list[str]] = {}
    for m in ordered:
        for ref in (*m.in_reply_to, *m.references):
            index.setdefault(ref, []).append(m.message_id)
    return len(index)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    n = parser.parse_args().n
    messages = mailbox(n)
    convs = build_conversations(messages, MY)
    assert sum(len(c.message_ids) for c in convs) == n
    ours = best_of(parser.parse_args().runs, build_conversations, messages, MY)
    base = best_of(parser.parse_args().runs, baseline, messages)
    print(f"{n} messages: build_conversations {ours:.2f} s, baseline {base:.2f} s, "
          f"ratio {ours / base:.1f} (the unit test's old limit was 10 s)")  # fmt: skip


if __name__ == "__main__":
    main()

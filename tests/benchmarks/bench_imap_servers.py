"""Header FETCH of the same 950 messages from Dovecot and Cyrus (ms per 950, warm).

Cyrus answers with FLAGS first; before the fast path learned item orders that shape went
through the general item walk. Both are measured in the same run: "learned" (the shipped
code) and "walk only" (learning switched off: what Cyrus got before), plus Dovecot.
Usage: python tests/benchmarks/bench_imap_servers.py [--messages 950] [--rounds 15]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from responsewatch.adapters import imap as imap_adapter  # noqa: E402
from responsewatch.adapters import imap_fetch  # noqa: E402
from responsewatch.adapters.imap import ImapAccount, ImapMailSource  # noqa: E402
from responsewatch.ports import FolderRef  # noqa: E402
from tests.servers.cyrus import Cyrus  # noqa: E402
from tests.servers.dovecot import HOST, Dovecot  # noqa: E402
from tests.support.mailgen import generate  # noqa: E402

INBOX = FolderRef("bench", "INBOX", "inbox")


def fetch_ms(port: int, name: str, password: str, rounds: int) -> tuple[float, int]:
    src = ImapMailSource(
        ImapAccount("bench", HOST, port, "none-loopback-only", name, lambda: password,
                    batch_size=1000, timeout=60)
    )  # fmt: skip
    try:
        n = len(list(src.fetch_since(INBOX, None)))  # warm the server's cache
        times = []
        for _ in range(rounds):
            t = time.perf_counter()
            list(src.fetch_since(INBOX, None))
            times.append(time.perf_counter() - t)
    finally:
        src.close()
    return min(times) * 1000, n  # best round: the least disturbed by other load


def captured(port: int, name: str, password: str) -> list[tuple[bytes, list[bytes]]]:
    """The FETCH answer as ``read_direct`` hands it to the parser."""
    got: list[tuple[bytes, list[bytes]]] = []
    real = imap_adapter.read_direct

    def record(imap: object, tag: bytes) -> list[tuple[bytes, list[bytes]]]:
        out = real(imap, tag)  # type: ignore[arg-type]
        got.extend(out)
        return out

    imap_adapter.read_direct = record  # type: ignore[assignment]
    try:
        fetch_ms(port, name, password, 1)
    finally:
        imap_adapter.read_direct = real
    return got[: len(got) // 2]  # recorded twice (warm-up and one round): keep one


def parse_once(groups: list[tuple[bytes, list[bytes]]]) -> float:
    t = time.perf_counter()
    for text, literals in groups:
        imap_fetch.parse_fetch(INBOX, text, literals)
    return (time.perf_counter() - t) * 1000 * 950 / len(groups)


def walk_once(groups: list[tuple[bytes, list[bytes]]]) -> float:
    """The same answers with learning switched off: every Cyrus message takes the walk."""
    saved = imap_fetch._learn, imap_fetch._shapes, imap_fetch._last_shape
    imap_fetch._learn = lambda order: None
    imap_fetch._shapes = imap_fetch._SEED_SHAPES
    imap_fetch._last_shape = imap_fetch._SEED_SHAPES[0]
    try:
        return parse_once(groups)
    finally:
        imap_fetch._learn, imap_fetch._shapes, imap_fetch._last_shape = saved


def parse_ms(
    d_groups: list[tuple[bytes, list[bytes]]],
    c_groups: list[tuple[bytes, list[bytes]]],
    rounds: int,
) -> tuple[float, float, float]:
    """Best of ``rounds``, the three measured in turn (a shared machine's load hits all)."""
    parse_once(d_groups + c_groups)  # learn Cyrus's shape, warm the caches
    best = [float("inf")] * 3
    for _ in range(rounds):
        for i, ms in enumerate((parse_once(d_groups), parse_once(c_groups), walk_once(c_groups))):
            best[i] = min(best[i], ms)
    return best[0], best[1], best[2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=950)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    mail = [m for m in generate(args.messages // 2 + 50, seed=7)][: args.messages]
    batch = [(m.data, m.internaldate, ()) for m in mail]
    dovecot, cyrus = Dovecot.start_new(), Cyrus.start_new("debian")
    try:
        du, cu = dovecot.add_user(), cyrus.add_user()
        dovecot.append_many(du, "INBOX", batch)
        cyrus.append_many(cu, "INBOX", batch)
        d_groups = captured(dovecot.imap_port, du.name, du.password)
        c_groups = captured(cyrus.imap_port, cu.name, cu.password)
        d_parse, c_parse, w_parse = parse_ms(d_groups, c_groups, args.rounds)
        d_ms, n = fetch_ms(dovecot.imap_port, du.name, du.password, args.rounds)
        c_ms, _ = fetch_ms(cyrus.imap_port, cu.name, cu.password, args.rounds)
        learn = imap_fetch._learn
        imap_fetch._learn = lambda order: None  # the walk for every Cyrus message
        imap_fetch._shapes = imap_fetch._SEED_SHAPES
        imap_fetch._last_shape = imap_fetch._SEED_SHAPES[0]
        try:
            w_ms, _ = fetch_ms(cyrus.imap_port, cu.name, cu.password, args.rounds)
        finally:
            imap_fetch._learn = learn
    finally:
        dovecot.close()
        cyrus.close()
    scale = 950 / n
    print(f"{n} messages, best of {args.rounds} warm rounds, ms per 950 messages:")
    print(f"  dovecot                 {d_ms * scale:7.1f}")
    print(f"  cyrus, learned shape    {c_ms * scale:7.1f}   ({c_ms / d_ms:.2f}x dovecot)")
    print(f"  cyrus, walk only (old)  {w_ms * scale:7.1f}   ({w_ms / d_ms:.2f}x dovecot)")
    print(f"  learned / walk          {c_ms / w_ms:.2f}")
    print("parsing only (parse_fetch over the captured answers), best round, ms per 950:")
    print(f"  dovecot                 {d_parse:7.2f}")
    print(f"  cyrus, learned shape    {c_parse:7.2f}   ({c_parse / d_parse:.2f}x dovecot)")
    print(f"  cyrus, walk only (old)  {w_parse:7.2f}   ({w_parse / d_parse:.2f}x dovecot)")


if __name__ == "__main__":
    main()

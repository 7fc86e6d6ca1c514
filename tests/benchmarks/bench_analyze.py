"""`analyze` on a generated Maildir vs. the stdlib parsing the same headers.

Both are timed as whole processes from outside (interpreter start-up, imports, reading,
and for `analyze` the JSON written to a file), in interleaved rounds; the ratio is the
median of each round's pair. Prints both times, the ratio (target: <= 2.0) and our peak
RSS (target: < 300 MB).
Usage: python tests/benchmarks/bench_analyze.py [--messages 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.mailgen import ME, generate, write_maildir  # noqa: E402


def stdlib_headers(root: Path) -> tuple[float, int]:
    """The baseline: read every file and parse its header block with the stdlib."""
    parser = BytesHeaderParser(policy=compat32)
    start = time.perf_counter()
    count = 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.parent.name in ("cur", "new"):
            msg = parser.parsebytes(path.read_bytes())
            _ = (msg["Message-ID"], msg["From"], msg["To"], msg["Date"], msg["Subject"])
            count += 1
    return time.perf_counter() - start, count


BASELINE = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from tests.benchmarks.bench_analyze import stdlib_headers
print(stdlib_headers(Path(sys.argv[1]))[1])
"""


def timed(cmd: list[str], out: Path) -> tuple[float, float]:
    """Wall seconds of the whole process, and its peak RSS in MB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with out.open("wb") as sink:
        start = time.perf_counter()
        subprocess.run(cmd, stdout=sink, check=True)
        took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return took, max(before, after) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "Maildir"
        t = time.perf_counter()
        messages = generate(max(1, args.messages * 10 // 46), seed=3, span_days=365)
        written = write_maildir(messages[: args.messages], root)
        print(f"generated {written} messages in {time.perf_counter() - t:.1f}s")
        stdlib_headers(root)  # warm the page cache for both runs alike
        ours_cmd = [
            sys.executable,
            "-c",
            "from responsewatch.cli import main; main()",
            "analyze",
            str(root),
            "--me",
            ME,
            "--format",
            "json",
            "--now",
            "2027-01-01T00:00:00Z",
        ]
        base_cmd = [sys.executable, "-c", BASELINE, str(root)]
        out = Path(tmp) / "out.json"
        # Interleaved rounds, the median of the pairs: the machine is noisy, the ratio less.
        pairs: list[tuple[float, float]] = []
        rss_mb = 0.0
        for _round in range(args.rounds):
            base, _ = timed(base_cmd, out)
            count = int(out.read_text())
            ours, rss = timed(ours_cmd, out)
            rss_mb = max(rss_mb, rss)
            pairs.append((ours, base))
        doc = json.loads(out.read_text())
        base = statistics.median(b for _, b in pairs)
        ours = statistics.median(o for o, _ in pairs)
        ratio = statistics.median(o / b for o, b in pairs)
        print(f"stdlib header parse: {count} messages in {base:.2f}s ({count / base:,.0f} msg/s)")
        print(
            f"responsewatch analyze: {doc['totals']['messages']} messages, "
            f"{doc['totals']['conversations']} conversations in {ours:.2f}s"
        )
        print(f"ratio analyze/stdlib = {ratio:.2f} (whole processes; target <= 2.0)")
        print(f"peak RSS = {rss_mb:.0f} MB (target < 300 MB)")


if __name__ == "__main__":
    main()

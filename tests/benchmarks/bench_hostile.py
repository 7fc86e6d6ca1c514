"""Cost of hostile inputs against an ordinary message: time and peak Python memory of
reading, parsing, threading and measuring one PATH (what ``analyze`` does).

    python -m tests.benchmarks.bench_hostile
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.support.hostile import CASES, analyze_path, measure


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = []
        for name, make in CASES.items():
            case = root / name.replace(" ", "_").replace(",", "")
            case.mkdir()
            path = make(case)
            size = sum(p.stat().st_size for p in ([path] if path.is_file() else path.iterdir()))
            seconds, peak = measure(lambda path=path: analyze_path(path))
            rows.append((name, size, seconds, peak))
        base_s, base_m = rows[0][2], rows[0][3]
        print(f"{'case':28} {'on disk':>10} {'time':>9} {'x':>7} {'peak MB':>8} {'x':>7}")
        for name, size, seconds, peak in rows:
            print(
                f"{name:28} {size / 1e6:9.2f}M {seconds * 1000:7.1f}ms {seconds / base_s:7.0f}"
                f" {peak / 1e6:8.2f} {peak / base_m:7.0f}"
            )


if __name__ == "__main__":
    main()

"""The daemon on a big store: its memory and its idle CPU, against a small store in the
same run.

Two stores are filled by tests/support/bigstore.py (the store's own write path): a
baseline (``--baseline`` messages, 10,000 by default) and the big one (``--messages``,
1,000,000 by default; ``--store`` reuses a store already filled, which saves the ~90 s
of filling). On each, a daemon (production defaults: recompute in a child, metrics on a
free loopback port, one empty Maildir account) is started and measured:

- start-up: seconds until the first analysis is on /metrics and the status page;
- RSS of the daemon process itself (VmRSS after start-up and idling, VmHWM its peak) and
  the largest RSS seen in its recompute child (sampled every 0.2 s);
- idle CPU: utime + stime of the daemon and of its reaped children over ``--seconds`` of
  no new mail (10 minutes in the target; 120 s by default here to keep the run short:
  with no new mail the work per minute is the same at any duration).

Usage: python tests/benchmarks/bench_scale.py [--messages 1000000] [--store FILE]
       [--baseline 10000] [--seconds 120]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from responsewatch.adapters.store import SqliteStore  # noqa: E402
from tests.benchmarks.bench_idle import cpu_seconds, free_port, scrape  # noqa: E402
from tests.support.bigstore import fill  # noqa: E402
from tests.support.mailgen import CLIENTS, ME  # noqa: E402

LAUNCH = "import sys; from pathlib import Path; from responsewatch.app.daemon import run_daemon; "
LAUNCH += "sys.exit(run_daemon(Path(sys.argv[1])))"


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _tree_peak_child_kb(pid: int) -> int:
    peak = 0
    for child in _children(pid):
        try:
            peak = max(peak, _status_kb(child, "VmRSS"), *map(_child_rss, _children(child)))
        except (OSError, ValueError):
            continue
    return peak


def _child_rss(pid: int) -> int:
    try:
        return _status_kb(pid, "VmRSS")
    except OSError:
        return 0


def measure(tmp: Path, store: Path, name: str, seconds: float) -> dict[str, float]:
    maildir = tmp / f"Maildir-{name}"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    port = free_port()
    clients = "".join(
        f'[[clients]]\nname = "{d.split(".")[0]}"\ndomains = ["{d}"]\n' for d in CLIENTS
    )
    config = tmp / f"{name}.toml"
    config.write_text(
        f'[me]\naddresses = ["{ME}"]\n[store]\npath = "{store}"\n{clients}'
        f'[metrics]\nlisten = "127.0.0.1:{port}"\n'
        f'[web]\nlisten = "127.0.0.1:{free_port()}"\n'  # the status page is on by default
        f'[[accounts]]\nname = "files"\ntype = "maildir"\npath = "{maildir}"\n'
    )
    log = tmp / f"{name}.log"
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(config)], stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    child_peak = 0
    try:
        while True:
            child_peak = max(child_peak, _tree_peak_child_kb(proc.pid))
            try:
                # The metrics come first; the status page is published after them, then
                # "recomputed" is logged: idle is measured from there.
                if "responsewatch_analysis_timestamp_seconds " in scrape(port) and re.search(
                    rb"\brecomputed\b", log.read_bytes()
                ):
                    break
            except OSError:
                pass
            assert proc.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() - started < 900, "daemon never published an analysis"
            time.sleep(0.2)
        startup = time.monotonic() - started
        time.sleep(2.0)
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        while time.monotonic() - t0 < seconds:
            child_peak = max(child_peak, _tree_peak_child_kb(proc.pid))
            time.sleep(1.0)
        idle = (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0)
        rss, hwm = _status_kb(proc.pid, "VmRSS"), _status_kb(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        proc.wait(30)
    return {
        "startup_s": startup,
        "rss_mb": rss / 1024,
        "hwm_mb": hwm / 1024,
        "child_peak_mb": child_peak / 1024,
        "idle_cpu_pct": 100 * idle,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--store", type=Path, help="a store already filled by bigstore")
    ap.add_argument("--baseline", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=120.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        small = tmp / "small.db"
        fill(small, args.baseline)
        big = args.store
        if big is None:
            big = tmp / "big.db"
            made = fill(big, args.messages)
            print(f"filled {made.stored:,} messages in {made.seconds:.1f} s")
        stores = {"baseline": small, "big": big}
        results = {}
        for label, path in stores.items():
            db = SqliteStore.open(path, readonly=True)
            count = db.message_count()
            db.close()
            results[label] = measure(tmp, path, label, args.seconds)
            r = results[label]
            print(
                f"{label:>8}: {count:>9,} messages; start-up {r['startup_s']:6.1f} s; "
                f"daemon RSS {r['rss_mb']:6.1f} MB (peak {r['hwm_mb']:6.1f}); "
                f"recompute child peak {r['child_peak_mb']:7.1f} MB; "
                f"idle CPU {r['idle_cpu_pct']:5.2f} % of a core over {args.seconds:.0f} s"
            )
        b, g = results["baseline"], results["big"]
        print(
            f"ratio big/baseline: daemon RSS {g['rss_mb'] / b['rss_mb']:.2f}, "
            f"peak {g['hwm_mb'] / b['hwm_mb']:.2f}, idle CPU "
            f"{g['idle_cpu_pct'] / max(b['idle_cpu_pct'], 1e-9):.2f} "
            f"(targets at 1,000,000: RSS < 200 MB, idle CPU < 1 %)"
        )


if __name__ == "__main__":
    main()

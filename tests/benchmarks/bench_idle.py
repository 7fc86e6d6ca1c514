"""The daemon at rest: whole-process CPU with no new mail, and new mail to /metrics.

Two daemons run in turn on the same store (100,000 stored messages by default) and a small
Maildir account that receives the new mail: "before" (the full recompute every interval,
as batch 1 did: the incremental tracker invalidated before each run, no wake on new mail)
and "after" (this code). CPU is the whole process tree (utime + stime of the daemon and
of its reaped recompute children, from /proc), over ``--seconds`` of idling with
``recompute_every = --every`` (60 s in production; shorter here to keep the run short).

Usage: python tests/benchmarks/bench_idle.py [--messages 100000] [--seconds 120] [--every 10]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from responsewatch.adapters.store import SqliteStore  # noqa: E402
from responsewatch.core.parsing import parse_message  # noqa: E402
from tests.support.build import raw  # noqa: E402
from tests.support.mailgen import CLIENTS, ME, generate  # noqa: E402

LAUNCH = """
import sys
from pathlib import Path
if sys.argv[2] == "before":
    from responsewatch.app import daemon, incremental
    full = incremental.Incremental.analysis
    def always_full(self, at):
        self.invalidate()
        return full(self, at)
    incremental.Incremental.analysis = always_full
    daemon.Daemon._wake = lambda self, job: None
from responsewatch.app.daemon import run_daemon
sys.exit(run_daemon(Path(sys.argv[1])))
"""

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # utime, stime, cutime, cstime: fields 14-17 of proc(5), here offset by the 2 cut.
    return sum(int(v) for v in fields[11:15]) / TICK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return str(r.read().decode())


def awaiting_total(text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("responsewatch_awaiting_reply_threads{")
    )


def run(mode: str, tmp: Path, store: Path, seconds: float, every: float) -> tuple[float, float]:
    maildir = tmp / f"Maildir-{mode}"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    port = free_port()
    clients = "".join(
        f'[[clients]]\nname = "{d.split(".")[0]}"\ndomains = ["{d}"]\n' for d in CLIENTS
    )
    config = tmp / f"{mode}.toml"
    config.write_text(
        f'[me]\naddresses = ["{ME}"]\n[store]\npath = "{store}"\n{clients}'
        f'[metrics]\nlisten = "127.0.0.1:{port}"\n'
        f'[daemon]\nrecompute_every = "{int(every)}s"\nsync_every = "1s"\n'
        f'[[accounts]]\nname = "files"\ntype = "maildir"\npath = "{maildir}"\n'
    )
    logfile = tmp / f"{mode}.log"
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(config), mode],
        stdout=logfile.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if "responsewatch_analysis_timestamp_seconds " in scrape(port):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "daemon never published an analysis"
            time.sleep(0.2)
        time.sleep(1.0)
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        idle = (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0)
        before = awaiting_total(scrape(port))
        at = datetime.now(UTC)
        mail = raw(f"bench-{mode}@x", "jean.dupont@acme.fr", [ME], at, received=at)
        (maildir / "tmp" / "n1").write_bytes(mail)
        start = time.monotonic()
        (maildir / "tmp" / "n1").rename(maildir / "new" / "n1")
        while awaiting_total(scrape(port)) <= before:
            assert time.monotonic() - start < 10 * every, "new mail never reached /metrics"
            time.sleep(0.05)
        latency = time.monotonic() - start
    finally:
        proc.terminate()
        proc.wait(20)
    # run_daemon without the CLI logs structlog's console lines: "... recomputed ... seconds=X"
    runs = re.findall(r"\brecomputed\b.*?seconds=([0-9.]+)", logfile.read_text())
    took = float(runs[-1]) if runs else float("nan")
    print(f"{mode:>6}: {len(runs)} full recomputes, the last (after the new mail) {took} s")
    return idle, latency


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--every", type=float, default=10.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        store = tmp / "store.db"
        db = SqliteStore.open(store)
        generated = generate(max(1, args.messages * 10 // 46), seed=5, span_days=365)
        db.add_messages(parse_message(g.data) for g in generated[: args.messages])
        count = db.message_count()
        db.close()
        print(f"{count} stored messages, recompute_every = {args.every:.0f} s")
        results = {
            mode: run(mode, tmp, store, args.seconds, args.every) for mode in ("before", "after")
        }
        for mode, (idle, latency) in results.items():
            print(
                f"{mode:>6}: idle CPU {100 * idle:5.2f} % of a core; "
                f"new mail to /metrics {latency:5.2f} s"
            )
        (b_idle, b_lat), (a_idle, a_lat) = results["before"], results["after"]
        print(f"ratio after/before: idle CPU {a_idle / b_idle:.3f}, latency {a_lat / b_lat:.3f}")


if __name__ == "__main__":
    main()

"""A file account's periodic pass with nothing new (and with one new message), full
re-read vs incremental, on a Maildir of 100,000 files and an mbox of the same mail.

Prints wall and CPU seconds per pass and the ratio incremental/full within this run.
Usage: python tests/benchmarks/bench_files_seen.py [--messages 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from responsewatch.adapters.files_seen import FileSeen  # noqa: E402
from responsewatch.adapters.store import SqliteStore  # noqa: E402
from responsewatch.app.sync import sync_files  # noqa: E402
from responsewatch.config import AccountSettings  # noqa: E402
from tests.support.build import ME, raw  # noqa: E402
from tests.support.mailgen import generate, write_maildir  # noqa: E402


def now() -> datetime:
    return datetime.now(UTC)


def timed(fn: object) -> tuple[float, float]:
    c0, t0 = time.process_time(), time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        generated = generate(max(1, args.messages * 10 // 46), seed=5, span_days=365)
        generated = generated[: args.messages]
        maildir = tmp / "Maildir"
        write_maildir(generated, maildir)
        mbox = tmp / "all.mbox"
        with open(mbox, "wb") as handle:
            for g in generated:
                handle.write(b"From x@y Mon Nov  2 09:00:00 2026\n" + g.data + b"\n")
        for label, path, kind in (("maildir", maildir, "maildir"), ("mbox", mbox, "mbox")):
            account = AccountSettings(name=label, type=kind, path=str(path))
            store = SqliteStore.open(tmp / f"{label}.db")
            seen = FileSeen()
            first = timed(lambda: sync_files(account, store, now=now, seen=seen))  # noqa: B023
            full = timed(lambda: sync_files(account, store, now=now))  # noqa: B023
            # The first pass's listing of a just-written Maildir is too recent to trust
            # (racy mtimes), so that folder is listed once more; then it is skipped.
            relist = timed(lambda: sync_files(account, store, now=now, seen=seen))  # noqa: B023
            idle = timed(lambda: sync_files(account, store, now=now, seen=seen))  # noqa: B023
            mail = raw("bench-new@x", "jean@acme.fr", [ME], now())
            if kind == "maildir":
                (maildir / "new" / "zz.new.host").write_bytes(mail)
            else:
                with open(mbox, "ab") as handle:
                    handle.write(b"From x@y Mon Nov  2 09:00:00 2026\n" + mail + b"\n")
            one = timed(lambda: sync_files(account, store, now=now, seen=seen))  # noqa: B023
            assert store.message("bench-new@x") is not None
            store.close()
            print(
                f"{label:>7} {len(generated)} messages: first pass {first[0]:.2f}s; "
                f"full re-read {full[0]:.2f}s wall {full[1]:.2f}s CPU; "
                f"incremental re-list {relist[1]:.3f}s CPU, "
                f"incremental, nothing new {idle[0]:.3f}s wall {idle[1]:.3f}s CPU "
                f"(ratio {idle[1] / full[1]:.4f}); one new message {one[0]:.3f}s wall"
            )


if __name__ == "__main__":
    main()

"""Archive throughput on loopback Dovecot with the default configuration, at several archive
sizes: an addition must cost the same with 0 or 100,000 entries already in the ledger.

Each round syncs a fresh store (``App.sync_once``, as ``sync --once`` does) from a mailbox
where every message is a client agreement, into an archive prefilled with SIZE entries,
and the same mailbox with ``archive.detect = false`` as the baseline of the same run: the
difference is what archiving costs. Target (issue 14): >= 100 archived messages/s, flat.
Not run in CI. Usage: python tests/benchmarks/bench_archive.py [--messages 1000]
[--sizes 0,10000,30000,100000]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from responsewatch.adapters.archive import EvidenceArchive, NewEntry  # noqa: E402
from responsewatch.adapters.store import SqliteStore  # noqa: E402
from responsewatch.app.archive_app import AgreementWatcher  # noqa: E402
from responsewatch.app.bootstrap import bootstrap  # noqa: E402
from responsewatch.config import load_settings  # noqa: E402
from tests.servers.config import ME, imap_account_toml, write_config  # noqa: E402
from tests.servers.dovecot import Dovecot  # noqa: E402

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
FILLER = "Détail de la proposition, lot par lot, avec le calendrier et les prix.\r\n" * 60


def message(n: int, domain: str = "acme.fr") -> bytes:
    return (
        f"From: Paul Durand <paul{n % 7}@{domain}>\r\nTo: {ME}\r\nSubject: Devis {n}\r\n"
        f"Date: Mon, 2 Mar 2026 09:{n % 60:02d}:00 +0100\r\nMessage-ID: <b{n}@{domain}>\r\n"
        f"\r\nBonjour Claire,\r\n\r\nBon pour accord sur le devis {n}.\r\n\r\nPaul\r\n\r\n"
        f"{FILLER}"
    ).encode()


def prefill(root: Path, have: int, want: int) -> float:
    """Grow the archive from ``have`` to ``want`` entries (other messages than the mailbox's)."""
    archive = EvidenceArchive(root, lookup=lambda name: None)
    t = time.perf_counter()
    for start in range(have, want, 2000):
        end = min(want, start + 2000)
        archive.add_many(
            [
                NewEntry(message(i, "old.example"), f"b{i}@old.example", "old", "ok")
                for i in range(start, end)
            ],
            now=T0,
        )
    return time.perf_counter() - t


DRAIN = [0.0]  # seconds spent carrying out the stored decisions (fetch, write, ledger)
_real_drain = AgreementWatcher.drain


def _timed_drain(self: AgreementWatcher, *args: object) -> object:
    t = time.perf_counter()
    try:
        return _real_drain(self, *args)  # type: ignore[arg-type]
    finally:
        DRAIN[0] += time.perf_counter() - t


AgreementWatcher.drain = _timed_drain  # type: ignore[method-assign]


def sync_round(
    directory: Path, name: str, accounts: list[str], archive: Path, detect: bool
) -> float:
    config = write_config(
        directory, accounts, store=directory / f"{name}.db", name=f"{name}.toml", archive=archive
    )
    if not detect:
        config.write_text(config.read_text().replace("[archive]\n", "[archive]\ndetect = false\n"))
    app = bootstrap(load_settings(config))
    DRAIN[0] = 0.0
    try:
        t = time.perf_counter()
        reports = app.sync_once()
        elapsed = time.perf_counter() - t
    finally:
        app.close()
    assert [r.error for r in reports] == [None], reports
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--sizes", default="0,10000,30000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    logging.disable(logging.CRITICAL)
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    server = Dovecot.start_new()
    try:
        n = args.messages
        users = []
        for r in range(len(sizes)):  # one mailbox per round: new Message-IDs each time
            users.append(server.add_user())
            mails = ((message(r * n + i), T0 + timedelta(minutes=i)) for i in range(n))
            server.write_maildir(users[-1], mails)
        with tempfile.TemporaryDirectory(prefix="rw-bench-archive-") as tmp:
            directory = Path(tmp)
            root = directory / "archive"
            have = 0
            print(f"{n} messages, all agreements; default configuration; loopback Dovecot")
            print("archiving = fetch by UID set + eml + ledger + store bookkeeping, including "
                  "one index read per run (index s); sync = the whole sync --once")  # fmt: skip
            print(f"{'entries before':>15} {'sync s':>8} {'no-archive s':>13} "
                  f"{'archiving s':>12} {'archived/s':>11} {'ms/entry':>9} "
                  f"{'sync msgs/s':>12} {'prefill s':>10} {'index s':>8}")  # fmt: skip
            for i, size in enumerate(sizes):
                filled = prefill(root, have, size) if size > have else 0.0
                have = max(have, size)
                account = imap_account_toml(server, users[i], directory)  # default batch size
                t = time.perf_counter()
                EvidenceArchive(root).head()  # what each run pays once: reading the index
                load = time.perf_counter() - t
                base = sync_round(directory, f"base{i}", [account], directory / "unused", False)
                with_archive = sync_round(directory, f"arch{i}", [account], root, True)
                drain = DRAIN[0]
                archive = EvidenceArchive(root)
                added = archive.head()[0] - have
                have += added
                print(
                    f"{size:>15} {with_archive:>8.2f} {base:>13.2f} {drain:>12.2f} "
                    f"{added / drain:>11.0f} {1000 * drain / max(added, 1):>9.2f} "
                    f"{added / with_archive:>12.0f} {filled:>10.1f} {load:>8.2f}"
                )
                assert added == n, (added, n)
            store = SqliteStore.open(directory / f"arch{len(sizes) - 1}.db")
            assert store.pending_archive("mail") == []
            store.close()
            t = time.perf_counter()
            result = EvidenceArchive(root).verify()
            print(f"verify of {len(result.entries)} entries: ok={result.ok} in "
                  f"{time.perf_counter() - t:.1f} s")  # fmt: skip
    finally:
        server.close()


if __name__ == "__main__":
    main()

"""A consultant's decade of mail for scale benchmarks: up to millions of messages, written
straight into a SQLite store through the store's own write path, optionally also as a
Maildir and/or an mbox. Deterministic: the same arguments give the same rows and files.

The mailbox is made of yearly slices of ``tests.support.mailgen`` (about 100,000 messages
each, one year apart, each with its own Message-ID prefix and subject numbering), so its
shape is mailgen's: client turns of one to three messages, replies in and out of hours,
late and missing replies, thanks-only notes, forwards, CC-only mail, newsletters and
notifications (List-Unsubscribe), auto-replies, messages without Message-ID or Date, and
a share of my replies without In-Reply-To/References that only the subject fallback
threads.

Usage: python -m tests.support.bigstore --messages 1000000 --store /tmp/big.db
       [--maildir DIR] [--mbox FILE] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from responsewatch.adapters.store import SqliteStore
from responsewatch.core.parsing import parse_message
from tests.support.mailgen import GenMessage, generate, write_maildir, write_mbox

__all__ = ["SLICE_MESSAGES", "FillStats", "fill", "slices"]

SLICE_MESSAGES = 100_000
# Ten years ending in October 2026: no message is dated after the benchmarks' "now".
START = datetime(2016, 10, 3, tzinfo=UTC)
# mailgen makes about 4.6 messages per conversation, noise included.
_MESSAGES_PER_CONVERSATION = 4.6
_BARE_REPLY_RATE = 0.05
_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class FillStats:
    generated: int
    stored: int
    seconds: float


def slices(
    messages: int, *, seed: int = 1, slice_messages: int = SLICE_MESSAGES
) -> Iterator[list[GenMessage]]:
    """The mailbox, one year (``slice_messages`` messages) at a time: a million never sits
    in memory at once."""
    left, year = messages, 0
    while left > 0:
        want = min(left, slice_messages)
        conversations = max(1, round(want / _MESSAGES_PER_CONVERSATION))
        batch = generate(
            conversations,
            seed=seed * 1000 + year,
            start=START + timedelta(days=365 * year),
            span_days=365,
            id_prefix=f"y{year:02d}g",
            first_index=year * 10 * conversations,
            bare_reply_rate=_BARE_REPLY_RATE,
        )
        # A short slice (the generator's count is approximate) is topped up by the next.
        batch = batch[:want]
        left -= len(batch)
        year += 1
        yield batch


def fill(
    store_path: Path,
    messages: int,
    *,
    seed: int = 1,
    maildir: Path | None = None,
    mbox: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> FillStats:
    """Generate ``messages`` messages and store them as `sync` does: each one parsed by
    ``parse_message`` and written by ``SqliteStore.add_messages`` (in batches, each one
    transaction), into the account "bench", with the generated INTERNALDATE as an IMAP sync stores
    them."""
    start = time.perf_counter()
    store = SqliteStore.open(store_path)
    generated = stored = 0
    try:
        for batch in slices(messages, seed=seed):
            if maildir is not None:
                write_maildir(batch, maildir, first=generated)
            if mbox is not None:
                write_mbox(batch, mbox)
            for at in range(0, len(batch), _BATCH):
                chunk = batch[at : at + _BATCH]
                stored += store.add_messages(
                    (parse_message(g.data, internaldate=g.internaldate) for g in chunk),
                    account="bench",
                )
            generated += len(batch)
            if progress is not None:
                progress(generated)
    finally:
        store.close()
    return FillStats(generated, stored, time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--maildir", type=Path)
    ap.add_argument("--mbox", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    result = fill(
        args.store,
        args.messages,
        seed=args.seed,
        maildir=args.maildir,
        mbox=args.mbox,
        progress=lambda n: print(f"  {n:,} messages", file=sys.stderr, flush=True),
    )
    print(
        f"generated {result.generated:,} messages, stored {result.stored:,} "
        f"in {result.seconds:.1f} s"
    )


if __name__ == "__main__":
    main()

"""The daemon's periodic recompute, run in a short-lived child process.

Loading the facts of 100,000 messages and threading them takes ~150 MB for a second or
two; in a child process that memory goes back to the system when the child exits, so the
long-running daemon stays small on a NAS. Only the Analysis (~2 MB pickled) comes back.
"""

from __future__ import annotations

import gc
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime

from responsewatch.adapters.store import SqliteStore
from responsewatch.app.bootstrap import bootstrap
from responsewatch.config import Settings
from responsewatch.core.models import Analysis

__all__ = ["analysis_in_child", "compute_analysis"]


def compute_analysis(settings: Settings, at: datetime) -> Analysis:
    """Runs in the child: its own store connection, the same pure computation."""
    if multiprocessing.parent_process() is not None:
        # A child that exits right after never needs the cyclic GC (the facts are acyclic);
        # re-enabling it would only scan the million objects just built, once, for nothing.
        gc.disable()
    # Read-only, never migrating: the daemon owns the schema; a child of an older or newer
    # responsewatch fails instead of changing the store under the writer.
    app = bootstrap(settings, store=SqliteStore.open(settings.store_path, readonly=True))
    try:
        return app.analysis(at)[0]
    finally:
        app.close()


def analysis_in_child(settings: Settings, at: datetime) -> Analysis:
    # "spawn", never "fork": the daemon has threads (IMAP, writer) whose locks a forked
    # child would inherit in whatever state they were.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(compute_analysis, settings, at).result()

"""The benchmarks' one timer: the best of a few runs is the figure least disturbed by the
other work on a shared machine."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(runs: int, fn: Callable[..., object], *args: object) -> float:
    """The fastest of ``runs`` calls of ``fn(*args)``, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)

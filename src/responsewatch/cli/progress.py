"""Rich progress bars fed by the callbacks ``app/`` takes (it never draws one itself)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["PROGRESS_AFTER_MESSAGES", "reading", "rebuilding", "syncing"]

PROGRESS_AFTER_MESSAGES = 2000  # a shorter read ends before a bar would help


@contextmanager
def reading(enabled: bool, console: Console) -> Iterator[Callable[[], None] | None]:
    """``analyze``: a bar that appears once a read passes PROGRESS_AFTER_MESSAGES."""
    if not enabled:
        yield None
        return
    bar = Progress(
        SpinnerColumn(),
        TextColumn("reading: {task.completed} messages"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = bar.add_task("read", total=None)
    seen = 0

    def tick() -> None:
        nonlocal seen
        seen += 1
        if seen == PROGRESS_AFTER_MESSAGES:
            bar.start()
        if seen % 200 == 0:
            bar.update(task, completed=seen)

    try:
        yield tick
    finally:
        bar.stop()


@contextmanager
def syncing(enabled: bool, console: Console) -> Iterator[Callable[[int], None] | None]:
    """``sync --once``: messages read so far, across accounts."""
    if not enabled:
        yield None
        return
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.completed} messages"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with bar:
        task = bar.add_task("sync", total=None)
        yield lambda n: bar.advance(task, n)


@contextmanager
def rebuilding(enabled: bool, console: Console) -> Iterator[Callable[[str, int, int], None] | None]:
    """``rebuild``: facts read out of the total, then the recompute phase."""
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = None

    def update(phase: str, done: int, total: int) -> None:
        nonlocal task
        if task is None:
            task = bar.add_task(phase, total=total)
            bar.start()
        bar.update(task, completed=done, description=phase)

    try:
        yield update
    finally:
        bar.stop()

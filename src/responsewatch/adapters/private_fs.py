"""Files and folders only their owner can read, whatever the umask.

The store holds who wrote to whom and when; under the usual umask 022 a new file would be
world-readable (0644) and a new folder listable by anyone (0755). Modes are set explicitly
(and re-set: the umask applies to ``open``/``mkdir``), not left to the process's umask.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "private_dir", "private_file"]

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents 0700; existing folders are left alone
    (``~`` or a shared mount is not ours to change)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another process made it meanwhile
            continue
        os.chmod(folder, DIR_MODE)


def private_file(path: Path) -> None:
    """Create ``path`` empty if missing, and make it 0600 (SQLite gives its -wal and -shm
    files the mode of the database file, so setting it here covers them too)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)

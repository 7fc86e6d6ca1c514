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
    """Make ``path`` 0600, creating it empty if missing (SQLite gives its -wal and -shm files
    the mode of the database file, so setting it here covers them too). An existing file is
    changed by path, never opened: closing any descriptor of a database this process already
    has open would drop SQLite's POSIX locks on it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:
        os.chmod(path, FILE_MODE)
        return
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)

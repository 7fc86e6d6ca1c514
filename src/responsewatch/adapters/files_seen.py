"""Re-read only what changed in a file account since the last pass.

- Maildir: a message file is known by its folder and its unique name (the file name before
  ``:2,``): a move from ``new/`` to ``cur/`` or a flag change renames the file but keeps
  the unique part, so it is not read again.
- mbox (plain, not gzip): read from the start of its last message when the file grew and
  its bytes up to the old end are unchanged (size, mtime, and a hash of its first and last
  64 KiB before the old end); otherwise, a rewritten file (compacted, edited, shorter),
  read whole again.
- Any other file (one message per file, gzip): read again when its size or mtime changed.

Re-reading a message is harmless (the store ignores a known Message-ID): every doubt
reads more, never less. The state is built during a pass and kept only when the pass
completes (``FileSeen.replace``), so an interrupted pass reads the same files again.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from responsewatch.adapters.files import (
    _GZIP_MAGIC,
    _MAX_MESSAGE_BYTES,
    _SLURP_LIMIT,
    FileMessage,
    ReadStats,
    _looks_like_mbox,
    _read_file,
    _unescape,
    iter_paths,
)
from responsewatch.errors import ConfigError

__all__ = ["FileSeen", "read_changed_messages"]

_WINDOW = 64 * 1024
_RACY_NS = 2_000_000_000


@dataclass(frozen=True, slots=True)
class _Mbox:
    size: int
    mtime_ns: int
    check: bytes  # hash of the first and last _WINDOW bytes before ``size``
    last_start: int  # offset of the last message's "From " line


@dataclass(slots=True)
class FileSeen:
    """What a file account's last complete pass read."""

    maildir: set[tuple[str, str]] = field(default_factory=set)  # (folder, unique name)
    # A Maildir's cur/ or new/ -> (its mtime, when it was listed, the keys it held)
    dirs: dict[str, tuple[int, int, frozenset[tuple[str, str]]]] = field(default_factory=dict)
    files: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (size, mtime)
    mboxes: dict[str, _Mbox] = field(default_factory=dict)

    def replace(self, other: FileSeen) -> None:
        self.maildir, self.files, self.mboxes = other.maildir, other.files, other.mboxes
        self.dirs = other.dirs


def _maildir_key(path: Path, folders: dict[Path, bool]) -> tuple[str, str] | None:
    if path.parent.name not in ("cur", "new"):
        return None
    folder = path.parent.parent
    is_maildir = folders.get(folder)
    if is_maildir is None:  # once per folder and pass, not once per file
        is_maildir = folders[folder] = (folder / "cur").is_dir() and (folder / "new").is_dir()
    if not is_maildir:
        return None
    return str(folder), path.name.split(":", 1)[0]


def _check(handle: BinaryIO, size: int) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    handle.seek(0)
    digest.update(handle.read(min(size, _WINDOW)))
    handle.seek(max(0, size - _WINDOW))
    digest.update(handle.read(size - max(0, size - _WINDOW)))
    return digest.digest()


def _last_start(handle: BinaryIO, size: int) -> int:
    """Offset of the last "From " separator line, found from the end (0 if none near)."""
    end = size
    while end > 0 and size - end < _MAX_MESSAGE_BYTES:
        begin = max(0, end - (1 << 20))
        handle.seek(begin)
        chunk = handle.read(end - begin + 8)  # overlap: a separator across the boundary
        at = max(chunk.rfind(b"\n\nFrom "), chunk.rfind(b"\n\r\nFrom "))
        if at >= 0:
            line = chunk.index(b"From ", at)
            return begin + line
        end = begin
    return 0


def _mbox_messages(data: bytes, base: int, origin: str) -> Iterator[tuple[int, FileMessage]]:
    """(offset of its "From " line, message) of each mbox entry in ``data`` (at ``base``)."""
    current: list[bytes] = []
    start = -1
    index = 0
    pos = base
    previous_blank = True
    for line in data.splitlines(keepends=True):
        if previous_blank and _looks_like_mbox(line):
            if start >= 0:
                yield start, FileMessage(f"{origin}@{start}", _unescape(current))
                index += 1
            current, start = [], pos
            previous_blank = False
        else:
            previous_blank = line in (b"\n", b"\r\n")
            current.append(line)
        pos += len(line)
    if start >= 0:
        yield start, FileMessage(f"{origin}@{start}", _unescape(current))


def _read_mbox(
    path: Path, st: os.stat_result, old: _Mbox | None, seen: FileSeen, stats: ReadStats
) -> Iterator[FileMessage]:
    origin = str(path)
    try:
        with open(path, "rb") as handle:
            if handle.read(2) == _GZIP_MAGIC:
                seen.files[origin] = (st.st_size, st.st_mtime_ns)
                yield from _read_file(path, stats)
                return
            base = 0
            if old is not None and st.st_size >= old.size and _check(handle, old.size) == old.check:
                base = old.last_start  # appended to: the last message again, then the new ones
            if st.st_size - base > _SLURP_LIMIT:  # a first read of a big mbox: streamed
                last_start = _last_start(handle, st.st_size)
                check = _check(handle, st.st_size)
                seen.mboxes[origin] = _Mbox(st.st_size, st.st_mtime_ns, check, last_start)
                big = True
            else:
                big = False
                handle.seek(base)
                data = handle.read()
                size = base + len(data)
                check = _check(handle, size)
    except OSError as exc:
        stats.skip(origin, f"cannot be read ({exc.__class__.__name__}: {exc.strerror or exc})")
        return
    if big:
        yield from _read_file(path, stats)
        return
    stats.files += 1
    stats.bytes_read += len(data)
    last_start = base
    if base == 0 and not _looks_like_mbox(data[:1024]):
        seen.files[origin] = (st.st_size, st.st_mtime_ns)
        yield FileMessage(origin, data)
        return
    for start, message in _mbox_messages(data, base, origin):
        last_start = start
        yield message
    seen.mboxes[origin] = _Mbox(size, st.st_mtime_ns, check, last_start)


def read_changed_messages(
    root: Path, previous: FileSeen, current: FileSeen, stats: ReadStats
) -> Iterator[FileMessage]:
    """The messages of ``root`` that ``previous`` does not cover; fills ``current``."""
    if not root.exists() and not root.is_symlink():
        raise ConfigError(f"PATH {root}: no such file or directory")
    folders: dict[Path, bool] = {}
    listed: dict[str, tuple[int, int, set[tuple[str, str]]]] = {}
    started = time.time_ns()

    def unchanged(directory: Path) -> bool:
        # A file added, removed or renamed changes its directory's mtime. Trusted only
        # when the mtime was well before that listing: a change within the same
        # timestamp tick as the listing would leave it equal (as git's "racy" index).
        try:
            mtime = directory.stat().st_mtime_ns
        except OSError:
            return False
        old = previous.dirs.get(str(directory))
        if old is not None and old[0] == mtime and old[1] - mtime > _RACY_NS:
            current.dirs[str(directory)] = old
            current.maildir.update(old[2])
            return True
        listed[str(directory)] = (mtime, started, set())
        return False

    for path in iter_paths(root, unchanged):
        key = _maildir_key(path, folders)
        if key is not None:
            current.maildir.add(key)
            entry = listed.get(str(path.parent))
            if entry is not None:
                entry[2].add(key)
            if key not in previous.maildir:
                yield from _read_file(path, stats)
            continue
        origin = str(path)
        try:
            st = path.stat()
        except OSError as exc:
            stats.skip(origin, f"cannot be read ({exc.__class__.__name__}: {exc})")
            continue
        mbox = previous.mboxes.get(origin)
        if mbox is not None and (mbox.size, mbox.mtime_ns) == (st.st_size, st.st_mtime_ns):
            current.mboxes[origin] = mbox
            continue
        if previous.files.get(origin) == (st.st_size, st.st_mtime_ns):
            current.files[origin] = (st.st_size, st.st_mtime_ns)
            continue
        yield from _read_mbox(path, st, mbox, current, stats)
    for directory, (mtime, at, keys) in listed.items():
        current.dirs[directory] = (mtime, at, frozenset(keys))

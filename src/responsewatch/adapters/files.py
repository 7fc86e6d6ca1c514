"""Read messages from files: mbox (optionally gzip), Maildir (with Maildir++ folders),
and directory trees of one-message files. Streaming: one message in memory at a time.

Files that cannot be read, or hold no header at all, are *skipped* and counted; a
corrupt gzip keeps the messages read before the damage and counts the file as skipped.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from responsewatch.errors import ConfigError

__all__ = ["FileMessage", "ReadStats", "iter_paths", "read_messages"]

# Bounds on hostile files. The facts of a message come from its header and the first
# 64 KB of its body, so a cut message gives the same facts.
_MAX_MESSAGE_BYTES = 8 * 1024 * 1024
_MAX_LINE_BYTES = 1024 * 1024
_CHUNK_BYTES = 1024 * 1024  # no larger than _MAX_LINE_BYTES: a line inside one chunk fits
_MAX_GZIP_RATIO = 20
_MIN_GZIP_LIMIT = 32 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class FileMessage:
    origin: str  # file path, with ":<n>" for the n-th message of an mbox
    data: bytes


@dataclass(slots=True)
class ReadStats:
    files: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    bytes_read: int = 0

    def skip(self, origin: str, why: str) -> None:
        self.skipped += 1
        if len(self.problems) < 1000:
            self.problems.append(f"{origin}: {why}")


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def iter_paths(root: Path, skip_dir: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Every message-bearing file under ``root`` in a stable order, without recursion.

    In a Maildir only ``cur/`` and ``new/`` hold messages (``tmp/`` is in flight, the
    other files are the server's indexes); Maildir++ folders (``.Sent``) are Maildirs.
    ``skip_dir(path)`` true: a Maildir's ``cur/`` or ``new/`` is not listed.
    """
    return map(Path, _iter_names(root, skip_dir))


def _iter_names(root: Path, skip_dir: Callable[[Path], bool] | None = None) -> Iterator[str]:
    """``iter_paths`` as ``str(path)``: a Path object per file is ~5 us of 100,000 files."""
    if not root.is_dir():
        yield str(root)
        return
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        if _is_maildir(directory):
            for sub in ("cur", "new"):
                if skip_dir is not None and skip_dir(directory / sub):
                    continue
                try:
                    files = sorted(os.scandir(directory / sub), key=lambda e: e.name)
                except OSError:
                    continue
                for entry in files:
                    if not entry.name.startswith(".") and entry.is_file():
                        yield entry.path
            subdirs = [
                Path(e.path)
                for e in entries
                if e.is_dir() and e.name not in ("cur", "new", "tmp") and not e.is_symlink()
            ]
            stack.extend(reversed(subdirs))
            continue
        subdirs = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(Path(entry.path))
            elif not entry.name.startswith("."):
                yield entry.path
        stack.extend(reversed(subdirs))


class _TooLarge(Exception):
    """A compressed file decompresses to more than its cap (a gzip bomb)."""


def _gunzip(handle: BinaryIO, limit: int) -> Iterator[bytes]:
    """Decompressed chunks of at most _CHUNK_BYTES, streamed (never the whole file), and
    no more than ``limit`` bytes in all: a gzip bomb is cut, not expanded. Concatenated
    gzip members are read one after the other, as gzip does."""
    inflater = zlib.decompressobj(31)
    total = 0
    data = b""
    while True:
        if not data:
            data = handle.read(1 << 16)
            if not data:
                if not inflater.eof:
                    raise EOFError("compressed file ended before the end-of-stream marker")
                return
        out = inflater.decompress(data, _CHUNK_BYTES)
        data = inflater.unconsumed_tail
        if out:
            total += len(out)
            if total > limit:
                raise _TooLarge
            yield out
        if inflater.eof:
            data = inflater.unused_data + data
            if not data.strip(b"\0"):
                data = handle.read(1 << 16)
                if not data.strip(b"\0"):
                    return  # trailing padding: the end
            inflater = zlib.decompressobj(31)


def _plain_chunks(handle: BinaryIO) -> Iterator[bytes]:
    while chunk := handle.read(_CHUNK_BYTES):
        yield chunk


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The lines, each at most _MAX_LINE_BYTES (a longer line keeps its start and its line
    break; the rest is dropped as it streams by, so one 16 MB line costs neither quadratic
    copying nor 16 MB)."""
    pending: list[bytes] = []  # the start of a line spanning chunks, at most the cap
    pending_len = 0
    for chunk in chunks:
        lines = chunk.split(b"\n")
        rest = lines.pop()
        if lines:
            if pending:
                lines[0] = b"".join(pending) + lines[0][: _MAX_LINE_BYTES - pending_len]
                pending, pending_len = [], 0
            for line in lines:
                yield line + b"\n"
        if rest and pending_len < _MAX_LINE_BYTES:
            pending.append(rest[: _MAX_LINE_BYTES - pending_len])
            pending_len += len(pending[-1])
    if pending:
        yield b"".join(pending)


def _looks_like_mbox(first: bytes) -> bool:
    return first.startswith(b"From ") and not first[5:6].isspace()


def _split_mbox(lines: Iterator[bytes], origin: str) -> Iterator[FileMessage]:
    """mbox entries start at a "From " line that follows an empty line (or starts the file)."""
    current: list[bytes] = []
    size = 0
    index = 0
    previous_blank = True
    for line in lines:
        if previous_blank and line.startswith(b"From ") and _looks_like_mbox(line):
            if current:
                yield FileMessage(f"{origin}:{index}", _unescape(current))
                index += 1
            current, size = [], 0
            previous_blank = False
            continue
        previous_blank = line in (b"\n", b"\r\n")
        if size < _MAX_MESSAGE_BYTES:
            current.append(line)
            size += len(line)
    if current:
        yield FileMessage(f"{origin}:{index}", _unescape(current))


def _unescape(lines: list[bytes]) -> bytes:
    # The blank line before the next separator belongs to the mbox format, not the message.
    if lines and lines[-1] in (b"\n", b"\r\n"):
        lines = lines[:-1]
    return b"".join(lines)


_SLURP_LIMIT = 8 * 1024 * 1024


def _slurp(path: Path | str) -> tuple[int, bytes]:
    """The size and, for a file of at most _SLURP_LIMIT bytes, the whole content (else its
    first two bytes). One read for the common case, a small one-message file; big or
    compressed files are streamed by the caller. Plain os calls: a buffered file object
    costs more than the read itself for a 2 KB message."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        if size > _SLURP_LIMIT:
            return size, os.read(fd, 2)
        # To the end, as read() does, should the file have grown since fstat.
        parts: list[bytes] = []
        while chunk := os.read(fd, size + 1 if not parts else _CHUNK_BYTES):
            parts.append(chunk)
        return size, parts[0] if len(parts) == 1 else b"".join(parts)
    finally:
        os.close(fd)


def _read_file(path: Path | str, stats: ReadStats) -> Iterator[FileMessage]:
    origin = str(path)
    try:
        size, data = _slurp(path)
    except OSError as exc:
        stats.skip(origin, f"cannot be read ({exc.__class__.__name__}: {exc.strerror or exc})")
        return
    stats.files += 1
    if size <= _SLURP_LIMIT and not data.startswith(_GZIP_MAGIC):
        stats.bytes_read += len(data)
        if _looks_like_mbox(data[:1024]):
            yield from _split_mbox(iter(data.splitlines(keepends=True)), origin)
        else:
            yield FileMessage(origin, data)
        return
    del data
    try:
        with open(path, "rb") as handle:
            compressed = handle.read(2) == _GZIP_MAGIC
            handle.seek(0)
            # What a compressed file may decompress to: real mail compresses 3-10 times;
            # a bomb (255 KB -> GBs) is cut here, keeping what was read before the cut.
            limit = max(_MIN_GZIP_LIMIT, _MAX_GZIP_RATIO * size)
            chunks = _gunzip(handle, limit) if compressed else _plain_chunks(handle)
            first = next(chunks, b"")

            def all_chunks() -> Iterator[bytes]:
                yield first
                yield from chunks

            if _looks_like_mbox(first[:1024]):
                yield from _split_mbox(_lines(all_chunks()), origin)
                return
            # One message: never more than the cap in memory, whatever it decompresses to.
            parts, kept = [], 0
            for chunk in all_chunks():
                parts.append(chunk[: _MAX_MESSAGE_BYTES - kept])
                kept += len(parts[-1])
                if kept >= _MAX_MESSAGE_BYTES:
                    break
            whole = b"".join(parts)
    except _TooLarge:
        stats.skip(origin, f"decompresses to more than {limit} bytes (a gzip bomb?)")
        return
    except (OSError, EOFError, zlib.error) as exc:
        stats.skip(origin, f"corrupt or truncated ({exc.__class__.__name__}: {exc})")
        return
    stats.bytes_read += len(whole)
    yield FileMessage(origin, whole)


def read_messages(
    paths: list[Path],
    stats: ReadStats,
    on_file: Callable[[Path], None] | None = None,
) -> Iterator[FileMessage]:
    """Messages from every PATH in order; a missing PATH is a usage error (all named at once)."""
    missing = [str(p) for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        raise ConfigError([f"PATH {p}: no such file or directory" for p in missing])
    for root in paths:
        for name in _iter_names(root):
            if on_file is not None:
                on_file(Path(name))
            yield from _read_file(name, stats)

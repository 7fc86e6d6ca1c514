"""File accounts read incrementally: Maildir by unique name, mbox by offset, rewrites whole."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.build import ME, T0, raw

from responsewatch.adapters.files import ReadStats
from responsewatch.adapters.files_seen import FileSeen, read_changed_messages
from responsewatch.adapters.store import SqliteStore
from responsewatch.app.sync import sync_files
from responsewatch.config import AccountSettings


def mail(i: int) -> bytes:
    return raw(f"m{i}@x", "jean@acme.fr", [ME], T0 + timedelta(minutes=i), subject=f"S{i}")


def mbox_entry(i: int) -> bytes:
    return b"From jean@acme.fr Mon Nov  2 09:00:00 2026\n" + mail(i) + b"\n"


def ids(items: list[bytes]) -> list[str]:
    return sorted(
        line.split(b"<")[1].split(b">")[0].decode()
        for data in items
        for line in data.splitlines()
        if line.startswith(b"Message-ID:")
    )


class Reader:
    def __init__(self, root: Path) -> None:
        self.root, self.seen = root, FileSeen()

    def read(self) -> tuple[list[str], ReadStats]:
        stats, current = ReadStats(), FileSeen()
        got = [m.data for m in read_changed_messages(self.root, self.seen, current, stats)]
        self.seen.replace(current)
        return ids(got), stats


def maildir(root: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


def test_maildir_by_unique_name_a_flag_change_is_not_new(tmp_path: Path) -> None:
    box = maildir(tmp_path / "Maildir")
    (box / "new" / "1700.a.host").write_bytes(mail(1))
    (box / "cur" / "1701.b.host:2,").write_bytes(mail(2))
    reader = Reader(box)
    assert reader.read()[0] == ["m1@x", "m2@x"]
    assert reader.read()[0] == []
    (box / "new" / "1700.a.host").rename(box / "cur" / "1700.a.host:2,S")  # read by the client
    (box / "cur" / "1701.b.host:2,").rename(box / "cur" / "1701.b.host:2,RS")
    assert reader.read()[0] == []
    (box / "new" / "1702.c.host").write_bytes(mail(3))
    assert reader.read()[0] == ["m3@x"]
    (box / "cur" / "1701.b.host:2,RS").unlink()
    assert reader.read()[0] == []
    assert len(reader.seen.maildir) == 2  # a deleted file is forgotten


def age(box: Path, seconds: int) -> None:
    """Date the folder's directories back, as if their last change were long ago."""
    for sub in ("cur", "new"):
        if (box / sub).stat().st_mtime > 10**9:  # changed since the last aging
            os.utime(box / sub, (seconds, seconds))


def test_unchanged_maildir_directories_are_not_even_listed(tmp_path: Path) -> None:
    box = maildir(tmp_path / "Maildir")
    (box / "new" / "1.a.host").write_bytes(mail(1))
    (box / "cur" / "2.b.host:2,S").write_bytes(mail(2))
    reader = Reader(box)
    assert reader.read()[0] == ["m1@x", "m2@x"]
    assert reader.read()[0] == []  # listed again: its mtime was too recent to trust
    age(box, 1_000_000)
    assert reader.read()[0] == []
    kept = reader.seen.dirs[str(box / "cur")]
    assert reader.read()[0] == [] and reader.seen.dirs[str(box / "cur")] is kept
    assert len(reader.seen.maildir) == 2
    (box / "new" / "1.a.host").rename(box / "cur" / "1.a.host:2,S")  # both mtimes move
    (box / "new" / "3.c.host").write_bytes(mail(3))
    assert reader.read()[0] == ["m3@x"]
    assert len(reader.seen.maildir) == 3


def test_mbox_appended_reads_only_the_tail(tmp_path: Path) -> None:
    path = tmp_path / "INBOX.mbox"
    path.write_bytes(b"".join(mbox_entry(i) for i in range(50)))
    reader = Reader(path)
    first, stats = reader.read()
    assert len(first) == 50 and stats.bytes_read == path.stat().st_size
    assert reader.read()[0] == []
    with open(path, "ab") as handle:
        handle.write(mbox_entry(50) + mbox_entry(51))
    got, stats = reader.read()
    assert {"m50@x", "m51@x"} <= set(got) and len(got) == 3  # the old last one, read again
    assert stats.bytes_read < 3 * len(mbox_entry(51)) + 10


def test_rewritten_mbox_is_read_whole_again(tmp_path: Path) -> None:
    path = tmp_path / "INBOX.mbox"
    path.write_bytes(b"".join(mbox_entry(i) for i in range(5)))
    reader = Reader(path)
    reader.read()
    # Compacted by the mail client, then one message more: bigger than before, prefix changed.
    path.write_bytes(b"".join(mbox_entry(i) for i in (0, 2, 3, 4, 5, 6)))
    assert reader.read()[0] == ids([mail(i) for i in (0, 2, 3, 4, 5, 6)])
    path.write_bytes(b"".join(mbox_entry(i) for i in (0, 2)))  # shorter
    assert reader.read()[0] == ["m0@x", "m2@x"]


OPS = st.lists(
    st.tuples(st.sampled_from(["append", "rewrite", "add", "flag", "touch"]), st.integers(0, 99)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=20, deadline=None)
@given(OPS)
def test_incremental_sync_stores_what_a_full_re_read_stores(ops: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        root = tmp / "mail"
        box = maildir(root / "Maildir")
        mbox = root / "archive.mbox"
        mbox.write_bytes(mbox_entry(1000))
        entries = [1000]
        accounts = AccountSettings(name="files", type="mbox", path=str(root))
        incremental = SqliteStore.open(tmp / "inc.db")
        full = SqliteStore.open(tmp / "full.db")
        seen = FileSeen()
        clock = lambda: datetime(2026, 12, 1, tzinfo=UTC)  # noqa: E731
        n = 0
        try:
            for op, k in ops:
                n += 1
                if op == "append":
                    entries.append(2000 + n)
                    with open(mbox, "ab") as handle:
                        handle.write(mbox_entry(2000 + n))
                elif op == "rewrite":
                    # Compacted, and a message put back near the top (a move between folders).
                    entries = [e for i, e in enumerate(entries) if i != k % len(entries)]
                    entries.insert(k % (len(entries) + 1), 3000 + n)
                    mbox.write_bytes(b"".join(mbox_entry(e) for e in entries))
                elif op == "add":
                    (box / "new" / f"{n}.{k}.host").write_bytes(mail(4000 + n))
                elif op == "flag":
                    files = sorted((box / "new").iterdir())
                    if files:
                        target = files[k % len(files)]
                        target.rename(box / "cur" / f"{target.name}:2,S")
                else:
                    os.utime(mbox, ns=(k * 10**9, k * 10**9))
                age(box, 1_000_000 + n)
                sync_files(accounts, incremental, now=clock, seen=seen)
                sync_files(accounts, full, now=clock)
                got = {m.message_id for m in incremental.messages()}
                assert got == {m.message_id for m in full.messages()}
        finally:
            incremental.close()
            full.close()


def test_an_interrupted_pass_keeps_the_previous_state(tmp_path: Path) -> None:
    box = maildir(tmp_path / "Maildir")
    for i in range(5):
        (box / "new" / f"{i}.x.host").write_bytes(mail(i))
    store = SqliteStore.open(tmp_path / "s.db")
    seen = FileSeen()
    account = AccountSettings(name="files", type="maildir", path=str(box))
    now = lambda: datetime(2026, 12, 1, tzinfo=UTC)  # noqa: E731
    report = sync_files(account, store, now=now, seen=seen, batch_size=2, should_stop=lambda: True)
    assert report.stopped and not seen.maildir
    sync_files(account, store, now=now, seen=seen)
    assert store.message_count() == 5 and len(seen.maildir) == 5
    store.close()

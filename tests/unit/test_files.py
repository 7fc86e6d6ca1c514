"""Mailbox readers: mbox (and .gz), Maildir with Maildir++ folders, trees of files."""

from __future__ import annotations

import gzip
import mailbox
from pathlib import Path

import pytest
from tests.support.build import ME, T0, raw

from responsewatch.adapters.files import ReadStats, iter_paths, read_messages
from responsewatch.app.pipeline import load_corpus
from responsewatch.errors import ConfigError


def _mbox(path: Path, bodies: list[bytes]) -> None:
    box = mailbox.mbox(str(path))
    for data in bodies:
        box.add(mailbox.mboxMessage(data))
    box.flush()
    box.close()


def test_mbox_split_keeps_from_lines_inside_bodies(tmp_path: Path) -> None:
    path = tmp_path / "box.mbox"
    first = raw("a@x", "p@x.fr", [ME], T0, body="line\nFrom the start, quoted by mboxrd\n")
    _mbox(path, [first, raw("b@x", "p@x.fr", [ME], T0)])
    corpus = load_corpus([path])
    assert sorted(corpus.messages) == ["a@x", "b@x"]


def test_unescaped_from_line_after_blank_line_in_body(tmp_path: Path) -> None:
    data = (
        b"From sender Mon Nov  2 10:00:00 2026\n"
        + raw("a@x", "p@x.fr", [ME], T0)
        + b"\nFrom here on\n\n"
        + b"From sender Mon Nov  2 10:00:00 2026\n"
        + raw("b@x", "p@x.fr", [ME], T0)
    )
    (tmp_path / "box").write_bytes(data)
    assert {"a@x", "b@x"} <= set(load_corpus([tmp_path / "box"]).messages)


def test_gzip_mbox_and_gzip_single_message(tmp_path: Path) -> None:
    plain = tmp_path / "box.mbox"
    _mbox(plain, [raw(f"m{i}@x", "p@x.fr", [ME], T0) for i in range(5)])
    (tmp_path / "box.mbox.gz").write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    (tmp_path / "one.eml.gz").write_bytes(gzip.compress(raw("solo@x", "p@x.fr", [ME], T0)))
    assert len(load_corpus([tmp_path]).messages) == 6


def test_maildir_with_maildirplusplus_folders_ignores_tmp_and_indexes(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    for folder in (root, root / ".Sent", root / ".Archives.2025"):
        for leaf in ("cur", "new", "tmp"):
            (folder / leaf).mkdir(parents=True)
    (root / "cur" / "1:2,S").write_bytes(raw("in@x", "p@x.fr", [ME], T0))
    (root / "new" / "2").write_bytes(raw("new@x", "p@x.fr", [ME], T0))
    (root / "tmp" / "3").write_bytes(raw("inflight@x", "p@x.fr", [ME], T0))
    (root / ".Sent" / "cur" / "4:2,S").write_bytes(raw("out@x", ME, ["p@x.fr"], T0))
    (root / ".Archives.2025" / "cur" / "5!2,S").write_bytes(raw("old@x", "p@x.fr", [ME], T0))
    (root / "dovecot-uidlist").write_bytes(b"3 V1 N6\n")
    (root / "maildirfolder").write_bytes(b"")
    corpus = load_corpus([root])
    assert sorted(corpus.messages) == ["in@x", "new@x", "old@x", "out@x"]
    assert corpus.stats.skipped == 0


def test_same_message_id_in_two_folders_is_one_message(tmp_path: Path) -> None:
    (tmp_path / "a.eml").write_bytes(raw("same@x", "p@x.fr", [ME], T0))
    (tmp_path / "b.eml").write_bytes(raw("same@x", "p@x.fr", [ME], T0))
    corpus = load_corpus([tmp_path])
    assert list(corpus.messages) == ["same@x"] and corpus.duplicates == 1


def test_line_endings_crlf_and_bare_cr(tmp_path: Path) -> None:
    lf = raw("e@x", "p@x.fr", [ME], T0, subject="Endings")
    (tmp_path / "crlf.eml").write_bytes(lf.replace(b"e@x", b"crlf@x").replace(b"\n", b"\r\n"))
    (tmp_path / "cr.eml").write_bytes(lf.replace(b"e@x", b"cr@x").replace(b"\n", b"\r"))
    corpus = load_corpus([tmp_path])
    assert {m.subject for m in corpus.messages.values()} == {"Endings"}
    assert set(corpus.messages) == {"crlf@x", "cr@x"}


def test_missing_paths_are_all_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        list(read_messages([tmp_path / "a", tmp_path / "b"], ReadStats()))
    assert len(info.value.problems) == 2


def test_iter_paths_is_sorted_and_skips_hidden_files(tmp_path: Path) -> None:
    for name in ("b.eml", "a.eml", ".DS_Store"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.eml").write_bytes(b"x")
    assert [p.name for p in iter_paths(tmp_path)] == ["a.eml", "b.eml", "c.eml"]


def test_streaming_reader_keeps_one_message_at_a_time(tmp_path: Path) -> None:
    """A large mbox is split lazily: the reader never materialises the whole file."""
    path = tmp_path / "big.mbox.gz"
    with gzip.open(path, "wb") as out:
        for i in range(3000):
            out.write(
                b"From x Mon Nov  2 10:00:00 2026\n" + raw(f"m{i}@x", "p@x.fr", [ME], T0) + b"\n"
            )
    stats = ReadStats()
    reader = read_messages([path], stats)
    first = next(reader)
    assert first.origin.endswith(":0") and b"m0@x" in first.data
    assert sum(1 for _ in reader) == 2999

"""The ledger index persisted beside the ledger (``index.sqlite``): a new process reads only
what was appended since, agrees with an index built from the whole ledger, and is rebuilt
whenever it no longer describes the ledger."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from tests.unit.test_archive_pipeline import T0, items, no_dns

from responsewatch.adapters.archive import DKIM_RECHECK, REJECTION, DkimResult, EvidenceArchive
from responsewatch.adapters.archive.index import INDEX_NAME


def _views(archive: EvidenceArchive) -> tuple[object, ...]:
    ids = [f"m{i}@acme.fr" for i in range(0, 40)] + ["nobody@x"]
    return (
        archive.head(),
        archive.counts_by_client(),
        sorted(archive.awaiting_dkim()),
        [archive.has(m) for m in ids],
        [archive.is_rejected(m) for m in ids],
    )


def _filled(root: Path) -> EvidenceArchive:
    archive = EvidenceArchive(root, lookup=no_dns)
    batch = items(0, 30)
    for n, item in enumerate(batch):
        if n % 7 == 0:  # a temporary DNS failure: waits for a later verdict
            batch[n] = replace(item, dkim_result=DkimResult("temperror"))
    archive.add_many(batch[:20], now=T0)
    archive.add_many(batch[20:], now=T0)
    archive.add_marks(
        [
            {"kind": REJECTION, "message_id": "m3@acme.fr", "reason": "not one"},
            {"kind": DKIM_RECHECK, "message_id": "m7@acme.fr", "dkim": DkimResult("none")},
        ],
        now=T0,
    )
    return archive


def test_a_new_process_agrees_with_an_index_built_from_the_whole_ledger(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    _filled(root).close()
    persisted = EvidenceArchive(root, lookup=no_dns)
    rebuilt = EvidenceArchive(root, lookup=no_dns, persist_index=False)
    assert _views(persisted) == _views(rebuilt)
    seq, _head = persisted.head()
    assert seq == 32 and persisted.is_rejected("m3@acme.fr")
    assert [m for m, _s, _a in persisted.awaiting_dkim()] == [
        "m0@acme.fr",
        "m14@acme.fr",
        "m21@acme.fr",
        "m28@acme.fr",
    ]
    assert persisted.counts_by_client() == {"acme": 29}


def test_opening_reads_only_the_end_of_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "archive"
    first = EvidenceArchive(root, lookup=no_dns)
    for start in range(0, 1500, 500):
        first.add_many(items(start, 500), now=T0)
    first.close()
    size = (root / "ledger.jsonl").stat().st_size
    parsed: list[bytes] = []
    real_loads = json.loads

    def counting(data: str | bytes, *a: object, **kw: object) -> object:
        parsed.append(data if isinstance(data, bytes) else data.encode())
        return real_loads(data, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(json, "loads", counting)
    later = EvidenceArchive(root, lookup=no_dns)  # a new process: `archive add`, a restart
    assert later.head()[0] == 1500 and later.has("m1499@acme.fr")
    assert later.add_many(items(1500, 2), now=T0)[0].seq == 1501
    assert sum(len(p) for p in parsed) < size // 100
    monkeypatch.undo()
    assert later.verify().ok


def test_a_ledger_cut_or_replaced_behind_the_index_rebuilds_it(tmp_path: Path) -> None:
    root, other = tmp_path / "archive", tmp_path / "other"
    _filled(root).close()
    archive = EvidenceArchive(other, lookup=no_dns)
    archive.add_many(items(100, 40), now=T0)  # longer: only its content tells them apart
    archive.close()
    os.replace(other / "ledger.jsonl", root / "ledger.jsonl")
    reopened = EvidenceArchive(root, lookup=no_dns)
    assert reopened.has("m100@acme.fr") and not reopened.has("m1@acme.fr")
    assert _views(reopened) == _views(EvidenceArchive(root, persist_index=False))
    # Cut the last line off: the index must not keep an entry the ledger lost.
    ledger = root / "ledger.jsonl"
    lines = ledger.read_bytes().splitlines(keepends=True)
    ledger.write_bytes(b"".join(lines[:-1]))
    again = EvidenceArchive(root, lookup=no_dns)
    assert again.head()[0] == 39 and not again.has("m139@acme.fr")


def test_an_unreadable_index_file_is_rebuilt_private(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    _filled(root).close()
    for name in (INDEX_NAME, f"{INDEX_NAME}-wal", f"{INDEX_NAME}-shm"):
        if (root / name).exists():
            (root / name).write_bytes(b"\x00garbage, not SQLite\xff" * 100)
    archive = EvidenceArchive(root, lookup=no_dns)
    assert _views(archive) == _views(EvidenceArchive(root, persist_index=False))
    assert stat.S_IMODE((root / INDEX_NAME).stat().st_mode) == 0o600


def test_two_writers_keep_one_index_right(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    a = EvidenceArchive(root, lookup=no_dns)
    b = EvidenceArchive(root, lookup=no_dns)
    a.add_many(items(0, 5), now=T0)
    b.add_many(items(5, 5), now=T0)
    assert a.add_many(items(3, 4), now=T0) == []  # b's and a's own: all known
    assert a.head() == b.head() and a.head()[0] == 10
    assert _views(EvidenceArchive(root)) == _views(EvidenceArchive(root, persist_index=False))

"""The store under pressure: a full disk, concurrent first opens, and its file modes."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from responsewatch.adapters.store import MIGRATIONS, SqliteStore
from responsewatch.errors import DataError
from tests.support.build import ME, T0, raw

OPENERS = 32


def _open_at_once(path: str, barrier: Any, results: Any) -> None:
    barrier.wait()  # all 32 hit the brand-new file together
    try:
        store = SqliteStore.open(Path(path))
    except DataError as exc:
        results.put(f"error: {exc}")
        return
    version = store._db.execute("PRAGMA user_version").fetchone()[0]
    tables = store._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    store.close()
    results.put(f"ok {version} {tables}")


def test_32_concurrent_first_opens_all_succeed(tmp_path: Path) -> None:
    path = tmp_path / "new" / "store.db"
    ctx = multiprocessing.get_context("fork")  # cheap children that share loaded modules
    barrier, results = ctx.Barrier(OPENERS), ctx.Queue()
    procs = [
        ctx.Process(target=_open_at_once, args=(str(path), barrier, results))
        for _ in range(OPENERS)
    ]
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    reference = SqliteStore.open(path)
    tables = reference._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    reference.close()
    assert got == [f"ok {len(MIGRATIONS)} {tables}"] * OPENERS


def _maildir(root: Path, count: int, prefix: str) -> Path:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    for i in range(count):
        body = f"ligne {i} " * 200 + "\n"
        data = raw(f"{prefix}{i}@acme.fr", "jean@acme.fr", [ME], T0, subject=f"S {i}", body=body)
        (root / "cur" / f"{i}:2,").write_bytes(data)
    return root


def test_full_disk_is_a_data_error_counted_and_other_accounts_still_tried(
    tmp_path: Path,
) -> None:
    from responsewatch.app.bootstrap import bootstrap
    from responsewatch.config import load_settings

    big = _maildir(tmp_path / "big", 300, "big")
    small = _maildir(tmp_path / "small", 2, "small")
    cfg = tmp_path / "rw.toml"
    cfg.write_text(
        f'[me]\naddresses = ["{ME}"]\n[store]\npath = "{tmp_path / "s.db"}"\n'
        f'[[accounts]]\nname = "big"\ntype = "maildir"\npath = "{big}"\n'
        f'[[accounts]]\nname = "small"\ntype = "maildir"\npath = "{small}"\n'
    )
    settings = load_settings(cfg)
    store = SqliteStore.open(settings.store_path)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    # A per-connection quota: the same SQLITE_FULL a full filesystem gives.
    store._db.execute(f"PRAGMA max_page_count = {pages + 8}")
    rw = bootstrap(settings, store=store)
    try:
        reports = rw.sync_once()
    finally:
        errors = store.sync_errors()
        rw.close()
    by_name = {r.account: r for r in reports}
    assert by_name["big"].exit_code == 4
    assert "database or disk is full" in (by_name["big"].error or "")
    assert "cannot rollback" not in (by_name["big"].error or "")
    assert by_name["small"].error is None and by_name["small"].added == 2  # still tried
    assert errors == {("big", "DataError"): 1}


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_store_files_are_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        path = tmp_path / "a" / "b" / "store.db"
        store = SqliteStore.open(path)
        store.add_messages([], account="x")
        modes = {
            p.name: stat.S_IMODE(p.stat().st_mode)
            for p in (path.parent.parent, path.parent, *path.parent.iterdir())
        }
        store.close()
    finally:
        os.umask(old)
    assert modes.pop("a") == 0o700 and modes.pop("b") == 0o700
    assert set(modes) >= {"store.db", "store.db-wal", "store.db-shm"}
    assert set(modes.values()) == {0o600}, modes

"""The rules' fingerprint (stable, sensitive to what changes results only) and `rebuild`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.build import ME
from tests.support.mailgen import generate
from typer.testing import CliRunner

from responsewatch.adapters.store import SqliteStore
from responsewatch.app.rebuild import FINGERPRINT_KEY, fingerprint, record_fingerprint
from responsewatch.cli import app
from responsewatch.config import load_settings
from responsewatch.core.parsing import parse_message

BASE = f"""
[me]
addresses = ["{ME}", "claire@other.fr"]
timezone = "Europe/Paris"
[[clients]]
name = "acme"
domains = ["acme.fr", "acme.com"]
"""


def settings_of(tmp_path: Path, extra: str = "", base: str = BASE, name: str = "c.toml"):  # type: ignore[no-untyped-def]
    config = tmp_path / name
    config.write_text(base + f'[store]\npath = "{tmp_path / "s.db"}"\n' + extra)
    return config, load_settings(config)


def test_fingerprint_follows_the_rules_only(tmp_path: Path) -> None:
    _c, base = settings_of(tmp_path)
    same = [
        '[metrics]\nlisten = "127.0.0.1:0"\n',
        '[daemon]\nsync_every = "5m"\n',
    ]
    for extra in same:
        assert fingerprint(settings_of(tmp_path, extra)[1]) == fingerprint(base), extra
    different = [
        '[sla]\nreply_within = "12h"\nwarn_at = "6h"\n',
        '[sla]\nreport_every = "7d"\n',
        '[sla]\nclock = "business"\n',
        '[business_hours]\nstart = "08:00"\n',
        "[threading]\nsubject_fallback = false\n",
        '[[leave.periods]]\nfrom = "2026-12-24"\nto = "2026-12-31"\n',
    ]
    seen = {fingerprint(base)}
    for extra in different:
        found = fingerprint(settings_of(tmp_path, extra)[1])
        assert found not in seen, extra
        seen.add(found)
    other_me = BASE.replace('"claire@other.fr"', '"claire@third.fr"')
    assert fingerprint(settings_of(tmp_path, base=other_me)[1]) not in seen


def test_fingerprint_is_the_same_in_another_process(tmp_path: Path) -> None:
    config, settings = settings_of(tmp_path)
    code = (
        "import sys; from pathlib import Path; from responsewatch.config import load_settings;"
        "from responsewatch.app.rebuild import fingerprint;"
        "print(fingerprint(load_settings(Path(sys.argv[1]))))"
    )
    for seed in ("7",):  # frozenset order follows the hash seed (random in this process)
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code, str(config)], env=env, capture_output=True, text=True
        )
        assert out.stdout.strip() == fingerprint(settings), out.stderr


def test_record_fingerprint_says_when_the_rules_changed(tmp_path: Path) -> None:
    _c, settings = settings_of(tmp_path)
    store = SqliteStore.open(settings.store_path)
    try:
        assert record_fingerprint(store, settings) is True
        assert record_fingerprint(store, settings) is False
        _c, stricter = settings_of(
            tmp_path, '[sla]\nreply_within = "4h"\nwarn_at = "2h"\n', name="d.toml"
        )
        assert record_fingerprint(store, stricter) is True
        assert store.meta(FINGERPRINT_KEY) == fingerprint(stricter)
    finally:
        store.close()


def test_rebuild_command(tmp_path: Path) -> None:
    config, settings = settings_of(tmp_path)
    store = SqliteStore.open(settings.store_path)
    store.add_messages(parse_message(g.data) for g in generate(20, seed=3))
    count = store.message_count()
    store.close()
    result = CliRunner().invoke(app, ["rebuild", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert f"rebuilt {count} messages" in result.output and "(rules changed)" in result.output
    again = CliRunner().invoke(app, ["rebuild", "--config", str(config)])
    assert again.exit_code == 0 and "(rules changed)" not in again.output

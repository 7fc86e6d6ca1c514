"""The corpora are found through ONE setting; without them the corpus tests skip with ONE
line saying where to put them (a fresh clone still runs every other test), and under
CI=true their absence fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support import corpora

ROOT = Path(__file__).resolve().parents[2]
CORPUS_TESTS = ["tests/corpus/test_threading_corpus.py", "tests/corpus/test_parsing_corpus.py"]


def pytest_run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", corpora.ENV)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CORPUS_TESTS],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_one_setting_locates_the_corpora(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(corpora.ENV, raising=False)
    assert corpora._locate() == (ROOT / ".." / "shared" / "corpora").resolve()
    monkeypatch.setenv(corpora.ENV, "data/corpora")  # relative: to the project root
    assert corpora._locate() == ROOT / "data" / "corpora"
    monkeypatch.setenv(corpora.ENV, "/srv/corpora")
    assert corpora._locate() == Path("/srv/corpora")


def test_absent_corpora_skip_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = pytest_run(tmp_path, **{corpora.ENV: str(missing)})
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("SKIPPED")]
    assert len(lines) == 1, result.stdout
    assert str(missing) in lines[0] and corpora.ENV in lines[0]
    assert " passed" not in result.stdout and "error" not in result.stdout.lower()


def test_absent_corpora_fail_under_ci(tmp_path: Path) -> None:
    result = pytest_run(tmp_path, **{corpora.ENV: str(tmp_path / "nowhere"), "CI": "true"})
    assert result.returncode != 0
    assert "CI=true" in result.stdout

"""Where the shared test corpora are: ONE setting, the environment variable
``RESPONSEWATCH_CORPORA`` (default ``../shared/corpora``, relative to the project root).

Absent corpora skip the corpus tests with one line saying where to put them, and every
other test still runs; under ``CI=true`` their absence is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["CORPORA", "ENV", "require"]

ENV = "RESPONSEWATCH_CORPORA"
ROOT = Path(__file__).resolve().parents[2]
_DEFAULT = "../shared/corpora"


def _locate() -> Path:
    path = Path(os.environ.get(ENV, "").strip() or _DEFAULT).expanduser()
    return path if path.is_absolute() else (ROOT / path).resolve()


CORPORA = _locate()


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require() -> Path:
    """The corpora folder; else skip the caller (a module or a test), or fail under CI."""
    if CORPORA.is_dir():
        return CORPORA
    where = f"no test corpora at {CORPORA}: put them there or set {ENV}=/path/to/corpora"
    if _in_ci():
        pytest.fail(f"{where} (CI=true: the corpus tests must run)", pytrace=False)
    pytest.skip(f"corpus tests skipped, {where}", allow_module_level=True)
    raise AssertionError("unreachable")  # pytest.skip raises; this keeps mypy's flow clear

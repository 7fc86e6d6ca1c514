from __future__ import annotations

from pathlib import Path

import pytest

CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"


@pytest.fixture(scope="session")
def corpora() -> Path:
    # The corpora live beside the project (in CI too); their absence is a failure.
    assert CORPORA.is_dir(), f"test corpora not found at {CORPORA}"
    return CORPORA

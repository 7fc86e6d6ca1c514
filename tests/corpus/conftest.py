from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import corpora as _corpora


@pytest.fixture(scope="session")
def corpora() -> Path:
    # Located through RESPONSEWATCH_CORPORA (tests/support/corpora.py); absent: skipped,
    # or a failure under CI=true.
    return _corpora.require()

"""The fast indented JSON writer gives exactly the stdlib's text."""

from __future__ import annotations

import json
from enum import IntEnum, StrEnum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from responsewatch.app.json_out import iterencode


def stdlib(doc: object) -> str:
    return "".join(json.JSONEncoder(ensure_ascii=False, indent=2).iterencode(doc))


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
keys = st.text() | st.integers() | st.floats() | st.booleans() | st.none()
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(keys, inner, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=150, deadline=None)
@given(documents, st.integers(min_value=1, max_value=64), st.integers(min_value=0, max_value=4))
def test_same_text_as_the_stdlib(doc: object, flush_at: int, depth: int) -> None:
    blocks = list(iterencode(doc, flush_at=flush_at, depth=depth))
    assert "".join(blocks) == stdlib(doc)


class Kind(StrEnum):
    overdue = "overdue"


class Level(IntEnum):
    high = 3


def test_report_shaped_document_is_streamed_in_blocks() -> None:
    rows = [
        {"thread_id": f"t{i}", "state": Kind.overdue, "age": i * 1.5, "n": Level.high}
        for i in range(3000)
    ]
    doc = {"now": "2027-01-01", "totals": {"messages": 3, "x": {}}, "replies": rows, "e": []}
    blocks = list(iterencode(doc))
    assert "".join(blocks) == stdlib(doc)
    assert len(blocks) > 3  # handed out between the list's items, not as one string
    assert max(map(len, blocks)) < len("".join(blocks)) / 3


def test_unsupported_values_fail_as_the_stdlib_does() -> None:
    with pytest.raises(TypeError):
        "".join(iterencode({"a": {1, 2}}))
    with pytest.raises(TypeError):
        "".join(iterencode({(1, 2): 1}))

"""The status API's report JSON, compressed as it is written.

``json.dumps`` of the whole report built a dict for every reply ever measured and then one
string of all of them: ~400 MB transient at 1,000,000 messages, inside the daemon (the
status page is prepared there). Here the replies are turned into dicts a block at a time
and each block goes straight into the compressor; the decompressed bytes are those of
``json.dumps(doc, ensure_ascii=False)`` (tests/unit/test_status_json.py).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from responsewatch.app.report import analysis_json, client_reply_json, reply_json
from responsewatch.core.insights import Insights, insights_json
from responsewatch.core.models import Analysis

__all__ = ["compressed_report"]

BLOCK = 2_000  # replies per encoded block: ~1 MB of text

_T = TypeVar("_T")


def _list_text(
    items: Sequence[_T],
    as_json: Callable[[_T], dict[str, Any]],
    encode: Callable[[Any], str],
    size: int,
) -> Iterator[str]:
    """``encode(list(map(as_json, items)))`` in pieces: "[", "a, b", ", c, d", "]"."""
    yield "["
    for start in range(0, len(items), size):
        block = encode([as_json(x) for x in items[start : start + size]])
        yield (", " if start else "") + block[1:-1]
    yield "]"


def _report_text(analysis: Analysis, insights: Insights, size: int) -> Iterator[str]:
    # The default separators of json.dumps: ", " between items and ": " after keys.
    encode = json.JSONEncoder(ensure_ascii=False).encode
    head = analysis_json(replace(analysis, replies=(), client_replies=()))
    head["insights"] = insights_json(insights)
    streamed: dict[str, Iterator[str]] = {
        "replies": _list_text(analysis.replies, reply_json, encode, size),
        "client_replies": _list_text(analysis.client_replies, client_reply_json, encode, size),
    }
    for n, (key, value) in enumerate(head.items()):
        yield ("{" if n == 0 else ", ") + encode(key) + ": "
        if key in streamed:
            yield from streamed[key]
        else:
            yield encode(value)
    yield "}"


def compressed_report(analysis: Analysis, insights: Insights, *, block: int = BLOCK) -> bytes:
    """zlib (level 1) of ``json.dumps({**analysis_json(a), "insights": ...})``'s UTF-8."""
    z = zlib.compressobj(1)
    out = [z.compress(text.encode("utf-8")) for text in _report_text(analysis, insights, block)]
    out.append(z.flush())
    return b"".join(out)

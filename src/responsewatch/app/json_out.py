"""Indented JSON text, byte for byte what ``json.JSONEncoder(ensure_ascii=False, indent=2)``
writes, about three times faster.

The stdlib's C encoder only serves compact output; with ``indent`` every value goes
through nested Python generators, one yielded chunk per token (1.9 million for a
100,000-message report, most of the time `analyze` spends after the analysis). Here the
scalars go through the same C string escaper and the same ``repr`` of numbers, appended to
a list that is handed out in blocks: the output stays streamed, never one big string.
"""

from __future__ import annotations

from collections.abc import Iterator
from json.encoder import encode_basestring
from typing import Any

__all__ = ["iterencode"]

_INF = float("inf")
_int_repr = int.__repr__
_float_repr = float.__repr__


def _float(value: float) -> str:
    # As JSONEncoder with allow_nan=True.
    if value != value:
        return "NaN"
    if value == _INF:
        return "Infinity"
    if value == -_INF:
        return "-Infinity"
    return _float_repr(value)


def _key(key: object) -> str:
    if isinstance(key, str):
        return str(encode_basestring(key))
    if isinstance(key, float):
        return str(encode_basestring(_float(key)))
    if key is True:
        return '"true"'
    if key is False:
        return '"false"'
    if key is None:
        return '"null"'
    if isinstance(key, int):
        return '"' + _int_repr(key) + '"'
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


def _scalar(value: object) -> str | None:
    """The text of a non-container value; None for a list, tuple or dict."""
    if isinstance(value, str):
        return str(encode_basestring(value))
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return _int_repr(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, (list, tuple, dict)):
        return None
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def _encode(value: Any, level: int, parts: list[str], indent: int) -> None:
    text = _scalar(value)
    if text is not None:
        parts.append(text)
        return
    if not value:
        parts.append("{}" if isinstance(value, dict) else "[]")
        return
    inner = "\n" + " " * (indent * (level + 1))
    after = "," + inner
    append = parts.append
    if isinstance(value, dict):
        append("{" + inner)
        first = True
        for key, item in value.items():
            if not first:
                append(after)
            first = False
            text = _scalar(item)
            if text is not None:
                append(_key(key) + ": " + text)
            else:
                append(_key(key) + ": ")
                _encode(item, level + 1, parts, indent)
        append("\n" + " " * (indent * level) + "}")
        return
    append("[" + inner)
    first = True
    for item in value:
        if not first:
            append(after)
        first = False
        text = _scalar(item)
        if text is not None:
            append(text)
        else:
            _encode(item, level + 1, parts, indent)
    append("\n" + " " * (indent * level) + "]")


def _stream(
    value: Any, level: int, parts: list[str], indent: int, flush_at: int, depth: int
) -> Iterator[str]:
    """The top ``depth`` levels are walked here, so a block is handed out between items
    (the items of the long lists of a report are small); deeper values are encoded whole."""
    if level >= depth or _scalar(value) is not None or not value:
        _encode(value, level, parts, indent)
        if len(parts) >= flush_at:
            yield "".join(parts)
            parts.clear()
        return
    inner = "\n" + " " * (indent * (level + 1))
    is_dict = isinstance(value, dict)
    parts.append(("{" if is_dict else "[") + inner)
    items = value.items() if is_dict else ((None, item) for item in value)
    first = True
    for key, item in items:
        if not first:
            parts.append("," + inner)
        first = False
        if is_dict:
            parts.append(_key(key) + ": ")
        yield from _stream(item, level + 1, parts, indent, flush_at, depth)
    parts.append("\n" + " " * (indent * level) + ("}" if is_dict else "]"))


def iterencode(doc: Any, *, indent: int = 2, flush_at: int = 8192, depth: int = 2) -> Iterator[str]:
    """Blocks of the JSON text of ``doc`` (``"".join`` of them is the whole document)."""
    parts: list[str] = []
    yield from _stream(doc, 0, parts, indent, flush_at, depth)
    if parts:
        yield "".join(parts)

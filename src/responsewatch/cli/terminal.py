"""Values from mail on a Rich console: never markup, never control characters.

Rich reads ``[...]`` in a printed string as markup (``[/]`` in a subject is a MarkupError)
and passes ESC through to the terminal. Table cells and interpolated values from mail go
through these two helpers, which both apply :func:`responsewatch.core.safe_text.plain`.
"""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text

from responsewatch.core.safe_text import plain

__all__ = ["cell", "lit"]


def cell(value: object, limit: int | None = None) -> Text:
    """A table cell or printable shown exactly as text (Text objects are never parsed)."""
    return Text(plain(value, limit))


def lit(value: object, limit: int | None = None) -> str:
    """``value`` for interpolation into a markup string: made plain, then escaped."""
    return escape(plain(value, limit))

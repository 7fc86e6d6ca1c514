"""Removing a secret from text a server sent back, in every form it may take.

A misbehaving server can echo a LOGIN command in its error; the password then arrives
imaplib-quoted (``\\"`` and ``\\\\`` escapes), inside Python's ``b'...'`` repr of the
response, or base64-encoded (AUTHENTICATE PLAIN's ``\\0user\\0password``).
"""

from __future__ import annotations

import base64

__all__ = ["REDACTED", "redact"]

REDACTED = "***"


def _forms(secret: str, username: str) -> list[str]:
    raw = secret.encode("utf-8")
    quoted = secret.replace("\\", "\\\\").replace('"', '\\"')
    forms = {
        secret,
        quoted,
        quoted.replace("\\", "\\\\"),  # the quoted form inside a repr
        repr(raw)[2:-1],  # b'...' repr: \xc3\xa9 for non-ASCII, \\ for a backslash
        repr(quoted.encode("utf-8"))[2:-1],
        raw.decode("latin-1"),  # UTF-8 bytes read as latin-1 by a lenient decoder
    }
    for plain in (f"\0{username}\0{secret}", f"{username}\0{username}\0{secret}", secret):
        encoded = base64.b64encode(plain.encode("utf-8")).decode("ascii")
        forms.add(encoded)
        forms.add(encoded.rstrip("="))
    # Longest first, so a form containing another is replaced whole.
    return sorted((f for f in forms if len(f) >= 3 or f == secret), key=len, reverse=True)


def redact(text: str, secret: str | None, *, username: str = "") -> str:
    """``text`` without ``secret`` in any of the forms above."""
    if not secret:
        return text
    for form in _forms(secret, username):
        if form:
            text = text.replace(form, REDACTED)
    return text

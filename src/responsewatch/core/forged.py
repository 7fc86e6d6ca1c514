"""Mail that claims to be mine but that the receiving server could not authenticate.

Anyone can write ``From: <my address>``. A third party's ``RE: <the client's subject>`` with
my address in From would otherwise close the client's open turn through the subject
fallback. When the receiving server recorded (``Authentication-Results``, RFC 8601) that
my domain's authentication FAILED for the message (``dmarc=fail``, or ``spf=fail`` without a
DKIM pass for my domain), the message is not mine: it opens and closes nothing and is
counted as suspicious. Copies found in a Sent folder stay mine (the sync drops the mark),
as does anything without such a record (most mail to myself carries none).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from responsewatch.core.models import Message

__all__ = ["AUTH_FAIL", "auth_failed", "is_suspicious"]

AUTH_FAIL = "auth-fail:from"  # the parse warning that marks such a message
# A hostile message may carry any number of these headers, of any length: read a few.
_MAX_RESULTS = 8
_MAX_RESULT_CHARS = 4096
_COMMENT_RE = re.compile(r"\([^()]*\)")
_RESULT_RE = re.compile(r"^\s*([A-Za-z0-9-]+)\s*=\s*([A-Za-z]+)")
_PROPERTY_RE = re.compile(r"\b(header\.from|header\.d|header\.i|smtp\.mailfrom)\s*=\s*(\S+)", re.I)


def _domain(value: str) -> str:
    return value.rpartition("@")[2].strip().strip("<>\"'").rstrip(".").lower()


def _aligned(signer: str, domain: str) -> bool:
    """The signing (or checked) domain is ``domain`` or a parent of it."""
    return bool(signer) and (domain == signer or domain.endswith("." + signer))


def auth_failed(results: Sequence[str], from_domain: str) -> bool:
    """True when an ``Authentication-Results`` value records a failure for ``from_domain``."""
    from_domain = from_domain.lower()
    spf_fail = dkim_pass = dmarc_fail = False
    for value in results[:_MAX_RESULTS]:
        text = value[:_MAX_RESULT_CHARS]
        for _ in range(3):  # comments may nest a little; hostile nesting is just left over
            text = _COMMENT_RE.sub(" ", text)
        for resinfo in text.split(";")[1:]:  # the first part is the authserv-id
            head = _RESULT_RE.match(resinfo)
            if head is None:
                continue
            method, result = head.group(1).lower(), head.group(2).lower()
            props = {k.lower(): _domain(v) for k, v in _PROPERTY_RE.findall(resinfo)}
            if method == "dmarc" and result == "fail":
                dmarc_fail |= props.get("header.from", from_domain) == from_domain
            elif method == "spf" and result == "fail":
                spf_fail |= _aligned(props.get("smtp.mailfrom", from_domain), from_domain)
            elif method == "dkim" and result == "pass":
                signer = props.get("header.d") or props.get("header.i", "")
                dkim_pass |= _aligned(signer, from_domain)
    return dmarc_fail or (spf_fail and not dkim_pass)


def is_suspicious(msg: Message, me: frozenset[str]) -> bool:
    """Claims to be from me, and the receiving server recorded a failure for my domain."""
    return bool(msg.warnings) and AUTH_FAIL in msg.warnings and msg.from_addr in me

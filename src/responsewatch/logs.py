"""structlog: readable console lines for a person at a terminal, JSON lines for services."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog

from responsewatch.core.safe_text import plain

__all__ = ["configure_logging"]

_SECRET_KEYS = frozenset({"password", "secret", "token", "access_token", "refresh_token"})


def _drop_secrets(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        if key.lower() in _SECRET_KEYS:
            event[key] = "***"
    return event


def _plain_values(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Console lines: a value from mail or from a server (an error text) cannot carry an ESC
    sequence to the terminal. JSON lines need nothing: the encoder escapes controls."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = plain(value)
    return event


def configure_logging(*, json: bool | None = None, level: str = "info") -> None:
    """JSON when not on a TTY (systemd, Docker) unless told otherwise."""
    if json is None:
        forced = os.environ.get("RESPONSEWATCH_LOG_FORMAT", "").lower()
        json = forced == "json" or (forced != "console" and not sys.stderr.isatty())
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_secrets,
    ]
    renderer: Any
    if json:
        processors.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        processors.append(_plain_values)
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        # Resolve sys.stderr at each call: a stream captured once may be closed later (tests,
        # daemonisation), and writing to it would raise.
        logger_factory=lambda *_args: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )

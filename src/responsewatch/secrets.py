"""The one secrets resolver: a SecretRef (``*_command``, ``*_env``, ``*_file``) becomes the
secret at connection time. The secret is returned, never logged; errors name the key only.

Top-level (not under ``app/``) so adapters that resolve their own secrets lazily (Graph's
client secret, EWS password) can use it without importing the application layer. Adapters
take a secret as a ``Callable[[], str]``: :func:`secret_provider` builds one.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

from responsewatch.config import SecretRef
from responsewatch.errors import ConfigError

__all__ = ["resolve_secret", "resolve_secret_lines", "secret_provider"]


def _run_command(command: str, where: str) -> str:
    """What a secret command prints; errors name ``where``, never the output."""
    try:
        done = subprocess.run(
            command if os.name != "nt" else shlex.split(command),
            shell=True,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"{where}: could not run it ({exc.__class__.__name__})") from None
    if done.returncode != 0:
        raise ConfigError(
            f"{where}: exited with status {done.returncode}; run it by hand to check what it prints"
        )
    return done.stdout.decode("utf-8", "replace")


def resolve_secret(ref: SecretRef, key: str) -> str:
    if ref.command:
        value = _run_command(ref.command, f"{key}.password_command").splitlines()
        if not value or not value[0]:
            raise ConfigError(f"{key}.password_command: printed nothing")
        return value[0]
    if ref.env:
        found = os.environ.get(ref.env)
        if not found:
            raise ConfigError(f"{key}.password_env: environment variable {ref.env} is not set")
        return found
    if ref.file:
        path = Path(ref.file).expanduser()
        try:
            text = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"{key}.password_file: cannot read {path} ({exc.strerror})") from None
        if not text or not text[0]:
            raise ConfigError(f"{key}.password_file: {path} is empty")
        return text[0]
    raise ConfigError(
        f"{key}: no secret configured (password_command, password_env or password_file)"
    )


def secret_provider(ref: SecretRef, key: str) -> Callable[[], str]:
    """The secret as adapters take it: read on each call (a rotated password file or a
    refreshed token command is picked up at the next connection), never cached here."""
    return lambda: resolve_secret(ref, key)


def resolve_secret_lines(ref: SecretRef, key: str, prefix: str = "urls") -> list[str]:
    """Every non-empty, non-comment line of a multi-line secret (``notify.urls_*``: one
    Apprise URL a line). Errors name ``{key}.{prefix}_command|_env|_file``, never a value."""
    if ref.command:
        text = _run_command(ref.command, f"{key}.{prefix}_command")
        where = f"{key}.{prefix}_command"
    elif ref.env:
        text = os.environ.get(ref.env, "")
        where = f"{key}.{prefix}_env: environment variable {ref.env}"
    elif ref.file:
        path = Path(ref.file).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{key}.{prefix}_file: cannot read {path} ({exc.strerror})") from None
        where = f"{key}.{prefix}_file: {path}"
    else:
        return []
    lines = [ln.strip() for ln in text.splitlines()]
    found = [ln for ln in lines if ln and not ln.startswith("#")]
    if not found:
        raise ConfigError(f"{where} holds no URL (one a line)")
    return found

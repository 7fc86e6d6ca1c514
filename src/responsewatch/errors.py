"""Every error the program reports, and its exit code, in one place.

RwError                      (1, never raised directly)
├── ConfigError              2  usage or configuration problem: names each key and the fix
├── SourceUnavailable        3  mail source unreachable (network, TLS, server gone)
│   └── AuthFailed           3  login refused (the secret is never part of the message)
└── DataError                4  corrupt store, archive verification failed, unreadable data
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

__all__ = ["AuthFailed", "ConfigError", "DataError", "RwError", "SourceUnavailable"]


class RwError(Exception):
    exit_code: ClassVar[int] = 1


class ConfigError(RwError):
    """All configuration/usage problems found at once, each naming its key."""

    exit_code = 2

    def __init__(self, problems: Sequence[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class SourceUnavailable(RwError):
    exit_code = 3

    def __init__(self, account: str, detail: str) -> None:
        self.account = account
        self.detail = detail
        super().__init__(f"account {account!r}: {detail}")


class AuthFailed(SourceUnavailable):
    pass


class DataError(RwError):
    exit_code = 4

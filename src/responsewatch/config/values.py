"""The validated configuration: frozen values the rest of the code reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

from responsewatch.core.nudges import DEFAULT_KINDS
from responsewatch.core.rules import Rules

__all__ = [
    "DEFAULT_ARCHIVE",
    "DEFAULT_STORE",
    "AccountSettings",
    "NotifySettings",
    "SecretRef",
    "Settings",
    "SmtpSettings",
    "WebSettings",
]

DEFAULT_STORE = "~/.local/share/responsewatch/responsewatch.db"
DEFAULT_ARCHIVE = "~/.local/share/responsewatch/archive"


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret lives; resolved only when a connection is made."""

    command: str | None = None
    env: str | None = None
    file: str | None = None
    oauth2: Mapping[str, Any] | None = None

    def describe(self) -> str:
        if self.command:
            return "password_command"
        if self.env:
            return f"environment variable {self.env}"
        if self.file:
            return f"file {self.file}"
        if self.oauth2:
            return "oauth2"
        return "none"


@dataclass(frozen=True, slots=True)
class AccountSettings:
    name: str
    type: str
    host: str = ""
    port: int = 993
    tls: str = "implicit"
    username: str = ""
    secret: SecretRef = field(default_factory=SecretRef)
    folders: tuple[str, ...] | None = None  # None = SPECIAL-USE discovery
    path: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 465
    tls: str = "implicit"
    username: str = ""
    secret: SecretRef = field(default_factory=SecretRef)
    ca_file: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class NotifySettings:
    """``[notify]``: nudges. The Apprise URLs are a secret (file, env or command)."""

    urls: SecretRef = field(default_factory=SecretRef)
    via_digest_smtp: bool = False
    quiet: str = "outside_business_hours"
    stale_after_s: float = 1800.0
    open_url: str = ""
    kinds: tuple[str, ...] = DEFAULT_KINDS

    @property
    def enabled(self) -> bool:
        return bool(self.urls.command or self.urls.env or self.urls.file) or self.via_digest_smtp


@dataclass(frozen=True, slots=True)
class WebSettings:
    """``[web]``: the status page. The password is a secret (file, env or command)."""

    listen: str = "127.0.0.1:9878"  # "off": no status page
    password: SecretRef = field(default_factory=SecretRef)

    @property
    def enabled(self) -> bool:
        return self.listen != "off"

    @property
    def has_password(self) -> bool:
        return bool(self.password.command or self.password.env or self.password.file)


@dataclass(frozen=True, slots=True)
class Settings:
    rules: Rules
    me_name: str = ""
    language: str = "fr"
    accounts: tuple[AccountSettings, ...] = ()
    store_path: Path = field(default_factory=lambda: Path(DEFAULT_STORE).expanduser())
    archive_path: Path = field(default_factory=lambda: Path(DEFAULT_ARCHIVE).expanduser())
    archive_detect: bool = True
    archive_tag_on_server: bool = False
    # RFC 3161 timestamps of the ledger head (adapters/timestamps.py); no URL = off.
    archive_tsa_urls: tuple[str, ...] = ()
    archive_tsa_ca_file: Path | None = None
    archive_timestamp_every_s: float = 0.0
    metrics_listen: str = "127.0.0.1:9877"
    metrics_top_clients: int = 50
    digest_enabled: bool = True
    digest_to: str = ""
    digest_from: str = ""
    digest_at: time = time(7, 30)
    digest_smtp: SmtpSettings | None = None
    digest_skip_when_empty: bool = False
    digest_weekends: bool = False
    digest_misfire_grace_s: float = 6 * 3600.0
    quiet_after_s: float = 60 * 86400.0
    recompute_every_s: float = 60.0
    recompute_in_child: bool = True
    sync_every_s: float = 300.0
    subject_fallback: bool = True
    source: Path | None = None
    notify: NotifySettings = field(default_factory=NotifySettings)
    web: WebSettings = field(default_factory=WebSettings)

    @property
    def timezone(self) -> str:
        return self.rules.hours.timezone

"""Which adapter reads an account, and the clocks: the pieces the composition root wires.

Kept apart from ``bootstrap`` so use cases (the archive's ``add``, the daemon's workers) can
name a source factory or a clock without importing the composition root itself.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from responsewatch.adapters.imap import ImapAccount, ImapMailSource
from responsewatch.config import AccountSettings, SecretRef, Settings
from responsewatch.errors import ConfigError
from responsewatch.ports import Clock, MailSource, Store
from responsewatch.secrets import resolve_secret

__all__ = ["AppGraph", "FixedClock", "SourceFactory", "SystemClock", "imap_account", "make_source"]


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(slots=True)
class FixedClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


SourceFactory = Callable[[AccountSettings], MailSource]


def imap_account(account: AccountSettings) -> ImapAccount:
    """Settings -> the IMAP adapter's account; the secret is resolved only when connecting."""
    key = f"accounts[{account.name}]"
    context = None
    ca_file = account.options.get("ca_file")
    if ca_file:
        try:
            context = ssl.create_default_context(cafile=str(Path(str(ca_file)).expanduser()))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{key}.ca_file: cannot load {ca_file} ({exc})") from None
    oauth = account.secret.oauth2
    return ImapAccount(
        name=account.name,
        host=account.host,
        port=account.port,
        tls=account.tls,
        username=account.username,
        secret=lambda: oauth_token(account) if oauth else resolve_secret(account.secret, key),
        auth="xoauth2" if oauth else "password",
        folders=account.folders,
        ssl_context=context,
        batch_size=int(account.options.get("batch_size", 500)),
    )


def oauth_token(account: AccountSettings) -> str:
    """XOAUTH2 access token from ``oauth2.token_command`` (e.g. a token-cache helper)."""
    oauth = account.secret.oauth2 or {}
    key = f"accounts[{account.name}].oauth2"
    if oauth.get("provider"):  # tokens cached by `responsewatch oauth login`, refreshed here
        from responsewatch.adapters.oauth_tokens import imap_token

        return imap_token(account.name, oauth)
    command = oauth.get("token_command")
    if not command:
        raise ConfigError(
            f"{key}.token_command: required for XOAUTH2 (a command printing an "
            "access token, e.g. from your OAuth token cache)"
        )
    return resolve_secret(SecretRef(command=str(command)), key)


def make_source(account: AccountSettings) -> MailSource:
    """A MailSource for a network account (file accounts are read by ``sync_files``)."""
    if account.type == "imap":
        return ImapMailSource(imap_account(account))
    if account.type == "graph":
        from responsewatch.adapters.graph import graph_source

        return graph_source(account)
    if account.type == "exchange":
        from responsewatch.adapters.exchange import exchange_source

        return exchange_source(account)
    raise ConfigError(f"accounts[{account.name}].type: {account.type!r} has no mail source")


class AppGraph(Protocol):
    """What use cases need of the object graph ``bootstrap`` builds (``App`` satisfies it)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def store(self) -> Store: ...
    @property
    def source_factory(self) -> SourceFactory: ...

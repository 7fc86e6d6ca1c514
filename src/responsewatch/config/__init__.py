"""The configuration: one declarative schema (:mod:`.schema`, pydantic), the rules that read
values (:mod:`.convert`), TOML reading (:mod:`.load`) and the frozen values (:mod:`.values`).

Every problem is collected and reported at once, each naming its key the one way messages
name keys (``accounts[main].tls``, ``clients[0].name``) and, where there is one, the fix.
"""

from __future__ import annotations

from responsewatch.config.convert import (
    _SCHEMA,
    _is_loopback,
    parse_duration,
    settings_from_mapping,
)
from responsewatch.config.load import load_settings
from responsewatch.config.schema import ACCOUNT_TYPES, KEYS, TLS_MODES
from responsewatch.config.values import (
    DEFAULT_ARCHIVE,
    DEFAULT_STORE,
    AccountSettings,
    NotifySettings,
    SecretRef,
    Settings,
    SmtpSettings,
    WebSettings,
)

__all__ = [
    "ACCOUNT_TYPES",
    "DEFAULT_ARCHIVE",
    "DEFAULT_STORE",
    "KEYS",
    "TLS_MODES",
    "_SCHEMA",
    "AccountSettings",
    "NotifySettings",
    "SecretRef",
    "Settings",
    "SmtpSettings",
    "WebSettings",
    "_is_loopback",
    "load_settings",
    "parse_duration",
    "settings_from_mapping",
]

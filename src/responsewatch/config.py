"""TOML -> frozen Settings. Every problem is collected and reported at once, by key.

Secrets are never read from the TOML itself: ``password_command``, ``password_env`` or
``password_file`` (and ``oauth2`` token caches) point at them.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from responsewatch.core.leave import LeaveRules, LeaveSpan, day_span
from responsewatch.core.nudges import DEFAULT_KINDS, NUDGE_KINDS, QUIET_MODES
from responsewatch.core.rules import (
    WEEKDAYS,
    BusinessHours,
    ClientRule,
    LeavePeriod,
    Rules,
    Sla,
)
from responsewatch.errors import ConfigError
from responsewatch.netutil import account_key, is_loopback

__all__ = [
    "AccountSettings",
    "NotifySettings",
    "SecretRef",
    "Settings",
    "WebSettings",
    "load_settings",
    "parse_duration",
    "settings_from_mapping",
]

DEFAULT_STORE = "~/.local/share/responsewatch/responsewatch.db"
DEFAULT_ARCHIVE = "~/.local/share/responsewatch/archive"
ACCOUNT_TYPES = ("imap", "maildir", "mbox", "graph", "exchange")
TLS_MODES = ("implicit", "starttls", "none-loopback-only")
_PLAIN_SECRET_KEYS = ("password", "secret", "token", "client_secret", "access_token")

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
    "month": 2629800,  # a mean Gregorian month: 30.4375 days
    "months": 2629800,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")


def parse_duration(text: str) -> float:
    """ "24h", "18 h", "1h30m", "60d", "2 months", "90" (seconds) -> seconds."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    pos = 0
    total = 0.0
    for match in _DURATION_PART.finditer(value):
        if value[pos : match.start()].strip():
            raise ValueError(text)
        unit = _UNITS.get(match.group(2))
        if unit is None:
            raise ValueError(text)
        total += float(match.group(1)) * unit
        pos = match.end()
    if pos == 0 or value[pos:].strip():
        raise ValueError(text)
    return total


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


# Account keys handed to the adapters as they are (each adapter validates its own).
_ACCOUNT_OPTIONS = frozenset(
    {
        "tenant_id",
        "client_id",
        "mailbox",
        "server",
        "auth",
        "batch_size",
        "autodiscover",
        "ca_file",
        "token_cache",
        "client_secret_command",
        "client_secret_env",
        "client_secret_file",
    }
)

_SCHEMA: dict[str, tuple[str, ...]] = {
    "": (
        "me",
        "sla",
        "business_hours",
        "clients",
        "accounts",
        "store",
        "archive",
        "metrics",
        "digest",
        "insights",
        "threading",
        "daemon",
        "notify",
        "leave",
        "web",
    ),
    "me": ("name", "addresses", "timezone", "language"),
    "sla": ("reply_within", "warn_at", "clock", "count_cc", "report_every"),
    "business_hours": ("days", "start", "end", "holidays", "leave"),
    "business_hours.holidays": ("country", "subdivision"),
    "business_hours.leave": ("from", "to", "label"),
    "clients": (
        "name",
        "domains",
        "addresses",
        "reply_within",
        "warn_at",
        "mission_start",
        "mission_length",
        "report_every",
    ),
    "accounts": (
        "name",
        "type",
        "host",
        "port",
        "tls",
        "username",
        "password_command",
        "password_env",
        "password_file",
        "oauth2",
        "folders",
        "path",
        *sorted(_ACCOUNT_OPTIONS),
    ),
    "store": ("path",),
    "archive": (
        "path",
        "detect",
        "tag_on_server",
        "tsa_urls",
        "tsa_ca_file",
        "timestamp_every",
    ),
    "metrics": ("listen", "top_clients"),
    "daemon": ("recompute_every", "sync_every", "recompute_in_child"),
    "digest": (
        "to",
        "from",
        "at",
        "smtp",
        "skip_when_empty",
        "weekends",
        "misfire_grace",
        "enabled",
    ),
    "digest.smtp": (
        "host",
        "port",
        "tls",
        "username",
        "password_command",
        "password_env",
        "password_file",
        "ca_file",
        "timeout",
    ),
    "insights": ("quiet_after",),
    "notify": (
        "urls_file",
        "urls_env",
        "urls_command",
        "via_digest_smtp",
        "quiet",
        "stale_after",
        "open_url",
        "kinds",
    ),
    "threading": ("subject_fallback",),
    "leave": (
        "from",
        "to",
        "label",
        "periods",
        "ics_file",
        "ics_url",
        "ics_match",
        "from_my_auto_replies",
        "from_client_auto_replies",
    ),
    "leave.periods": ("from", "to", "label"),
    "web": ("listen", "password_command", "password_env", "password_file"),
}


class _Collector:
    """Gathers problems so the user sees all of them at once."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, key: str, why: str) -> None:
        self.problems.append(f"{key}: {why}")

    def check_keys(self, table: Mapping[str, Any], schema_key: str, where: str) -> None:
        allowed = _SCHEMA[schema_key]
        for key in table:
            if key in allowed:
                continue
            if key in _PLAIN_SECRET_KEYS:
                self.add(
                    f"{where}{key}",
                    "secrets are never read from the config file; use password_command, "
                    "password_env or password_file instead",
                )
                continue
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = (
                f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(allowed)}"
            )
            self.add(f"{where}{key}", f"unknown key{hint}")

    def get(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        kind: type | tuple[type, ...],
        default: Any,
        convert: Callable[[Any], Any] | None = None,
        fix: str = "",
    ) -> Any:
        if key not in table:
            return default
        value = table[key]
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            self.add(f"{where}{key}", f"expected a number, got {value!r}")
            return default
        if not isinstance(value, kind):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            self.add(f"{where}{key}", f"expected {names}, got {value!r}{fix}")
            return default
        if convert is None:
            return value
        try:
            return convert(value)
        except (ValueError, KeyError, TypeError):
            self.add(f"{where}{key}", f"invalid value {value!r}{fix}")
            return default


def _duration(value: str) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(value)
    return seconds


# A cadence shorter than an hour is a typo, one longer than ten years never comes due.
_CADENCE_RANGE = (3600.0, 3650 * 86400.0)
_CADENCE_FIX = ' (write a duration from "1h" to "3650d", such as "7d" or "2w"; "off" for none)'


def _cadence(value: str) -> float:
    """report_every: seconds between proactive updates; "off" (per client) -> 0.0, no cadence."""
    if value.strip().lower() in ("off", "none"):
        return 0.0
    seconds = parse_duration(value)
    if not _CADENCE_RANGE[0] <= seconds <= _CADENCE_RANGE[1]:
        raise ValueError(value)
    return seconds


def _clock_time(value: str) -> time:
    return time.fromisoformat(value if len(value) > 4 else "0" + value)


def _secret(c: _Collector, table: Mapping[str, Any], where: str, required: bool) -> SecretRef:
    ref = SecretRef(
        command=c.get(table, "password_command", where, str, None),
        env=c.get(table, "password_env", where, str, None),
        file=c.get(table, "password_file", where, str, None),
        oauth2=c.get(table, "oauth2", where, dict, None),
    )
    given = [k for k in ("command", "env", "file", "oauth2") if getattr(ref, k)]
    if len(given) > 1:
        c.add(
            f"{where}password_*",
            "give only one of password_command, password_env, password_file, oauth2",
        )
    if required and not given:
        c.add(
            f"{where}password_command",
            "missing: set password_command, password_env, "
            "password_file or oauth2 so the secret is never written in this file",
        )
    return ref


# Kept under its old name: callers elsewhere use it.
_is_loopback = is_loopback


def _rules(c: _Collector, raw: Mapping[str, Any]) -> tuple[Rules, str, str]:
    me = raw.get("me", {})
    if not isinstance(me, dict):
        c.add("me", "must be a table: [me]")
        me = {}
    c.check_keys(me, "me", "me.")
    addresses = c.get(me, "addresses", "me.", list, [])
    if not addresses:
        c.add("me.addresses", 'required: list every address of yours, e.g. ["me@example.com"]')
    bad = [a for a in addresses if not isinstance(a, str) or "@" not in a]
    if bad:
        c.add("me.addresses", f"not e-mail addresses: {bad!r}")
    tz_name = c.get(me, "timezone", "me.", str, "Europe/Paris")
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        c.add(
            "me.timezone", f"unknown time zone {tz_name!r}; use an IANA name such as 'Europe/Paris'"
        )
        tz_name = "Europe/Paris"
    language = c.get(me, "language", "me.", str, "fr")
    if language not in ("fr", "en"):
        c.add("me.language", f"must be 'fr' or 'en', got {language!r}")
    name = c.get(me, "name", "me.", str, "")

    sla_raw = raw.get("sla", {})
    c.check_keys(sla_raw, "sla", "sla.")
    fix = ' (write a duration such as "24h", "90m" or "2d")'
    within = c.get(sla_raw, "reply_within", "sla.", str, 86400.0, _duration, fix)
    warn = c.get(sla_raw, "warn_at", "sla.", str, 64800.0, _duration, fix)
    clock = c.get(sla_raw, "clock", "sla.", str, "calendar")
    if clock not in ("calendar", "business"):
        c.add("sla.clock", f"must be 'calendar' or 'business', got {clock!r}")
        clock = "calendar"
    if warn > within:
        c.add(
            "sla.warn_at", f"must not be later than sla.reply_within ({warn:.0f}s > {within:.0f}s)"
        )
    sla = Sla(within, warn, clock, bool(c.get(sla_raw, "count_cc", "sla.", bool, False)))
    every = c.get(sla_raw, "report_every", "sla.", str, None, _cadence, _CADENCE_FIX)
    if every:
        sla = replace(sla, report_every_s=every)

    hours = _business_hours(c, raw.get("business_hours", {}), tz_name)
    clients = _clients(c, raw.get("clients", []))
    me_set = frozenset(a.lower().strip() for a in addresses if isinstance(a, str))
    return Rules(me=me_set, clients=clients, sla=sla, hours=hours), name, language


def _business_hours(c: _Collector, raw: Mapping[str, Any], tz_name: str) -> BusinessHours:
    c.check_keys(raw, "business_hours", "business_hours.")
    where = "business_hours."
    days_raw = c.get(raw, "days", where, list, list(WEEKDAYS[:5]))
    days: list[int] = []
    for d in days_raw:
        if isinstance(d, str) and d.lower()[:3] in WEEKDAYS:
            days.append(WEEKDAYS.index(d.lower()[:3]))
        else:
            c.add(
                "business_hours.days", f"unknown day {d!r}; use mon, tue, wed, thu, fri, sat, sun"
            )
    fix = ' (write "HH:MM", e.g. "09:00")'
    start = c.get(raw, "start", where, str, time(9), _clock_time, fix)
    end = c.get(raw, "end", where, str, time(18), _clock_time, fix)
    if end <= start:
        c.add("business_hours.end", "must be later than business_hours.start")
    holidays = c.get(raw, "holidays", where, dict, {})
    c.check_keys(holidays, "business_hours.holidays", "business_hours.holidays.")
    country = c.get(holidays, "country", "business_hours.holidays.", str, None)
    subdivision = c.get(holidays, "subdivision", "business_hours.holidays.", (str, int), None)
    if country is not None:
        import holidays as holidays_lib

        try:
            holidays_lib.country_holidays(
                country, subdiv=str(subdivision) if subdivision is not None else None
            )
        except (NotImplementedError, KeyError, ValueError) as exc:
            c.add(
                "business_hours.holidays",
                f"{exc} (country is an ISO code such as 'FR'; subdivision e.g. '57' for Moselle)",
            )
            country = None
    leave: list[LeavePeriod] = []
    for i, period in enumerate(c.get(raw, "leave", where, list, [])):
        key = f"business_hours.leave[{i}]"
        if not isinstance(period, dict):
            c.add(key, 'must be a table like { from = "2026-08-03", to = "2026-08-21" }')
            continue
        c.check_keys(period, "business_hours.leave", key + ".")
        if _is_instant(period.get("from")) or _is_instant(period.get("to")):
            continue  # the same as a [[leave]] period with instants: read by _business_leave
        first = _as_date(c, period.get("from"), key + ".from")
        last = _as_date(c, period.get("to"), key + ".to")
        if first and last:
            if last < first:
                c.add(key, "'to' is before 'from'")
            else:
                leave.append(LeavePeriod(first, last))
    return BusinessHours(
        timezone=tz_name,
        days=tuple(sorted(set(days))) if days else (0, 1, 2, 3, 4),
        start=start,
        end=end,
        holidays_country=country,
        holidays_subdivision=str(subdivision) if subdivision is not None else None,
        leave=tuple(leave),
    )


def _as_date(c: _Collector, value: Any, key: str) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    c.add(key, f"expected a date like 2026-08-03, got {value!r}")
    return None


def _tables(c: _Collector, raw: Any, key: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """The tables of an array of tables ([[key]]), each with its key prefix, checked."""
    if not isinstance(raw, list):
        c.add(key, f"must be an array of tables: [[{key}]]")
        return
    for i, table in enumerate(raw):
        if not isinstance(table, dict):
            c.add(f"{key}[{i}]", "must be a table")
            continue
        # Accounts are named in every message by their name (as the adapters name them);
        # only an unnamed table is named by its position.
        label = table.get("name") if key == "accounts" else None
        where = f"{account_key(label)}." if isinstance(label, str) and label else f"{key}[{i}]."
        c.check_keys(table, key, where)
        yield i, where, table


def _clients(c: _Collector, raw: Any) -> tuple[ClientRule, ...]:
    out: list[ClientRule] = []
    seen: set[str] = set()
    for _i, where, table in _tables(c, raw, "clients"):
        name = c.get(table, "name", where, str, "")
        if not name:
            c.add(f"{where}name", "required")
        elif name in seen:
            c.add(f"{where}name", f"duplicate client name {name!r}")
        seen.add(name)
        domains = tuple(
            d.lower().strip().lstrip("@") for d in c.get(table, "domains", where, list, [])
        )
        addresses = tuple(a.lower().strip() for a in c.get(table, "addresses", where, list, []))
        if not domains and not addresses:
            c.add(f"{where}domains", "give at least one domain or address for this client")
        fix = ' (write a duration such as "8h")'
        within = c.get(table, "reply_within", where, str, None, _duration, fix)
        warn = c.get(table, "warn_at", where, str, None, _duration, fix)
        start = table.get("mission_start")
        mission_start = _as_date(c, start, f"{where}mission_start") if start is not None else None
        length = c.get(
            table, "mission_length", where, str, None, _duration, ' (write e.g. "2 months" or "8w")'
        )
        out.append(
            ClientRule(
                name=name,
                domains=domains,
                addresses=addresses,
                reply_within_s=within,
                warn_at_s=warn,
                mission_start=mission_start,
                mission_length_days=round(length / 86400) if length else None,
                report_every_s=c.get(
                    table, "report_every", where, str, None, _cadence, _CADENCE_FIX
                ),
            )
        )
    return tuple(out)


def _accounts(c: _Collector, raw: Any, base: Path) -> tuple[AccountSettings, ...]:
    out: list[AccountSettings] = []
    names: set[str] = set()
    for i, where, table in _tables(c, raw, "accounts"):
        name = c.get(table, "name", where, str, f"account{i}")
        if name in names:
            c.add(f"{where}name", f"duplicate account name {name!r}")
        names.add(name)
        kind = c.get(table, "type", where, str, "imap")
        if kind not in ACCOUNT_TYPES:
            c.add(f"{where}type", f"must be one of {', '.join(ACCOUNT_TYPES)}, got {kind!r}")
        host = c.get(table, "host", where, str, "")
        tls = c.get(table, "tls", where, str, "implicit")
        if tls not in TLS_MODES:
            c.add(f"{where}tls", f"must be one of {', '.join(TLS_MODES)}, got {tls!r}")
        if tls == "none-loopback-only" and host and not _is_loopback(host):
            c.add(
                f"{where}tls",
                f"'none-loopback-only' refuses host {host!r}: plain IMAP is "
                "allowed to localhost and loopback addresses only; use implicit or starttls",
            )
        port = c.get(table, "port", where, int, 993 if tls == "implicit" else 143)
        folders_raw = table.get("folders", "auto")
        folders: tuple[str, ...] | None = None
        if isinstance(folders_raw, list) and all(isinstance(f, str) for f in folders_raw):
            folders = tuple(folders_raw)
        elif folders_raw != "auto":
            c.add(f"{where}folders", 'must be "auto" or a list of folder names')
        path = c.get(table, "path", where, str, "")
        if kind == "imap" and not host:
            c.add(f"{where}host", "required for an imap account")
        if kind in ("maildir", "mbox"):
            if not path:
                c.add(f"{where}path", f"required for a {kind} account")
            else:
                resolved = (base / Path(path).expanduser()).resolve()
                path = str(resolved)
        secret = _secret(c, table, where, required=kind in ("imap", "exchange"))
        extra = {k: v for k, v in table.items() if k in _ACCOUNT_OPTIONS}
        out.append(
            AccountSettings(
                name,
                kind,
                host,
                port,
                tls,
                c.get(table, "username", where, str, ""),
                secret,
                folders,
                path,
                extra,
            )
        )
    return tuple(out)


def _notify(c: _Collector, raw: Any, has_smtp: bool) -> NotifySettings:
    if not isinstance(raw, dict):
        c.add("notify", "must be a table: [notify]")
        return NotifySettings()
    c.check_keys(raw, "notify", "notify.")
    w = "notify."
    urls = SecretRef(
        command=c.get(raw, "urls_command", w, str, None),
        env=c.get(raw, "urls_env", w, str, None),
        file=c.get(raw, "urls_file", w, str, None),
    )
    if sum(bool(x) for x in (urls.command, urls.env, urls.file)) > 1:
        c.add("notify.urls_*", "give only one of urls_file, urls_env, urls_command")
    via_smtp = c.get(raw, "via_digest_smtp", w, bool, False)
    if via_smtp and not has_smtp:
        c.add("notify.via_digest_smtp", "needs [digest.smtp] (the account nudges are sent by)")
    quiet = c.get(raw, "quiet", w, str, "outside_business_hours")
    if quiet not in QUIET_MODES:
        c.add("notify.quiet", f"must be one of {', '.join(QUIET_MODES)}, got {quiet!r}")
        quiet = "outside_business_hours"
    kinds = c.get(raw, "kinds", w, list, list(DEFAULT_KINDS))
    unknown = [k for k in kinds if k not in NUDGE_KINDS]
    if unknown:
        c.add("notify.kinds", f"unknown kinds {unknown!r}; known: {', '.join(NUDGE_KINDS)}")
    return NotifySettings(
        urls=urls,
        via_digest_smtp=via_smtp,
        quiet=quiet,
        stale_after_s=c.get(raw, "stale_after", w, str, 1800.0, _duration, ' (write e.g. "30m")'),
        open_url=c.get(raw, "open_url", w, str, ""),
        kinds=tuple(dict.fromkeys(k for k in kinds if k in NUDGE_KINDS)),
    )


def _web(c: _Collector, raw: Any) -> WebSettings:
    if not isinstance(raw, dict):
        c.add("web", "must be a table: [web]")
        return WebSettings()
    c.check_keys(raw, "web", "web.")
    listen = c.get(raw, "listen", "web.", str, "127.0.0.1:9878")
    if listen.strip().lower() == "off":
        return WebSettings(listen="off", password=_secret(c, raw, "web.", required=False))
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or not host:
        c.add("web.listen", f"expected HOST:PORT such as 127.0.0.1:9878, got {listen!r}")
    web = WebSettings(listen=listen, password=_secret(c, raw, "web.", required=False))
    if host and not _is_loopback(host) and not web.has_password:
        # Client names and subjects are on the page: beyond this machine, only behind a password.
        c.add(
            "web.listen",
            f"{listen!r} is reachable beyond this machine: set web.password_file, "
            "web.password_env or web.password_command (HTTP basic auth), or listen on 127.0.0.1",
        )
    return web


def settings_from_mapping(
    raw: Mapping[str, Any], *, base: Path | None = None, source: Path | None = None
) -> Settings:
    c = _Collector()
    base = base or Path.cwd()
    c.check_keys(raw, "", "")
    rules, name, language = _rules(c, raw)
    if "leave" in raw:
        rules = replace(rules, leave=_leave_rules(c, raw["leave"], rules.hours.timezone, base))
    instants = _business_leave(c, raw.get("business_hours"), rules.hours.timezone)
    if instants:
        spans = rules.leave.spans + instants
        rules = replace(rules, leave=replace(rules.leave, spans=spans))
    accounts = _accounts(c, raw.get("accounts", []), base)
    store = raw.get("store", {})
    c.check_keys(store, "store", "store.")
    archive = raw.get("archive", {})
    c.check_keys(archive, "archive", "archive.")
    metrics = raw.get("metrics", {})
    c.check_keys(metrics, "metrics", "metrics.")
    listen = c.get(metrics, "listen", "metrics.", str, "127.0.0.1:9877")
    if listen.rpartition(":")[2].isdigit() is False:
        c.add("metrics.listen", f"expected HOST:PORT such as 127.0.0.1:9877, got {listen!r}")
    digest = raw.get("digest", {})
    c.check_keys(digest, "digest", "digest.")
    smtp = None
    if "smtp" in digest and isinstance(digest["smtp"], dict):
        s = digest["smtp"]
        c.check_keys(s, "digest.smtp", "digest.smtp.")
        smtp = SmtpSettings(
            host=c.get(s, "host", "digest.smtp.", str, ""),
            port=c.get(s, "port", "digest.smtp.", int, 465),
            tls=c.get(s, "tls", "digest.smtp.", str, "implicit"),
            username=c.get(s, "username", "digest.smtp.", str, ""),
            secret=_secret(c, s, "digest.smtp.", required=False),
            ca_file=c.get(s, "ca_file", "digest.smtp.", str, None),
            timeout=c.get(s, "timeout", "digest.smtp.", (int, float), 30.0),
        )
        if smtp.tls not in TLS_MODES:
            c.add("digest.smtp.tls", f"must be one of {', '.join(TLS_MODES)}, got {smtp.tls!r}")
        if not smtp.host:
            c.add("digest.smtp.host", "required when [digest.smtp] is given")
        elif smtp.tls == "none-loopback-only" and not _is_loopback(smtp.host):
            c.add(
                "digest.smtp.tls",
                f"'none-loopback-only' refuses host {smtp.host!r}: plain SMTP is "
                "allowed to 127.0.0.1/::1 only; use implicit or starttls",
            )
    insights = raw.get("insights", {})
    c.check_keys(insights, "insights", "insights.")
    threading = raw.get("threading", {})
    c.check_keys(threading, "threading", "threading.")
    daemon = raw.get("daemon", {})
    c.check_keys(daemon, "daemon", "daemon.")
    top = c.get(metrics, "top_clients", "metrics.", int, 50)
    if top < 1:
        c.add("metrics.top_clients", "must be at least 1")
    store_path = c.get(store, "path", "store.", str, DEFAULT_STORE)
    archive_path = c.get(archive, "path", "archive.", str, DEFAULT_ARCHIVE)
    settings = Settings(
        rules=rules,
        me_name=name,
        language=language,
        accounts=accounts,
        store_path=(base / Path(store_path).expanduser()).resolve(),
        archive_path=(base / Path(archive_path).expanduser()).resolve(),
        archive_detect=c.get(archive, "detect", "archive.", bool, True),
        archive_tag_on_server=c.get(archive, "tag_on_server", "archive.", bool, False),
        **_tsa_settings(c, archive, base),
        metrics_listen=listen,
        metrics_top_clients=top,
        digest_enabled=c.get(digest, "enabled", "digest.", bool, True),
        digest_to=c.get(digest, "to", "digest.", str, ""),
        digest_from=c.get(digest, "from", "digest.", str, ""),
        digest_skip_when_empty=c.get(digest, "skip_when_empty", "digest.", bool, False),
        digest_weekends=c.get(digest, "weekends", "digest.", bool, False),
        digest_misfire_grace_s=c.get(
            digest, "misfire_grace", "digest.", str, 6 * 3600.0, _duration, ' (write e.g. "6h")'
        ),
        recompute_in_child=c.get(daemon, "recompute_in_child", "daemon.", bool, True),
        recompute_every_s=c.get(
            daemon, "recompute_every", "daemon.", str, 60.0, _duration, ' (write e.g. "1m")'
        ),
        sync_every_s=c.get(
            daemon, "sync_every", "daemon.", str, 300.0, _duration, ' (write e.g. "5m")'
        ),
        digest_at=c.get(digest, "at", "digest.", str, time(7, 30), _clock_time, ' (write "HH:MM")'),
        digest_smtp=smtp,
        quiet_after_s=c.get(insights, "quiet_after", "insights.", str, 60 * 86400.0, _duration),
        subject_fallback=c.get(threading, "subject_fallback", "threading.", bool, True),
        source=source,
        notify=_notify(c, raw.get("notify", {}), smtp is not None),
        web=_web(c, raw.get("web", {})),
    )
    if c.problems:
        where = f"{source}: " if source else ""
        raise ConfigError([f"{where}{p}" for p in c.problems])
    return settings


def _leave_bound(c: _Collector, value: Any, key: str, tz: ZoneInfo, end: bool) -> datetime | None:
    """A ``from``/``to`` of a leave period: a date (whole local day, ``to`` inclusive) or an
    ISO instant (``to`` exclusive; without an offset, in me.timezone)."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            with contextlib.suppress(ValueError):
                value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=tz)).astimezone(UTC)
    if isinstance(value, date):
        return day_span(value, value, tz)[1 if end else 0]
    c.add(key, f"expected a date like 2026-08-03 or an instant like 2026-08-03T14:00: {value!r}")
    return None


def _leave_period(
    c: _Collector, table: Mapping[str, Any], key: str, tz: ZoneInfo
) -> LeaveSpan | None:
    first = _leave_bound(c, table.get("from"), f"{key}.from", tz, end=False)
    last = _leave_bound(c, table.get("to"), f"{key}.to", tz, end=True)
    label = c.get(table, "label", key + ".", str, "")
    if first is None or last is None:
        return None
    if last <= first:
        c.add(key, "'to' is before 'from'")
        return None
    return LeaveSpan(first, last, key, label)


def _is_instant(value: Any) -> bool:
    if isinstance(value, datetime):
        return True
    if not isinstance(value, str) or len(value.strip()) <= 10:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _business_leave(c: _Collector, raw: Any, tz_name: str) -> tuple[LeaveSpan, ...]:
    """``business_hours.leave`` entries given as instants (dates stay LeavePeriods)."""
    table = raw.get("leave") if isinstance(raw, dict) else None
    if not isinstance(table, list):
        return ()
    tz = ZoneInfo(tz_name)
    out: list[LeaveSpan] = []
    for i, period in enumerate(table):
        if isinstance(period, dict) and (
            _is_instant(period.get("from")) or _is_instant(period.get("to"))
        ):
            span = _leave_period(c, period, f"business_hours.leave[{i}]", tz)
            if span is not None:
                out.append(span)
    return tuple(out)


def _leave_rules(c: _Collector, raw: Any, tz_name: str, base: Path) -> LeaveRules:
    """``[[leave]]`` periods and, in any ``leave`` table, the ICS and auto-reply sources.

    TOML cannot mix ``[[leave]]`` with ``[leave]``: the sources are keys of a ``[[leave]]``
    entry without from/to, or of a ``[leave]`` table whose periods are ``[[leave.periods]]``.
    """
    from responsewatch.adapters.ics import (
        DEFAULT_MATCH,
        IcsError,
        describe_location,
        fetch_ics,
        leave_from_ics,
    )

    tz = ZoneInfo(tz_name)
    tables: list[tuple[str, Mapping[str, Any]]] = []
    if isinstance(raw, dict):
        c.check_keys(raw, "leave", "leave.")
        tables.append(("leave", raw))
        for i, period in enumerate(c.get(raw, "periods", "leave.", list, [])):
            if isinstance(period, dict):
                c.check_keys(period, "leave.periods", f"leave.periods[{i}].")
                tables.append((f"leave.periods[{i}]", period))
            else:
                c.add(f"leave.periods[{i}]", "must be a table")
    else:
        tables += [(where.rstrip("."), t) for _i, where, t in _tables(c, raw, "leave")]
    spans: list[LeaveSpan] = []
    mine = theirs = False
    for key, table in tables:
        where = key + "."
        if "from" in table or "to" in table:
            span = _leave_period(c, table, key, tz)
            if span is not None:
                spans.append(span)
        mine = c.get(table, "from_my_auto_replies", where, bool, False) or mine
        theirs = c.get(table, "from_client_auto_replies", where, bool, False) or theirs
        match = c.get(table, "ics_match", where, str, DEFAULT_MATCH)
        for name, is_url in (("ics_file", False), ("ics_url", True)):
            location = c.get(table, name, where, str, None)
            if location is None:
                continue
            try:
                data = fetch_ics(location, base=base, url=is_url)
                source = f"{name} {describe_location(location, url=is_url)}"
                spans += leave_from_ics(data, match=match, tz=tz, source=source, today=date.today())
            except IcsError as exc:
                c.add(where + name, str(exc))
    return LeaveRules(tuple(spans), mine, theirs)


def load_settings(path: Path) -> Settings:
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--config {path}: cannot be read ({exc})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return settings_from_mapping(raw, base=path.parent.resolve(), source=path)


def _tsa_settings(c: _Collector, archive: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """``archive.tsa_urls`` / ``tsa_ca_file`` / ``timestamp_every`` (RFC 3161 timestamps)."""
    urls = c.get(archive, "tsa_urls", "archive.", list, [])
    for url in urls:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            c.add("archive.tsa_urls", f"each must be an http:// or https:// URL, got {url!r}")
            urls = []
            break
    ca = c.get(archive, "tsa_ca_file", "archive.", str, None)
    every = c.get(
        archive, "timestamp_every", "archive.", str, 0.0, parse_duration, ' (write e.g. "1h")'
    )
    if not 0 <= every <= 86400:
        # "At least daily while entries are added": a longer wait would break that promise.
        c.add("archive.timestamp_every", f"must be between 0s and 24h, got {every:.0f} s")
        every = 0.0
    return {
        "archive_tsa_urls": tuple(urls),
        "archive_tsa_ca_file": (base / Path(ca).expanduser()).resolve() if ca else None,
        "archive_timestamp_every_s": float(every),
    }

"""Validated TOML mapping -> frozen Settings. The schema (:mod:`.schema`) has reported
unknown keys and wrong types; this module adds the rules that read values (durations, zones,
the loopback rule, ...) and collects every problem so the user sees all of them at once.

Secrets are never read from the TOML itself: ``password_command``, ``password_env`` or
``password_file`` (and ``oauth2`` token caches) point at them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from responsewatch.config.schema import ACCOUNT_TYPES, KEYS, TLS_MODES, schema_problems
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
from responsewatch.netutil import account_key, is_loopback, parse_listen

__all__ = ["parse_duration", "settings_from_mapping"]

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


# Account keys handed to the adapters as they are (Graph's and EWS's own keys; the schema
# has checked their types).
_ACCOUNT_OPTIONS = frozenset(KEYS["accounts"]) - {
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
}
# Kept under its old name: tests and callers read the allowed keys from it.
_SCHEMA = KEYS


class _Collector:
    """Gathers problems so the user sees all of them at once."""

    def __init__(self, schema: list[tuple[str, str]]) -> None:
        self.problems: list[str] = [f"{key}: {why}" for key, why in schema]
        # The schema has named these keys already (unknown, or of the wrong type): the
        # conversion, which falls back to a default for them, must not report them twice.
        self._reported = {key for key, _why in schema}

    def add(self, key: str, why: str) -> None:
        if key not in self._reported:
            self.problems.append(f"{key}: {why}")

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


def _table(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A table of the file, or an empty one when it is not a table (the schema said so)."""
    value = raw.get(key, {})
    return value if isinstance(value, dict) else {}


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

    sla_raw = _table(raw, "sla")
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

    hours = _business_hours(c, _table(raw, "business_hours"), tz_name)
    clients = _clients(c, raw.get("clients", []))
    me_set = frozenset(a.lower().strip() for a in addresses if isinstance(a, str))
    return Rules(me=me_set, clients=clients, sla=sla, hours=hours), name, language


def _business_hours(c: _Collector, raw: Mapping[str, Any], tz_name: str) -> BusinessHours:
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
    listen = c.get(raw, "listen", "web.", str, "127.0.0.1:9878")
    if listen.strip().lower() == "off":
        return WebSettings(listen="off", password=_secret(c, raw, "web.", required=False))
    host = (parse_listen(listen) or ("", 0))[0]
    if not host:
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
    c = _Collector(schema_problems(raw))
    base = base or Path.cwd()
    rules, name, language = _rules(c, raw)
    if "leave" in raw:
        rules = replace(rules, leave=_leave_rules(c, raw["leave"], rules.hours.timezone, base))
    instants = _business_leave(c, raw.get("business_hours"), rules.hours.timezone)
    if instants:
        spans = rules.leave.spans + instants
        rules = replace(rules, leave=replace(rules.leave, spans=spans))
    accounts = _accounts(c, raw.get("accounts", []), base)
    store = _table(raw, "store")
    archive = _table(raw, "archive")
    metrics = _table(raw, "metrics")
    listen = c.get(metrics, "listen", "metrics.", str, "127.0.0.1:9877")
    if parse_listen(listen) is None:
        c.add("metrics.listen", f"expected HOST:PORT such as 127.0.0.1:9877, got {listen!r}")
    digest = _table(raw, "digest")
    smtp = None
    if "smtp" in digest and isinstance(digest["smtp"], dict):
        s = digest["smtp"]
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
    insights = _table(raw, "insights")
    threading = _table(raw, "threading")
    daemon = _table(raw, "daemon")
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
        tables.append(("leave", raw))
        for i, period in enumerate(c.get(raw, "periods", "leave.", list, [])):
            if isinstance(period, dict):
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

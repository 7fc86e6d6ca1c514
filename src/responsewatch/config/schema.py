"""The declarative config schema: every table, key and TOML type, in one place.

pydantic v2 (strict, ``extra="forbid"``) checks the shape of the whole file in one pass and
reports every unknown key and wrong type at once; :mod:`.convert` then applies the rules that
span keys (warn_at before reply_within, the loopback rule, ...) and builds the frozen values.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from responsewatch.netutil import TLS_MODES, account_key

__all__ = ["ACCOUNT_TYPES", "KEYS", "TLS_MODES", "Root", "schema_problems"]

ACCOUNT_TYPES = ("imap", "maildir", "mbox", "graph", "exchange")
PLAIN_SECRET_KEYS = ("password", "secret", "token", "client_secret", "access_token")

# Element types stay Any where the conversion names the bad entries itself
# ("unknown day 'funday'", "not e-mail addresses: [...]").
_Str = str | None
_Int = int | None
_Bool = bool | None
_Number = float | None
_List = list[Any] | None


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=False)


class Me(_Table):
    name: _Str = None
    addresses: _List = None
    timezone: _Str = None
    language: _Str = None


class SlaTable(_Table):
    reply_within: _Str = None
    warn_at: _Str = None
    clock: _Str = None
    count_cc: _Bool = None
    report_every: _Str = None


class Holidays(_Table):
    country: _Str = None
    subdivision: str | int | None = None


class Period(_Table):
    """A leave period: ``from``/``to`` are TOML dates, datetimes or ISO strings."""

    from_: Any = Field(default=None, alias="from")
    to: Any = None
    label: _Str = None


class BusinessHoursTable(_Table):
    days: _List = None
    start: _Str = None
    end: _Str = None
    holidays: Holidays | None = None
    leave: list[Period] | None = None


class Client(_Table):
    name: _Str = None
    domains: list[str] | None = None
    addresses: list[str] | None = None
    reply_within: _Str = None
    warn_at: _Str = None
    mission_start: Any = None
    mission_length: _Str = None
    report_every: _Str = None


class _Secret(_Table):
    password_command: _Str = None
    password_env: _Str = None
    password_file: _Str = None


class Account(_Secret):
    name: _Str = None
    type: _Str = None
    host: _Str = None
    port: _Int = None
    tls: _Str = None
    username: _Str = None
    oauth2: dict[str, Any] | None = None
    folders: str | list[Any] | None = None
    path: _Str = None
    # Graph and EWS keys (adapters/graph.py, adapters/exchange.py read them from options).
    tenant_id: _Str = None
    client_id: _Str = None
    mailbox: _Str = None
    server: _Str = None
    auth: _Str = None
    batch_size: _Int = None
    autodiscover: _Bool = None
    ca_file: _Str = None
    token_cache: _Str = None
    client_secret_command: _Str = None
    client_secret_env: _Str = None
    client_secret_file: _Str = None


class Store(_Table):
    path: _Str = None


class Archive(_Table):
    path: _Str = None
    detect: _Bool = None
    tag_on_server: _Bool = None
    tsa_urls: _List = None
    tsa_ca_file: _Str = None
    timestamp_every: _Str = None


class Metrics(_Table):
    listen: _Str = None
    top_clients: _Int = None


class DaemonTable(_Table):
    recompute_every: _Str = None
    sync_every: _Str = None
    recompute_in_child: _Bool = None


class Smtp(_Secret):
    host: _Str = None
    port: _Int = None
    tls: _Str = None
    username: _Str = None
    ca_file: _Str = None
    timeout: _Number = None


class Digest(_Table):
    to: _Str = None
    from_: _Str = Field(default=None, alias="from")
    at: _Str = None
    smtp: Smtp | None = None
    skip_when_empty: _Bool = None
    weekends: _Bool = None
    misfire_grace: _Str = None
    enabled: _Bool = None


class Insights(_Table):
    quiet_after: _Str = None


class Notify(_Table):
    urls_file: _Str = None
    urls_env: _Str = None
    urls_command: _Str = None
    via_digest_smtp: _Bool = None
    quiet: _Str = None
    stale_after: _Str = None
    open_url: _Str = None
    kinds: _List = None


class Threading(_Table):
    subject_fallback: _Bool = None


class LeaveSources(Period):
    ics_file: _Str = None
    ics_url: _Str = None
    ics_match: _Str = None
    from_my_auto_replies: _Bool = None
    from_client_auto_replies: _Bool = None


class LeaveTable(LeaveSources):
    """``[leave]`` (a table): its periods are ``[[leave.periods]]``."""

    periods: list[Period] | None = None


class Web(_Secret):
    listen: _Str = None


class Root(_Table):
    me: Me | None = None
    sla: SlaTable | None = None
    business_hours: BusinessHoursTable | None = None
    clients: list[Client] | None = None
    accounts: list[Account] | None = None
    store: Store | None = None
    archive: Archive | None = None
    metrics: Metrics | None = None
    digest: Digest | None = None
    insights: Insights | None = None
    threading: Threading | None = None
    daemon: DaemonTable | None = None
    notify: Notify | None = None
    # ``[leave]`` or ``[[leave]]``: checked by :func:`_leave_problems` (a union would report
    # each problem once per branch).
    leave: Any = None
    web: Web | None = None


def _keys(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(f.alias or name for name, f in model.model_fields.items())


# Allowed keys by table path (array indexes dropped): derived from the models, never listed.
KEYS: dict[str, tuple[str, ...]] = {
    "": _keys(Root),
    "me": _keys(Me),
    "sla": _keys(SlaTable),
    "business_hours": _keys(BusinessHoursTable),
    "business_hours.holidays": _keys(Holidays),
    "business_hours.leave": _keys(Period),
    "clients": _keys(Client),
    "accounts": _keys(Account),
    "store": _keys(Store),
    "archive": _keys(Archive),
    "metrics": _keys(Metrics),
    "daemon": _keys(DaemonTable),
    "digest": _keys(Digest),
    "digest.smtp": _keys(Smtp),
    "insights": _keys(Insights),
    "notify": _keys(Notify),
    "threading": _keys(Threading),
    "leave": _keys(LeaveTable),
    "leave.periods": _keys(Period),
    "web": _keys(Web),
}

_TYPE_NAMES = {
    "string_type": "str",
    "int_type": "int",
    "bool_type": "bool",
    "float_type": "a number",
    "dict_type": "a table",
    "list_type": "a list",
}

_LEAVE_LIST: TypeAdapter[list[LeaveSources]] = TypeAdapter(list[LeaveSources])


def _where(raw: Mapping[str, Any], loc: Sequence[int | str]) -> str:
    """A pydantic location as the project names keys: ``accounts[main].tls``,
    ``clients[0].name``, ``business_hours.leave[1].from``."""
    out = ""
    node: Any = raw
    for part in loc:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and part < len(node) else None
            label = item.get("name") if isinstance(item, dict) and out == "accounts" else None
            # Accounts are named by their name (as the adapters name them), others by position.
            out = account_key(label) if isinstance(label, str) and label else f"{out}[{part}]"
            node = item
        else:
            out = f"{out}.{part}" if out else part
            node = node.get(part) if isinstance(node, dict) else None
    return out


def _why(error: ErrorDetails, table: str, key: str) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        if key in PLAIN_SECRET_KEYS:
            return (
                "secrets are never read from the config file; use password_command, "
                "password_env or password_file instead"
            )
        allowed = KEYS.get(table, ())
        close = difflib.get_close_matches(key, allowed, n=1)
        return (
            f"unknown key; did you mean {close[0]!r}?"
            if close
            else f"unknown key; known keys: {', '.join(allowed)}"
        )
    if kind == "model_type" or kind == "dict_type":
        return f"must be a table: [{table + '.' if table else ''}{key}]"
    if kind in _TYPE_NAMES:
        return f"expected {_TYPE_NAMES[kind]}, got {error['input']!r}"
    return error["msg"]


def _format(
    raw: Mapping[str, Any], errors: Sequence[ErrorDetails], prefix: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for error in errors:
        loc = prefix + tuple(error["loc"])
        # Unions (``str | None``) add the branch name to the location: drop it.
        loc = tuple(p for p in loc if not (isinstance(p, str) and p in _BRANCHES))
        key = _where(raw, loc)
        names = [p for p in loc if isinstance(p, str)]
        table = ".".join(names[:-1])
        why = _why(error, table, names[-1] if names else "")
        if (key, why) not in out:
            out.append((key, why))
    return out


_BRANCHES = frozenset({"str", "int", "bool", "float", "list[any]", "dict[str,any]", "list[str]"})


def schema_problems(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every unknown key and wrongly typed value of the file, as ``(key, why)``."""
    problems: list[tuple[str, str]] = []
    try:
        Root.model_validate(raw)
    except ValidationError as exc:
        problems += _format(raw, exc.errors())
    leave = raw.get("leave")
    if isinstance(leave, dict):
        try:
            LeaveTable.model_validate(leave)
        except ValidationError as exc:
            problems += _format(raw, exc.errors(), ("leave",))
    elif isinstance(leave, list):
        try:
            _LEAVE_LIST.validate_python(leave)
        except ValidationError as exc:
            problems += _format(raw, exc.errors(), ("leave",))
    elif leave is not None:
        problems.append(("leave", "must be a table [leave] or an array of tables [[leave]]"))
    return problems

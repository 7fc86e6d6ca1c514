"""Use cases behind the CLI commands (the CLI only parses arguments and prints)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from responsewatch.adapters.files import ReadStats
from responsewatch.adapters.store import SqliteStore
from responsewatch.app.bootstrap import FixedClock, bootstrap
from responsewatch.app.pipeline import Corpus, compute, conversations_of, load_corpus
from responsewatch.app.sent_check import (
    CHECKED_TYPES,
    SentAdvice,
    advice,
    reads_my_mail,
    sample_from_me,
    sent_missing,
)
from responsewatch.app.sync import SyncReport, alias_warnings
from responsewatch.config import Settings, load_settings, settings_from_mapping
from responsewatch.core.insights import insights_json
from responsewatch.core.models import Analysis, Conversation
from responsewatch.core.rules import ClientRule, Rules
from responsewatch.errors import ConfigError, RwError
from responsewatch.ports import ServerListing

__all__ = [
    "AnalyzeResult",
    "CheckReport",
    "SyncOutcome",
    "ThreadsResult",
    "ack",
    "analyze_paths",
    "check",
    "demo",
    "parse_now",
    "report",
    "sync_once",
    "thread_paths",
]

log = structlog.get_logger("responsewatch")


def parse_now(value: str | None, timezone: str) -> datetime:
    if value is None:
        return datetime.now(ZoneInfo(timezone))
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(
            f"--now {value!r}: not an ISO 8601 instant (e.g. 2026-11-23T09:00 or "
            "2026-11-23T08:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(timezone))
    return parsed


def parse_clients(values: Sequence[str]) -> tuple[ClientRule, ...]:
    """--client NAME=VALUE, repeatable; a name given several times gets all its rules."""
    problems: list[str] = []
    order: list[str] = []
    domains: dict[str, list[str]] = {}
    addresses: dict[str, list[str]] = {}
    for value in values:
        name, sep, target = value.partition("=")
        name, target = name.strip(), target.strip().lower()
        if not sep or not name or not target:
            problems.append(f"--client {value!r}: expected NAME=DOMAIN or NAME=ADDRESS")
            continue
        if name not in domains:
            order.append(name)
            domains[name], addresses[name] = [], []
        if "@" in target and not target.startswith("@"):
            addresses[name].append(target)
        else:
            domains[name].append(target.lstrip("@"))
    if problems:
        raise ConfigError(problems)
    return tuple(ClientRule(n, tuple(domains[n]), tuple(addresses[n])) for n in order)


def _settings(config: Path | None, me: Sequence[str], clients: Sequence[str]) -> Settings:
    extra_me = [m.strip().lower() for m in me if m.strip()]
    if config is not None:
        settings = load_settings(config)
    else:
        if not extra_me:
            raise ConfigError(
                "--me: required (give each of your addresses with --me, or --config FILE "
                "with me.addresses)"
            )
        settings = settings_from_mapping({"me": {"addresses": extra_me}})
    rules = settings.rules
    added = parse_clients(clients)
    # replace() carries every other field of Rules over (leave, cadence, ...).
    rules = replace(rules, me=rules.me | frozenset(extra_me), clients=rules.clients + added)
    return replace(settings, rules=rules)


@dataclass(frozen=True, slots=True)
class AnalyzeResult:
    analysis: Analysis
    timezone: str
    stats: ReadStats
    corpus: Corpus


def analyze_paths(
    paths: Sequence[Path],
    *,
    me: Sequence[str],
    clients: Sequence[str],
    config: Path | None,
    now: str | None,
    on_message: Callable[[], None] | None = None,
) -> AnalyzeResult:
    settings = _settings(config, me, clients)
    at = parse_now(now, settings.timezone)
    corpus = load_corpus(list(paths), on_message=on_message)
    analysis, _ = compute(
        corpus.messages, settings.rules, now=at, subject_fallback=settings.subject_fallback
    )
    return AnalyzeResult(analysis, settings.timezone, corpus.stats, corpus)


@dataclass(frozen=True, slots=True)
class ThreadsResult:
    conversations: list[Conversation]
    messages: int
    skipped: int
    stats: ReadStats
    corpus: Corpus
    me: frozenset[str]


def thread_paths(paths: Sequence[Path], *, me: Sequence[str], config: Path | None) -> ThreadsResult:
    if config is not None or me:
        settings = _settings(config, me, [])
        rules, fallback = settings.rules, settings.subject_fallback
    else:
        rules, fallback = Rules(me=frozenset()), True
    corpus = load_corpus(list(paths))
    conversations = conversations_of(corpus.messages, rules, subject_fallback=fallback)
    return ThreadsResult(
        conversations, len(corpus.messages), corpus.stats.skipped, corpus.stats, corpus, rules.me
    )


def report(config: Path, *, now: str | None) -> tuple[Analysis, str, dict[str, Any]]:
    settings = load_settings(config)
    if not settings.store_path.exists():
        raise ConfigError(
            f"store.path {settings.store_path}: no store yet; run `responsewatch sync "
            f"--config {config} --once` first"
        )
    app = bootstrap(settings)
    try:
        analysis, found = app.report_with_insights(parse_now(now, settings.timezone))
        return analysis, settings.timezone, insights_json(found)
    finally:
        app.close()


def ack(config: Path, thread_id: str, *, now: str | None) -> list[str]:
    settings = load_settings(config)
    app = bootstrap(settings)
    try:
        return app.ack(thread_id, parse_now(now, settings.timezone) if now else None)
    finally:
        app.close()


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    reports: list[SyncReport]
    missing: list[SentAdvice]
    exit_code: int


def sync_once(
    config: Path, *, once: bool, progress: Callable[[int], None] | None = None
) -> SyncOutcome:
    """One catch-up of every account; ``progress`` hears how many messages each batch read."""
    if not once:
        raise ConfigError("sync: pass --once (the long-running daemon is `responsewatch run`)")
    settings = load_settings(config)
    app = bootstrap(settings)
    try:
        reports = app.sync_once(progress=progress) if progress else app.sync_once()
        missing = sent_missing(app.store, settings, reports)
    finally:
        app.close()
    codes: set[int] = {r.exit_code or 3 for r in reports if r.error}
    for miss in missing:
        log.warning("sent_folder_missing", account=miss.account, folders=list(miss.server))
    # A full disk (4) first, then a configuration error (2, fixed in the file), then sources (3).
    code = next((c for c in (4, ConfigError.exit_code, 3) if c in codes), max(codes, default=0))
    return SyncOutcome(reports, missing, code)


@dataclass(frozen=True, slots=True)
class CheckReport:
    """``check``: the configuration's summary, then (verdict, account, text) per line."""

    config: Path
    accounts: int
    clients: int
    store: Path
    lines: list[tuple[bool, str, str]]
    exit_code: int


def check(config: Path) -> CheckReport:
    settings = load_settings(config)
    lines: list[tuple[bool, str, str]] = []
    failures = 0
    config_failed = False
    for account in settings.accounts:
        try:
            found = _check_account(settings, account.name)
        except RwError as exc:
            failures += 1
            config_failed = config_failed or isinstance(exc, ConfigError)
            lines.append((False, account.name, str(exc)))
            continue
        lines += [(True, account.name, line) for line in found]
    # A wrong folder list is fixed in the file, like any configuration error.
    code = ConfigError.exit_code if config_failed else (3 if failures else 0)
    return CheckReport(
        config,
        len(settings.accounts),
        len(settings.rules.clients),
        settings.store_path,
        lines,
        code,
    )


def _check_account(settings: Settings, name: str) -> list[str]:
    account = next(a for a in settings.accounts if a.name == name)
    if account.type in ("maildir", "mbox"):
        path = Path(account.path)
        if not path.exists():
            raise ConfigError(f"accounts[{name}].path {path}: does not exist")
        return [f"{account.type} at {path}"]
    from responsewatch.app.bootstrap import make_source

    lines: list[str] = []
    if account.type == "graph":
        from responsewatch.adapters.graph import setup_steps

        auth = str(account.options.get("auth", "device_code"))
        lines += [f"setup step {i}: {step}" for i, step in enumerate(setup_steps(auth), 1)]
        lines.append("full guide: docs/microsoft.md")
    source = make_source(account)
    try:
        folders = source.folders()
        lines += [f"will read {f.name}" + (f" ({f.role})" if f.role else "") for f in folders]
        aliases = alias_warnings(source, settings.rules.me)
        if account.type in CHECKED_TYPES:
            found = reads_my_mail(sample_from_me(source, folders, settings.rules.me))
            if found is False:
                server = source.server_folders() if isinstance(source, ServerListing) else []
                read = [f.name for f in folders]
                raise ConfigError(advice(name, settings.rules.me, read, server, aliases).text())
            lines.append(
                f"found mail from you in the last messages of {', '.join(f.name for f in folders)}"
                if found
                else "the folders read are empty: nothing to check yet"
            )
        lines += aliases
        return lines
    finally:
        source.close()


# -- demo ---------------------------------------------------------------------------------

SAMPLE_NOW = "2026-11-20T11:00:00+01:00"
SAMPLE_CONFIG = {
    "me": {
        "name": "Claire Martin",
        "addresses": ["claire@martin-conseil.fr"],
        "timezone": "Europe/Paris",
        "language": "fr",
    },
    "business_hours": {"holidays": {"country": "FR"}},
    "clients": [
        {
            "name": "Acme",
            "domains": ["acme.fr"],
            "reply_within": "8h",
            "warn_at": "6h",
            "mission_start": "2026-08-17",
            "mission_length": "2 months",
        },
        {"name": "Bolt", "domains": ["bolt-industries.com"]},
        {"name": "Celsius", "domains": ["celsius-energie.fr"]},
        {"name": "Dune", "addresses": ["paul.dune@gmail.com"]},
        {
            "name": "Eiffel",
            "domains": ["eiffel-logistique.fr"],
            "mission_start": "2026-10-05",
            "mission_length": "10w",
            "report_every": "7d",
        },
    ],
}


@dataclass(frozen=True, slots=True)
class DemoResult:
    analysis: Analysis
    timezone: str
    intro: str
    outro: str
    insights: dict[str, Any]


def demo(*, keep: Path | None = None) -> DemoResult:
    sample = resources.files("responsewatch") / "sample" / "consultant.mbox"
    workdir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="responsewatch-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        mbox = workdir / "consultant.mbox"
        mbox.write_bytes(sample.read_bytes())
        mapping = dict(SAMPLE_CONFIG)
        mapping["store"] = {"path": str(workdir / "responsewatch.db")}
        mapping["accounts"] = [{"name": "sample", "type": "mbox", "path": str(mbox)}]
        settings = settings_from_mapping(mapping, base=workdir)
        at = parse_now(SAMPLE_NOW, settings.timezone)
        app = bootstrap(settings, clock=FixedClock(at), store=SqliteStore.open(settings.store_path))
        try:
            reports = app.sync_once()
            failed = [r for r in reports if r.error]
            if failed:
                raise RwError(failed[0].error or "demo sync failed")
            analysis, found = app.report_with_insights(at)
        finally:
            app.close()
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    intro = (
        f"Demo: Claire Martin, consultant, {len(settings.rules.clients)} clients; sample "
        f"mailbox of "
        f"{analysis.totals.messages} messages ingested into a throwaway SQLite store; "
        f"report as of {SAMPLE_NOW}."
    )
    outro = (
        "Next: `responsewatch analyze PATH --me you@example.com` on your own mbox/Maildir, "
        "or copy config/example.toml and run `responsewatch sync --config FILE --once`."
    )
    return DemoResult(analysis, settings.timezone, intro, outro, insights_json(found))

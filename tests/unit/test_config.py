"""Configuration: the example documents every key, and every problem is named at once."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from responsewatch.config import (
    _SCHEMA,
    SecretRef,
    load_settings,
    parse_duration,
    settings_from_mapping,
)
from responsewatch.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.toml"


def test_example_loads() -> None:
    settings = load_settings(EXAMPLE)
    assert "claire@martin-conseil.fr" in settings.rules.me
    assert settings.rules.clients[0].reply_within_s == 8 * 3600
    assert settings.rules.hours.holidays_subdivision == "57"
    assert settings.rules.hours.leave[0].start.isoformat() == "2026-08-03"
    assert settings.accounts[0].secret.command == "pass show mail/claire"
    assert settings.digest_smtp is not None and settings.digest_smtp.port == 465


def test_example_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for table, keys in _SCHEMA.items():
        for key in keys:
            if table == "":
                assert f"[{key}]" in text or f"[[{key}]]" in text, key
                continue
            if (
                key
                in (
                    "password_env",
                    "password_file",
                    "client_secret_env",
                    "client_secret_file",
                    "client_secret_command",
                    "oauth2",
                    "path",
                )
                and table != "store"
            ):
                assert key in text, key
                continue
            assert re.search(rf"(^|[\s{{,#]){re.escape(key)}\s*=", text, re.M), f"{table}.{key}"


def test_all_problems_at_once_with_keys_and_fixes() -> None:
    raw = {
        "me": {"addresses": ["not-an-address"], "timezone": "Mars/Olympus", "language": "de"},
        "sla": {"reply_within": "tomorrow", "clock": "sundial"},
        "business_hours": {"days": ["mon", "funday"], "start": "25:00"},
        "clients": [{"name": "A"}, {"name": "A", "domains": ["a.fr"], "reply_whithin": "1h"}],
        "accounts": [
            {
                "name": "x",
                "type": "pop3",
                "tls": "none-loopback-only",
                "host": "mail.example.com",
                "password": "hunter2",
            }
        ],
        "typo": {},
    }
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(raw)
    text = str(info.value)
    for key in (
        "me.addresses",
        "me.timezone",
        "me.language",
        "sla.reply_within",
        "sla.clock",
        "business_hours.days",
        "business_hours.start",
        "clients[0].domains",
        "clients[1].name",
        "clients[1].reply_whithin",
        "accounts[x].type",
        "accounts[x].tls",
        "accounts[x].password",
        "typo",
    ):
        assert key in text, key
    assert "did you mean 'reply_within'" in text
    assert "hunter2" not in text
    assert len(info.value.problems) >= 14


def test_unknown_holiday_country_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"business_hours\.holidays"):
        settings_from_mapping(
            {"me": {"addresses": ["a@b.c"]}, "business_hours": {"holidays": {"country": "XX"}}}
        )


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[me]\naddresses = ["a@b.c"]\n[store]\npath = "data/rw.db"\n'
        '[[accounts]]\nname = "f"\ntype = "maildir"\npath = "Mail"\n'
    )
    settings = load_settings(cfg)
    assert settings.store_path == tmp_path / "data" / "rw.db"
    assert settings.accounts[0].path == str(tmp_path / "Mail")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("24h", 86400),
        ("18 h", 64800),
        ("1h30m", 5400),
        ("60d", 5184000),
        ("90", 90),
        ("2 weeks", 1209600),
        ("45min", 2700),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "24x", "-3h", "1h 2", "soon"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_example_is_valid_toml_with_only_known_sections() -> None:
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert set(raw) <= set(_SCHEMA[""])


def test_notify_keys_defaults_and_problems(tmp_path: Path) -> None:
    from responsewatch.config import settings_from_mapping
    from responsewatch.secrets import resolve_secret_lines

    base = {"me": {"addresses": ["me@example.com"]}}
    plain = settings_from_mapping(base).notify
    assert not plain.enabled and plain.quiet == "outside_business_hours"
    assert plain.kinds == ("due_soon", "overdue", "sync_stale", "sync_recovered")
    assert plain.stale_after_s == 1800
    urls = tmp_path / "urls"
    urls.write_text("# comment\n\njson://h/\n  ntfy://n/t  \n")
    n = settings_from_mapping({**base, "notify": {"urls_file": str(urls), "quiet": "never",
                                                  "kinds": ["overdue", "agreement"],
                                                  "stale_after": "1h"}}).notify  # fmt: skip
    assert n.enabled and n.kinds == ("overdue", "agreement") and n.stale_after_s == 3600
    assert resolve_secret_lines(n.urls, "notify") == ["json://h/", "ntfy://n/t"]
    bad = {
        **base,
        "notify": {"urls_file": "a", "urls_env": "B", "quiet": "sometimes", "kinds": ["later"],
                   "via_digest_smtp": True, "urls": "x"},
    }  # fmt: skip
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(bad)
    text = str(info.value)
    for key in ("notify.urls_*", "notify.quiet", "notify.kinds", "notify.via_digest_smtp",
                "notify.urls:"):  # fmt: skip
        assert key in text, key
    empty = tmp_path / "empty"
    empty.write_text("# nothing\n")
    with pytest.raises(ConfigError, match=r"notify\.urls_file"):
        resolve_secret_lines(SecretRef(file=str(empty)), "notify")

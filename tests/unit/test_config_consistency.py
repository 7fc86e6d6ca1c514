"""One rule, one place: the loopback rule agrees between config, IMAP and SMTP; keys are
named one way in messages; [digest.smtp] takes the keys the code reads; the CHANGELOG names
only keys the configuration accepts."""

from __future__ import annotations

import re
import smtplib
import socket
import threading
from pathlib import Path

import pytest

from responsewatch.adapters.imap import ImapAccount, ImapMailSource
from responsewatch.adapters.smtp import SmtpAccount, connect_smtp
from responsewatch.config import _SCHEMA, _is_loopback, settings_from_mapping
from responsewatch.errors import ConfigError, SourceUnavailable
from responsewatch.netutil import is_loopback

ROOT = Path(__file__).resolve().parents[2]
ME = {"addresses": ["claire@martin-conseil.fr"]}

LOOPBACK = [
    "localhost",
    "LocalHost",
    "localhost.",
    "127.0.0.1",
    "127.0.0.2",
    "127.255.255.254",
    "::1",
    "[::1]",
    "::ffff:127.0.0.1",
]
NOT_LOOPBACK = [
    "localhost.localdomain",  # whatever /etc/hosts or DNS says: not guaranteed local
    "mail.localhost",
    "localhost.example.com",
    "mail.example.com",
    "10.0.0.1",
    "0.0.0.0",
    "::",
    "::ffff:10.0.0.1",
    "128.0.0.1",
    "",
]


def config_accepts(host: str) -> bool:
    account = {
        "name": "m",
        "type": "imap",
        "host": host or "x",
        "tls": "none-loopback-only",
        "username": "u",
        "password_env": "RW_PW",
    }
    if not host:
        account["host"] = ""
    try:
        settings_from_mapping({"me": ME, "accounts": [account]})
    except ConfigError as e:
        return not any(p.startswith("accounts[m].tls") for p in e.problems)
    return True


def imap_accepts(host: str) -> bool:
    try:
        ImapMailSource(ImapAccount("m", host, 143, "none-loopback-only", "u", lambda: "p"))
    except ConfigError:
        return False
    return True


def smtp_refuses(host: str) -> bool:
    # Refused before any connection: the port is closed, so an accepted host fails with a
    # connection error instead, never with the loopback refusal.
    try:
        connect_smtp(SmtpAccount(host, port=_closed_port(), tls="none-loopback-only", timeout=2))
    except SourceUnavailable as e:
        return "loopback" in str(e)
    except OSError:
        return False
    raise AssertionError("a closed port accepted a connection")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("host", LOOPBACK)
def test_loopback_hosts_are_accepted_everywhere(host: str) -> None:
    assert is_loopback(host) and _is_loopback(host)
    assert config_accepts(host), "config"
    assert imap_accepts(host), "imap"
    assert not smtp_refuses(host), "smtp"


@pytest.mark.parametrize("host", NOT_LOOPBACK)
def test_other_hosts_are_refused_everywhere(host: str) -> None:
    assert not is_loopback(host) and not _is_loopback(host)
    if host:  # an empty host is "required" in config, not a loopback question
        assert not config_accepts(host), "config"
    assert not imap_accepts(host), "imap"
    assert smtp_refuses(host), "smtp"


def test_plain_smtp_reaches_a_loopback_server() -> None:
    # A real listener on 127.0.0.2 (all of 127/8 is loopback on Linux): the session opens.
    with socket.socket() as server:
        server.bind(("127.0.0.2", 0))
        server.listen(1)
        port = int(server.getsockname()[1])

        def greet() -> None:
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"220 test ESMTP\r\n")
                conn.recv(1024)
                conn.sendall(b"221 bye\r\n")

        t = threading.Thread(target=greet, daemon=True)
        t.start()
        client = connect_smtp(SmtpAccount("127.0.0.2", port=port, tls="none-loopback-only"))
        assert isinstance(client, smtplib.SMTP)
        client.quit()
        t.join(5)


def test_digest_smtp_takes_ca_file_and_timeout() -> None:
    settings = settings_from_mapping(
        {
            "me": ME,
            "digest": {
                "to": "claire@martin-conseil.fr",
                "smtp": {
                    "host": "smtp.lan",
                    "port": 587,
                    "tls": "starttls",
                    "ca_file": "/etc/ssl/lan-ca.pem",
                    "timeout": 12.5,
                    "password_env": "RW_SMTP",
                },
            },
        }
    )
    smtp = settings.digest_smtp
    assert smtp is not None
    assert (smtp.ca_file, smtp.timeout) == ("/etc/ssl/lan-ca.pem", 12.5)


def test_digest_smtp_still_rejects_unknown_keys() -> None:
    with pytest.raises(ConfigError, match=r"digest\.smtp\.cafile: unknown key"):
        settings_from_mapping({"me": ME, "digest": {"smtp": {"host": "h", "cafile": "x"}}})


def test_account_keys_are_named_one_way() -> None:
    with pytest.raises(ConfigError) as config_error:
        settings_from_mapping(
            {
                "me": ME,
                "accounts": [
                    {"name": "main", "type": "imap", "host": "h", "tls": "tls", "bogus": 1},
                    {"type": "pop3", "path": "p"},  # unnamed: named by its position
                ],
            }
        )
    problems = config_error.value.problems
    assert any(p.startswith("accounts[main].tls:") for p in problems)
    assert any(p.startswith("accounts[main].bogus:") for p in problems)
    assert any(p.startswith("accounts[1].type:") for p in problems)
    with pytest.raises(ConfigError) as imap_error:
        ImapMailSource(ImapAccount("main", "h", 0, "ssl", "u", lambda: "p"))
    assert imap_error.value.problems
    assert all(p.startswith("accounts[main].") for p in imap_error.value.problems)
    # No source file writes the dotted form ("accounts.main.") any more.
    dotted = re.compile(r"accounts\.\{")
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "src").rglob("*.py")
        if dotted.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def _changelog_keys() -> set[str]:
    """`section.key` and `section.a|b|c` spans of the CHANGELOG, expanded."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    keys: set[str] = set()
    for span in re.findall(r"`([^`]+)`", text, re.S):
        span = re.sub(r"\s+", "", span)
        found = re.fullmatch(r"([a-z_]+)(?:\[\])?\.([a-z_]+(?:\|[a-z_]+)*)", span)
        if found and found.group(1) in _SCHEMA[""]:
            keys |= {f"{found.group(1)}.{k}" for k in found.group(2).split("|")}
    return keys


def test_changelog_names_only_accepted_keys() -> None:
    keys = _changelog_keys()
    assert {"daemon.sync_every", "accounts.ca_file", "digest.misfire_grace"} <= keys
    rejected = sorted(k for k in keys if k.split(".")[1] not in _SCHEMA[k.split(".")[0]])
    assert rejected == []

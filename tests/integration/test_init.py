"""`responsewatch init` against the real Dovecot: scripted (--yes) and through a pty (pexpect)."""

from __future__ import annotations

import email.parser
import email.utils
import json
import os
import stat
import sys
import tomllib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pexpect
import pytest
from tests.servers.dovecot import HOST, Dovecot, MailUser
from tests.support.mailgen import ME, GenMessage, generate
from typer.testing import CliRunner

from responsewatch.cli import app
from responsewatch.config import load_settings
from responsewatch.core.rules import is_free_mail

pytestmark = pytest.mark.dovecot

NOW = datetime.now(UTC)
# Mail from the last 80 days, so a 90-day scan of Sent sees all of it.
MESSAGES = generate(30, start=NOW - timedelta(days=82), span_days=78)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def expected_top(messages: list[GenMessage], n: int) -> list[tuple[str, int]]:
    """The top correspondents of my Sent mail, counted independently with the stdlib."""
    counts: Counter[str] = Counter()
    for m in messages:
        if m.folder != "Sent":
            continue
        h = email.parser.BytesHeaderParser().parsebytes(m.data)
        if h.get("Auto-Submitted", "no") != "no" or h.get("List-Id"):
            continue
        keys = set()
        for _name, addr in email.utils.getaddresses(h.get_all("To", []) + h.get_all("Cc", [])):
            addr = addr.lower()
            if not addr or addr == ME:
                continue
            domain = addr.rpartition("@")[2]
            if domain == ME.rpartition("@")[2]:
                continue
            keys.add(addr if is_free_mail(domain) else domain)
        counts.update(keys)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


@pytest.fixture(scope="module")
def mailbox(dovecot: Dovecot) -> MailUser:
    user = dovecot.add_user()
    for folder in ("INBOX", "Sent"):
        dovecot.append_many(
            user, folder, [(m.data, m.internaldate, ()) for m in MESSAGES if m.folder == folder]
        )
    return user


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_init_yes_writes_a_config_that_checks_syncs_and_reports(
    dovecot: Dovecot, mailbox: MailUser, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RW_TEST_PASSWORD", mailbox.password)
    config = home / "rw.toml"
    result = invoke(
        "init", "--config", config, "--yes", "--email", ME,
        "--imap-host", HOST, "--imap-port", str(dovecot.imaps_port), "--tls", "implicit",
        "--ca-file", dovecot.cert_path, "--username", mailbox.name,
        "--password-env", "RW_TEST_PASSWORD", "--clients-from-sent", "3",
        "--language", "en", "--timezone", "Europe/Paris",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert mailbox.password not in result.output
    text = config.read_text()
    assert mailbox.password not in text
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert [p.name for p in home.iterdir() if p.name.endswith(".tmp")] == []

    # the folders it names are the server's (roles from SPECIAL-USE)
    assert "INBOX" in result.output and "Sent" in result.output and "sent" in result.output
    # the proposed clients are the top correspondents of Sent, by message count
    raw = tomllib.loads(text)
    top = expected_top(MESSAGES, 3)
    got = [(c.get("domains") or c.get("addresses"))[0] for c in raw["clients"]]
    assert got == [key for key, _n in top]
    for key, n in top:
        assert f"{key}" in result.output and f"# {n} messages sent to it" in text
    settings = load_settings(config)
    assert settings.language == "en" and settings.accounts[0].secret.env == "RW_TEST_PASSWORD"
    assert "ok account main: will read Sent (sent)" in result.output
    assert f"responsewatch sync --config {config} --once" in result.output

    assert invoke("check", "--config", config).exit_code == 0
    synced = invoke("sync", "--config", config, "--once")
    assert synced.exit_code == 0, synced.output
    report = invoke("report", "--config", config, "--format", "json")
    assert report.exit_code == 0, report.output
    doc = json.loads(report.output)
    names = {c["client"] for c in doc["clients"]}
    assert {c["name"] for c in raw["clients"]} <= names | {"other"}
    assert doc["replies"], "the synced store has my replies to the proposed clients"


def test_init_yes_without_a_secret_or_with_an_existing_config_is_a_usage_error(
    home: Path,
) -> None:
    config = home / "rw.toml"
    result = invoke(
        "init", "--config", config, "--yes", "--email", ME, "--imap-host", HOST,
        "--tls", "none-loopback-only", "--imap-port", "1",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--password-env" in result.output
    assert not config.exists()
    config.write_text("# mine\n")
    again = invoke("init", "--config", config, "--yes", "--email", ME)
    assert again.exit_code == 2 and "--force" in again.output
    assert config.read_text() == "# mine\n"


def test_init_wrong_password_exits_3_and_writes_nothing(
    dovecot: Dovecot, mailbox: MailUser, home: Path
) -> None:
    secret = home / "pw"
    secret.write_text("not-the-password\n")
    config = home / "rw.toml"
    result = invoke(
        "init", "--config", config, "--yes", "--email", ME, "--imap-host", HOST,
        "--imap-port", str(dovecot.imap_port), "--tls", "none-loopback-only",
        "--username", mailbox.name, "--password-file", secret,
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "login refused" in result.output and "not-the-password" not in result.output
    assert not config.exists()


# -- interactive, through a pseudo-terminal ------------------------------------------------------


def spawn(home: Path, *args: str) -> pexpect.spawn:
    env = {**os.environ, "HOME": str(home), "COLUMNS": "200", "TERM": "dumb"}
    code = "from responsewatch.cli import main; main()"
    child = pexpect.spawn(
        sys.executable, ["-c", code, "init", *args], env=env, encoding="utf-8", timeout=30
    )
    child.logfile_read = None
    return child


def test_interactive_init_answers_defaults_and_a_wrong_password_retried(
    dovecot: Dovecot, mailbox: MailUser, home: Path
) -> None:
    config = home / "rw.toml"
    child = spawn(
        home, "--config", str(config), "--imap-host", HOST,
        "--imap-port", str(dovecot.imap_port), "--tls", "none-loopback-only",
        "--username", mailbox.name,
    )  # fmt: skip
    transcript: list[str] = []

    def expect(pattern: str) -> None:
        child.expect(pattern)
        transcript.append(child.before + child.after)

    expect("Your e-mail address")
    child.sendline("not-an-address")
    expect("Your e-mail address")
    child.sendline(ME)
    expect(r"Secret storage")
    child.sendline("")  # default: file
    expect("Password file")
    child.sendline("")  # default path
    expect("Password")
    child.sendline("wrong-password-1")
    expect("login refused")
    expect("Password for")
    child.sendline(mailbox.password)
    expect("logged in")
    expect(r"Clients to watch")
    child.sendline("1,2")
    expect("Name for")
    child.sendline("Premier")
    expect("Name for")
    child.sendline("")  # default name
    expect("Language")
    child.sendline("en")
    expect("Time zone")
    child.sendline("Europe/Paris")
    expect("Your name")
    child.sendline("Claire Martin")
    expect("Next:")
    child.expect(pexpect.EOF)
    transcript.append(child.before)
    child.close()
    assert child.exitstatus == 0, "".join(transcript)

    out = "".join(transcript)
    assert mailbox.password not in out and "wrong-password-1" not in out
    raw = tomllib.loads(config.read_text())
    top = expected_top(MESSAGES, 2)
    assert raw["clients"][0]["name"] == "Premier"
    assert [(c.get("domains") or c.get("addresses"))[0] for c in raw["clients"]] == [
        k for k, _ in top
    ]
    pw_file = Path(raw["accounts"][0]["password_file"])
    assert pw_file == home / ".config" / "responsewatch" / "main.password"
    assert pw_file.read_text() == mailbox.password + "\n"
    assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600
    assert mailbox.password not in config.read_text()


def test_ctrl_c_at_a_prompt_leaves_no_config(
    dovecot: Dovecot, mailbox: MailUser, home: Path
) -> None:
    config = home / "rw.toml"
    child = spawn(
        home, "--config", str(config), "--imap-host", HOST,
        "--imap-port", str(dovecot.imap_port), "--tls", "none-loopback-only",
        "--username", mailbox.name, "--email", ME, "--password-env", "RW_NOPE",
    )  # fmt: skip
    child.expect("Clients to watch|error")  # RW_NOPE unset: error before any prompt
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert list(home.iterdir()) == []

    child = spawn(
        home, "--config", str(config), "--imap-host", HOST,
        "--imap-port", str(dovecot.imap_port), "--tls", "none-loopback-only",
        "--username", mailbox.name, "--email", ME,
    )  # fmt: skip
    child.expect("Secret storage")
    child.sendline("file")
    child.expect("Password file")
    child.sendline("")
    child.expect("Password")
    child.sendline(mailbox.password)
    child.expect("Clients to watch")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus != 0 or child.signalstatus is not None
    leftovers = [p for p in home.rglob("*") if p.is_file()]
    assert leftovers == []

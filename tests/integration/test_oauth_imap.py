"""`oauth login` + XOAUTH2 against a real Dovecot validating tokens by introspection
(oauth2 passdb) on a fake authorisation server: login, 0600 cache, silent refresh, revoke."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from tests.fakes.oauth_server import FakeOAuth, fake_oauth
from tests.servers.dovecot import HOST
from tests.servers.dovecot_oauth import OAuthDovecot
from typer.testing import CliRunner

from responsewatch.adapters.oauth_tokens import GoogleTokens, oauth_settings
from responsewatch.app.init_app import InitOptions, YesAnswers, oauth_login_command, run_init
from responsewatch.cli import app
from responsewatch.cli.screen import RichScreen
from responsewatch.errors import AuthFailed

pytestmark = pytest.mark.dovecot


@pytest.fixture(scope="module")
def oauth_server() -> Iterator[tuple[FakeOAuth, OAuthDovecot]]:
    with fake_oauth(client_id="cid-123") as fake:
        server = OAuthDovecot.start_with(fake.base + "/introspect")
        try:
            yield fake, server
        finally:
            server.close()


def write_config(tmp_path: Path, fake: FakeOAuth, server: OAuthDovecot, user: str) -> Path:
    config = tmp_path / "rw.toml"
    config.write_text(
        f"""
[me]
addresses = ["claire@martin-conseil.fr"]

[[accounts]]
name = "gmail"
type = "imap"
host = "{HOST}"
port = {server.imap_port}
tls = "none-loopback-only"
username = "{user}"

[accounts.oauth2]
provider = "google"
client_id = "cid-123"
client_secret_env = "RW_CLIENT_SECRET"
auth_url = "{fake.base}/auth"
token_url = "{fake.base}/token"
token_cache = "{tmp_path}/cache/gmail.json"

[store]
path = "{tmp_path}/rw.db"

[archive]
path = "{tmp_path}/archive"
"""
    )
    return config


def browser(url: str) -> None:
    """The user's browser: consent at the auth URL, follow the redirect to the loopback."""
    httpx.get(url, follow_redirects=True, timeout=10)


def test_google_login_then_xoauth2_check_refresh_and_revoke(
    oauth_server: tuple[FakeOAuth, OAuthDovecot], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, server = oauth_server
    user = server.add_user()
    fake.username = user.name
    monkeypatch.setenv("RW_CLIENT_SECRET", "desktop-app-secret")
    config = write_config(tmp_path, fake, server, user.name)
    console = Console(file=open(tmp_path / "out.txt", "w"), width=300)  # noqa: SIM115
    lines = oauth_login_command(config, "gmail", RichScreen(console), open_browser=browser)
    console.file.close()
    shown = (tmp_path / "out.txt").read_text()
    assert f"{fake.base}/auth?" in shown and "code_challenge_method=S256" in shown
    cache = tmp_path / "cache" / "gmail.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700
    assert str(cache) in lines[0]
    first = json.loads(cache.read_text())
    grant = [f for r, f in fake.requests if r == "POST /token"][-1]
    assert grant["grant_type"] == "authorization_code" and grant["client_secret"] == (
        "desktop-app-secret"
    )

    checked = CliRunner().invoke(app, ["check", "--config", str(config)])
    assert checked.exit_code == 0, checked.output
    assert "will read INBOX" in checked.output
    assert first["access_token"] not in checked.output
    assert first["refresh_token"] not in checked.output

    # expired access token: refreshed silently, refresh token kept
    first["expires_at"] = 0
    cache.write_text(json.dumps(first))
    os.chmod(cache, 0o644)  # and a cache readable by others is fixed on read
    checked = CliRunner().invoke(app, ["check", "--config", str(config)])
    assert checked.exit_code == 0, checked.output
    assert [f["grant_type"] for r, f in fake.requests if r == "POST /token"][-1] == "refresh_token"
    second = json.loads(cache.read_text())
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] == first["refresh_token"]
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600

    # revoked: the daemon never prompts; the message says what to run
    fake.refresh_tokens.clear()
    second["expires_at"] = 0
    cache.write_text(json.dumps(second))
    checked = CliRunner().invoke(app, ["check", "--config", str(config)])
    assert checked.exit_code == 3
    assert "oauth login" in checked.output and "invalid_grant" in checked.output


def test_a_token_dovecot_rejects_is_an_auth_failure(
    oauth_server: tuple[FakeOAuth, OAuthDovecot], tmp_path: Path
) -> None:
    fake, server = oauth_server
    user = server.add_user()
    fake.username = user.name
    config = write_config(tmp_path, fake, server, user.name)
    cache = tmp_path / "cache" / "gmail.json"
    cache.parent.mkdir()
    cache.write_text(json.dumps({"access_token": "forged", "expires_at": 4e9, "refresh_token": ""}))
    checked = CliRunner().invoke(app, ["check", "--config", str(config)])
    assert checked.exit_code == 3, checked.output
    assert "login refused" in checked.output and "forged" not in checked.output


def test_login_answer_with_a_wrong_state_is_refused(
    oauth_server: tuple[FakeOAuth, OAuthDovecot], tmp_path: Path
) -> None:
    fake, _server = oauth_server
    s = oauth_settings(
        "g",
        {"provider": "google", "client_id": "cid-123", "auth_url": fake.base + "/auth",
         "token_url": fake.base + "/token", "token_cache": str(tmp_path / "c.json")},
    )  # fmt: skip

    def forged_browser(url: str) -> None:
        redirect = httpx.get(url, timeout=10).headers["location"]
        httpx.get(redirect.split("&state=")[0] + "&state=forged", timeout=10)

    with pytest.raises(AuthFailed, match="does not match"):
        GoogleTokens(s).login(lambda _url: None, open_browser=forged_browser, wait_s=10)
    assert not (tmp_path / "c.json").exists()


def test_init_with_oauth_signs_in_and_writes_a_passwordless_config(
    oauth_server: tuple[FakeOAuth, OAuthDovecot], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, server = oauth_server
    user = server.add_user()
    fake.username = user.name
    monkeypatch.setenv("HOME", str(tmp_path))
    calls: list[dict[str, Any]] = []

    def sign_in(account: str, oauth: Mapping[str, Any], show: Callable[[str], None]) -> None:
        calls.append(dict(oauth))
        endpoints = {"auth_url": fake.base + "/auth", "token_url": fake.base + "/token"}
        GoogleTokens(oauth_settings(account, {**oauth, **endpoints})).login(
            show, open_browser=browser, wait_s=10
        )

    config = tmp_path / "rw.toml"
    opts = InitOptions(
        config=config, email="claire@martin-conseil.fr", imap_host=HOST,
        imap_port=server.imap_port, tls="none-loopback-only", username=user.name,
        oauth="google", oauth_client_id="cid-123", yes=True, language="fr",
        timezone="Europe/Paris",
    )  # fmt: skip
    out = tmp_path / "out.txt"
    with out.open("w") as fh:
        code = run_init(
            opts, RichScreen(Console(file=fh, width=200)), YesAnswers(), sign_in=sign_in
        )
    assert code == 0, out.read_text()
    assert calls == [{"provider": "google", "client_id": "cid-123"}]
    raw = tomllib.loads(config.read_text())
    assert raw["accounts"][0]["oauth2"] == {"provider": "google", "client_id": "cid-123"}
    assert not {"password_file", "password_env", "password_command"} & set(raw["accounts"][0])
    token = json.loads((tmp_path / ".local/share/responsewatch/oauth-main.json").read_text())
    assert token["access_token"] not in out.read_text() + config.read_text()
    assert "ok account main: will read INBOX" in out.read_text()

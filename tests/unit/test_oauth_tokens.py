"""OAuth token providers for XOAUTH2: settings validation, cache, refresh, Microsoft scopes."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.unit.test_graph_tokens import FakePublicApp

from responsewatch.adapters.oauth_tokens import (
    MICROSOFT_IMAP_SCOPES,
    GoogleTokens,
    microsoft_tokens,
    oauth_settings,
)
from responsewatch.app.bootstrap import oauth_token
from responsewatch.config import AccountSettings, SecretRef
from responsewatch.errors import AuthFailed, ConfigError


def google(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {"provider": "google", "client_id": "cid", "token_cache": str(tmp_path / "t.json"),
            **extra}  # fmt: skip


def test_settings_report_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        oauth_settings(
            "a",
            {"provider": "yahoo", "token_url": "http://evil.example/token", "colour": "red",
             "client_secret_env": "X", "client_secret_file": "/f"},
        )  # fmt: skip
    text = str(err.value)
    for key in ("provider", "client_id", "token_url", "colour", "only one of"):
        assert key in text


def test_valid_cached_token_is_used_without_a_request(tmp_path: Path) -> None:
    cache = tmp_path / "t.json"
    cache.write_text(json.dumps({"access_token": "at", "expires_at": 2000.0, "refresh_token": "r"}))

    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError(request.url)

    client = httpx.Client(transport=httpx.MockTransport(no_network))
    tokens = GoogleTokens(oauth_settings("a", google(tmp_path)), client=client, clock=lambda: 1000)
    assert tokens.token() == "at"


def test_token_near_expiry_is_refreshed_and_saved_0600(tmp_path: Path) -> None:
    cache = tmp_path / "t.json"
    cache.write_text(
        json.dumps({"access_token": "old", "expires_at": 1030.0, "refresh_token": "r"})
    )
    seen: list[bytes] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(200, json={"access_token": "new", "expires_in": 3599})

    client = httpx.Client(transport=httpx.MockTransport(token_endpoint))
    tokens = GoogleTokens(oauth_settings("a", google(tmp_path)), client=client, clock=lambda: 1000)
    assert tokens.token() == "new"
    assert b"grant_type=refresh_token" in seen[0] and b"refresh_token=r" in seen[0]
    saved = json.loads(cache.read_text())
    assert saved == {"provider": "google", "access_token": "new", "expires_at": 4599.0,
                     "refresh_token": "r"}  # fmt: skip
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600


def test_no_sign_in_yet_says_what_to_run(tmp_path: Path) -> None:
    account = AccountSettings("gm", "imap", secret=SecretRef(oauth2=google(tmp_path)))
    with pytest.raises(AuthFailed, match="oauth login --config FILE --account gm"):
        oauth_token(account)


def test_refused_refresh_never_shows_the_token(tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text(json.dumps({"refresh_token": "secret-refresh"}))
    client = httpx.Client(
        transport=httpx.MockTransport(
            lambda r: httpx.Response(400, json={"error": "invalid_grant", "token": "x"})
        )
    )
    tokens = GoogleTokens(oauth_settings("a", google(tmp_path)), client=client)
    with pytest.raises(AuthFailed) as err:
        tokens.token()
    assert "invalid_grant" in str(err.value) and "secret-refresh" not in str(err.value)


def test_microsoft_uses_the_imap_scope_and_the_device_code_prompt(tmp_path: Path) -> None:
    s = oauth_settings(
        "m365", {"provider": "microsoft", "client_id": "cid", "tenant": "contoso.example",
                 "token_cache": str(tmp_path / "m.json")},
    )  # fmt: skip
    apps: list[FakePublicApp] = []

    def factory(cache: Any) -> FakePublicApp:
        apps.append(FakePublicApp(cache, silent=[]))
        return apps[-1]

    shown: list[str] = []
    assert microsoft_tokens(s, prompt=shown.append, app_factory=factory).token() == (
        "from-device-flow"
    )
    assert ("initiate", MICROSOFT_IMAP_SCOPES) in apps[0].calls
    assert shown and "devicelogin" in shown[0]
    assert stat.S_IMODE((tmp_path / "m.json").stat().st_mode) == 0o600
    with pytest.raises(AuthFailed, match="responsewatch oauth login"):
        microsoft_tokens(s, prompt=None, app_factory=lambda c: FakePublicApp(c, silent=[])).token()

"""Token providers for Graph (msal stand-ins) and the graph_source factory."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import msal
import pytest

from responsewatch.adapters.graph import GraphMailSource, graph_source, setup_steps
from responsewatch.adapters.msal_tokens import (
    ClientSecretTokens,
    DeviceCodeTokens,
    TokenCacheFile,
    explain_msal_error,
)
from responsewatch.config import AccountSettings, SecretRef
from responsewatch.errors import AuthFailed, ConfigError

AUTHORITY = "https://login.microsoftonline.com/tenant-x"


class FakePublicApp:
    """The parts of msal.PublicClientApplication the provider uses."""

    def __init__(
        self,
        cache: Any,
        *,
        silent: list[dict[str, Any] | None],
        device: dict[str, Any] | None = None,
    ) -> None:
        self.cache = cache
        self.silent = silent
        self.device = device or {"access_token": "from-device-flow"}
        self.calls: list[tuple[str, Any]] = []

    def get_accounts(self) -> list[dict[str, str]]:
        return [{"username": "me@contoso.example"}] if self.silent else []

    def acquire_token_silent(
        self, scopes: list[str], account: Any, force_refresh: bool = False
    ) -> dict[str, Any] | None:
        self.calls.append(("silent", (tuple(scopes), force_refresh)))
        result = self.silent.pop(0)
        if result and "access_token" in result:
            self.cache.has_state_changed = True  # msal stored a refreshed token
        return result

    def initiate_device_flow(self, scopes: list[str]) -> dict[str, Any]:
        self.calls.append(("initiate", tuple(scopes)))
        return {"user_code": "ABCD-EFGH", "message": "Go to https://microsoft.com/devicelogin"}

    def acquire_token_by_device_flow(self, flow: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("device", flow["user_code"]))
        self.cache.has_state_changed = True
        return self.device


def provider(
    tmp_path: Path, app: list[FakePublicApp], prompts: list[str] | None, **app_kw: Any
) -> DeviceCodeTokens:
    def factory(cache: Any) -> FakePublicApp:
        app.append(FakePublicApp(cache, **app_kw))
        return app[-1]

    cache = TokenCacheFile(tmp_path / "sub" / "cache.json")
    return DeviceCodeTokens(
        "acct",
        "client-x",
        AUTHORITY,
        cache,
        prompt=None if prompts is None else prompts.append,
        app_factory=factory,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_silent_token_is_used_and_the_cache_file_is_0600(tmp_path: Path) -> None:
    apps: list[FakePublicApp] = []
    old = os.umask(0)  # even a careless umask must not widen the file
    try:
        tokens = provider(tmp_path, apps, None, silent=[{"access_token": "t1"}])
        assert tokens.token() == "t1"
    finally:
        os.umask(old)
    path = tmp_path / "sub" / "cache.json"
    assert mode(path) == 0o600
    assert apps[0].calls == [("silent", (("https://graph.microsoft.com/Mail.Read",), False))]


def test_refresh_forces_msal_to_refresh_and_the_app_is_built_once(tmp_path: Path) -> None:
    apps: list[FakePublicApp] = []
    tokens = provider(tmp_path, apps, None, silent=[{"access_token": "t1"}, {"access_token": "t2"}])
    assert tokens.token() == "t1"
    assert tokens.token(refresh=True) == "t2"
    assert len(apps) == 1
    assert [c[1][1] for c in apps[0].calls] == [False, True]


def test_no_sign_in_without_a_terminal_is_auth_failed_with_the_fix(tmp_path: Path) -> None:
    tokens = provider(tmp_path, [], None, silent=[])
    with pytest.raises(AuthFailed, match=r"responsewatch sync.*device code"):
        tokens.token()


def test_device_code_flow_prompts_and_saves_the_cache(tmp_path: Path) -> None:
    apps: list[FakePublicApp] = []
    prompts: list[str] = []
    tokens = provider(tmp_path, apps, prompts, silent=[])
    assert tokens.token() == "from-device-flow"
    assert prompts == ["Go to https://microsoft.com/devicelogin"]
    assert mode(tmp_path / "sub" / "cache.json") == 0o600


def test_expired_refresh_token_falls_back_to_the_device_flow(tmp_path: Path) -> None:
    apps: list[FakePublicApp] = []
    prompts: list[str] = []
    tokens = provider(
        tmp_path,
        apps,
        prompts,
        silent=[{"error": "invalid_grant", "error_description": "AADSTS700082: expired"}],
    )
    assert tokens.token() == "from-device-flow"
    assert [c[0] for c in apps[0].calls] == ["silent", "initiate", "device"]


def test_consent_missing_is_named(tmp_path: Path) -> None:
    refusal = {
        "error": "invalid_grant",
        "error_description": "AADSTS65001: The user or administrator has not consented",
    }
    tokens = provider(tmp_path, [], ["x"], silent=[], device=refusal)
    with pytest.raises(AuthFailed, match=r"consent for Mail\.Read.*AADSTS65001"):
        tokens.token()


def test_existing_cache_with_loose_permissions_is_tightened_and_read(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    real = msal.SerializableTokenCache()
    path.write_text(real.serialize() or "{}", encoding="utf-8")
    path.chmod(0o644)
    cache = TokenCacheFile(path)
    cache.load()
    assert mode(path) == 0o600


def test_unreadable_cache_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    path.write_text("not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="token_cache"):
        TokenCacheFile(path, "accounts[m365]").load()


def test_client_secret_is_read_lazily_and_refresh_builds_a_new_app() -> None:
    secrets: list[str] = []
    built: list[str] = []

    class App:
        def __init__(self, secret: str) -> None:
            built.append(secret)

        def acquire_token_for_client(self, scopes: list[str]) -> dict[str, str]:
            assert scopes == ["https://graph.microsoft.com/.default"]
            return {"access_token": f"app-{len(built)}"}

    def secret() -> str:
        secrets.append("read")
        return "s3cret"

    tokens = ClientSecretTokens("acct", "client-x", AUTHORITY, secret=secret, app_factory=App)
    assert secrets == []  # nothing resolved before the first request
    assert tokens.token() == "app-1"
    assert tokens.token() == "app-1"
    assert tokens.token(refresh=True) == "app-2"
    assert built == ["s3cret", "s3cret"]


def test_wrong_client_secret_is_explained() -> None:
    class App:
        def __init__(self, secret: str) -> None:
            pass

        def acquire_token_for_client(self, scopes: list[str]) -> dict[str, str]:
            return {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret.\r\nTrace ID: 1",
            }

    tokens = ClientSecretTokens("acct", "c", AUTHORITY, secret=lambda: "x", app_factory=App)
    with pytest.raises(AuthFailed, match="client secret is wrong"):
        tokens.token()
    assert explain_msal_error({"error": "other", "error_description": "AADSTS1: odd\nmore"}) == (
        "other: AADSTS1: odd"
    )


def _account(**options: Any) -> AccountSettings:
    return AccountSettings(
        "m365", "graph", options=options, secret=SecretRef(env=options.pop("_env", None))
    )


def test_factory_reports_every_missing_setting_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        graph_source(_account(auth="client_credentials"))
    text = str(caught.value)
    for key in ("tenant_id", "client_id", "mailbox", "client_secret_command"):
        assert f"accounts[m365].{key}" in text


def test_factory_builds_sources_without_any_io(tmp_path: Path) -> None:
    delegated = graph_source(
        _account(tenant_id="t", client_id="c", token_cache=str(tmp_path / "c.json"))
    )
    assert isinstance(delegated, GraphMailSource)
    assert not (tmp_path / "c.json").exists()
    app = graph_source(
        _account(tenant_id="t", client_id="c", mailbox="a@b.example", _env="NOT_SET_ANYWHERE")
    )
    assert isinstance(app, GraphMailSource)  # the secret is only resolved on first use
    delegated.close()
    app.close()


def test_setup_steps_name_the_permission_and_the_consent() -> None:
    delegated, application = setup_steps("device_code"), setup_steps("client_credentials")
    assert any("Delegated permissions > Mail.Read" in s for s in delegated)
    assert any("public client flows" in s for s in delegated)
    assert any("Grant admin consent" in s for s in application)
    assert any("ApplicationAccessPolicy" in s for s in application)

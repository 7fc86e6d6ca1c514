"""Access tokens for Microsoft Graph through msal: device code (delegated) or client secret.

msal contacts the authority when an application object is built, so the objects are
built on the first ``token()`` call, never in ``__init__``. Its answers (dicts with
``error`` / ``error_description`` carrying AADSTS codes) become ``AuthFailed`` naming the
missing consent or setting; network failures become ``SourceUnavailable``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import structlog

from responsewatch.errors import AuthFailed, ConfigError, SourceUnavailable

__all__ = [
    "APPLICATION_SCOPES",
    "DELEGATED_SCOPES",
    "ClientSecretTokens",
    "DeviceCodeTokens",
    "TokenCacheFile",
    "explain_msal_error",
]

log = structlog.get_logger("responsewatch.graph")

# msal adds openid/profile/offline_access itself; Mail.Read is all the program asks for.
DELEGATED_SCOPES = ("https://graph.microsoft.com/Mail.Read",)
APPLICATION_SCOPES = ("https://graph.microsoft.com/.default",)
_REAUTH_ERRORS = frozenset({"invalid_grant", "interaction_required"})
_AADSTS_HINTS = {
    "AADSTS65001": "consent for Mail.Read is missing: sign in again and accept, or have an "
    "admin grant consent (app registration > API permissions > Grant admin consent)",
    "AADSTS7000215": "the client secret is wrong: copy its Value (not its ID) again",
    "AADSTS7000222": "the client secret has expired: create a new one under Certificates & secrets",
    "AADSTS700016": "client_id is not an application of this tenant: check client_id and tenant_id",
    "AADSTS90002": "tenant_id names no tenant: use the Directory (tenant) ID",
    "AADSTS7000218": "device code sign-in needs 'Allow public client flows' = Yes "
    "(app registration > Authentication)",
    "AADSTS50076": "multi-factor authentication is required: sign in with the device code "
    "in a terminal",
    "AADSTS70011": "a scope was refused: the app must request Mail.Read only",
    "AADSTS50105": "the signed-in user is not assigned to the application",
}


def explain_msal_error(result: Mapping[str, Any] | None) -> str:
    """A one-line reason from an msal error dict, with the fix when the AADSTS code is known."""
    if not result:
        return "no token was returned"
    error = str(result.get("error") or "error")
    description = str(result.get("error_description") or "").strip().splitlines()
    first = description[0] if description else ""
    for code, hint in _AADSTS_HINTS.items():
        if code in first:
            return f"{hint} ({code})"
    return f"{error}: {first}" if first else error


def _access_token(account: str, result: Mapping[str, Any] | None) -> str:
    if result and result.get("access_token"):
        return str(result["access_token"])
    raise AuthFailed(account, f"Microsoft sign-in failed: {explain_msal_error(result)}")


def _msal_call(account: str, call: Callable[[], Any]) -> Any:
    """Run an msal call, translating its network and authority failures."""
    import requests  # msal's transport

    try:
        return call()
    except requests.RequestException as exc:
        raise SourceUnavailable(
            account, f"cannot reach login.microsoftonline.com ({type(exc).__name__})"
        ) from exc
    except ValueError as exc:  # msal: "Unable to get authority configuration ..."
        raise AuthFailed(account, f"Microsoft sign-in: {exc}; check tenant_id") from exc


class TokenCacheFile:
    """msal's serialisable token cache, kept in a file only its owner can read (0600)."""

    def __init__(self, path: Path, key: str = "token_cache") -> None:
        self.path = path
        self._key = key
        self._cache: Any = None

    def load(self) -> Any:
        import msal

        cache = msal.SerializableTokenCache()
        try:
            mode = self.path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                # A refresh token readable by others is a password readable by others.
                os.chmod(self.path, 0o600)
                log.warning("token_cache_permissions_fixed", path=str(self.path))
            cache.deserialize(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{self._key}.token_cache: cannot read {self.path} ({exc})") from None
        self._cache = cache
        return cache

    def save(self) -> None:
        if self._cache is None or not self._cache.has_state_changed:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                os.fchmod(fh.fileno(), 0o600)  # O_CREAT's mode is ignored for an old file
                fh.write(self._cache.serialize())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise ConfigError(
                f"{self._key}.token_cache: cannot write {self.path} ({exc.strerror})"
            ) from None
        self._cache.has_state_changed = False


AppFactory = Callable[[Any], Any]


class DeviceCodeTokens:
    """Delegated Mail.Read for the signed-in user; silent refresh from the cached token.

    Without a ``prompt`` (no terminal: the daemon) a missing or expired sign-in is an
    ``AuthFailed`` telling the user to sign in once from a terminal.
    """

    def __init__(
        self,
        account: str,
        client_id: str,
        authority: str,
        cache: TokenCacheFile,
        *,
        prompt: Callable[[str], None] | None,
        app_factory: AppFactory | None = None,
        scopes: tuple[str, ...] = DELEGATED_SCOPES,
        login_hint: str = "responsewatch sync",
    ) -> None:
        self._scopes = scopes  # Graph's Mail.Read by default; IMAP's scope for XOAUTH2
        self._login_hint = login_hint  # the command that signs in from a terminal
        self._account = account
        self._client_id = client_id
        self._authority = authority
        self._cache = cache
        self._prompt = prompt
        self._factory = app_factory or self._msal_app
        self._app: Any = None

    def _msal_app(self, cache: Any) -> Any:
        import msal

        return msal.PublicClientApplication(
            self._client_id, authority=self._authority, token_cache=cache
        )

    def token(self, *, refresh: bool = False) -> str:
        if self._app is None:
            cache = self._cache.load()
            self._app = _msal_call(self._account, lambda: self._factory(cache))
        app = self._app
        scopes = list(self._scopes)
        result: Mapping[str, Any] | None = None
        accounts = _msal_call(self._account, app.get_accounts)
        if accounts:
            result = _msal_call(
                self._account,
                lambda: app.acquire_token_silent(
                    scopes, account=accounts[0], force_refresh=refresh
                ),
            )
        if not result or result.get("error") in _REAUTH_ERRORS:
            if self._prompt is None:
                why = explain_msal_error(result) if result else "no saved sign-in"
                raise AuthFailed(
                    self._account,
                    f"Microsoft 365 sign-in needed ({why}): run `{self._login_hint}` once in "
                    "a terminal and follow the device code instructions",
                )
            flow = _msal_call(self._account, lambda: app.initiate_device_flow(scopes=scopes))
            if "user_code" not in flow:
                raise AuthFailed(
                    self._account, f"device code sign-in refused: {explain_msal_error(flow)}"
                )
            self._prompt(str(flow.get("message") or flow["user_code"]))
            result = _msal_call(self._account, lambda: app.acquire_token_by_device_flow(flow))
        self._cache.save()
        return _access_token(self._account, result)


class ClientSecretTokens:
    """Application Mail.Read (admin-consented) with a client secret; msal caches in memory."""

    def __init__(
        self,
        account: str,
        client_id: str,
        authority: str,
        *,
        secret: Callable[[], str],
        app_factory: AppFactory | None = None,
    ) -> None:
        self._account = account
        self._client_id = client_id
        self._authority = authority
        self._secret = secret
        self._factory = app_factory or self._msal_app
        self._app: Any = None

    def _msal_app(self, secret: Any) -> Any:
        import msal

        return msal.ConfidentialClientApplication(
            self._client_id, authority=self._authority, client_credential=secret
        )

    def token(self, *, refresh: bool = False) -> str:
        if self._app is None or refresh:
            # A new application object has an empty cache: the rejected token is not reused.
            secret = self._secret()
            self._app = _msal_call(self._account, lambda: self._factory(secret))
        app = self._app
        result = _msal_call(
            self._account, lambda: app.acquire_token_for_client(scopes=list(APPLICATION_SCOPES))
        )
        return _access_token(self._account, result)

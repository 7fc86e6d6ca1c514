"""OAuth 2.0 access tokens for IMAP XOAUTH2: Microsoft 365 (msal device code) and Gmail
(installed-app flow: PKCE, loopback redirect, the user's own client id).

``responsewatch oauth login`` signs in once in a terminal; the token cache (0600) then lets
the daemon refresh silently. A missing or revoked sign-in is an ``AuthFailed`` telling the
user to run ``oauth login`` again; tokens never reach a log or an error message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import structlog

from responsewatch.adapters.msal_tokens import DeviceCodeTokens, TokenCacheFile
from responsewatch.config import SecretRef
from responsewatch.errors import AuthFailed, ConfigError, SourceUnavailable
from responsewatch.secrets import resolve_secret

__all__ = [
    "GOOGLE_AUTH_URL",
    "GOOGLE_SCOPE",
    "GOOGLE_TOKEN_URL",
    "MICROSOFT_IMAP_SCOPES",
    "GoogleTokens",
    "OAuthSettings",
    "imap_token",
    "oauth_login",
    "oauth_settings",
]

log = structlog.get_logger("responsewatch.oauth")

GOOGLE_AUTH_URL = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GOOGLE_SCOPE = "https://mail.google.com/"
MICROSOFT_IMAP_SCOPES = ("https://outlook.office.com/IMAP.AccessAsUser.All",)
PROVIDERS = ("microsoft", "google")
_KEYS = frozenset(
    {
        "provider",
        "client_id",
        "tenant",
        "token_cache",
        "client_secret_command",
        "client_secret_env",
        "client_secret_file",
        "auth_url",
        "token_url",
        "token_command",
    }
)
_EARLY_S = 60.0  # refresh this long before expiry: a token must survive the LOGIN round trip
_LOGIN_WAIT_S = 300.0


@dataclass(frozen=True, slots=True)
class OAuthSettings:
    account: str
    provider: str
    client_id: str
    token_cache: Path
    tenant: str = "organizations"
    client_secret: SecretRef | None = None
    auth_url: str = GOOGLE_AUTH_URL
    token_url: str = GOOGLE_TOKEN_URL


def _loopback_or_https(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost")


def oauth_settings(account: str, oauth: Mapping[str, Any]) -> OAuthSettings:
    """Validate an account's ``oauth2 = { provider = ... }`` table (every problem at once)."""
    key = f"accounts[{account}].oauth2"
    problems = [f"{key}.{k}: unknown key" for k in oauth if k not in _KEYS]
    provider = str(oauth.get("provider", ""))
    if provider not in PROVIDERS:
        problems.append(f'{key}.provider: must be "microsoft" or "google", got {provider!r}')
    client_id = str(oauth.get("client_id", ""))
    if not client_id:
        problems.append(
            f"{key}.client_id: required (your app registration's client id: "
            "Microsoft Entra > App registrations, or Google Cloud > APIs & Services > Credentials)"
        )
    urls = {k: str(oauth[k]) for k in ("auth_url", "token_url") if k in oauth}
    problems += [f"{key}.{k}: must be https:// (or http on loopback)" for k, u in urls.items()
                 if not _loopback_or_https(u)]  # fmt: skip
    secret_keys = [k for k in ("client_secret_command", "client_secret_env", "client_secret_file")
                   if k in oauth]  # fmt: skip
    if len(secret_keys) > 1:
        problems.append(f"{key}: give only one of {', '.join(secret_keys)}")
    if problems:
        raise ConfigError(problems)
    default_cache = f"~/.local/share/responsewatch/oauth-{account}.json"
    client_secret = None
    if secret_keys:
        value = str(oauth[secret_keys[0]])
        kind = secret_keys[0].removeprefix("client_secret_")
        client_secret = SecretRef(
            command=value if kind == "command" else None,
            env=value if kind == "env" else None,
            file=value if kind == "file" else None,
        )
    return OAuthSettings(
        account=account,
        provider=provider,
        client_id=client_id,
        token_cache=Path(str(oauth.get("token_cache") or default_cache)).expanduser(),
        tenant=str(oauth.get("tenant", "organizations")),
        client_secret=client_secret,
        auth_url=urls.get("auth_url", GOOGLE_AUTH_URL),
        token_url=urls.get("token_url", GOOGLE_TOKEN_URL),
    )


# -- a 0600 JSON file ------------------------------------------------------------------------


def _read_cache(path: Path, key: str) -> dict[str, Any]:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            os.chmod(path, 0o600)  # a refresh token readable by others is a password
            log.warning("token_cache_permissions_fixed", path=str(path))
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{key}.token_cache: cannot read {path} ({exc})") from None
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, data: Mapping[str, Any], key: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)
            json.dump(data, fh)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"{key}.token_cache: cannot write {path} ({exc.strerror})") from None


# -- Google ----------------------------------------------------------------------------------


class _Redirect(BaseHTTPRequestHandler):
    """The loopback redirect target: takes one ``?code=...&state=...`` and says so."""

    result: dict[str, str]

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items() if v}
        ok = "code" in query or "error" in query
        if ok:
            type(self).result.update(query)
        body = (
            b"responsewatch: sign-in received, you can close this tab."
            if "code" in query
            else b"responsewatch: no authorisation code in this request."
        )
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # the query holds the code: never logged
        pass


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class GoogleTokens:
    """Gmail XOAUTH2 tokens: installed-app login once, then silent refresh from the cache."""

    def __init__(
        self,
        settings: OAuthSettings,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._s = settings
        self._client = client
        self._clock = clock
        self._key = f"accounts[{settings.account}].oauth2"

    def _secret(self) -> str | None:
        ref = self._s.client_secret
        return resolve_secret(ref, self._key + ".client_secret") if ref else None

    def _post(self, form: dict[str, str]) -> dict[str, Any]:
        secret = self._secret()
        if secret:
            form = {**form, "client_secret": secret}
        client = self._client or httpx.Client(timeout=30)
        try:
            resp = client.post(self._s.token_url, data=form)
        except httpx.HTTPError as exc:
            raise SourceUnavailable(
                self._s.account, f"cannot reach the token endpoint ({type(exc).__name__})"
            ) from exc
        finally:
            if self._client is None:
                client.close()
        try:
            doc = resp.json()
        except ValueError:
            doc = {}
        if not isinstance(doc, dict):
            doc = {}
        if resp.status_code != 200 or "access_token" not in doc:
            error = str(doc.get("error") or f"HTTP {resp.status_code}")[:80]
            hint = (
                "the sign-in was revoked or has expired: run `responsewatch oauth login` again"
                if error in ("invalid_grant", "unauthorized_client")
                else "check client_id (and the client secret of a Desktop app client)"
            )
            raise AuthFailed(self._s.account, f"Google token request refused ({error}): {hint}")
        return doc

    def _store(self, doc: Mapping[str, Any], old: Mapping[str, Any]) -> str:
        expires_in = float(doc.get("expires_in") or 3600)
        cache = {
            "provider": "google",
            "access_token": str(doc["access_token"]),
            "expires_at": self._clock() + expires_in,
            # Google sends a refresh token only at the first consent: keep the one we have.
            "refresh_token": str(doc.get("refresh_token") or old.get("refresh_token") or ""),
        }
        _write_cache(self._s.token_cache, cache, self._key)
        return str(doc["access_token"])

    def token(self, *, refresh: bool = False) -> str:
        cache = _read_cache(self._s.token_cache, self._key)
        access = cache.get("access_token")
        expires_at = float(cache.get("expires_at") or 0)
        if access and not refresh and expires_at - _EARLY_S > self._clock():
            return str(access)
        refresh_token = cache.get("refresh_token")
        if not refresh_token:
            raise AuthFailed(
                self._s.account,
                "Gmail sign-in needed: run `responsewatch oauth login --config FILE "
                f"--account {self._s.account}` once in a terminal",
            )
        doc = self._post(
            {
                "grant_type": "refresh_token",
                "refresh_token": str(refresh_token),
                "client_id": self._s.client_id,
            }
        )
        log.info("oauth.refreshed", account=self._s.account, provider="google")
        return self._store(doc, cache)

    def login(
        self,
        show: Callable[[str], None],
        *,
        open_browser: Callable[[str], object] | None = None,
        wait_s: float = _LOGIN_WAIT_S,
    ) -> str:
        """The installed-app flow: a browser consent, redirected to 127.0.0.1 on a free port."""

        class Handler(_Redirect):
            result: dict[str, str] = {}  # noqa: RUF012 - one class per login

        server = HTTPServer(("127.0.0.1", 0), Handler)
        server.timeout = 1.0
        redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/"
        verifier, challenge = _pkce()
        state = secrets.token_urlsafe(24)
        url = (
            self._s.auth_url
            + "?"
            + urlencode(
                {
                    "client_id": self._s.client_id,
                    "redirect_uri": redirect_uri,
                    "response_type": "code",
                    "scope": GOOGLE_SCOPE,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    "state": state,
                    "access_type": "offline",
                    "prompt": "consent",
                }
            )
        )
        show(url)
        if open_browser is not None:
            threading.Thread(target=open_browser, args=(url,), daemon=True).start()
        deadline = time.monotonic() + wait_s
        try:
            while "code" not in Handler.result and "error" not in Handler.result:
                if time.monotonic() > deadline:
                    raise AuthFailed(self._s.account, "no sign-in received in time; run it again")
                server.handle_request()
        finally:
            server.server_close()
        got = Handler.result
        if "error" in got:
            raise AuthFailed(self._s.account, f"Google sign-in refused: {got['error'][:80]}")
        if not secrets.compare_digest(got.get("state", ""), state):
            raise AuthFailed(self._s.account, "the sign-in answer does not match this request")
        doc = self._post(
            {
                "grant_type": "authorization_code",
                "code": got["code"],
                "client_id": self._s.client_id,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            }
        )
        return self._store(doc, _read_cache(self._s.token_cache, self._key))


# -- Microsoft -------------------------------------------------------------------------------


def microsoft_tokens(
    s: OAuthSettings,
    *,
    prompt: Callable[[str], None] | None,
    app_factory: Callable[[Any], Any] | None = None,
) -> DeviceCodeTokens:
    cache = TokenCacheFile(s.token_cache, f"accounts[{s.account}].oauth2")
    return DeviceCodeTokens(
        s.account,
        s.client_id,
        f"https://login.microsoftonline.com/{s.tenant}",
        cache,
        prompt=prompt,
        app_factory=app_factory,
        scopes=MICROSOFT_IMAP_SCOPES,
        login_hint="responsewatch oauth login",
    )


# -- entry points ----------------------------------------------------------------------------


def imap_token(account: str, oauth: Mapping[str, Any]) -> str:
    """A valid access token for XOAUTH2, refreshed silently; never prompts (the daemon)."""
    s = oauth_settings(account, oauth)
    if s.provider == "google":
        return GoogleTokens(s).token()
    return microsoft_tokens(s, prompt=None).token()


def oauth_login(
    account: str,
    oauth: Mapping[str, Any],
    show: Callable[[str], None],
    *,
    open_browser: Callable[[str], object] | None = None,
) -> Path:
    """Sign in once, interactively; returns the token cache written (0600)."""
    s = oauth_settings(account, oauth)
    if s.provider == "google":
        GoogleTokens(s).login(show, open_browser=open_browser)
    else:
        tokens = microsoft_tokens(s, prompt=show)
        tokens.token()
    return s.token_cache

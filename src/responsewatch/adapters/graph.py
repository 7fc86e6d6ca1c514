"""Read-only Microsoft 365 mail source over Microsoft Graph (``Mail.Read`` only).

Each folder is read with ``messages/delta``: the first round lists every message, later
rounds only what was created since. The ``@odata.deltaLink`` that ends a round is the
folder's resume token (``Cursor.token``); while a round is under way the token is the
link of the page being read, so a crash re-reads at most one page (the store ignores
Message-IDs it already has) and never skips one. Graph has no UIDs: each folder numbers
what it hands over with a counter continuing from ``Cursor.last_uid``.

An expired token (``410 Gone`` / ``SyncStateNotFound``) restarts the round from scratch
inside the same ``fetch_since`` call: the source is rebuilt for every sync, so it could
not remember to announce a new UIDVALIDITY next time, and re-reading is harmless because
facts are de-duplicated by Message-ID. ``429``/``503``/``504`` wait for ``Retry-After``
(bounded), a ``401`` refreshes the access token once. Every other failure becomes
``AuthFailed`` (naming the missing permission or consent) or ``SourceUnavailable`` here.

Graph gives structured fields, not bytes: ``adapters/mime.py`` rebuilds a header block
from ``internetMessageHeaders`` (when Graph has them) completed by the structured
fields, plus ``bodyPreview`` as a small text part, so ``parse_message`` sees what IMAP
gives it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx
import stamina
import structlog

from responsewatch.adapters.mime import MailFields, rfc5322
from responsewatch.adapters.msal_tokens import (
    ClientSecretTokens,
    DeviceCodeTokens,
    TokenCacheFile,
)
from responsewatch.config import AccountSettings, SecretRef
from responsewatch.errors import AuthFailed, ConfigError, SourceUnavailable
from responsewatch.ports import Cursor, FolderRef, RawMessage
from responsewatch.secrets import secret_provider

__all__ = [
    "GRAPH_URL",
    "GraphAccount",
    "GraphMailSource",
    "MailFields",
    "TokenProvider",
    "graph_source",
    "rfc5322",
    "setup_steps",
]

log = structlog.get_logger("responsewatch.graph")

GRAPH_URL = "https://graph.microsoft.com/v1.0"
UIDVALIDITY = 1  # constant: an expired delta token is handled inside fetch_since
# Well-known folder names work in URLs in every mailbox language; role as in FolderRef.
WELL_KNOWN = {
    "inbox": "inbox",
    "sentitems": "sent",
    "archive": "archive",
    "drafts": "drafts",
    "deleteditems": "trash",
    "junkemail": "junk",
}
SELECT = (
    "internetMessageId",
    "conversationId",
    "conversationIndex",
    "receivedDateTime",
    "sentDateTime",
    "subject",
    "from",
    "sender",
    "toRecipients",
    "ccRecipients",
    "internetMessageHeaders",
    "bodyPreview",
    "categories",
    "isDraft",
)
_RETRY_STATUS = frozenset({429, 503, 504})
_RESYNC_CODES = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})
# Graph's own error codes that say "this permission or consent is missing".
_DENIED_CODES = frozenset(
    {"erroraccessdenied", "authorization_requestdenied", "accessdenied", "forbidden"}
)


class TokenProvider(Protocol):
    """An OAuth access token for Graph; ``refresh=True`` after Graph rejected the last one."""

    def token(self, *, refresh: bool = False) -> str: ...


@dataclass(frozen=True, slots=True)
class GraphAccount:
    name: str
    mode: str = "delegated"  # "delegated" (device code, /me) | "application" (/users/{mailbox})
    mailbox: str = ""
    folders: tuple[str, ...] = ()  # beyond inbox and sentitems: well-known names or "A/B" paths
    page_size: int = 100
    base_url: str = GRAPH_URL
    max_attempts: int = 6
    max_wait_s: float = 600.0  # total Retry-After budget per request before giving up


class _SyncStateGone(Exception):
    """The delta/next link can no longer be used: restart the round."""


class _Retry(Exception):
    """A throttled or failed request worth another attempt (``retry_after`` in seconds)."""

    def __init__(self, status: str, retry_after: float | None) -> None:
        super().__init__(status)
        self.status = status
        self.retry_after = retry_after


class GraphMailSource:
    """A ``MailSource`` over Graph; takes an ``httpx.Client`` and a token provider, no I/O here."""

    def __init__(
        self,
        account: GraphAccount,
        *,
        client: httpx.Client,
        tokens: TokenProvider,
    ) -> None:
        self.name = account.name
        self._acct = account
        self._client = client
        self._tokens = tokens
        base = account.base_url.rstrip("/")
        self._base = base
        self._root = (
            f"{base}/me"
            if account.mode == "delegated"
            else (f"{base}/users/{quote(account.mailbox, safe='@')}")
        )
        self._folder_ids: dict[str, str] = {}
        self._resume: dict[FolderRef, str | None] = {}
        self._prefer = f'IdType="ImmutableId", odata.maxpagesize={account.page_size}'

    # -- MailSource -------------------------------------------------------------------------

    def folders(self) -> list[FolderRef]:
        refs = [FolderRef(self.name, "inbox", "inbox"), FolderRef(self.name, "sentitems", "sent")]
        for name in self._acct.folders:
            if name.lower() not in ("inbox", "sentitems") and all(r.name != name for r in refs):
                refs.append(FolderRef(self.name, name, WELL_KNOWN.get(name.lower(), "")))
        return refs

    def uidvalidity(self, folder: FolderRef) -> int:
        return UIDVALIDITY

    def fetch_since(self, folder: FolderRef, cursor: Cursor | None) -> Iterator[RawMessage]:
        uid, link = cursor.resume_point(UIDVALIDITY) if cursor is not None else (0, None)
        if link and not link.startswith(self._base + "/"):
            # Never send the bearer token to a host that came out of the database.
            log.warning("graph_token_ignored", account=self.name, folder=folder.name)
            link = None
        return self._rounds(folder, uid, link)

    def resume_token(self, folder: FolderRef) -> str | None:
        """The token to store with the cursor of the last message ``fetch_since`` yielded."""
        return self._resume.get(folder)

    def close(self) -> None:
        self._client.close()

    # -- delta rounds -----------------------------------------------------------------------

    def _rounds(self, folder: FolderRef, uid: int, link: str | None) -> Iterator[RawMessage]:
        restarted = link is None
        url = link or self._initial_url(folder)
        self._resume[folder] = link
        while True:
            try:
                page = self._get_json(url, f"folder {folder.name!r}")
            except _SyncStateGone as gone:
                if restarted:
                    raise SourceUnavailable(
                        self.name, f"folder {folder.name!r}: Graph refused a fresh delta ({gone})"
                    ) from None
                log.warning("graph_delta_resync", account=self.name, folder=folder.name)
                restarted = True
                url = self._initial_url(folder)
                self._resume[folder] = None
                continue
            for item in page.get("value") or ():
                if not isinstance(item, dict) or "@removed" in item or item.get("isDraft"):
                    continue
                uid += 1
                yield self._raw(folder, uid, item)
            next_link = page.get("@odata.nextLink")
            delta_link = page.get("@odata.deltaLink")
            if isinstance(next_link, str):
                url = self._same_origin(next_link)
                self._resume[folder] = url
            elif isinstance(delta_link, str):
                self._resume[folder] = self._same_origin(delta_link)
                return
            else:
                raise SourceUnavailable(
                    self.name, f"folder {folder.name!r}: delta page without nextLink/deltaLink"
                )

    def _initial_url(self, folder: FolderRef) -> str:
        folder_id = quote(self._folder_id(folder), safe="")
        params = {"changeType": "created", "$select": ",".join(SELECT)}
        url = httpx.URL(f"{self._root}/mailFolders/{folder_id}/messages/delta", params=params)
        return str(url)

    def _folder_id(self, folder: FolderRef) -> str:
        name = folder.name
        if name.lower() in WELL_KNOWN:
            return name.lower()
        if name in self._folder_ids:
            return self._folder_ids[name]
        parent: str | None = None
        for part in name.split("/"):
            where = (
                f"{self._root}/mailFolders"
                if parent is None
                else f"{self._root}/mailFolders/{quote(parent, safe='')}/childFolders"
            )
            escaped = part.replace("'", "''")
            params = {"$filter": f"displayName eq '{escaped}'", "$select": "id,displayName"}
            page = self._get_json(str(httpx.URL(where, params=params)), f"folder {name!r}")
            hits = [h for h in page.get("value") or () if isinstance(h, dict) and h.get("id")]
            if not hits:
                raise SourceUnavailable(
                    self.name,
                    f"folder {name!r} not found (no {part!r}); name folders as Outlook shows "
                    "them, sub-folders as 'Parent/Child', or use a well-known name "
                    f"({', '.join(WELL_KNOWN)})",
                )
            parent = str(hits[0]["id"])
        assert parent is not None  # split() yields at least one part
        self._folder_ids[name] = parent
        return parent

    def _same_origin(self, link: str) -> str:
        if not link.startswith(self._base + "/"):
            raise SourceUnavailable(self.name, f"Graph sent a link outside {self._base}")
        return link

    # -- HTTP -------------------------------------------------------------------------------

    def _get_json(self, url: str, what: str, *, mime: bool = False) -> Any:
        """The JSON document at ``url`` (or, with ``mime``, the raw bytes: ``$value``).

        Throttling and network errors are retried by stamina; the wait before each retry is
        decided here (Retry-After, else our backoff) and the whole request gives up once
        the waits would pass ``max_wait_s``, so a one-hour Retry-After fails fast."""
        refreshed = False
        waited = 0.0
        tries = 0
        last: _Retry | None = None

        def wait_for(exc: Exception) -> bool | float:
            nonlocal waited
            if not isinstance(exc, _Retry) or tries >= self._acct.max_attempts:
                return False  # stamina asks after the last attempt too: nothing to wait for
            delay = exc.retry_after if exc.retry_after is not None else _backoff(tries)
            if waited + delay > self._acct.max_wait_s:
                return False
            log.info("graph_retry", account=self.name, status=exc.status, delay_s=delay)
            waited += delay
            return delay

        try:
            for attempt in stamina.retry_context(
                on=wait_for, attempts=self._acct.max_attempts, timeout=None
            ):
                with attempt:
                    tries += 1
                    resp = self._get_once(url, what, refreshed=refreshed, mime=mime)
                    if resp.status_code == 401 and not refreshed:
                        refreshed = True  # once, at once: not a throttling retry
                        resp = self._get_once(url, what, refreshed=True, mime=mime)
                    if resp.status_code == 200:
                        return resp.content if mime else _json_body(resp, self.name, what)
                    code, message = _error_of(resp)
                    if resp.status_code not in _RETRY_STATUS:
                        raise self._http_error(resp.status_code, code, message, what)
                    last = _Retry(f"HTTP {resp.status_code}", _retry_after(resp))
                    raise last
        except _Retry as exc:
            last = exc
        assert last is not None
        raise SourceUnavailable(
            self.name,
            f"{what}: Microsoft Graph is throttling or unreachable ({last.status}); gave up "
            f"after {tries} attempts and {waited:.0f}s of waiting; the next sync tries again",
        )

    def _get_once(self, url: str, what: str, *, refreshed: bool, mime: bool) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {self._tokens.token(refresh=refreshed)}",
            "Prefer": self._prefer,
            "Accept": "message/rfc822" if mime else "application/json",
        }
        try:
            resp = self._client.get(url, headers=headers)
        except httpx.HTTPError as exc:  # DNS, TLS, connect/read timeouts
            raise _Retry(type(exc).__name__, None) from exc
        code, _message = _error_of(resp) if resp.status_code != 200 else ("", "")
        if resp.status_code == 410 or code.lower() in _RESYNC_CODES:
            raise _SyncStateGone(code or "410 Gone")
        return resp

    def _http_error(self, status: int, code: str, message: str, what: str) -> SourceUnavailable:
        detail = f"{code}: {message}" if code else f"HTTP {status}"
        if status in (401, 403) or code.lower() in _DENIED_CODES:
            if self._acct.mode == "delegated":
                need = (
                    "the delegated permission Mail.Read on the app registration, consented "
                    "at sign-in (or by an admin for the tenant)"
                )
            else:
                need = (
                    "the application permission Mail.Read with admin consent, and an Exchange "
                    f"application access policy that includes mailbox {self._acct.mailbox!r}"
                )
            if status == 401:
                return AuthFailed(
                    self.name,
                    f"Graph rejected the access token even after a refresh ({detail}); "
                    f"check tenant_id/client_id and {need}",
                )
            return AuthFailed(self.name, f"{what}: access denied ({detail}); grant {need}")
        if code == "MailboxNotEnabledForRESTAPI":
            return SourceUnavailable(
                self.name,
                f'{detail}; this mailbox is not in Exchange Online: use type = "exchange"',
            )
        if status == 404:
            return SourceUnavailable(self.name, f"{what}: not found ({detail})")
        return SourceUnavailable(self.name, f"{what}: Graph answered HTTP {status} ({detail})")

    # -- message synthesis ------------------------------------------------------------------

    def _raw(self, folder: FolderRef, uid: int, item: Mapping[str, Any]) -> RawMessage:
        categories = item.get("categories") or ()
        return RawMessage(
            folder=folder,
            uid=uid,
            data=rfc5322(graph_fields(item)),
            internaldate=_iso(item.get("receivedDateTime")),
            provider_thread=str(item.get("conversationId") or "") or None,
            keywords=tuple(str(c) for c in categories if isinstance(c, str)),
            key=str(item.get("id") or ""),
        )

    # -- whole messages (the archive) ---------------------------------------------------------

    def fetch_full(
        self, folder: FolderRef, uidvalidity: int, items: Sequence[tuple[int, str]]
    ) -> dict[int, bytes]:
        """The original MIME of each message (``GET /messages/{id}/$value``), by item id."""
        out: dict[int, bytes] = {}
        for uid, key in items:
            if not key:
                continue  # a decision stored without an item id cannot be fetched
            url = f"{self._root}/messages/{quote(key, safe='')}/$value"
            try:
                out[uid] = bytes(self._get_json(url, f"message {key[-12:]}", mime=True))
            except AuthFailed:
                raise
            except SourceUnavailable as exc:
                if "not found" not in str(exc):
                    raise
        return out


# -- helpers ------------------------------------------------------------------------------


def _backoff(attempt: int) -> float:
    return float(min(2 ** (attempt - 1), 60))


def _retry_after(resp: httpx.Response, now: datetime | None = None) -> float | None:
    """Retry-After in seconds: delta-seconds or an HTTP date (RFC 9110 10.2.3); None when
    absent or unreadable (our own backoff then). The budget check caps what is honoured."""
    value = resp.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000" or no zone: HTTP dates are GMT
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None  # "nan", "inf": not a wait
    return max(seconds, 0.0)


def _error_of(resp: httpx.Response) -> tuple[str, str]:
    try:
        body = resp.json()
    except ValueError:
        return "", resp.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", resp.reason_phrase
    return str(error.get("code") or ""), str(error.get("message") or "")[:300]


def _json_body(resp: httpx.Response, account: str, what: str) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise SourceUnavailable(account, f"{what}: Graph answered something that is not JSON")
    return body


def _iso(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _email_address(value: object) -> tuple[str, str] | None:
    if not isinstance(value, dict):
        return None
    address = value.get("emailAddress")
    if not isinstance(address, dict) or not address.get("address"):
        return None
    return str(address.get("name") or ""), str(address["address"])


def graph_fields(item: Mapping[str, Any]) -> MailFields:
    """A Graph ``message`` resource (as selected by SELECT) -> MailFields."""
    headers = tuple(
        (str(h["name"]), str(h.get("value") or ""))
        for h in item.get("internetMessageHeaders") or ()
        if isinstance(h, dict) and h.get("name")
    )
    recipients: dict[str, tuple[tuple[str, str], ...]] = {}
    for key in ("toRecipients", "ccRecipients"):
        found = (_email_address(r) for r in item.get(key) or ())
        recipients[key] = tuple(r for r in found if r is not None)
    return MailFields(
        transport_headers=headers,
        message_id=str(item.get("internetMessageId") or "") or None,
        from_addr=_email_address(item.get("from")) or _email_address(item.get("sender")),
        to=recipients["toRecipients"],
        cc=recipients["ccRecipients"],
        subject=item.get("subject") if isinstance(item.get("subject"), str) else None,
        sent=_iso(item.get("sentDateTime")),
        thread_index=str(item.get("conversationIndex") or "") or None,
        text=str(item.get("bodyPreview") or ""),
        item_id=str(item.get("id") or "") or None,
    )


def setup_steps(auth: str) -> tuple[str, ...]:
    """What ``check`` prints for a Graph account (full guide: docs/microsoft.md)."""
    common = (
        "Entra admin center > App registrations > New registration (single tenant); copy "
        "Application (client) ID -> client_id and Directory (tenant) ID -> tenant_id",
    )
    if auth == "client_credentials":
        return (
            *common,
            "API permissions > Microsoft Graph > Application permissions > Mail.Read, then "
            "an admin clicks 'Grant admin consent'",
            "Certificates & secrets > New client secret; store its Value where "
            "password_command (or client_secret_command/_env/_file) can read it",
            "Exchange Online: New-ApplicationAccessPolicy -AccessRight RestrictAccess limiting "
            "the app to the configured mailbox",
        )
    return (
        *common,
        "Authentication > Allow public client flows = Yes",
        "API permissions > Microsoft Graph > Delegated permissions > Mail.Read (admin "
        "consent if your tenant blocks user consent)",
        "run `responsewatch sync --once` in a terminal and sign in with the device code; "
        "tokens are kept in a 0600 token cache file",
    )


# -- composition --------------------------------------------------------------------------


def _stderr_prompt(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _client_secret_ref(account: AccountSettings) -> SecretRef:
    opts = account.options
    ref = SecretRef(
        command=opts.get("client_secret_command"),
        env=opts.get("client_secret_env"),
        file=opts.get("client_secret_file"),
    )
    return ref if (ref.command or ref.env or ref.file) else account.secret


def graph_source(account: AccountSettings) -> GraphMailSource:
    """Settings -> a Graph source; msal and the secret are only touched on the first request."""
    opts = account.options
    key = f"accounts[{account.name}]"
    tenant = str(opts.get("tenant_id") or "")
    client_id = str(opts.get("client_id") or "")
    secret_ref = _client_secret_ref(account)
    has_secret = bool(secret_ref.command or secret_ref.env or secret_ref.file)
    auth = str(opts.get("auth") or ("client_credentials" if has_secret else "device_code"))
    mailbox = str(opts.get("mailbox") or account.username or "")
    problems = []
    if not tenant:
        problems.append(
            f"{key}.tenant_id: required (Directory (tenant) ID of the app registration)"
        )
    if not client_id:
        problems.append(f"{key}.client_id: required (Application (client) ID)")
    if auth not in ("device_code", "client_credentials"):
        problems.append(f"{key}.auth: must be 'device_code' or 'client_credentials', got {auth!r}")
    if auth == "client_credentials" and not mailbox:
        problems.append(f"{key}.mailbox: required with client_credentials (whose mail to read)")
    if auth == "client_credentials" and not has_secret:
        problems.append(
            f"{key}.client_secret_command: required with client_credentials (or "
            "client_secret_env / client_secret_file / password_command)"
        )
    if problems:
        raise ConfigError(problems)
    authority = f"https://login.microsoftonline.com/{tenant}"
    tokens: TokenProvider
    if auth == "device_code":
        safe_name = re.sub(r"[^A-Za-z0-9_.-]", "_", account.name)
        default = f"~/.local/share/responsewatch/msal-{safe_name}.json"
        cache = TokenCacheFile(Path(str(opts.get("token_cache") or default)).expanduser(), key)
        prompt = _stderr_prompt if sys.stderr.isatty() else None
        tokens = DeviceCodeTokens(account.name, client_id, authority, cache, prompt=prompt)
    else:
        tokens = ClientSecretTokens(
            account.name, client_id, authority, secret=secret_provider(secret_ref, key)
        )
    batch = opts.get("batch_size", 100)
    return GraphMailSource(
        GraphAccount(
            name=account.name,
            mode="delegated" if auth == "device_code" else "application",
            mailbox=mailbox,
            folders=tuple(account.folders or ()),
            page_size=max(1, min(int(batch), 1000)) if isinstance(batch, int) else 100,
        ),
        client=httpx.Client(timeout=httpx.Timeout(30.0), headers={"User-Agent": "responsewatch"}),
        tokens=tokens,
    )

"""Read-only on-premises Exchange mail source over EWS (exchangelib).

Each folder is read with ``SyncFolderItems``, one page (``batch_size`` changes) at a
time: the sync state after a page is the folder's resume token (``Cursor.token``); while
a page is being handed over the token is the state before it, so an interruption reads
at most one page again (the store ignores Message-IDs it has) and never skips one. Only
created items are kept; their headers come from ``GetItem`` (``Account.fetch``). An
invalid sync state (``ErrorInvalidSyncStateData``) restarts the round from scratch in the
same call, as the Graph source does with an expired delta link. Nothing is ever
written to the mailbox.

NTLM or basic authentication, always over HTTPS; autodiscover is optional. The
connection (and the secret) is only made on the first call that needs the server.
"""

from __future__ import annotations

import base64
import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from responsewatch.adapters.mime import MailFields, rfc5322
from responsewatch.config import AccountSettings
from responsewatch.errors import AuthFailed, ConfigError, SourceUnavailable
from responsewatch.ports import Cursor, FolderRef, RawMessage
from responsewatch.secrets import secret_provider

__all__ = ["EwsAccount", "ExchangeMailSource", "exchange_source"]

log = structlog.get_logger("responsewatch.exchange")

UIDVALIDITY = 1  # constant: an invalid sync state is handled inside fetch_since
AUTH_MODES = ("ntlm", "basic")
FIELDS = (
    "message_id",
    "conversation_id",
    "conversation_index",
    "datetime_received",
    "datetime_sent",
    "subject",
    "author",
    "sender",
    "to_recipients",
    "cc_recipients",
    "in_reply_to",
    "references",
    "headers",
    "categories",
    "is_draft",
)
_TEXT_CHARS = 4096  # enough for the thanks-only check; bodies can be megabytes


@dataclass(frozen=True, slots=True)
class EwsAccount:
    name: str
    email: str  # primary SMTP address of the mailbox
    username: str  # DOMAIN\\user or user@domain
    secret: Callable[[], str]  # password provider; never logged
    server: str = ""  # EWS host; empty with autodiscover
    auth: str = "ntlm"
    autodiscover: bool = False
    folders: tuple[str, ...] = ()  # beyond inbox and sentitems: "Parent/Child" paths
    batch_size: int = 100
    version: tuple[int, ...] | None = None  # Exchange build, skips version probing


Connect = Callable[[EwsAccount], Any]


@dataclass(frozen=True, slots=True)
class _Page:
    created: list[Any]
    state: str | None


@functools.cache
def _sync_service() -> type:
    """exchangelib's SyncFolderItems, tolerating error answers without a SyncState.

    The EWS schema makes SyncState optional and Exchange leaves it out of error answers
    such as ErrorInvalidSyncStateData; exchangelib 5.x reads it unconditionally and would
    fail with AttributeError instead of raising the response error.
    """
    from exchangelib.services import SyncFolderItems
    from exchangelib.services.sync_folder_hierarchy import SyncFolder
    from exchangelib.util import MNS

    class TolerantSyncFolderItems(SyncFolderItems):  # type: ignore[misc]
        def _get_element_container(self, message: Any, name: Any = None) -> Any:
            if message.find(f"{{{MNS}}}SyncState") is None:
                return super(SyncFolder, self)._get_element_container(message=message, name=name)
            return super()._get_element_container(message=message, name=name)

    return TolerantSyncFolderItems


def connect(account: EwsAccount) -> Any:
    """An exchangelib ``Account`` (delegate access to one's own mailbox)."""
    from exchangelib import BASIC, DELEGATE, NTLM, Account, Build, Configuration, Credentials
    from exchangelib import Version as EwsVersion

    credentials = Credentials(account.username, account.secret())
    if account.autodiscover:
        return Account(
            account.email, credentials=credentials, autodiscover=True, access_type=DELEGATE
        )
    version = EwsVersion(build=Build(*account.version)) if account.version else None
    config = Configuration(
        server=account.server,
        credentials=credentials,
        auth_type=NTLM if account.auth == "ntlm" else BASIC,
        version=version,
    )
    return Account(account.email, config=config, autodiscover=False, access_type=DELEGATE)


class ExchangeMailSource:
    """A ``MailSource`` over EWS; ``connect`` builds the exchangelib account on first use."""

    def __init__(self, account: EwsAccount, *, connect: Connect = connect) -> None:
        self.name = account.name
        self._acct = account
        self._connect = connect
        self._account: Any = None
        self._folders: dict[str, Any] = {}
        self._resume: dict[FolderRef, str | None] = {}

    # -- MailSource -------------------------------------------------------------------------

    def folders(self) -> list[FolderRef]:
        refs = [FolderRef(self.name, "inbox", "inbox"), FolderRef(self.name, "sentitems", "sent")]
        for name in self._acct.folders:
            if name.lower() not in ("inbox", "sentitems") and all(r.name != name for r in refs):
                refs.append(FolderRef(self.name, name, ""))
        return refs

    def uidvalidity(self, folder: FolderRef) -> int:
        return UIDVALIDITY

    def fetch_since(self, folder: FolderRef, cursor: Cursor | None) -> Iterator[RawMessage]:
        uid, state = cursor.resume_point(UIDVALIDITY) if cursor is not None else (0, None)
        return self._rounds(folder, uid, state or None)

    def resume_token(self, folder: FolderRef) -> str | None:
        """The sync state to store with the cursor of the last message yielded."""
        return self._resume.get(folder)

    def close(self) -> None:
        if self._account is not None:
            with contextlib.suppress(Exception):  # closing must never mask the real error
                self._account.protocol.close()
            self._account = None

    # -- sync -------------------------------------------------------------------------------

    def _rounds(self, folder: FolderRef, uid: int, state: str | None) -> Iterator[RawMessage]:
        from exchangelib.errors import ErrorInvalidSyncStateData

        ews_folder = self._folder(folder)
        restarted = state is None
        self._resume[folder] = state
        while True:
            try:
                for page in self._pages(ews_folder, state):
                    for item in self._fetch(ews_folder, page.created):
                        uid += 1
                        yield self._raw(folder, uid, item)
                    # The whole page is handed over: resuming from its state skips nothing.
                    self._resume[folder] = page.state
            except ErrorInvalidSyncStateData as exc:
                if restarted:
                    raise SourceUnavailable(self.name, f"folder {folder.name!r}: {exc}") from exc
                log.warning("ews_sync_state_invalid", account=self.name, folder=folder.name)
                restarted, state = True, None
                self._resume[folder] = None
                continue
            return

    def _pages(self, ews_folder: Any, state: str | None) -> Iterator[_Page]:
        """SyncFolderItems page by page (IdOnly), as exchangelib's own sync_items loops."""
        from exchangelib.items import ID_ONLY

        svc = _sync_service()(account=self._account)
        while True:
            with self._errors(f"folder {ews_folder.name!r}"):
                changes = list(
                    svc.call(
                        folder=ews_folder,
                        shape=ID_ONLY,
                        additional_fields=set(),
                        sync_state=state,
                        ignore=None,
                        max_changes_returned=self._acct.batch_size,
                        sync_scope=None,
                    )
                )
            created = [item for change, item in changes if change == "create"]
            new_state = str(svc.sync_state) if svc.sync_state else state
            yield _Page(created, new_state)
            if new_state == state or svc.includes_last_item_in_range:
                return
            state = new_state

    def _fetch(self, ews_folder: Any, batch: Sequence[Any]) -> list[Any]:
        fields = list(FIELDS)
        if self._text_body_supported():
            fields.append("text_body")
        with self._errors("GetItem"):
            found = list(self._account.fetch(ids=batch, folder=ews_folder, only_fields=fields))
        # An item deleted since SyncFolderItems listed it comes back as an exception.
        return [i for i in found if not isinstance(i, Exception) and not getattr(i, "is_draft", 0)]

    def _text_body_supported(self) -> bool:
        from exchangelib.version import EXCHANGE_2013

        build = getattr(self._account.version, "build", None)
        return build is None or build >= EXCHANGE_2013

    def _folder(self, folder: FolderRef) -> Any:
        if folder.name in self._folders:
            return self._folders[folder.name]
        with self._errors(f"folder {folder.name!r}"):
            if self._account is None:
                self._account = self._connect(self._acct)
            account = self._account
            if folder.name == "inbox":
                found = account.inbox
            elif folder.name == "sentitems":
                found = account.sent
            else:
                found = account.msg_folder_root
                for part in folder.name.split("/"):
                    found = found // part
        self._folders[folder.name] = found
        return found

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """exchangelib/requests exceptions -> AuthFailed / SourceUnavailable, once, here."""
        import requests
        from exchangelib import errors as ews

        try:
            yield
        except ews.ErrorInvalidSyncStateData:
            raise  # handled by _rounds: restart the round
        except ews.UnauthorizedError as exc:
            raise AuthFailed(
                self.name,
                f"Exchange refused the login of {self._acct.username!r} ({self._acct.auth}); "
                "check the user name (DOMAIN\\user or user@domain) and the password",
            ) from exc
        except (ews.ErrorAccessDenied, ews.ErrorNonExistentMailbox) as exc:
            raise AuthFailed(
                self.name,
                f"{what}: no read access to mailbox {self._acct.email!r} "
                f"({type(exc).__name__}); the user needs to own the mailbox or have FullAccess",
            ) from exc
        except ews.ErrorFolderNotFound as exc:
            raise SourceUnavailable(
                self.name, f"{what} not found; name sub-folders as 'Parent/Child'"
            ) from exc
        except (ews.EWSError, requests.RequestException, OSError, ValueError) as exc:
            raise SourceUnavailable(self.name, f"{what}: {type(exc).__name__}: {exc}") from exc

    # -- message synthesis ------------------------------------------------------------------

    def _raw(self, folder: FolderRef, uid: int, item: Any) -> RawMessage:
        conversation = getattr(item, "conversation_id", None)
        received = _utc(getattr(item, "datetime_received", None))
        return RawMessage(
            folder=folder,
            uid=uid,
            data=rfc5322(ews_fields(item)),
            internaldate=received,
            provider_thread=str(getattr(conversation, "id", "") or "") or None,
            keywords=tuple(str(c) for c in getattr(item, "categories", None) or ()),
            key=str(getattr(item, "id", "") or ""),
        )

    # -- whole messages (the archive) ---------------------------------------------------------

    def fetch_full(
        self, folder: FolderRef, uidvalidity: int, items: Sequence[tuple[int, str]]
    ) -> dict[int, bytes]:
        """The original MIME of each message (GetItem ``MimeContent``), by EWS item id,
        ``batch_size`` items per request."""
        wanted = [(uid, key) for uid, key in items if key]
        out: dict[int, bytes] = {}
        if not wanted:
            return out
        ews_folder = self._folder(folder)
        size = max(1, self._acct.batch_size)
        for i in range(0, len(wanted), size):
            chunk = wanted[i : i + size]
            with self._errors("GetItem MimeContent"):
                found = list(
                    self._account.fetch(
                        ids=[(key, None) for _uid, key in chunk],
                        folder=ews_folder,
                        only_fields=["mime_content"],
                    )
                )
            for (uid, _key), item in zip(chunk, found, strict=False):
                mime = None if isinstance(item, Exception) else getattr(item, "mime_content", None)
                if mime:  # absent: deleted since the sync listed it
                    out[uid] = bytes(mime)
        return out


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)


def _mailbox(value: Any) -> tuple[str, str] | None:
    address = getattr(value, "email_address", None)
    return (str(getattr(value, "name", "") or ""), str(address)) if address else None


def ews_fields(item: Any) -> MailFields:
    """An exchangelib Message (with FIELDS) -> MailFields."""
    headers = tuple(
        (str(h.name), str(h.value or ""))
        for h in getattr(item, "headers", None) or ()
        if getattr(h, "name", None)
    )
    index = getattr(item, "conversation_index", None)
    text = getattr(item, "text_body", None) or ""
    item_id = getattr(item, "id", None)
    to = (_mailbox(m) for m in getattr(item, "to_recipients", None) or ())
    cc = (_mailbox(m) for m in getattr(item, "cc_recipients", None) or ())
    return MailFields(
        transport_headers=headers,
        message_id=getattr(item, "message_id", None) or None,
        from_addr=_mailbox(getattr(item, "author", None))
        or _mailbox(getattr(item, "sender", None)),
        to=tuple(m for m in to if m),
        cc=tuple(m for m in cc if m),
        subject=getattr(item, "subject", None),
        sent=_utc(getattr(item, "datetime_sent", None)),
        in_reply_to=getattr(item, "in_reply_to", None) or None,
        references=getattr(item, "references", None) or None,
        thread_index=base64.b64encode(index).decode() if isinstance(index, bytes) else None,
        text=str(text)[:_TEXT_CHARS],
        item_id=str(item_id) if item_id else None,
    )


def exchange_source(account: AccountSettings) -> ExchangeMailSource:
    """Settings -> an EWS source; nothing connects and no secret is read until first use."""
    opts = account.options
    key = f"accounts[{account.name}]"
    server = str(opts.get("server") or account.host or "")
    autodiscover = bool(opts.get("autodiscover", False))
    auth = str(opts.get("auth") or "ntlm").lower()
    email = str(opts.get("mailbox") or account.username or "")
    problems = []
    if not server and not autodiscover:
        problems.append(f"{key}.server: required unless autodiscover = true (the EWS host)")
    if auth not in AUTH_MODES:
        problems.append(f"{key}.auth: must be 'ntlm' or 'basic' for exchange, got {auth!r}")
    if "@" not in email:
        problems.append(f"{key}.mailbox: required (the mailbox's primary SMTP address)")
    if not account.username:
        problems.append(f"{key}.username: required (DOMAIN\\user or user@domain)")
    if account.tls == "none-loopback-only":
        problems.append(f"{key}.tls: EWS is only spoken over HTTPS")
    if problems:
        raise ConfigError(problems)
    ref = account.secret
    batch = opts.get("batch_size", 100)
    return ExchangeMailSource(
        EwsAccount(
            name=account.name,
            email=email,
            username=account.username,
            secret=secret_provider(ref, key),
            server=server,
            auth=auth,
            autodiscover=autodiscover,
            folders=tuple(account.folders or ()),
            batch_size=max(1, min(int(batch), 512)) if isinstance(batch, int) else 100,
        )
    )

"""Read-only IMAP mail source (imapclient): EXAMINE and BODY.PEEK only, never a flag change.

One ``ImapMailSource`` owns one connection and is not thread-safe: a daemon watching two
folders with IDLE uses one source per folder. Nothing connects until the first call.
Every foreign exception (socket, TLS, imaplib) is translated in ``_errors()`` into
``AuthFailed`` / ``SourceUnavailable``; after a connection-level failure the connection is
dropped, so the next call reconnects (the caller owns backoff and catch-up).
"""

from __future__ import annotations

import ast
import contextlib
import imaplib
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from responsewatch.adapters.imap_fetch import (
    FLAGS_ITEM,
    UID_ITEM,
    bounded_reader,
    fetch_groups,
    keywords_of,
    parse_fetch,
    read_direct,
)
from responsewatch.adapters.imap_folders import (
    closest_folders,
    discover_roles,
    list_server_folders,
    personal_prefix,
    role_by_name,
)
from responsewatch.adapters.redact import redact
from responsewatch.errors import AuthFailed, ConfigError, SourceUnavailable
from responsewatch.netutil import TLS_MODES, account_key, is_loopback
from responsewatch.ports import Cursor, FolderRef, RawMessage

__all__ = ["IDLE_REISSUE_S", "ImapAccount", "ImapMailSource"]

log = structlog.get_logger("responsewatch.imap")

AUTH_MODES = ("password", "xoauth2")
# RFC 2177 lets servers drop an IDLE after 30 min and NAT boxes often forget sooner.
IDLE_REISSUE_S = 540.0
# An idle_check that returns nothing this much before its timeout means the socket hit EOF.
_EARLY_EMPTY_SLACK_S = 0.5
# How often a wait checks its ``stop`` callable: bounds the daemon's shutdown time.
_STOP_CHECK_S = 1.0
# One FETCH of 100 whole messages costs about what one costs (latency, not bandwidth).
FULL_FETCH_BATCH = 100
_ROLE_FLAGS = ((b"\\sent", "sent"), (b"\\all", "all"), (b"\\archive", "archive"))


@dataclass(frozen=True, slots=True)
class ImapAccount:
    name: str
    host: str
    port: int
    tls: str  # "implicit" | "starttls" | "none-loopback-only"
    username: str
    secret: Callable[[], str]  # password or OAuth access token provider; never logged
    auth: str = "password"  # "password" | "xoauth2"
    folders: tuple[str, ...] | None = None  # None: INBOX + SPECIAL-USE \Sent \All \Archive
    ssl_context: ssl.SSLContext | None = None  # None: system trust store, hostname checked
    batch_size: int = 500
    fetch_body_bytes: int = 2048  # small text part for thanks-only / agreement checks
    timeout: float = 30.0  # connect and per-read socket timeout, so a dead server never hangs


def _problems(a: ImapAccount) -> list[str]:
    key = account_key(a.name)
    out = []
    if a.tls not in TLS_MODES:
        out.append(f"{key}.tls: {a.tls!r} is not one of {', '.join(TLS_MODES)}")
    elif a.tls == "none-loopback-only" and not is_loopback(a.host):
        out.append(
            f"{key}.tls: 'none-loopback-only' refuses host {a.host!r} (only localhost and "
            'loopback addresses); use tls = "implicit" or "starttls"'
        )
    if a.auth not in AUTH_MODES:
        out.append(f"{key}.auth: {a.auth!r} is not one of {', '.join(AUTH_MODES)}")
    if not 0 < a.port < 65536:
        out.append(f"{key}.port: {a.port} is not a TCP port")
    if a.batch_size < 1:
        out.append(f"{key}.batch_size: must be at least 1")
    if a.fetch_body_bytes < 0:
        out.append(f"{key}.fetch_body_bytes: must not be negative")
    if a.folders is not None and not a.folders:
        out.append(f"{key}.folders: an explicit list must name at least one folder")
    return out


def _is_bye(resp: object) -> bool:
    return isinstance(resp, tuple) and bool(resp) and resp[0] == b"BYE"


def _is_new_mail(resp: object) -> bool:
    return isinstance(resp, tuple) and len(resp) >= 2 and resp[1] == b"EXISTS"


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _reason(e: BaseException) -> str:
    """The server's or the OS's words, without imaplib's ``b'...'`` wrapping."""
    text = " ".join(_text(a) for a in e.args)
    if text.startswith(("b'", 'b"')):
        with contextlib.suppress(ValueError, SyntaxError):
            text = _text(ast.literal_eval(text))
    return text or type(e).__name__


class ImapMailSource:
    """``MailSource`` over IMAP. Also offers ``status()`` and ``wait_for_changes()``."""

    def __init__(
        self, account: ImapAccount, *, connect: Callable[..., IMAPClient] | None = None
    ) -> None:
        problems = _problems(account)
        if problems:
            raise ConfigError(problems)
        self.name = account.name
        self._account = account
        self._connect = connect if connect is not None else IMAPClient
        self._client: IMAPClient | None = None
        self._on_waiting: Callable[[], None] = _nothing
        self._selected: tuple[str, int] | None = None  # (folder name, its UIDVALIDITY)
        # A UID FETCH sent ahead (pipelining): ((folder, first uid), tag).
        self._inflight: tuple[tuple[str, int], bytes] | None = None
        self._server_folders: list[str] = []

    # -- connection -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        a = self._account
        try:
            yield
        except LoginError as e:
            self._drop()
            log.warning("imap.login_failed", account=a.name, host=a.host, user=a.username)
            raise AuthFailed(a.name, f"login refused for {a.username!r}: {_reason(e)}") from e
        except SourceUnavailable:
            self._drop()
            raise
        except (OSError, IMAPClientAbortError) as e:
            # Socket, TLS (ssl.SSLError is an OSError) and EOF: the connection is gone.
            self._drop()
            detail = f"{a.host}:{a.port}: {type(e).__name__}: {_reason(e)}"
            log.warning("imap.unavailable", account=a.name, detail=detail)
            raise SourceUnavailable(a.name, detail) from e
        except IMAPClientError as e:
            # A NO/BAD answer or a protocol violation; the session itself may still be usable.
            detail = f"{a.host}:{a.port}: {_reason(e)}"
            log.warning("imap.command_failed", account=a.name, detail=detail)
            raise SourceUnavailable(a.name, detail) from e

    def _conn(self) -> IMAPClient:
        if self._client is not None:
            if self._inflight is not None:  # a pipelined FETCH nobody will read: drain it
                _key, tag = self._inflight
                self._inflight = None
                imap = self._direct()
                if imap is not None:
                    read_direct(imap, tag)
            return self._client
        a = self._account
        if a.tls == "implicit":
            ctx = a.ssl_context or ssl.create_default_context()
            client = self._connect(a.host, a.port, ssl=True, ssl_context=ctx, timeout=a.timeout)
        else:
            client = self._connect(a.host, a.port, ssl=False, timeout=a.timeout)
        try:
            if a.tls == "starttls":
                client.starttls(a.ssl_context or ssl.create_default_context())
            client.normalise_times = False  # keep INTERNALDATE's own offset: tz-aware values
            # imapclient turns on imaplib's per-line debug logging: it costs ~15% of a
            # backfill and would put client mail headers into DEBUG logs.
            client._imap.debug = 0
            if isinstance(client._imap, imaplib.IMAP4):
                bounded_reader(client._imap)
            self._login(client)
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        self._client = client
        log.info("imap.connected", account=a.name, host=a.host, port=a.port, tls=a.tls)
        return client

    def _login(self, client: IMAPClient) -> None:
        a = self._account
        secret = a.secret()
        try:
            if a.auth == "xoauth2":
                client.oauth2_login(a.username, secret)
            elif secret.isascii() and a.username.isascii():
                client.login(a.username, secret)
            elif client.has_capability("AUTH=PLAIN"):
                # LOGIN takes ASCII only (imaplib would raise UnicodeEncodeError, naming a
                # character of the password); SASL PLAIN carries UTF-8 (RFC 4616).
                client.plain_login(a.username, secret)
            else:
                raise AuthFailed(
                    a.name,
                    "the password or user name has non-ASCII characters, which IMAP LOGIN "
                    "cannot carry, and the server offers no AUTHENTICATE PLAIN; use an "
                    "ASCII password (or an app password)",
                )
        except (LoginError, IMAPClientAbortError) as e:
            # Servers never should echo the secret, but one that does must not reach a log
            # or the console, whatever form the echo takes (quoted, repr'd, base64).
            detail = redact(_reason(e), secret, username=a.username)
            if isinstance(e, IMAPClientAbortError):
                raise IMAPClientAbortError(detail) from None
            raise LoginError(detail) from None
        except UnicodeError:
            # Never re-raised as is: its message quotes a character of the password.
            raise AuthFailed(a.name, "the password cannot be encoded for this server") from None
        finally:
            del secret

    def _drop(self) -> None:
        client, self._client, self._selected = self._client, None, None
        self._inflight = None
        if client is not None:
            with contextlib.suppress(Exception):
                client.shutdown()

    def _caps(self) -> frozenset[bytes]:
        return frozenset(c.upper() for c in self._conn().capabilities())

    def _select(self, folder: str) -> int:
        """EXAMINE ``folder`` (never SELECT: read-only) and return its UIDVALIDITY."""
        return self._examine(folder)[0]

    def _examine(self, folder: str) -> tuple[int, int | None]:
        """EXAMINE ``folder``: (UIDVALIDITY, UIDNEXT - 1 when the server tells it)."""
        resp = self._conn().select_folder(folder, readonly=True)
        uidvalidity = int(resp[b"UIDVALIDITY"])
        self._selected = (folder, uidvalidity)
        uidnext = resp.get(b"UIDNEXT")
        return uidvalidity, int(uidnext) - 1 if uidnext is not None else None

    def _status(self, folder: str, items: list[bytes]) -> dict[bytes, Any]:
        client = self._conn()
        if self._selected is not None and self._selected[0] == folder:
            # STATUS on the selected mailbox answers from the session's (possibly stale) view:
            # after another client's DELETE+CREATE it would report the old UIDVALIDITY.
            if b"UNSELECT" in self._caps():
                client.unselect_folder()
            else:
                client.close_folder()  # no expunge after EXAMINE (RFC 3501 6.4.2)
            self._selected = None
        status: dict[bytes, Any] = client.folder_status(folder, items)
        return status

    def close(self) -> None:
        client, self._client, self._selected = self._client, None, None
        self._inflight = None  # imaplib's LOGOUT reads past an unread answer: no drain
        if client is not None:
            with contextlib.suppress(Exception):
                client.logout()
            with contextlib.suppress(Exception):
                client.shutdown()

    @property
    def batch_size(self) -> int:
        """Messages per FETCH; the sync commits in batches of the same size."""
        return self._account.batch_size

    # -- MailSource -------------------------------------------------------------------------

    def folders(self) -> list[FolderRef]:
        """INBOX and the folders to read: ``folders = [...]`` as configured, else discovered
        (``imap_folders``). A configured folder the server lacks is a ``ConfigError``."""
        with self._errors():
            caps = self._caps()
            listing = list_server_folders(self._conn(), caps)
            prefix = personal_prefix(self._conn(), caps)
        self._server_folders = sorted(
            (f.name for f in listing if f.selectable), key=lambda n: (not _inbox(n), n.casefold())
        )
        acct = self._account.name
        if self._account.folders is not None:
            flags_of = {f.name: f.flags for f in listing}
            missing = [f for f in self._account.folders if f not in flags_of and not _inbox(f)]
            if missing:
                raise ConfigError([self._missing(f) for f in missing])
            return [
                FolderRef(acct, f, _role(f, flags_of.get(f, frozenset()), prefix))
                for f in self._account.folders
            ]
        return [FolderRef(acct, name, role) for name, role in discover_roles(listing, prefix)]

    def _missing(self, folder: str) -> str:
        names = self._server_folders
        near = closest_folders(folder, names)
        hint = f"did you mean {' or '.join(repr(n) for n in near)}? " if near else ""
        return (
            f"{account_key(self._account.name)}.folders: {folder!r} does not exist on the server; "
            f"{hint}the server has: {', '.join(repr(n) for n in names)}"
        )

    def server_folders(self) -> list[str]:
        """Every selectable folder the last ``folders()`` listing showed (for advice)."""
        return list(self._server_folders)

    def uidvalidity(self, folder: FolderRef) -> int:
        with self._errors():
            status = self._status(folder.name, [b"UIDVALIDITY"])
        return int(status[b"UIDVALIDITY"])

    def status(self, folder: FolderRef) -> Cursor:
        """Current UIDVALIDITY, UIDNEXT-1 and HIGHESTMODSEQ (when CONDSTORE is offered).

        Take it BEFORE ``fetch_since`` if you store it as a cursor: mail arriving in between
        is then fetched again next time instead of being skipped.
        """
        with self._errors():
            items = [b"UIDVALIDITY", b"UIDNEXT"]
            if b"CONDSTORE" in self._caps():
                items.append(b"HIGHESTMODSEQ")
            st = self._status(folder.name, items)
        modseq = st.get(b"HIGHESTMODSEQ")
        return Cursor(
            uidvalidity=int(st[b"UIDVALIDITY"]),
            last_uid=int(st[b"UIDNEXT"]) - 1,
            highest_modseq=int(modseq) if modseq is not None else None,
        )

    def fetch_since(self, folder: FolderRef, cursor: Cursor | None) -> Iterator[RawMessage]:
        """Messages with UID > ``cursor.last_uid`` in UID order, ``batch_size`` per FETCH.

        A cursor from another UIDVALIDITY is ignored (everything is returned): the caller
        compares ``uidvalidity()`` with its cursor and resets the folder.
        """
        a = self._account
        with self._errors():
            uidvalidity = self._select(folder.name)
            start = 1
            if cursor is not None and cursor.uidvalidity == uidvalidity:
                start = cursor.last_uid + 1
            # "UID n:*" always matches the highest UID, even when it is below n.
            uids = sorted(u for u in self._conn().search(["UID", f"{start}:*"]) if u >= start)
            gmail = b"X-GM-EXT-1" in self._caps()
        items = ["UID", "INTERNALDATE", "FLAGS", "BODY.PEEK[HEADER]"]
        if a.fetch_body_bytes:
            items.append(f"BODY.PEEK[TEXT]<0.{a.fetch_body_bytes}>")
        if gmail:
            items.append("X-GM-THRID")
        query = "(" + " ".join(items) + ")"
        batches = [uids[i : i + a.batch_size] for i in range(0, len(uids), a.batch_size)]
        for i, batch in enumerate(batches):
            with self._errors():
                if self._inflight is None or self._inflight[0] != (folder.name, batch[0]):
                    # The caller may have used this connection for another folder between
                    # batches (which drained the FETCH we had sent ahead).
                    if (
                        self._selected != (folder.name, uidvalidity)
                        and self._select(folder.name) != uidvalidity
                    ):
                        raise SourceUnavailable(a.name, f"{folder.name}: UIDVALIDITY changed")
                    self._send_fetch(folder.name, batch, query)
                got = self._receive_fetch(folder, batch, query)
                if i + 1 < len(batches):
                    # Pipelining: the server prepares the next batch while the caller
                    # parses and stores this one.
                    self._send_fetch(folder.name, batches[i + 1], query)
            for uid in batch:
                if uid in got:  # absent: expunged since the SEARCH
                    yield got[uid]

    # -- whole messages (the archive) ----------------------------------------------------------

    def fetch_full(
        self, folder: FolderRef, uidvalidity: int, items: Sequence[tuple[int, str]]
    ) -> dict[int, bytes]:
        """Whole messages by ``UID FETCH set (BODY.PEEK[])``, ``FULL_FETCH_BATCH`` UIDs per
        command, after at most one EXAMINE: no \\Seen flag is ever set."""
        uids = sorted({uid for uid, _key in items})
        out: dict[int, bytes] = {}
        if not uids:
            return out
        with self._errors():
            client = self._conn()
            selected = self._selected
            current = selected[1] if selected and selected[0] == folder.name else None
            if current is None:
                current = self._select(folder.name)
            if current != uidvalidity:
                raise SourceUnavailable(
                    self.name, f"{folder.name}: UIDVALIDITY changed, sync again to locate messages"
                )
            for i in range(0, len(uids), FULL_FETCH_BATCH):
                answer = client.fetch(uids[i : i + FULL_FETCH_BATCH], ["BODY.PEEK[]"])
                for uid, got in answer.items():
                    body = got.get(b"BODY[]")
                    if body is not None:
                        out[int(uid)] = bytes(body)
        return out

    def add_keyword(self, folder: FolderRef, uid: int, keyword: str) -> None:
        """STORE +FLAGS ``keyword`` under a separate read-write SELECT, then EXAMINE again
        (re-selecting never expunges, unlike CLOSE): the program's only mailbox write."""
        with self._errors():
            client = self._conn()
            self._selected = None
            client.select_folder(folder.name, readonly=False)
            try:
                client.add_flags([uid], [keyword], silent=True)
            finally:
                self._select(folder.name)

    # imapclient's generic response parser runs at about a quarter of the speed of a raw
    # FETCH, so UID FETCH goes through its imaplib object (``_imap``, there since imapclient
    # 0.x), read straight off its socket file (``read_direct``). A batch's UIDs are
    # consecutive among the folder's UIDs, so the range names exactly them.

    def _direct(self) -> imaplib.IMAP4 | None:
        imap = self._client._imap if self._client is not None else None
        if isinstance(imap, imaplib.IMAP4) and imap.state == "SELECTED":
            return imap
        return None  # not a real imaplib connection (tests' fakes): its own parser

    def _send_fetch(self, folder: str, batch: list[int], query: str) -> None:
        self._conn()  # connected, and any other FETCH in flight drained
        imap = self._direct()
        if imap is None:
            return
        tag = imap._new_tag()
        imap.tagged_commands.pop(tag, None)  # answered by read_direct, not by imaplib
        imap.send(b"%s UID FETCH %d:%d %s\r\n" % (tag, batch[0], batch[-1], query.encode()))
        self._inflight = ((folder, batch[0]), tag)

    def _receive_fetch(
        self, folder: FolderRef, batch: list[int], query: str
    ) -> dict[int, RawMessage]:
        imap = self._direct()
        groups: Iterable[tuple[bytes, list[bytes]]]
        if imap is not None and self._inflight is not None:
            _key, tag = self._inflight
            self._inflight = None
            groups = read_direct(imap, tag)
        else:
            typ, data = self._conn()._imap.uid("FETCH", f"{batch[0]}:{batch[-1]}", query)
            if typ != "OK":
                raise IMAPClientError(f"UID FETCH failed: {data!r}")
            groups = fetch_groups(data)
        wanted = set(batch)
        out: dict[int, RawMessage] = {}
        for text, literals in groups:
            raw = parse_fetch(folder, text, literals)
            if raw is not None and raw.uid in wanted:
                out[raw.uid] = raw
        return out

    # -- new mail ---------------------------------------------------------------------------

    def wait_for_changes(
        self,
        folder: FolderRef,
        timeout: float,
        *,
        poll_interval: float = 30.0,
        after_uid: int | None = None,
        stop: Callable[[], bool] | None = None,
        on_waiting: Callable[[], None] | None = None,
    ) -> bool:
        """Block up to ``timeout`` s; True when new mail was signalled in ``folder``.

        Uses IDLE (re-issued every ``IDLE_REISSUE_S``) when offered, else polls UIDNEXT.
        While idling it also checks every ``poll_interval`` s (DONE, NOOP, UID SEARCH):
        some servers push EXISTS late (Courier without ``IMAP_ENHANCEDIDLE`` notices new
        mail on its own 60 s poll), and a lost notification must cost one interval at most.
        ``after_uid``: the last UID the caller has; mail that arrived after it but before
        this call returns True at once (else it would wait for the NEXT message).
        ``stop``: checked about every second; when true, IDLE is ended (DONE) and False
        returned. A disconnect raises ``SourceUnavailable``; reconnecting is the caller's job.
        ``on_waiting``: called once the server has acknowledged IDLE (or the polling baseline
        is read): mail arriving from then on is signalled. Tests wait for it, not for time.
        """
        self._on_waiting = on_waiting or _nothing
        with self._errors():
            if b"IDLE" in self._caps():
                return self._idle(folder, timeout, poll_interval, after_uid, stop or _never)
            return self._poll(folder, timeout, poll_interval, after_uid, stop or _never)

    def _idle(
        self,
        folder: FolderRef,
        timeout: float,
        poll_interval: float,
        after_uid: int | None,
        stop: Callable[[], bool],
    ) -> bool:
        a = self._account
        client = self._conn()
        _, last_uid = self._examine(folder.name)
        if after_uid is not None and last_uid is not None and last_uid > after_uid:
            return True
        if after_uid is not None and last_uid is None and self._uids_after(after_uid):
            return True  # no UIDNEXT in EXAMINE (Courier): ask for the UIDs themselves
        deadline = time.monotonic() + timeout
        reissue = min(IDLE_REISSUE_S, max(poll_interval, _STOP_CHECK_S))
        client.idle()
        idle_started = time.monotonic()
        self._on_waiting()  # idle() returned: the server sent its "+ idling" continuation
        while True:
            now = time.monotonic()
            if now - idle_started >= reissue:
                _, done = client.idle_done()
                if any(_is_new_mail(r) for r in done) or self._news(after_uid):
                    return True
                client.idle()
                idle_started = now = time.monotonic()
            chunk = min(deadline - now, reissue - (now - idle_started), _STOP_CHECK_S)
            if chunk <= 0 or stop():
                break
            responses = client.idle_check(timeout=chunk)
            if any(_is_bye(r) for r in responses):
                raise SourceUnavailable(a.name, f"{a.host}:{a.port}: server said BYE during IDLE")
            if not responses and time.monotonic() - now < chunk - _EARLY_EMPTY_SLACK_S:
                raise SourceUnavailable(a.name, f"{a.host}:{a.port}: connection lost during IDLE")
            if any(_is_new_mail(r) for r in responses):
                client.idle_done()
                return True
        _, done = client.idle_done()
        return any(_is_new_mail(r) for r in done)

    def _news(self, after_uid: int | None) -> bool:
        """Between two IDLEs: does a NOOP, or a UID SEARCH past ``after_uid``, show new mail?"""
        _, responses = self._conn().noop()
        if any(_is_new_mail(r) for r in responses):
            return True
        return after_uid is not None and self._uids_after(after_uid)

    def _uids_after(self, uid: int) -> bool:
        # "UID n:*" always matches the highest UID, even when it is below n.
        return any(u > uid for u in self._conn().search(["UID", f"{uid + 1}:*"]))

    def _poll(
        self,
        folder: FolderRef,
        timeout: float,
        interval: float,
        after_uid: int | None,
        stop: Callable[[], bool],
    ) -> bool:
        deadline = time.monotonic() + timeout
        before = self.status(folder)
        if after_uid is not None and before.last_uid > after_uid:
            return True
        self._on_waiting()
        next_poll = time.monotonic() + interval
        while (remaining := deadline - time.monotonic()) > 0 and not stop():
            time.sleep(min(_STOP_CHECK_S, remaining, max(0.0, next_poll - time.monotonic())))
            if time.monotonic() < next_poll:
                continue
            next_poll = time.monotonic() + interval
            now = self.status(folder)
            if (now.uidvalidity, now.last_uid) != (before.uidvalidity, before.last_uid):
                return True
        return False

    # -- keyword changes (CONDSTORE) --------------------------------------------------------

    def changed_keywords(
        self, folder: FolderRef, since_modseq: int
    ) -> list[tuple[int, tuple[str, ...]]]:
        """(uid, keywords) of every message whose flags changed after ``since_modseq``.

        Needs CONDSTORE (``status().highest_modseq`` is None without it): returns [] then.
        """
        with self._errors():
            if b"CONDSTORE" not in self._caps():
                return []
            self._select(folder.name)
            typ, data = self._conn()._imap.uid(
                "FETCH", "1:*", f"(UID FLAGS) (CHANGEDSINCE {int(since_modseq)})"
            )
            if typ != "OK":
                raise IMAPClientError(f"UID FETCH CHANGEDSINCE failed: {data!r}")
        out: dict[int, tuple[str, ...]] = {}
        for line in data:
            text = line[0] if isinstance(line, tuple) else line
            if not isinstance(text, bytes):
                continue
            uid = UID_ITEM.search(text)
            flags = FLAGS_ITEM.search(text)
            if uid is not None and flags is not None:
                out[int(uid.group(1))] = keywords_of(flags.group(1))
        return sorted(out.items())


def _nothing() -> None:
    pass


def _never() -> bool:
    return False


def _inbox(name: str) -> bool:
    return name.upper() == "INBOX"


def _role(name: str, flags: frozenset[bytes], prefix: str) -> str:
    if _inbox(name):
        return "inbox"
    return next((role for flag, role in _ROLE_FLAGS if flag in flags), "") or role_by_name(
        name, prefix
    )

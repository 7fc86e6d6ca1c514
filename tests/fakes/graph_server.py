"""An HTTP-level fake of the Microsoft Graph endpoints the Graph source uses.

Built from Microsoft's documented shapes (learn.microsoft.com/graph/api/message-delta,
/graph/delta-query-messages, /graph/throttling, /graph/errors):

- ``GET {root}/mailFolders/{id}/messages/delta``: pages of ``value`` with
  ``@odata.nextLink`` (``$skiptoken``) until a page ends the round with
  ``@odata.deltaLink`` (``$deltatoken``); query options of the first request
  (``$select``, ``changeType``) are carried inside the tokens; page size from
  ``Prefer: odata.maxpagesize`` (default 10); ``id`` is always returned; properties not
  in ``$select`` are absent; ``internetMessageHeaders`` only when selected.
- an expired token answers ``410 Gone`` with ``{"error": {"code": "SyncStateNotFound"}}``.
- ``GET {root}/mailFolders`` and ``.../childFolders`` with ``$filter=displayName eq '...'``.
- well-known folder names (inbox, sentitems, archive) stand for folder ids.
- ``/me`` and ``/users/{mailbox}``; another mailbox answers 403 ``ErrorAccessDenied`` (as an
  application access policy does); an unknown bearer token answers 401
  ``InvalidAuthenticationToken``.
- injected faults (429/503 with ``Retry-After``, 403 ...) are served first, in order.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs

import httpx

BASE = "https://graph.microsoft.com/v1.0"
MAILBOX = "consultant@contoso.example"


@dataclass
class FakeFolder:
    id: str
    display_name: str
    well_known: str | None = None
    parent: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Token:
    folder: str
    start: int  # messages with a sequence number above this belong to the round
    end: int | None  # None for a delta token: the round ends at the newest message
    offset: int
    select: tuple[str, ...] | None
    change_type: str | None
    generation: int


def _error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, headers=headers, json={"error": {"code": code, "message": message}}
    )


def graph_message(
    data: bytes,
    received: datetime,
    *,
    with_headers: bool = True,
    categories: Sequence[str] = (),
    conversation: str | None = None,
) -> dict[str, Any]:
    """The Graph ``message`` resource for an RFC 5322 message, as Exchange Online fills it."""
    parsed = message_from_bytes(data, policy=policy.compat32)

    def people(name: str) -> list[dict[str, Any]]:
        values = [str(v) for v in parsed.get_all(name, [])]
        return [{"emailAddress": {"name": n, "address": a}} for n, a in getaddresses(values) if a]

    sent = None
    if parsed.get("Date"):
        try:
            sent = parsedate_to_datetime(str(parsed["Date"])).astimezone(UTC)
        except (TypeError, ValueError):
            sent = None
    body = parsed.get_payload(decode=True) if not parsed.is_multipart() else b""
    sender = people("From")
    subject = parsed.get("Subject")
    thread = conversation or "AAQkAD" + hashlib.sha1(str(subject).encode()).hexdigest()[:20]
    item: dict[str, Any] = {
        "@odata.etag": 'W/"CQAAABYAAAA"',
        "receivedDateTime": received.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sentDateTime": sent.strftime("%Y-%m-%dT%H:%M:%SZ") if sent else None,
        "subject": str(subject) if subject is not None else None,
        "bodyPreview": (body or b"").decode("utf-8", "replace")[:255],
        "internetMessageId": str(parsed["Message-ID"]) if parsed["Message-ID"] else None,
        "conversationId": thread,
        "conversationIndex": base64.b64encode(b"\x01" + bytes(21)).decode(),
        "isDraft": False,
        "categories": list(categories),
        "from": sender[0] if sender else None,
        "sender": sender[0] if sender else None,
        "toRecipients": people("To"),
        "ccRecipients": people("Cc"),
    }
    if with_headers and parsed.keys():
        item["internetMessageHeaders"] = [{"name": k, "value": str(v)} for k, v in parsed.items()]
    return item


class FakeGraph:
    """One mailbox behind the Graph API; ``transport()`` plugs it into an ``httpx.Client``."""

    def __init__(self, *, mailbox: str = MAILBOX, tokens: Iterable[str] = ("token-1",)) -> None:
        self.mailbox = mailbox
        self.accepted_tokens = set(tokens)
        self.requests: list[httpx.Request] = []
        self.faults: list[httpx.Response] = []
        self.folders: dict[str, FakeFolder] = {}
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._tokens: dict[str, _Token] = {}
        self._generation = 0
        for name, wk in (("Inbox", "inbox"), ("Sent Items", "sentitems"), ("Archive", "archive")):
            self.add_folder(name, well_known=wk)
        clients = self.add_folder("Clients")
        self.add_folder("Acme", parent=clients.id)

    # -- test controls ----------------------------------------------------------------------

    def add_folder(
        self, name: str, *, well_known: str | None = None, parent: str | None = None
    ) -> FakeFolder:
        fid = "AAMkAGFolder" + base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")
        folder = FakeFolder(fid, name, well_known, parent)
        self.folders[fid] = folder
        return folder

    def folder(self, name: str) -> FakeFolder:
        for f in self.folders.values():
            if name in (f.well_known, f.display_name, f.id):
                return f
        raise KeyError(name)

    def add(self, folder: str, item: dict[str, Any]) -> dict[str, Any]:
        stored = dict(item)
        stored["id"] = f"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A{next(self._ids):08d}"
        stored["_seq"] = next(self._seq)
        self.folder(folder).messages.append(stored)
        return stored

    def append(self, folder: str, data: bytes, when: datetime, **kw: Any) -> dict[str, Any]:
        stored = self.add(folder, graph_message(data, when, **kw))
        stored["_mime"] = data  # what GET /messages/{id}/$value returns
        return stored

    def expire_tokens(self) -> None:
        """Every token issued so far answers 410 Gone (Exchange dropped the sync state)."""
        self._generation += 1

    def fail_next(self, *responses: httpx.Response) -> None:
        self.faults.extend(responses)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def delta_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/messages/delta")]

    # -- the API ----------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.faults:
            return self.faults.pop(0)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.accepted_tokens:
            return _error(
                401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid."
            )
        path = request.url.path
        prefix = "/v1.0/me/"
        if path.startswith("/v1.0/users/"):
            user, _, rest = path[len("/v1.0/users/") :].partition("/")
            if user.lower() != self.mailbox.lower():
                return _error(403, "ErrorAccessDenied", "Access is denied. Check credentials.")
            path = prefix + rest
        if not path.startswith(prefix):
            return _error(400, "BadRequest", "Resource not found for the segment.")
        parts = path[len(prefix) :].split("/")
        query = parse_qs(request.url.query.decode(), keep_blank_values=True)
        if parts == ["mailFolders"]:
            return self._list_folders(None, query)
        if len(parts) == 3 and parts[0] == "mailFolders" and parts[2] == "childFolders":
            return self._list_folders(parts[1], query)
        if len(parts) == 4 and parts[0] == "mailFolders" and parts[2:] == ["messages", "delta"]:
            return self._delta(parts[1], query, request)
        if len(parts) == 3 and parts[0] == "messages" and parts[2] == "$value":
            return self._mime(parts[1])
        return _error(400, "BadRequest", f"Unsupported segment {path}")

    def _mime(self, item_id: str) -> httpx.Response:
        for folder in self.folders.values():
            for item in folder.messages:
                if item["id"] == item_id and "_mime" in item:
                    return httpx.Response(
                        200, content=item["_mime"], headers={"Content-Type": "text/plain"}
                    )
        return _error(404, "ErrorItemNotFound", "The specified object was not found in the store.")

    def _lookup(self, key: str) -> FakeFolder | None:
        for f in self.folders.values():
            if key in (f.id, f.well_known):
                return f
        return None

    def _list_folders(self, parent: str | None, query: dict[str, list[str]]) -> httpx.Response:
        if parent is not None:
            found = self._lookup(parent)
            if found is None:
                return _error(404, "ErrorItemNotFound", "The specified object was not found.")
            parent = found.id
        wanted = None
        if "$filter" in query:
            m = re.fullmatch(r"displayName eq '((?:[^']|'')*)'", query["$filter"][0])
            if m is None:
                return _error(400, "ErrorInvalidUrlQueryFilter", "Unsupported filter.")
            wanted = m.group(1).replace("''", "'")
        value = [
            {"id": f.id, "displayName": f.display_name}
            for f in self.folders.values()
            if f.parent == parent and (wanted is None or f.display_name == wanted)
        ]
        return httpx.Response(200, json={"value": value})

    def _delta(
        self, key: str, query: dict[str, list[str]], request: httpx.Request
    ) -> httpx.Response:
        folder = self._lookup(key)
        if folder is None:
            return _error(404, "ErrorItemNotFound", "The specified object was not found.")
        newest = max((m["_seq"] for m in folder.messages), default=0)
        if "$skiptoken" in query or "$deltatoken" in query:
            name = "$skiptoken" if "$skiptoken" in query else "$deltatoken"
            token = self._tokens.get(query[name][0])
            if token is None or token.generation != self._generation or token.folder != folder.id:
                return _error(
                    410,
                    "SyncStateNotFound",
                    "The sync state generation is not found; generation=149;[highest=157].",
                )
            if token.end is None:  # a delta token starts a new round
                token = _Token(
                    folder.id,
                    token.start,
                    newest,
                    0,
                    token.select,
                    token.change_type,
                    token.generation,
                )
        else:
            select = tuple(query["$select"][0].split(",")) if "$select" in query else None
            change = query.get("changeType", [None])[0]
            token = _Token(folder.id, 0, newest, 0, select, change, self._generation)
        assert token.end is not None
        members = [m for m in folder.messages if token.start < m["_seq"] <= token.end]
        size = 10
        m = re.search(r"odata\.maxpagesize=(\d+)", request.headers.get("Prefer", ""))
        if m:
            size = int(m.group(1))
        page = members[token.offset : token.offset + size]
        body: dict[str, Any] = {
            "@odata.context": f"{BASE}/$metadata#Collection(message)",
            "value": [self._project(item, token.select) for item in page],
        }
        base = f"https://{request.url.host}{request.url.path}"
        if token.offset + size < len(members):
            nxt = _Token(
                folder.id,
                token.start,
                token.end,
                token.offset + size,
                token.select,
                token.change_type,
                token.generation,
            )
            body["@odata.nextLink"] = f"{base}?$skiptoken={self._issue(nxt)}"
        else:
            done = _Token(
                folder.id, token.end, None, 0, token.select, token.change_type, token.generation
            )
            body["@odata.deltaLink"] = f"{base}?$deltatoken={self._issue(done)}"
        headers = {}
        if 'IdType="ImmutableId"' in request.headers.get("Prefer", ""):
            headers["Preference-Applied"] = 'IdType="ImmutableId"'
        return httpx.Response(200, json=body, headers=headers)

    def _issue(self, token: _Token) -> str:
        key = base64.urlsafe_b64encode(hashlib.sha256(repr(token).encode()).digest()).decode()
        key = key.rstrip("=")
        self._tokens[key] = token
        return key

    @staticmethod
    def _project(item: dict[str, Any], select: tuple[str, ...] | None) -> dict[str, Any]:
        out = {"@odata.etag": item.get("@odata.etag"), "id": item["id"]}
        for key, value in item.items():
            if key.startswith(("@", "_")) or key == "id":
                continue
            if key == "internetMessageHeaders" and (select is None or key not in select):
                continue  # never returned unless selected
            if select is None or key in select:
                out[key] = value
        return out

"""An EWS server for exchangelib, at the HTTP level: constructed SOAP answers.

exchangelib sends its SOAP requests through ``requests``; ``FakeAdapter`` is a requests
transport adapter (installed as ``BaseProtocol.HTTP_ADAPTER_CLS`` by ``installed``)
handing every request to the current ``FakeEws``, which answers GetFolder, FindFolder,
SyncFolderItems and GetItem the way Exchange 2016 does (shapes from the EWS reference on
learn.microsoft.com: syncfolderitems-operation, getitem-operation, responsecode:
ErrorInvalidSyncStateData).
"""

from __future__ import annotations

import base64
import email
import email.policy
import html
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import Any

import exchangelib
import pytest
import requests
from exchangelib.protocol import BaseProtocol
from lxml import etree

M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
ENVELOPE = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
    '<s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" '
    'MinorBuildNumber="6" Version="V2017_07_11" '
    f'xmlns:h="{T}"/></s:Header><s:Body>{{}}</s:Body></s:Envelope>'
)
T0 = datetime(2026, 3, 2, 8, 15, 7, tzinfo=UTC)


@dataclass
class Item:
    id: str
    message_id: str
    subject: str
    sender: tuple[str, str]
    to: list[tuple[str, str]]
    received: datetime
    headers: list[tuple[str, str]] | None
    conversation: str
    text: str = "Bonjour,\nmerci.\n"
    categories: list[str] = field(default_factory=list)
    mime: bytes = b""  # the original message, GetItem's MimeContent


def _x(value: str) -> str:
    return html.escape(value, quote=True)


def _mailbox(pair: tuple[str, str]) -> str:
    return (
        f"<t:Mailbox><t:Name>{_x(pair[0])}</t:Name><t:EmailAddress>{_x(pair[1])}"
        "</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType></t:Mailbox>"
    )


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeEws:
    """One mailbox: folders of items, sync states that can be invalidated, a request log."""

    def __init__(self) -> None:
        self.folders: dict[str, list[Item]] = {"inbox": [], "sentitems": [], "Acme": []}
        self.ops: list[str] = []
        self.sync_requests: list[str | None] = []
        self.generation = 0
        self.password = "pw"
        self.error_with_state = False  # some servers repeat SyncState in error answers
        self._ids = itertools.count(1)

    def add(self, folder: str, n: int, *, headers: bool = True, **kw: Any) -> Item:
        mid = kw.pop("message_id", f"<m{n}@client.example>")
        hdrs = [
            ("From", "Client <c@client.example>"),
            ("To", "Me <me@consult.example>"),
            ("Subject", f"message {n}"),
            ("Date", "Mon, 2 Mar 2026 09:15:07 +0100"),
            ("Message-ID", mid),
            ("In-Reply-To", "<prev@consult.example>"),
            ("Content-Type", 'multipart/alternative; boundary="x"'),
        ]
        item = Item(
            f"item-{next(self._ids)}",
            mid,
            f"message {n}",
            ("Client", "c@client.example"),
            [("Me", "me@consult.example")],
            kw.pop("received", T0),
            hdrs if headers else None,
            kw.pop("conversation", "conv-1"),
            **kw,
        )
        self.folders[folder].append(item)
        return item

    def append(
        self, folder: str, data: bytes, when: datetime, keywords: Sequence[str] = ()
    ) -> Item:
        """An item made from raw message bytes, as Exchange stores a delivered message: its
        fields, its internet headers, the text body and the original as MimeContent."""
        parsed = email.message_from_bytes(data, policy=email.policy.compat32)
        senders = getaddresses([str(parsed.get("From", ""))])
        to = getaddresses([str(v) for v in parsed.get_all("To", [])])
        payload = parsed.get_payload(decode=True)
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        item = Item(
            f"item-{next(self._ids)}",
            str(parsed.get("Message-ID", "")),
            str(parsed.get("Subject", "")),
            senders[0] if senders else ("", ""),
            list(to),
            when,
            [(k, str(v)) for k, v in parsed.items()],
            f"conv-{len(self.folders[folder]) + 1}",
            text=text,
            categories=list(keywords),
            mime=data,
        )
        self.folders[folder].append(item)
        return item

    # -- SOAP -------------------------------------------------------------------------------

    def answer(self, body: bytes, auth: str | None) -> tuple[int, str]:
        root = etree.fromstring(body)
        op = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")[0]
        name = etree.QName(op).localname
        self.ops.append(name)
        if auth is None or self.password not in _basic(auth):
            return 401, ""
        return 200, ENVELOPE.format(getattr(self, f"_{name}")(op))

    def _GetFolder(self, op: Any) -> str:
        ids = op.find(f"{{{M}}}FolderIds")[0]
        key = ids.get("Id")
        cls = {"root": "Folder", "inbox": "Folder", "sentitems": "Folder"}.get(key, "Folder")
        fclass = "" if key == "root" else "<t:FolderClass>IPF.Note</t:FolderClass>"
        folder = (
            f'<t:{cls}><t:FolderId Id="{key}-id" ChangeKey="AQ=="/>'
            f'<t:ParentFolderId Id="root-id" ChangeKey="AQ=="/>{fclass}'
            f"<t:DisplayName>{key}</t:DisplayName><t:TotalCount>0</t:TotalCount>"
            f"<t:ChildFolderCount>0</t:ChildFolderCount><t:UnreadCount>0</t:UnreadCount>"
            f"</t:{cls}>"
        )
        return (
            f'<m:GetFolderResponse xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>'
            '<m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError'
            f"</m:ResponseCode><m:Folders>{folder}</m:Folders></m:GetFolderResponseMessage>"
            "</m:ResponseMessages></m:GetFolderResponse>"
        )

    def _FindFolder(self, op: Any) -> str:
        wanted = op.find(f".//{{{T}}}Constant").get("Value")
        found = ""
        if wanted in ("Clients", "Acme"):
            found = (
                f'<t:Folder><t:FolderId Id="{wanted}-id" ChangeKey="AQ=="/>'
                '<t:ParentFolderId Id="root-id" ChangeKey="AQ=="/>'
                f"<t:FolderClass>IPF.Note</t:FolderClass><t:DisplayName>{wanted}"
                "</t:DisplayName></t:Folder>"
            )
        count = 1 if found else 0
        return (
            f'<m:FindFolderResponse xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>'
            '<m:FindFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError'
            f'</m:ResponseCode><m:RootFolder TotalItemsInView="{count}" '
            f'IncludesLastItemInRange="true"><t:Folders>{found}</t:Folders></m:RootFolder>'
            "</m:FindFolderResponseMessage></m:ResponseMessages></m:FindFolderResponse>"
        )

    def _SyncFolderItems(self, op: Any) -> str:
        fid = op.find(f".//{{{T}}}FolderId")
        key = (
            fid.get("Id").removesuffix("-id")
            if fid is not None
            else (op.find(f".//{{{T}}}DistinguishedFolderId").get("Id"))
        )
        state_el = op.find(f"{{{M}}}SyncState")
        state = state_el.text if state_el is not None else None
        self.sync_requests.append(state)
        limit = int(op.find(f"{{{M}}}MaxChangesReturned").text)
        start = 0
        if state:
            folder, pos, gen = state.split(":")
            if int(gen) != self.generation or folder != key:
                return (
                    f'<m:SyncFolderItemsResponse xmlns:m="{M}" xmlns:t="{T}">'
                    "<m:ResponseMessages><m:SyncFolderItemsResponseMessage "
                    'ResponseClass="Error"><m:MessageText>Synchronization state data is '
                    "corrupt or otherwise invalid.</m:MessageText><m:ResponseCode>"
                    "ErrorInvalidSyncStateData</m:ResponseCode><m:DescriptiveLinkKey>0"
                    "</m:DescriptiveLinkKey>"
                    + (
                        "<m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>"
                        if self.error_with_state
                        else ""
                    )
                    + "</m:SyncFolderItemsResponseMessage>"
                    "</m:ResponseMessages></m:SyncFolderItemsResponse>"
                )
            start = int(pos)
        items = self.folders[key][start : start + limit]
        end = start + len(items)
        last = "true" if end >= len(self.folders[key]) else "false"
        changes = "".join(
            f'<t:Create><t:Message><t:ItemId Id="{i.id}" ChangeKey="CK"/></t:Message></t:Create>'
            for i in items
        )
        return (
            f'<m:SyncFolderItemsResponse xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>'
            '<m:SyncFolderItemsResponseMessage ResponseClass="Success"><m:ResponseCode>'
            f"NoError</m:ResponseCode><m:SyncState>{key}:{end}:{self.generation}"
            f"</m:SyncState><m:IncludesLastItemInRange>{last}</m:IncludesLastItemInRange>"
            f"<m:Changes>{changes}</m:Changes></m:SyncFolderItemsResponseMessage>"
            "</m:ResponseMessages></m:SyncFolderItemsResponse>"
        )

    def _GetItem(self, op: Any) -> str:
        by_id = {i.id: i for items in self.folders.values() for i in items}
        out = []
        for ref in op.find(f"{{{M}}}ItemIds"):
            item = by_id.get(ref.get("Id"))
            if item is None:
                out.append(
                    '<m:GetItemResponseMessage ResponseClass="Error"><m:MessageText>'
                    "The specified object was not found in the store.</m:MessageText>"
                    "<m:ResponseCode>ErrorItemNotFound</m:ResponseCode>"
                    "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:Items/>"
                    "</m:GetItemResponseMessage>"
                )
                continue
            headers = (
                ""
                if item.headers is None
                else "<t:InternetMessageHeaders>"
                + "".join(
                    f'<t:InternetMessageHeader HeaderName="{_x(k)}">{_x(v)}'
                    "</t:InternetMessageHeader>"
                    for k, v in item.headers
                )
                + "</t:InternetMessageHeaders>"
            )
            cats = "".join(f"<t:String>{_x(c)}</t:String>" for c in item.categories)
            if (
                item.mime
                and op.find(f".//{{{T}}}FieldURI[@FieldURI='item:MimeContent']") is not None
            ):
                content = base64.b64encode(item.mime).decode()
                out.append(
                    '<m:GetItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError'
                    f'</m:ResponseCode><m:Items><t:Message><t:MimeContent CharacterSet="UTF-8">'
                    f'{content}</t:MimeContent><t:ItemId Id="{item.id}" ChangeKey="CK"/>'
                    "</t:Message></m:Items></m:GetItemResponseMessage>"
                )
                continue
            out.append(
                '<m:GetItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError'
                f'</m:ResponseCode><m:Items><t:Message><t:ItemId Id="{item.id}" ChangeKey="CK"/>'
                f"<t:Subject>{_x(item.subject)}</t:Subject>"
                f"<t:DateTimeReceived>{_stamp(item.received)}</t:DateTimeReceived>"
                f"<t:Categories>{cats}</t:Categories>{headers}"
                f"<t:DateTimeSent>{_stamp(item.received)}</t:DateTimeSent>"
                f'<t:ConversationId Id="{item.conversation}"/>'
                f"<t:Sender>{_mailbox(item.sender)}</t:Sender>"
                f"<t:ToRecipients>{''.join(_mailbox(t) for t in item.to)}</t:ToRecipients>"
                f"<t:InternetMessageId>{_x(item.message_id)}</t:InternetMessageId>"
                f"<t:From>{_mailbox(item.sender)}</t:From>"
                f'<t:TextBody BodyType="Text">{_x(item.text)}</t:TextBody>'
                "</t:Message></m:Items></m:GetItemResponseMessage>"
            )
        return (
            f'<m:GetItemResponse xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>'
            f"{''.join(out)}</m:ResponseMessages></m:GetItemResponse>"
        )


def _basic(header: str) -> str:
    import base64

    return base64.b64decode(header.split(" ", 1)[1]).decode() if " " in header else ""


CURRENT: list[FakeEws] = []


class FakeAdapter(requests.adapters.BaseAdapter):
    """A requests transport handing every request to the current FakeEws."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        status, text = CURRENT[-1].answer(body, request.headers.get("Authorization"))
        response = requests.Response()
        response.status_code = status
        response._content = text.encode()
        response.headers["Content-Type"] = "text/xml; charset=utf-8"
        response.url = str(request.url)
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


@contextmanager
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEws]:
    """A FakeEws answering every exchangelib request while the block runs."""
    server = FakeEws()
    CURRENT.append(server)
    monkeypatch.setattr(BaseProtocol, "HTTP_ADAPTER_CLS", FakeAdapter)
    try:
        yield server
    finally:
        exchangelib.close_connections()  # exchangelib caches protocols (and their sessions)
        CURRENT.pop()

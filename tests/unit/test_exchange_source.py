"""The EWS source through exchangelib's real protocol layer, against constructed SOAP answers.

exchangelib sends its SOAP requests through ``requests``; ``FakeEws`` is a requests
transport adapter (installed as ``BaseProtocol.HTTP_ADAPTER_CLS``) answering GetFolder,
FindFolder, SyncFolderItems and GetItem the way Exchange 2016 does (shapes from the EWS
reference on learn.microsoft.com: syncfolderitems-operation, getitem-operation,
responsecode: ErrorInvalidSyncStateData).
"""

from __future__ import annotations

import base64
import html
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import exchangelib
import pytest
import requests
from exchangelib.protocol import BaseProtocol
from lxml import etree

from responsewatch.adapters.exchange import EwsAccount, ExchangeMailSource, exchange_source
from responsewatch.adapters.store import SqliteStore
from responsewatch.app.sync import sync_source
from responsewatch.config import AccountSettings, SecretRef
from responsewatch.core.parsing import parse_message
from responsewatch.errors import AuthFailed, ConfigError, SourceUnavailable
from responsewatch.ports import Cursor, FolderRef

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


@pytest.fixture
def ews(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEws]:
    server = FakeEws()
    CURRENT.append(server)
    monkeypatch.setattr(BaseProtocol, "HTTP_ADAPTER_CLS", FakeAdapter)
    yield server
    exchangelib.close_connections()  # exchangelib caches protocols (and their sessions)
    CURRENT.pop()


def source(
    ews: FakeEws, *, batch: int = 100, folders: tuple[str, ...] = (), password: str = "pw"
) -> ExchangeMailSource:
    return ExchangeMailSource(
        EwsAccount(
            name="acct",
            email="me@consult.example",
            username="CONSULT\\me",
            secret=lambda: password,
            server="mail.consult.example",
            auth="basic",
            folders=folders,
            batch_size=batch,
            version=(15, 1, 2507, 6),
        )
    )


INBOX = FolderRef("acct", "inbox", "inbox")


def test_full_sync_reads_headers_through_getitem(ews: FakeEws) -> None:
    for n in range(3):
        ews.add("inbox", n, categories=["$RwAck"] if n == 1 else [])
    src = source(ews)
    got = list(src.fetch_since(INBOX, None))
    assert [r.uid for r in got] == [1, 2, 3]
    parsed = [parse_message(r.data, internaldate=r.internaldate) for r in got]
    assert [p.message_id for p in parsed] == [f"m{n}@client.example" for n in range(3)]
    assert parsed[0].in_reply_to == ("prev@consult.example",)
    assert parsed[0].thanks_only is True  # the text part survived the rebuilt MIME header
    assert all(r.provider_thread == "conv-1" and r.internaldate == T0 for r in got)
    assert [r.keywords for r in got] == [(), ("$RwAck",), ()]
    assert "SyncFolderItems" in ews.ops and "GetItem" in ews.ops
    assert not {"UpdateItem", "DeleteItem", "MoveItem", "CreateItem"} & set(ews.ops)


def test_sync_state_resume_returns_only_new_items(ews: FakeEws) -> None:
    for n in range(5):
        ews.add("inbox", n)
    src = source(ews, batch=2)
    first = list(src.fetch_since(INBOX, None))
    assert len(first) == 5 and ews.sync_requests == [None, "inbox:2:0", "inbox:4:0"]
    cursor = Cursor(1, first[-1].uid, token=src.resume_token(INBOX))
    assert cursor.token == "inbox:5:0"
    assert list(src.fetch_since(INBOX, cursor)) == []
    ews.add("inbox", 9)
    again = list(source(ews).fetch_since(INBOX, cursor))
    assert [(r.uid, parse_message(r.data).message_id) for r in again] == [(6, "m9@client.example")]


@pytest.mark.parametrize("error_with_state", [False, True])
def test_invalid_sync_state_restarts_from_scratch(ews: FakeEws, error_with_state: bool) -> None:
    ews.error_with_state = error_with_state
    for n in range(3):
        ews.add("inbox", n)
    src = source(ews)
    first = list(src.fetch_since(INBOX, None))
    cursor = Cursor(1, first[-1].uid, token=src.resume_token(INBOX))
    ews.generation += 1  # the server forgot the state (ErrorInvalidSyncStateData)
    ews.add("inbox", 3)
    again = list(source(ews).fetch_since(INBOX, cursor))
    assert [parse_message(r.data).message_id for r in again] == [
        f"m{n}@client.example" for n in range(4)
    ]
    assert [r.uid for r in again] == [4, 5, 6, 7]
    assert ews.sync_requests[-2:] == ["inbox:3:0", None]


def test_interrupted_round_rereads_at_most_one_page(ews: FakeEws) -> None:
    for n in range(6):
        ews.add("inbox", n)
    src = source(ews, batch=2)
    stream = src.fetch_since(INBOX, None)
    taken = [next(stream) for _ in range(3)]  # page 2 is half handed over
    cursor = Cursor(1, taken[-1].uid, token=src.resume_token(INBOX))
    stream.close()
    assert cursor.token == "inbox:2:0"
    rest = list(source(ews, batch=2).fetch_since(INBOX, cursor))
    ids = [parse_message(r.data).message_id for r in taken + rest]
    assert set(ids) == {f"m{n}@client.example" for n in range(6)}
    assert len(rest) == 4 and min(r.uid for r in rest) == 4


def test_resync_through_the_store_adds_no_duplicates(ews: FakeEws, tmp_path: Path) -> None:
    for n in range(4):
        ews.add("inbox", n)
    ews.add("sentitems", 40, headers=False)
    store = SqliteStore.open(tmp_path / "rw.db")
    try:
        assert sync_source(source(ews), store, now=lambda: T0).added == 5
        ews.generation += 1
        ews.add("inbox", 4)
        assert sync_source(source(ews), store, now=lambda: T0).added == 1
        assert store.message_count() == 6
    finally:
        store.close()


def test_item_without_internet_headers_is_rebuilt_from_fields(ews: FakeEws) -> None:
    ews.add("sentitems", 7, headers=False)
    (raw,) = source(ews).fetch_since(FolderRef("acct", "sentitems", "sent"), None)
    parsed = parse_message(raw.data)
    assert parsed.message_id == "m7@client.example"
    assert parsed.from_addr == "c@client.example" and parsed.to == ("me@consult.example",)
    assert parsed.subject == "message 7" and parsed.date == T0


def test_configured_folder_is_found_by_path(ews: FakeEws) -> None:
    ews.add("Acme", 1)
    src = source(ews, folders=("Clients/Acme",))
    acme = src.folders()[-1]
    assert acme.name == "Clients/Acme"
    assert len(list(src.fetch_since(acme, None))) == 1
    with pytest.raises(SourceUnavailable, match="Nope"):
        list(src.fetch_since(FolderRef("acct", "Nope", ""), None))


def test_wrong_password_is_auth_failed(ews: FakeEws) -> None:
    with pytest.raises(AuthFailed, match="refused the login"):
        list(source(ews, password="wrong").fetch_since(INBOX, None))


def test_nothing_connects_before_the_first_fetch(ews: FakeEws) -> None:
    src = source(ews)
    assert [f.role for f in src.folders()] == ["inbox", "sent"]
    assert src.uidvalidity(INBOX) == 1
    src.close()
    assert ews.ops == []


def test_factory_checks_settings_and_reads_no_secret() -> None:
    with pytest.raises(ConfigError) as caught:
        exchange_source(AccountSettings("ex", "exchange", tls="none-loopback-only"))
    for key in ("server", "mailbox", "username", "tls"):
        assert f"accounts[ex].{key}" in str(caught.value)
    src = exchange_source(
        AccountSettings(
            "ex",
            "exchange",
            username="me@consult.example",
            secret=SecretRef(env="NOT_SET_X"),
            options={"server": "mail.consult.example", "auth": "basic"},
        )
    )
    assert src.name == "ex"


def test_a_detected_agreement_is_archived_from_its_mime_content(
    ews: FakeEws, tmp_path: Path
) -> None:
    from responsewatch.adapters.archive import EvidenceArchive
    from responsewatch.app.archive_app import AgreementWatcher
    from responsewatch.config import Settings
    from responsewatch.core.rules import ClientRule, Rules

    original = (
        "From: Client <c@client.example>\r\nTo: Me <me@consult.example>\r\n"
        "Subject: devis\r\nMessage-ID: <m1@client.example>\r\n\r\n"
        "Bonjour,\r\n\r\nBon pour accord sur le devis.\r\n\r\n" + "Annexe.\r\n" * 400
    ).encode()
    ews.add("inbox", 1, text="Bonjour,\n\nBon pour accord sur le devis.\n", mime=original)
    ews.add("inbox", 2, text="Bonjour,\n\nVoici le planning.\n", mime=b"x")
    rules = Rules(
        me=frozenset({"me@consult.example"}),
        clients=(ClientRule("client", domains=("client.example",)),),
    )
    settings = Settings(
        rules=rules, store_path=tmp_path / "rw.db", archive_path=tmp_path / "archive"
    )
    store = SqliteStore.open(settings.store_path)
    archive = EvidenceArchive(settings.archive_path, lookup=lambda n: None)
    src = source(ews)
    watcher = AgreementWatcher(settings, archive)
    sync_source(src, store, now=lambda: T0, folders=[INBOX], archiver=watcher.deferred(src))
    (entry,) = archive.entries()
    assert (entry.message_id, entry.client, entry.phrase) == (
        "m1@client.example",
        "client",
        "bon pour accord",
    )
    assert archive.read_object(entry.sha256) == original
    assert store.pending_archive("acct") == []

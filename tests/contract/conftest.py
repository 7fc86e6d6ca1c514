"""Fixtures for the MailSource contract suite: one "world" per implementation.

A world is a mailbox that the test can write to (append, DELETE+CREATE) the way a mail
server would, and a ``MailSource`` reading it. ``world`` runs a test on every source
(memory, the IMAP servers, Graph and EWS through their HTTP fakes); ``uid_world`` only on
the sources that resume by UID and can wait for mail (``ports.WatchedSource``: memory and
IMAP).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Protocol

import httpx
import pytest
from tests.fakes.ews_server import FakeEws, installed
from tests.fakes.graph_server import FakeGraph
from tests.servers.courier import Courier
from tests.servers.cyrus import Cyrus
from tests.servers.dovecot import Dovecot, MailUser

from responsewatch.adapters.exchange import EwsAccount, ExchangeMailSource
from responsewatch.adapters.graph import GraphAccount, GraphMailSource
from responsewatch.adapters.imap import ImapAccount, ImapMailSource
from responsewatch.adapters.memory import MemoryMailSource
from responsewatch.ports import FolderRef, MailSource, RawMessage, WatchedSource

ACCOUNT = "acct"


class MailWorld(Protocol):
    kind: str
    # The source hands back the bytes appended (IMAP, memory); Graph rebuilds a header
    # from the message's fields, so only the parsed facts can be compared there.
    whole: bool

    def append(
        self, folder: str, data: bytes, when: datetime, keywords: Sequence[str] = ()
    ) -> None: ...

    def recreate(self, folder: str) -> None: ...

    def name(self, folder: str) -> str:
        """The server's name for a logical folder ("Sent" -> "INBOX.Sent" on Courier)."""
        ...

    def source(self, *, batch_size: int = 500) -> MailSource: ...

    def close(self) -> None: ...


class UidWorld(MailWorld, Protocol):
    def source(self, *, batch_size: int = 500) -> WatchedSource: ...


class MemoryWorld:
    kind = "memory"
    whole = True

    def __init__(self) -> None:
        refs = [FolderRef(ACCOUNT, n, r) for n, r in (("INBOX", "inbox"), ("Sent", "sent"))]
        refs.append(FolderRef(ACCOUNT, "Archive", "archive"))
        box: dict[FolderRef, list[RawMessage]] = {f: [] for f in refs}
        self._refs = {f.name: f for f in refs}
        self._src = MemoryMailSource(ACCOUNT, box)

    def append(
        self, folder: str, data: bytes, when: datetime, keywords: Sequence[str] = ()
    ) -> None:
        self._src.append(self._refs[folder], data, internaldate=when, keywords=tuple(keywords))

    def recreate(self, folder: str) -> None:
        self._src.recreate_folder(self._refs[folder])

    def name(self, folder: str) -> str:
        return folder

    def source(self, *, batch_size: int = 500) -> WatchedSource:
        return self._src  # no batching to get wrong in memory

    def close(self) -> None:
        self._src.close()


class ServerWorld:
    """A real IMAP server (Dovecot, Cyrus, Courier) through ``ImapMailSource``."""

    whole = True

    def __init__(self, kind: str, server: Dovecot | Cyrus | Courier) -> None:
        self.kind = kind
        self._server = server
        self.user: MailUser = server.add_user()
        self._sources: list[ImapMailSource] = []

    def append(
        self, folder: str, data: bytes, when: datetime, keywords: Sequence[str] = ()
    ) -> None:
        self._server.append(self.user, folder, data, when, keywords)

    def recreate(self, folder: str) -> None:
        self._server.recreate_folder(self.user, folder)

    def name(self, folder: str) -> str:
        mapping = getattr(self._server, "folder", None)
        return mapping(folder) if mapping is not None else folder

    def source(self, *, batch_size: int = 500) -> WatchedSource:
        password = self.user.password
        account = ImapAccount(
            name=ACCOUNT,
            host="127.0.0.1",
            port=self._server.imap_port,
            tls="none-loopback-only",
            username=self.user.name,
            secret=lambda: password,
            batch_size=batch_size,
            timeout=10.0,
        )
        src = ImapMailSource(account)
        self._sources.append(src)
        return src

    def close(self) -> None:
        for src in self._sources:
            src.close()


class _Tokens:
    def token(self, *, refresh: bool = False) -> str:
        return "token-1"


GRAPH_NAMES = {"INBOX": "inbox", "Sent": "sentitems", "Archive": "archive"}


class GraphWorld:
    """Microsoft Graph through ``GraphMailSource`` and the HTTP-level fake."""

    kind = "graph"
    whole = False

    def __init__(self) -> None:
        self.graph = FakeGraph()
        self._clients: list[httpx.Client] = []

    def append(
        self, folder: str, data: bytes, when: datetime, keywords: Sequence[str] = ()
    ) -> None:
        self.graph.append(GRAPH_NAMES[folder], data, when, categories=list(keywords))

    def recreate(self, folder: str) -> None:
        raise NotImplementedError("Graph folders have no UIDVALIDITY: use uid_world")

    def name(self, folder: str) -> str:
        return GRAPH_NAMES.get(folder, folder)

    def source(self, *, batch_size: int = 500) -> MailSource:
        client = httpx.Client(transport=self.graph.transport())
        self._clients.append(client)
        account = GraphAccount(name=ACCOUNT, page_size=batch_size)
        return GraphMailSource(account, client=client, tokens=_Tokens())

    def close(self) -> None:
        for client in self._clients:
            client.close()


EWS_NAMES = {"INBOX": "inbox", "Sent": "sentitems"}


class EwsWorld:
    """Exchange Web Services through ``ExchangeMailSource`` (exchangelib) and the SOAP fake."""

    kind = "exchange"
    whole = False  # headers and text body come back from item fields

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._installed = installed(monkeypatch)
        self.ews: FakeEws = self._installed.__enter__()

    def append(
        self, folder: str, data: bytes, when: datetime, keywords: Sequence[str] = ()
    ) -> None:
        self.ews.append(EWS_NAMES[folder], data, when, keywords)

    def recreate(self, folder: str) -> None:
        raise NotImplementedError("EWS folders have no UIDVALIDITY: use uid_world")

    def name(self, folder: str) -> str:
        return EWS_NAMES.get(folder, folder)

    def source(self, *, batch_size: int = 500) -> MailSource:
        return ExchangeMailSource(
            EwsAccount(
                name=ACCOUNT,
                email="me@consult.example",
                username="CONSULT\\me",
                secret=lambda: self.ews.password,
                server="mail.consult.example",
                auth="basic",
                batch_size=min(batch_size, 512),
                version=(15, 1, 2507, 6),
            )
        )

    def close(self) -> None:
        self._installed.__exit__(None, None, None)


SERVERS = ("dovecot", "cyrus_debian", "cyrus_upstream", "courier")
FACTORIES: dict[str, Callable[[pytest.FixtureRequest], MailWorld]] = {
    "memory": lambda request: MemoryWorld(),
    "graph": lambda request: GraphWorld(),
    "exchange": lambda request: EwsWorld(request.getfixturevalue("monkeypatch")),
    # getfixturevalue: a run selecting only "memory" never starts a server.
    **{
        kind: (lambda request, kind=kind: ServerWorld(kind, request.getfixturevalue(kind)))  # type: ignore[misc]
        for kind in SERVERS
    },
}


UID_PARAMS = [
    "memory",
    pytest.param("dovecot", marks=pytest.mark.dovecot),
    *(pytest.param(k, marks=pytest.mark.interop) for k in SERVERS[1:]),
]


@pytest.fixture(params=[*UID_PARAMS, "graph", "exchange"])
def world(request: pytest.FixtureRequest) -> Iterator[MailWorld]:
    w = FACTORIES[request.param](request)
    yield w
    w.close()


@pytest.fixture(params=UID_PARAMS)
def uid_world(request: pytest.FixtureRequest) -> Iterator[UidWorld]:
    w = FACTORIES[request.param](request)
    assert not isinstance(w, GraphWorld | EwsWorld)
    yield w
    w.close()

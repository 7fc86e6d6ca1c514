"""Which optional capabilities (``ports``) each mail source declares, checked the way app/
asks for them (``isinstance`` against the runtime-checkable Protocols).

A capability lost by a rename would silently turn into the fallback (polling instead of
IDLE, no keyword changes, no resume token): this pins each source's set.
"""

from __future__ import annotations

import httpx
import pytest
from tests.fakes.graph_server import FakeGraph

from responsewatch.adapters.exchange import EwsAccount, ExchangeMailSource
from responsewatch.adapters.graph import GraphAccount, GraphMailSource
from responsewatch.adapters.imap import ImapAccount, ImapMailSource
from responsewatch.adapters.memory import MemoryMailSource
from responsewatch.ports import (
    Batched,
    ChangeWaiter,
    FolderStatus,
    FullFetcher,
    KeywordChanges,
    MailSource,
    ResumeTokens,
    ServerListing,
    Tagger,
    WatchedSource,
)

CAPABILITIES = {
    "FolderStatus": FolderStatus,
    "ChangeWaiter": ChangeWaiter,
    "WatchedSource": WatchedSource,
    "KeywordChanges": KeywordChanges,
    "ServerListing": ServerListing,
    "Batched": Batched,
    "ResumeTokens": ResumeTokens,
    "FullFetcher": FullFetcher,
    "Tagger": Tagger,
}


class _Tokens:
    def token(self, *, refresh: bool = False) -> str:
        return "t"


def _sources() -> dict[str, MailSource]:
    imap = ImapAccount(
        name="a", host="127.0.0.1", port=1, tls="none-loopback-only", username="u",
        secret=lambda: "p",
    )  # fmt: skip
    graph = GraphMailSource(
        GraphAccount(name="a"),
        client=httpx.Client(transport=FakeGraph().transport()),
        tokens=_Tokens(),
    )
    ews = ExchangeMailSource(EwsAccount(name="a", email="a@x", username="u", secret=lambda: "p"))
    return {
        "imap": ImapMailSource(imap),
        "memory": MemoryMailSource("a", {}),
        "graph": graph,
        "exchange": ews,
    }


EXPECTED = {
    "imap": {
        "FolderStatus", "ChangeWaiter", "WatchedSource", "KeywordChanges", "ServerListing",
        "Batched", "FullFetcher", "Tagger",
    },
    "memory": {"FolderStatus", "ChangeWaiter", "WatchedSource", "FullFetcher"},
    "graph": {"ResumeTokens", "FullFetcher"},
    "exchange": {"ResumeTokens", "FullFetcher"},
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_source_declares_exactly_its_capabilities(kind: str) -> None:
    source = _sources()[kind]
    assert isinstance(source, MailSource)
    got = {name for name, proto in CAPABILITIES.items() if isinstance(source, proto)}
    assert got == EXPECTED[kind]

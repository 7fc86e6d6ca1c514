"""The Microsoft Graph source's own behaviour, against an HTTP-level fake.

The shared MailSource contract runs on Graph in tests/contract/test_mail_source.py (the
``graph`` world); here is what is Graph's alone: folder resolution, delta paging, deltaLink
resume (Graph has no UIDs to resume from), 410 resync, throttling, token refresh, missing
headers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import stamina
from structlog.testing import capture_logs
from tests.fakes.graph_server import BASE, MAILBOX, FakeGraph, graph_message

from responsewatch.adapters.graph import GraphAccount, GraphMailSource
from responsewatch.adapters.store import SqliteStore
from responsewatch.app.sync import sync_source
from responsewatch.core.parsing import parse_message
from responsewatch.errors import AuthFailed, SourceUnavailable
from responsewatch.ports import Cursor, FolderRef, MailSource

T0 = datetime(2026, 3, 2, 9, 15, 7, tzinfo=timezone(timedelta(hours=1)))


def msg(n: int, *, msgid: str | None = None, body: str = "Bonjour,\r\nmerci.\r\n") -> bytes:
    mid = msgid or f"m{n}@client.example"
    return (
        f"From: Client <c@client.example>\r\n"
        f"To: Me <me@consult.example>, Other <o@consult.example>\r\n"
        f"Cc: Boss <boss@client.example>\r\n"
        f"Subject: message {n}\r\n"
        f"Date: Mon, 2 Mar 2026 09:{n % 60:02d}:00 +0100\r\n"
        f"Message-ID: <{mid}>\r\n"
        f"In-Reply-To: <prev{n}@consult.example>\r\n"
        f"References: <root@consult.example> <prev{n}@consult.example>\r\n"
        f"\r\n{body}"
    ).encode()


class Tokens:
    """A token provider whose first token is stale (or not), recording refreshes."""

    def __init__(self, first: str = "token-1", fresh: str = "token-1") -> None:
        self.current = first
        self.fresh = fresh
        self.calls: list[bool] = []

    def token(self, *, refresh: bool = False) -> str:
        self.calls.append(refresh)
        if refresh:
            self.current = self.fresh
        return self.current


class World:
    def __init__(self, logs: list[dict[str, Any]]) -> None:
        self.graph = FakeGraph()
        self.logs = logs
        self.tokens = Tokens()

    @property
    def sleeps(self) -> list[float]:
        """The waits decided before each retry (stamina's testing mode skips sleeping them)."""
        return waits(self.logs)

    def source(self, *, page_size: int = 100, **kw: Any) -> GraphMailSource:
        account = GraphAccount(
            name="acct", folders=kw.pop("folders", ()), page_size=page_size, **kw
        )
        client = httpx.Client(transport=self.graph.transport())
        return GraphMailSource(account, client=client, tokens=self.tokens)


def waits(logs: list[dict[str, Any]]) -> list[float]:
    return [float(e["delay_s"]) for e in logs if e["event"] == "graph_retry"]


@pytest.fixture(autouse=True)
def no_real_waits() -> Iterator[None]:
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


@pytest.fixture
def world() -> Iterator[World]:
    with capture_logs() as logs:
        yield World(logs)


def folder(src: MailSource, role: str) -> FolderRef:
    return next(f for f in src.folders() if f.role == role)


def facts(data: bytes) -> tuple[object, ...]:
    m = parse_message(data)
    return (
        m.message_id,
        m.from_addr,
        m.to,
        m.cc,
        m.subject,
        m.date,
        m.in_reply_to,
        m.references,
        m.thanks_only,
        m.automated,
        m.auto_reply,
    )


# -- folders and listing ---------------------------------------------------------------------


def test_configured_folders_are_listed_in_order_without_a_request(world: World) -> None:
    refs = world.source(folders=("Clients/Acme", "archive", "inbox")).folders()
    assert [(f.name, f.role) for f in refs] == [
        ("inbox", "inbox"),
        ("sentitems", "sent"),
        ("Clients/Acme", ""),
        ("archive", "archive"),
    ]
    assert all(f.account == "acct" for f in refs)
    assert world.graph.requests == []  # listing folders costs no request


def test_uids_count_from_one_in_delivery_order(world: World) -> None:
    for n in range(5):
        world.graph.append("inbox", msg(n), T0 + timedelta(minutes=n))
    src = world.source()
    got = list(src.fetch_since(folder(src, "inbox"), None))
    assert [r.uid for r in got] == [1, 2, 3, 4, 5]
    assert [facts(r.data)[0] for r in got] == [f"m{n}@client.example" for n in range(5)]


def test_empty_folder_ends_on_a_delta_link(world: World) -> None:
    src = world.source()
    sent = folder(src, "sent")
    assert list(src.fetch_since(sent, None)) == []
    assert (src.resume_token(sent) or "").startswith(f"{BASE}/me/mailFolders/sentitems/")
    assert "$deltatoken=" in (src.resume_token(sent) or "")


def test_conversation_id_is_the_provider_thread(world: World) -> None:
    for n in range(3):
        world.graph.append("inbox", msg(n), T0, conversation=f"conv{n}")
    src = world.source()
    got = list(src.fetch_since(folder(src, "inbox"), None))
    assert [r.provider_thread for r in got] == ["conv0", "conv1", "conv2"]


def test_unknown_folder_error_names_the_folder(world: World) -> None:
    src = world.source()
    with pytest.raises(SourceUnavailable) as caught:
        list(src.fetch_since(FolderRef("acct", "NoSuchFolder", ""), None))
    assert caught.value.account == "acct"
    assert "NoSuchFolder" in str(caught.value)


def test_configured_sub_folder_is_resolved_by_display_name_path(world: World) -> None:
    world.graph.append("Acme", msg(1), T0)
    src = world.source(folders=("Clients/Acme",))
    acme = next(f for f in src.folders() if f.name == "Clients/Acme")
    assert [facts(r.data)[0] for r in src.fetch_since(acme, None)] == ["m1@client.example"]
    assert [r.url.path.rsplit("/", 1)[-1] for r in world.graph.requests[:2]] == [
        "mailFolders",
        "childFolders",
    ]


# -- delta paging and resumption ---------------------------------------------------------------


def test_delta_pages_follow_next_links_and_send_the_documented_options(world: World) -> None:
    for n in range(10):
        world.graph.append("inbox", msg(n), T0 + timedelta(seconds=n))
    src = world.source(page_size=3)
    got = list(src.fetch_since(folder(src, "inbox"), None))
    assert [facts(r.data)[0] for r in got] == [f"m{n}@client.example" for n in range(10)]
    requests = world.graph.delta_requests()
    assert len(requests) == 4  # 3 + 3 + 3 + 1
    first = requests[0].url.params
    assert first["changeType"] == "created"
    assert {
        "internetMessageHeaders",
        "internetMessageId",
        "conversationId",
        "receivedDateTime",
        "sentDateTime",
    } <= set(first["$select"].split(","))
    assert all("$skiptoken" in r.url.params for r in requests[1:])
    for r in requests:
        assert 'IdType="ImmutableId"' in r.headers["Prefer"]
        assert "odata.maxpagesize=3" in r.headers["Prefer"]
        assert r.headers["Authorization"] == "Bearer token-1"


def test_delta_link_resume_returns_only_new_messages_with_growing_uids(world: World) -> None:
    for n in range(4):
        world.graph.append("inbox", msg(n), T0)
    src = world.source()
    inbox = folder(src, "inbox")
    first = list(src.fetch_since(inbox, None))
    cursor = Cursor(src.uidvalidity(inbox), first[-1].uid, token=src.resume_token(inbox))
    assert list(src.fetch_since(inbox, cursor)) == []
    world.graph.append("inbox", msg(9), T0)
    again = list(src.fetch_since(inbox, cursor))
    assert [(r.uid, facts(r.data)[0]) for r in again] == [(5, "m9@client.example")]
    assert "$deltatoken" in world.graph.delta_requests()[-1].url.params


def test_no_message_lost_when_a_round_stops_mid_page(world: World) -> None:
    for n in range(10):
        world.graph.append("inbox", msg(n), T0)
    src = world.source(page_size=3)
    inbox = folder(src, "inbox")
    stream = src.fetch_since(inbox, None)
    taken = [next(stream) for _ in range(4)]  # the sync commits here, then crashes
    cursor = Cursor(1, taken[-1].uid, token=src.resume_token(inbox))
    stream.close()
    resumed = list(world.source(page_size=3).fetch_since(inbox, cursor))
    ids = {facts(r.data)[0] for r in taken + resumed}
    assert ids == {f"m{n}@client.example" for n in range(10)}
    assert min(r.uid for r in resumed) > cursor.last_uid
    assert len(resumed) <= 10 - 4 + 3  # at most one page is read again


def test_expired_token_restarts_the_round_inside_the_same_fetch(world: World) -> None:
    for n in range(3):
        world.graph.append("inbox", msg(n), T0)
    src = world.source()
    inbox = folder(src, "inbox")
    first = list(src.fetch_since(inbox, None))
    cursor = Cursor(1, first[-1].uid, token=src.resume_token(inbox))
    world.graph.expire_tokens()
    world.graph.append("inbox", msg(3), T0)
    again = list(src.fetch_since(inbox, cursor))
    assert [facts(r.data)[0] for r in again] == [f"m{n}@client.example" for n in range(4)]
    assert [r.uid for r in again] == [4, 5, 6, 7]  # UIDs keep growing: no cursor confusion
    statuses = [r.url.params.get("$deltatoken") is not None for r in world.graph.delta_requests()]
    assert statuses == [False, True, False]
    assert "$deltatoken" in (src.resume_token(inbox) or "")


def test_token_from_another_host_is_never_followed(world: World) -> None:
    world.graph.append("inbox", msg(1), T0)
    src = world.source()
    evil = Cursor(1, 0, token="https://attacker.example/v1.0/me/mailFolders/inbox/messages/delta")
    assert len(list(src.fetch_since(folder(src, "inbox"), evil))) == 1
    assert all(r.url.host == "graph.microsoft.com" for r in world.graph.requests)


# -- throttling, failures, tokens ---------------------------------------------------------------


def _throttled(status: int, retry_after: str) -> httpx.Response:
    code = "TooManyRequests" if status == 429 else "ServiceUnavailable"
    return httpx.Response(
        status,
        headers={"Retry-After": retry_after},
        json={"error": {"code": code, "message": "Please retry again later."}},
    )


def test_throttling_waits_for_retry_after_then_continues(world: World) -> None:
    for n in range(5):
        world.graph.append("inbox", msg(n), T0)
    src = world.source(page_size=2)
    stream = src.fetch_since(folder(src, "inbox"), None)
    got = [next(stream)]
    world.graph.fail_next(_throttled(429, "7"), _throttled(503, "2"))
    got += list(stream)
    assert world.sleeps == [7.0, 2.0]
    assert len(got) == 5


def test_throttling_gives_up_after_bounded_attempts(world: World) -> None:
    world.graph.fail_next(*[_throttled(429, "1") for _ in range(20)])
    src = world.source(max_attempts=4)
    with pytest.raises(SourceUnavailable, match="throttling"):
        list(src.fetch_since(folder(src, "inbox"), None))
    assert world.sleeps == [1.0, 1.0, 1.0]


def test_retry_after_beyond_the_budget_fails_fast_without_sleeping_it(world: World) -> None:
    world.graph.fail_next(_throttled(429, "3600"))
    src = world.source(max_wait_s=600)
    with pytest.raises(SourceUnavailable):
        list(src.fetch_since(folder(src, "inbox"), None))
    assert world.sleeps == []


def test_network_errors_are_retried_then_translated(world: World) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    src = GraphMailSource(
        GraphAccount("acct", max_attempts=3),
        tokens=Tokens(),
        client=httpx.Client(transport=httpx.MockTransport(down)),
    )
    with capture_logs() as logs, pytest.raises(SourceUnavailable, match="ConnectError") as caught:
        list(src.fetch_since(FolderRef("acct", "inbox", "inbox"), None))
    assert not isinstance(caught.value, AuthFailed)
    assert waits(logs) == [1.0, 2.0]


def test_expired_access_token_is_refreshed_once(world: World) -> None:
    world.graph.append("inbox", msg(1), T0)
    world.tokens = Tokens(first="stale", fresh="token-1")
    src = world.source()
    assert len(list(src.fetch_since(folder(src, "inbox"), None))) == 1
    assert world.tokens.calls == [False, True]
    assert [r.headers["Authorization"] for r in world.graph.requests] == [
        "Bearer stale",
        "Bearer token-1",
    ]


def test_token_still_rejected_after_refresh_is_auth_failed(world: World) -> None:
    world.tokens = Tokens(first="stale", fresh="still-stale")
    src = world.source()
    with pytest.raises(AuthFailed, match=r"Mail\.Read") as caught:
        list(src.fetch_since(folder(src, "inbox"), None))
    assert "InvalidAuthenticationToken" in str(caught.value)


def test_access_denied_names_the_permission_and_access_policy(world: World) -> None:
    src = world.source(mode="application", mailbox="someone-else@contoso.example")
    with pytest.raises(AuthFailed) as caught:
        list(src.fetch_since(folder(src, "inbox"), None))
    text = str(caught.value)
    assert "ErrorAccessDenied" in text and "Mail.Read" in text
    assert "admin consent" in text and "application access policy" in text


def test_application_mode_reads_the_configured_mailbox(world: World) -> None:
    world.graph.append("inbox", msg(1), T0)
    src = world.source(mode="application", mailbox=MAILBOX)
    assert len(list(src.fetch_since(folder(src, "inbox"), None))) == 1
    assert world.graph.requests[0].url.path.startswith(f"/v1.0/users/{MAILBOX}/")


# -- message synthesis --------------------------------------------------------------------------


def test_message_without_transport_headers_is_rebuilt_from_fields(world: World) -> None:
    # Messages sent from Outlook often have no internetMessageHeaders in Sent Items.
    world.graph.append("sentitems", msg(1), T0, with_headers=False)
    src = world.source()
    (raw,) = src.fetch_since(folder(src, "sent"), None)
    parsed = parse_message(raw.data)
    assert parsed.message_id == "m1@client.example"
    assert parsed.from_addr == "c@client.example"
    assert parsed.to == ("me@consult.example", "o@consult.example")
    assert parsed.cc == ("boss@client.example",)
    assert parsed.subject == "message 1"
    assert parsed.date == datetime(2026, 3, 2, 8, 1, tzinfo=UTC)
    assert parsed.thread_index_guid is not None  # from conversationIndex
    assert parsed.thanks_only == parse_message(msg(1)).thanks_only
    assert "no-header" not in parsed.warnings


def test_message_with_almost_nothing_still_parses(world: World) -> None:
    world.graph.add("inbox", {"receivedDateTime": "2026-03-02T08:00:00Z", "subject": None})
    world.graph.add("inbox", {"receivedDateTime": "2026-03-02T08:00:00Z", "subject": None})
    world.graph.add(
        "inbox",
        {
            "subject": "Ünïcode\r\nBcc: injected@evil.example",
            "from": {"emailAddress": {"name": 'Zoë, "Q"', "address": "z@client.example"}},
        },
    )
    src = world.source()
    first, twin, second = list(src.fetch_since(folder(src, "inbox"), None))
    p1 = parse_message(first.data, internaldate=first.internaldate)
    p2 = parse_message(second.data)
    assert p1.message_id.startswith("sha256:")
    assert p1.arrival == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    # Two different Message-ID-less items must not collapse into one stored message.
    assert parse_message(twin.data).message_id != p1.message_id
    assert p2.subject == "Ünïcode Bcc: injected@evil.example"
    assert b"\r\nBcc:" not in second.data
    assert p2.from_addr == "z@client.example"


def test_transport_content_type_is_replaced_by_the_rebuilt_text_part(world: World) -> None:
    item = graph_message(msg(1), T0)
    item["internetMessageHeaders"].append(
        {"name": "Content-Type", "value": 'multipart/alternative; boundary="b1"'}
    )
    item["bodyPreview"] = "Merci beaucoup !"
    world.graph.add("inbox", item)
    src = world.source()
    (raw,) = src.fetch_since(folder(src, "inbox"), None)
    assert b"multipart" not in raw.data
    assert raw.data.endswith(b"\r\n\r\nMerci beaucoup !\r\n")


def test_removed_entries_and_drafts_are_skipped() -> None:
    page = {
        "value": [
            {"id": "x1", "@removed": {"reason": "deleted"}},
            {"id": "x2", "isDraft": True, "internetMessageId": "<d@x>"},
            {"id": "x3", "internetMessageId": "<real@x>"},
        ],
        "@odata.deltaLink": f"{BASE}/me/mailFolders/inbox/messages/delta?$deltatoken=a",
    }
    src = GraphMailSource(
        GraphAccount("acct"),
        tokens=Tokens(),
        client=httpx.Client(
            transport=httpx.MockTransport(lambda r: httpx.Response(200, json=page))
        ),
    )
    got = list(src.fetch_since(FolderRef("acct", "inbox", "inbox"), None))
    assert [parse_message(r.data).message_id for r in got] == ["real@x"]


# -- through the generic sync and the SQLite store ---------------------------------------------


def _sync(src: MailSource, store: SqliteStore) -> int:
    return sync_source(src, store, now=lambda: T0, batch_size=2).added


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore.open(tmp_path / "rw.db")
    yield s
    s.close()


def test_resync_after_410_adds_no_duplicates(world: World, store: SqliteStore) -> None:
    for n in range(5):
        world.graph.append("inbox", msg(n), T0)
    world.graph.append("sentitems", msg(50), T0)
    assert _sync(world.source(page_size=2), store) == 6
    world.graph.expire_tokens()
    world.graph.append("inbox", msg(5), T0)
    assert _sync(world.source(page_size=2), store) == 1
    assert store.message_count() == 7
    inbox = FolderRef("acct", "inbox", "inbox")
    cursor = store.cursor(inbox)
    assert cursor is not None and cursor.uidvalidity == 1 and cursor.last_uid >= 6


def test_second_sync_adds_nothing_and_new_mail_once(world: World, store: SqliteStore) -> None:
    for n in range(3):
        world.graph.append("inbox", msg(n), T0)
    assert _sync(world.source(), store) == 3
    assert _sync(world.source(), store) == 0
    world.graph.append("inbox", msg(3), T0)
    assert _sync(world.source(), store) == 1
    assert store.message_count() == 4


def test_sync_stores_the_delta_link_and_resumes_from_it(world: World, store: SqliteStore) -> None:
    for n in range(3):
        world.graph.append("inbox", msg(n), T0)
    _sync(world.source(), store)
    cursor = store.cursor(FolderRef("acct", "inbox", "inbox"))
    assert cursor is not None and "$deltatoken" in (cursor.token or "")
    world.graph.requests.clear()
    _sync(world.source(), store)
    assert all("$deltatoken" in r.url.params for r in world.graph.delta_requests())

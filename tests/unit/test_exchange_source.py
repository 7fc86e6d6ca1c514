"""The EWS source through exchangelib's real protocol layer, against constructed SOAP answers
(tests/fakes/ews_server.py). The shared MailSource contract runs on EWS in
tests/contract/test_mail_source.py (the ``exchange`` world); here is what is EWS's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fakes.ews_server import T0, FakeEws, installed

from responsewatch.adapters.exchange import EwsAccount, ExchangeMailSource, exchange_source
from responsewatch.adapters.store import SqliteStore
from responsewatch.app.sync import sync_source
from responsewatch.config import AccountSettings, SecretRef
from responsewatch.core.parsing import parse_message
from responsewatch.errors import AuthFailed, ConfigError, SourceUnavailable
from responsewatch.ports import Cursor, FolderRef


@pytest.fixture
def ews(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEws]:
    with installed(monkeypatch) as server:
        yield server


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

"""The archive pipeline (decisions stored with the facts, batched fetch and fsync, a cost
independent of the archive's size), user corrections, DKIM alignment and DNS failures,
truncation, symlinks and file modes.

DKIM signatures are real (dkimpy, an RSA key generated here); a fake resolver serves keys.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import stat
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from responsewatch.adapters.archive import (
    NOT_AGREEMENT_KEYWORD,
    EvidenceArchive,
    NewEntry,
    agreements_by_client,
)
from responsewatch.adapters.archive import ledger as archive_mod
from responsewatch.adapters.archive.dkim import (
    GuardedLookup,
    TempDnsError,
    aligned,
    from_domain,
    verify_dkim,
)
from responsewatch.adapters.memory import MemoryMailSource
from responsewatch.adapters.store import MIGRATIONS, SqliteStore
from responsewatch.app import archive_app, archive_evidence
from responsewatch.app.archive_app import AgreementWatcher, reject, retry_dkim
from responsewatch.app.bootstrap import FixedClock, bootstrap
from responsewatch.app.sync import SyncReport, sync_folder, sync_source
from responsewatch.cli import app as cli
from responsewatch.config import AccountSettings, Settings
from responsewatch.core.rules import ClientRule, Rules
from responsewatch.errors import ConfigError
from responsewatch.ports import FolderRef

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ME = "claire@martin-conseil.fr"
INBOX = FolderRef("main", "INBOX", "inbox")


class Key:
    def __init__(self) -> None:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        der = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.record = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


@pytest.fixture(scope="module")
def key() -> Key:
    return Key()


def mail(
    n: int, body: str = "Bonjour,\r\n\r\nBon pour accord sur le devis.\r\n", **kw: str
) -> bytes:
    headers = {
        "From": "Paul <paul@acme.fr>",
        "To": ME,
        "Subject": f"Devis {n}",
        "Date": "Mon, 02 Mar 2026 09:00:00 +0100",
        "Message-ID": f"<m{n}@acme.fr>",
    } | kw
    return ("".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n" + body).encode()


def sign(data: bytes, key: Key, domain: str = "acme.fr") -> bytes:
    sig = dkim.sign(data, b"s1", domain.encode(), key.pem, include_headers=[b"from", b"subject"])
    return bytes(sig) + data


def settings_for(tmp_path: Path, **kw: object) -> Settings:
    rules = Rules(me=frozenset({ME}), clients=(ClientRule("acme", domains=("acme.fr",)),))
    base: dict[str, object] = {
        "rules": rules,
        "accounts": (AccountSettings(name="main", type="imap", host="imap.example"),),
        "store_path": tmp_path / "rw.db",
        "archive_path": tmp_path / "archive",
    }
    return Settings(**(base | kw))  # type: ignore[arg-type]


def no_dns(name: str) -> str | None:
    return None


def mailbox(n: int, every: int = 2) -> MemoryMailSource:
    """``n`` client messages, one in ``every`` an agreement."""
    src = MemoryMailSource("main", {INBOX: []})
    for i in range(n):
        body = "Bon pour accord sur le devis.\r\n" if i % every == 0 else "Voici le point.\r\n"
        src.append(INBOX, mail(i, "Bonjour,\r\n\r\n" + body), internaldate=T0)
    return src


def ids(archive: EvidenceArchive) -> list[str]:
    return [e.message_id for e in archive.entries()]


class Crash(BaseException):
    """Stands for SIGKILL: nothing after it runs, no handler catches it."""


# --- 1. nothing lost to a crash, decided once -------------------------------------------


def test_decisions_are_stored_with_the_batch_and_finished_after_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path)
    store = SqliteStore.open(settings.store_path)
    src = mailbox(30)
    archive = EvidenceArchive(settings.archive_path, lookup=no_dns, head=store)
    watcher = AgreementWatcher(settings, archive, now=lambda: T0)

    def crash(*args: object, **kw: object) -> None:
        raise Crash

    with monkeypatch.context() as patched:
        patched.setattr(AgreementWatcher, "drain", crash)  # dies after the last commit
        with pytest.raises(Crash):
            sync_source(src, store, now=lambda: T0, batch_size=7, archiver=watcher.deferred(src))
    assert store.message_count() == 30 and ids(archive) == []
    pending = store.pending_archive("main")
    assert sorted(p.message_id for p in pending) == sorted(f"m{i}@acme.fr" for i in range(0, 30, 2))
    assert {p.uid for p in pending} == {i + 1 for i in range(0, 30, 2)}
    assert all(p.phrase == "bon pour accord" and p.uidvalidity == 1 for p in pending)

    # The next run has no new mail to read, and still archives every stored decision.
    again = AgreementWatcher(settings, EvidenceArchive(settings.archive_path, lookup=no_dns))
    report = sync_source(src, store, now=lambda: T0, archiver=again.deferred(src))
    assert report.fetched == 0
    assert sorted(ids(archive)) == sorted(f"m{i}@acme.fr" for i in range(0, 30, 2))
    assert store.pending_archive("main") == []
    assert archive.verify().ok


def test_the_decision_made_while_the_folder_streams_is_not_recomputed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: Counter[str] = Counter()
    real = archive_app.detect_agreement

    def counting(text: str, **kw: object) -> object:
        calls[text] += 1
        return real(text, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(archive_app, "detect_agreement", counting)
    settings = settings_for(tmp_path)
    store = SqliteStore.open(settings.store_path)
    src = mailbox(10, every=1)
    watcher = AgreementWatcher(settings, EvidenceArchive(settings.archive_path, lookup=no_dns))
    sync_source(src, store, now=lambda: T0, archiver=watcher.deferred(src))
    assert len(ids(EvidenceArchive(settings.archive_path))) == 10
    assert sum(calls.values()) == 10  # once per message, none again at flush


def test_full_bodies_are_fetched_per_batch_not_per_message(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    store = SqliteStore.open(settings.store_path)
    src = mailbox(250, every=1)
    watcher = AgreementWatcher(settings, EvidenceArchive(settings.archive_path, lookup=no_dns))
    sync_source(src, store, now=lambda: T0, batch_size=50, archiver=watcher.deferred(src))
    assert len(ids(EvidenceArchive(settings.archive_path))) == 250
    assert src.full_fetches == 3  # 100 per FETCH


def test_a_message_gone_from_the_server_is_retried_then_dropped(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    store = SqliteStore.open(settings.store_path)
    src = mailbox(2, every=1)
    decided = [
        d
        for raw in src.fetch_since(INBOX, None)
        if (d := AgreementWatcher(settings, EvidenceArchive(tmp_path / "x")).decide(raw, _msg(raw)))
    ]
    store.add_pending_archive([_at(decided[0], 1, 99)])  # no UID 99 in the folder
    watcher = AgreementWatcher(settings, EvidenceArchive(settings.archive_path, lookup=no_dns))
    for attempt in range(archive_app.GIVE_UP_AFTER):
        assert len(store.pending_archive("main")) == 1, attempt
        watcher.drain(src, store)
    assert store.pending_archive("main") == []


def _msg(raw: object) -> object:
    from responsewatch.core.parsing import parse_message

    return parse_message(raw.data)  # type: ignore[attr-defined]


def _at(p: object, uidvalidity: int, uid: int) -> object:
    from dataclasses import replace

    return replace(p, uidvalidity=uidvalidity, uid=uid)  # type: ignore[type-var]


# --- 2. throughput: batched fsync, cost independent of the archive's size ---------------


def items(start: int, n: int) -> list[NewEntry]:
    return [
        NewEntry(mail(i), f"m{i}@acme.fr", "acme", "bon pour accord", received_at=T0)
        for i in range(start, start + n)
    ]


def test_one_ledger_fsync_and_one_filesystem_sync_per_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = EvidenceArchive(tmp_path / "archive", lookup=no_dns)
    archive.add_many(items(0, 1), now=T0)  # directories created
    fsyncs, syncs = [0], [0]
    real_fsync, real_sync = os.fsync, archive_mod._sync_all

    def fsync(fd: int) -> None:
        fsyncs[0] += 1
        real_fsync(fd)

    def sync_all(root: Path, written: list[Path]) -> None:
        syncs[0] += 1
        real_sync(root, written)

    monkeypatch.setattr(archive_mod.os, "fsync", fsync)
    monkeypatch.setattr(archive_mod, "_sync_all", sync_all)
    added = archive.add_many(items(1, 60), now=T0)
    assert len(added) == 60
    assert syncs[0] == 1 and fsyncs[0] <= 2  # the ledger (+ none per entry)
    assert archive.verify().ok


def test_an_addition_never_rereads_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = EvidenceArchive(tmp_path / "archive", lookup=no_dns)
    for start in range(0, 1000, 500):
        archive.add_many(items(start, 500), now=T0)
    size = archive.ledger.stat().st_size
    read: list[int] = []
    real_open = Path.open

    def tracking_open(self: Path, *args: object, **kw: object) -> object:
        handle = real_open(self, *args, **kw)  # type: ignore[call-overload]
        if self == archive.ledger:
            real_read = handle.read
            handle.read = lambda *a: (data := real_read(*a), read.append(len(data)))[0]
        return handle

    def never(*args: object) -> None:
        raise AssertionError("the whole ledger was read for an addition")

    monkeypatch.setattr(Path, "open", tracking_open)
    monkeypatch.setattr(EvidenceArchive, "_lines", never)
    monkeypatch.setattr(EvidenceArchive, "all_entries", never)
    archive.add_many(items(1000, 5), now=T0)
    assert archive.add_many(items(0, 3), now=T0) == []  # known: found in the index
    assert sum(read) < size // 100  # only what was appended since
    monkeypatch.undo()
    assert archive.head()[0] == 1005 and archive.verify().ok


def test_another_writer_appending_is_seen_by_the_index(tmp_path: Path) -> None:
    one = EvidenceArchive(tmp_path / "archive", lookup=no_dns)
    two = EvidenceArchive(tmp_path / "archive", lookup=no_dns)
    one.add_many(items(0, 3), now=T0)
    two.add_many(items(3, 2), now=T0)  # `archive add` while the daemon runs
    assert one.add_many(items(0, 5), now=T0) == []  # nothing twice
    one.add_many(items(5, 1), now=T0)
    result = one.verify()
    assert result.ok and [e.seq for e in result.entries] == [1, 2, 3, 4, 5, 6]


# --- 5. user correction -------------------------------------------------------------------


def three(tmp_path: Path) -> tuple[Settings, EvidenceArchive, SqliteStore]:
    settings = settings_for(tmp_path)
    store = SqliteStore.open(settings.store_path)
    archive = EvidenceArchive(settings.archive_path, lookup=no_dns, head=store)
    archive.add_many(items(1, 3), now=T0)
    return settings, archive, store


def write_config(tmp_path: Path, settings: Settings) -> Path:
    config = tmp_path / "rw.toml"
    config.write_text(
        f'[me]\naddresses = ["{ME}"]\nlanguage = "en"\n[archive]\n'
        f'path = "{settings.archive_path}"\n[store]\npath = "{settings.store_path}"\n'
    )
    return config


def test_reject_then_verify_passes_and_the_entry_leaves_list_digest_metrics(
    tmp_path: Path,
) -> None:
    settings, _archive, store = three(tmp_path)
    config = write_config(tmp_path, settings)
    runner = CliRunner()
    done = runner.invoke(
        cli,
        ["archive", "reject", "<m2@acme.fr>", "--reason", "a question", "--config", str(config)],
    )
    assert done.exit_code == 0, done.output
    assert "rejected as entry 4" in done.stdout
    assert runner.invoke(cli, ["archive", "verify", "--config", str(config)]).exit_code == 0
    listed = json.loads(
        runner.invoke(cli, ["archive", "list", "-f", "json", "--config", str(config)]).stdout
    )
    assert [d["message_id"] for d in listed] == ["m1@acme.fr", "m3@acme.fr"]
    every = json.loads(
        runner.invoke(
            cli, ["archive", "list", "--all", "-f", "json", "--config", str(config)]
        ).stdout
    )
    assert [d.get("rejected") for d in every] == [None, "a question", None]
    assert agreements_by_client(settings.archive_path) == {"acme": 2}
    app = bootstrap(settings, clock=FixedClock(T0), store=store)
    assert [r[3] for r in archive_evidence.digest_agreements(app, T0)] == [
        "m1@acme.fr",
        "m3@acme.fr",
    ]
    out = tmp_path / "export"
    assert (
        runner.invoke(cli, ["archive", "export", str(out), "--config", str(config)]).exit_code == 0
    )
    rows = list(csv.DictReader((out / "index.csv").open(encoding="utf-8")))
    assert [(r["kind"], r["rejected_reason"]) for r in rows][1:] == [
        ("agreement", "a question"),
        ("agreement", ""),
        ("rejection", "a question"),
    ]
    assert "rejected by the user: m2@acme.fr" in (out / "verification-report.txt").read_text()
    again = runner.invoke(
        cli, ["archive", "reject", "m2@acme.fr", "--reason", "x", "--config", str(config)]
    )
    assert again.exit_code == 2 and "already rejected" in again.stderr


def test_a_tampered_rejection_entry_is_caught(tmp_path: Path) -> None:
    _settings, archive, _store = three(tmp_path)
    reject(archive, "m2@acme.fr", "not an agreement", T0)
    lines = archive.ledger.read_bytes().splitlines(keepends=True)
    lines[-1] = lines[-1].replace(b"not an agreement", b"signed contract")
    archive.ledger.write_bytes(b"".join(lines))
    result = EvidenceArchive(archive.root).verify()
    assert [p.seq for p in result.problems] == [4]
    assert "edited" in result.problems[0].reason


def test_rejecting_what_is_not_archived_is_a_usage_error(tmp_path: Path) -> None:
    _settings, archive, _store = three(tmp_path)
    with pytest.raises(ConfigError, match="not in the archive"):
        reject(archive, "nope@x", "why", T0)
    with pytest.raises(ConfigError, match="--reason"):
        reject(archive, "m1@acme.fr", "  ", T0)


def test_the_not_agreement_keyword_rejects_and_stops_detection(tmp_path: Path) -> None:
    settings, archive, store = three(tmp_path)
    store.add_keywords([("m3@acme.fr", NOT_AGREEMENT_KEYWORD)], T0)
    app = bootstrap(settings, clock=FixedClock(T0), store=store)
    archive_app.archive_maintenance(app, archive)
    archive_app.archive_maintenance(app, archive)  # once only
    assert ids(archive) == ["m1@acme.fr", "m2@acme.fr"]
    assert archive.verify().ok and len(archive.all_entries()) == 4
    src = MemoryMailSource("main", {INBOX: []})
    src.append(INBOX, mail(9), keywords=(NOT_AGREEMENT_KEYWORD,))
    watcher = AgreementWatcher(settings, archive)
    (raw,) = list(src.fetch_since(INBOX, None))
    assert watcher.decide(raw, _msg(raw)) is None  # type: ignore[arg-type]


# --- 6. DKIM: alignment, DNS failures ---------------------------------------------------


def test_alignment_is_taken_from_the_parsed_from_address(key: Key) -> None:
    dns = {"s1._domainkey.evil.test": key.record, "s1._domainkey.acme.fr": key.record}

    def lookup(name: str) -> str | None:
        return dns.get(name.rstrip("."))

    foreign = verify_dkim(sign(mail(1), key, "evil.test"), lookup)
    assert (foreign.result, foreign.domain, foreign.from_domain) == ("pass", "evil.test", "acme.fr")
    assert archive_mod.verdict(foreign) == "pass_unaligned"
    # The first "@" of the raw header sits in the display name: not the author's domain.
    tricky = mail(2, From='"boss@evil.test" <paul@acme.fr>')
    assert from_domain(tricky) == "acme.fr"
    assert (
        archive_mod.verdict(verify_dkim(sign(tricky, key, "evil.test"), lookup)) == "pass_unaligned"
    )
    sub = mail(3, From="Paul <paul@mail.acme.fr>")
    assert archive_mod.verdict(verify_dkim(sign(sub, key, "acme.fr"), lookup)) == "pass"
    assert archive_mod.verdict(verify_dkim(sign(mail(4), key), lookup)) == "pass"
    # Two signatures: the aligned one is preferred, whatever the order.
    both = sign(sign(mail(5), key, "acme.fr"), key, "evil.test")
    assert archive_mod.verdict(verify_dkim(both, lookup)) == "pass"


@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
@settings(max_examples=200, deadline=None)
def test_alignment_property(left: str, right: str) -> None:
    d, f = left.lower().strip("."), right.lower().strip(".")
    if aligned(d, f):
        assert f == d or f.endswith("." + d)
        assert "." in d
    if d and "." not in d:
        assert not aligned(d, f)  # a bare label (a TLD) never aligns
    if d:
        assert aligned(d + ".example", "mail." + d + ".example")


def test_list_json_reports_the_verdict_and_domain(tmp_path: Path, key: Key) -> None:
    settings = settings_for(tmp_path)
    archive = EvidenceArchive(settings.archive_path, lookup=lambda n: key.record)
    archive.add_many(
        [
            NewEntry(sign(mail(1), key, "evil.test"), "m1@acme.fr", "acme", "ok"),
            NewEntry(sign(mail(2), key), "m2@acme.fr", "acme", "ok"),
            NewEntry(mail(3), "m3@acme.fr", "acme", "ok"),
        ],
        now=T0,
    )
    docs = archive_app.archive_list(write_config(tmp_path, settings))
    assert [(d["dkim"], d["dkim_domain"]) for d in docs] == [
        ("pass_unaligned", "evil.test"),
        ("pass", "acme.fr"),
        ("none", ""),
    ]


def test_dns_down_gives_temperror_at_once_then_a_verdict_later(tmp_path: Path, key: Key) -> None:
    down = [True]
    asked: list[str] = []

    def lookup(name: str) -> str | None:
        asked.append(name)
        if down[0]:
            raise TempDnsError("timeout")
        return key.record

    settings = settings_for(tmp_path)
    archive = archive_app.open_archive(settings, lookup)
    archive.add_many(
        [NewEntry(sign(mail(i), key), f"m{i}@acme.fr", "acme", "ok") for i in range(20)], now=T0
    )
    assert len(asked) == 1  # one timeout, then the guard answers at once
    assert {archive.verdict(e) for e in archive.entries()} == {"temperror"}
    result = archive.verify()
    assert result.ok and "20 entries never got a DKIM verdict" in result.warnings[0]
    assert "1 (m0@acme.fr)" in result.warnings[0]

    down[0] = False
    later = archive_app.open_archive(settings, lookup)  # the next run: a fresh guard
    assert retry_dkim(later, T0 + timedelta(minutes=10)) == []  # too early
    rechecked = retry_dkim(later, T0 + timedelta(hours=2))
    assert len(rechecked) == 20 and {e.kind for e in rechecked} == {"dkim"}
    assert {later.verdict(e) for e in later.entries()} == {"pass"}
    final = later.verify()
    assert final.ok and not final.warnings, final.warnings
    assert retry_dkim(later, T0 + timedelta(hours=3)) == []  # done once


def test_guarded_lookup_caches_and_recovers_after_the_cooldown() -> None:
    now = [0.0]
    calls: list[str] = []

    def flaky(name: str) -> str | None:
        calls.append(name)
        if len(calls) == 1:
            raise TempDnsError("timeout")
        return "v=DKIM1; p=x"

    guard = GuardedLookup(flaky, cooldown=60, clock=lambda: now[0])
    with pytest.raises(TempDnsError):
        guard("a")
    with pytest.raises(TempDnsError):
        guard("b")  # not asked: within the cooldown
    now[0] = 61
    assert guard("b") == guard("b.") == "v=DKIM1; p=x"
    assert calls == ["a", "b"]


# --- 7. head in the store, symlinks, modes -------------------------------------------------


def test_deleting_the_newest_entry_is_a_truncated_chain(tmp_path: Path) -> None:
    settings, archive, store = three(tmp_path)
    assert store.archive_head(str(archive.root)) == archive.head()
    last = archive.entries()[-1]
    lines = archive.ledger.read_bytes().splitlines(keepends=True)
    archive.ledger.write_bytes(b"".join(lines[:-1]))
    archive.object_path(last.sha256).unlink()
    result = EvidenceArchive(archive.root, head=store).verify()
    assert not result.ok and "truncated chain" in result.problems[0].reason
    store.close()
    broken = CliRunner().invoke(
        cli, ["archive", "verify", "--config", str(write_config(tmp_path, settings))]
    )
    assert broken.exit_code == 4 and "truncated chain" in broken.stderr


def test_export_refuses_symlinks_and_verify_names_them(tmp_path: Path) -> None:
    settings, archive, _store = three(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0")
    victim = archive.entries()[0]
    path = archive.object_path(victim.sha256)
    path.unlink()
    path.symlink_to(secret)
    (archive.root / "objects" / "zz").symlink_to(tmp_path)
    result = archive.verify()
    reasons = [str(p) for p in result.problems]
    assert any("symlink" in r and victim.message_id in r for r in reasons), reasons
    assert any("objects/zz" in r for r in reasons), reasons
    out = tmp_path / "export"
    exported = CliRunner().invoke(
        cli, ["archive", "export", str(out), "--config", str(write_config(tmp_path, settings))]
    )
    assert exported.exit_code == 4
    copied = b"".join(p.read_bytes() for p in (out / "messages").iterdir())
    assert b"root:x" not in copied and len(list((out / "messages").iterdir())) == 2


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_archive_and_store_are_private_whatever_the_umask(
    tmp_path: Path, loose_umask: None
) -> None:
    settings = settings_for(tmp_path, archive_path=tmp_path / "deep" / "archive")
    store = SqliteStore.open(tmp_path / "state" / "rw.db")
    store.add_pending_archive([])
    store.close()
    archive = EvidenceArchive(settings.archive_path, lookup=no_dns)
    archive.add_many(items(0, 2), now=T0)
    modes = {
        str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode)
        for p in [*settings.archive_path.rglob("*"), settings.archive_path]
    }
    modes |= {
        str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode)
        for p in (tmp_path / "state").glob("rw.db*")
    }
    modes["state"] = stat.S_IMODE((tmp_path / "state").stat().st_mode)
    wrong = {k: oct(m) for k, m in modes.items() if m & 0o077}
    assert not wrong, wrong
    assert any(k.endswith(".eml") for k in modes) and "state/rw.db" in modes


def test_store_migration_keeps_earlier_stores(tmp_path: Path) -> None:
    store = SqliteStore.open(tmp_path / "rw.db")
    version = store._db.execute("PRAGMA user_version").fetchone()[0]
    assert version == len(MIGRATIONS)
    store.close()


def test_sync_folder_without_archiver_is_unchanged(tmp_path: Path) -> None:
    store = SqliteStore.open(tmp_path / "rw.db")
    src = mailbox(5)
    report = SyncReport("main")
    sync_folder(src, INBOX, store, report, now=lambda: T0)
    assert report.added == 5 and store.pending_archive("main") == []


def test_a_decision_follows_the_message_when_uidvalidity_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path)
    store = SqliteStore.open(settings.store_path)
    src = mailbox(3, every=3)  # m0 is the agreement
    watcher = AgreementWatcher(settings, EvidenceArchive(settings.archive_path, lookup=no_dns))

    def crash(*args: object, **kw: object) -> None:
        raise Crash

    with monkeypatch.context() as patched:
        patched.setattr(AgreementWatcher, "drain", crash)
        with pytest.raises(Crash):
            sync_source(src, store, now=lambda: T0, archiver=watcher.deferred(src))
    src.recreate_folder(INBOX)  # DELETE + CREATE on the server: new UIDVALIDITY, new UIDs
    src.append(INBOX, mail(7, "Bonjour,\r\n\r\nVoici.\r\n"), internaldate=T0)
    src.append(INBOX, mail(0), internaldate=T0)
    sync_source(src, store, now=lambda: T0, archiver=watcher.deferred(src))
    assert ids(EvidenceArchive(settings.archive_path)) == ["m0@acme.fr"]
    assert store.pending_archive("main") == []


def test_the_head_copy_catches_up_but_never_hides_a_truncation(tmp_path: Path) -> None:
    _settings, archive, store = three(tmp_path)
    store.set_archive_head(str(archive.root), 1, archive.all_entries()[0].entry_hash)  # behind
    archive.sync_head()
    assert store.archive_head(str(archive.root)) == archive.head() == (3, archive.head()[1])
    lines = archive.ledger.read_bytes().splitlines(keepends=True)
    archive.ledger.write_bytes(b"".join(lines[:-1]))  # the newest entry deleted...
    later = EvidenceArchive(archive.root, lookup=no_dns, head=store)
    later.add_many(items(10, 2), now=T0)  # ...then new entries appended past it
    assert store.archive_head(str(archive.root))[0] == 3  # the copy was not overwritten
    problems = later.verify().problems
    assert problems and "recorded as head is not in the ledger" in problems[-1].reason


def test_threads_sharing_one_archive_keep_one_consistent_index(tmp_path: Path) -> None:
    """The daemon's watchers share one archive: concurrent batches, nothing twice."""
    import threading

    archive = EvidenceArchive(tmp_path / "archive", lookup=no_dns)
    errors: list[BaseException] = []

    def work(start: int) -> None:
        try:
            for k in range(start, start + 40, 8):
                archive.add_many(items(k, 8), now=T0)
                archive.has(f"m{k}@acme.fr")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in (0, 20, 40, 60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = archive.verify()
    assert result.ok and len(result.entries) == 100  # overlapping ranges stored once
    assert archive.head() == (100, result.head) and len(set(ids(archive))) == 100
    assert EvidenceArchive(archive.root).head() == archive.head()

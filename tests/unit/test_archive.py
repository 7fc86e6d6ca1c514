"""The agreement evidence archive: hash chain, tamper evidence, crash safety, DKIM, export,
and the app layer (sync hook, ``archive add``, keyword catch-up, CLI).

DKIM signatures are real: dkimpy signs with an RSA key generated here, and a fake resolver
serves the public key, so key rotation is one dict assignment.
"""

from __future__ import annotations

import base64
import csv
import functools
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from responsewatch.adapters.archive import (
    AGREEMENT_KEYWORD,
    GENESIS,
    EvidenceArchive,
    agreements_by_client,
    canonical,
    entry_hash,
    verify_dkim,
)
from responsewatch.adapters.archive import ledger as archive_mod
from responsewatch.adapters.memory import MemoryMailSource
from responsewatch.adapters.store import SqliteStore
from responsewatch.app import archive_evidence
from responsewatch.app.archive_app import (
    AgreementWatcher,
    add_by_message_id,
    archive_new_agreements,
)
from responsewatch.app.archive_evidence import INDEX_COLUMNS, export_archive
from responsewatch.app.bootstrap import FixedClock, bootstrap
from responsewatch.app.sync import sync_source
from responsewatch.cli import app as cli
from responsewatch.config import AccountSettings, Settings
from responsewatch.core.parsing import parse_message
from responsewatch.core.rules import ClientRule, Rules
from responsewatch.errors import ConfigError, DataError
from responsewatch.ports import FolderRef, RawMessage

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ME = "claire@martin-conseil.fr"
DOMAIN = "acme.fr"
SELECTOR = "mail2026"
DNS_NAME = f"{SELECTOR}._domainkey.{DOMAIN}"
INBOX = FolderRef("main", "INBOX", "inbox")
SRC = Path(__file__).resolve().parents[2] / "src"


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


class FakeDns:
    """name -> TXT record; counts lookups so tests can prove ``verify`` never asks DNS."""

    def __init__(self, records: dict[str, str]) -> None:
        self.records = records
        self.asked: list[str] = []

    def __call__(self, name: str) -> str | None:
        self.asked.append(name)
        return self.records.get(name.rstrip("."))


@pytest.fixture
def dns(key: Key) -> FakeDns:
    return FakeDns({DNS_NAME: key.record})


def mail(
    n: int, body: str = "Bonjour,\r\n\r\nBon pour accord sur le devis.\r\n", **kw: str
) -> bytes:
    headers = {
        "From": f"Paul <paul@{DOMAIN}>",
        "To": ME,
        "Subject": f"Devis {n}",
        "Date": "Mon, 02 Mar 2026 09:00:00 +0100",
        "Message-ID": f"<m{n}@{DOMAIN}>",
    } | kw
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (head + "\r\n" + body).encode()


@functools.cache  # the same bytes each time: t= would change when a second passes
def sign(data: bytes, key: Key) -> bytes:
    sig = dkim.sign(
        data,
        SELECTOR.encode(),
        DOMAIN.encode(),
        key.pem,
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
    )
    return bytes(sig) + data


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "archive"


def add(archive: EvidenceArchive, data: bytes, n: int, client: str = "acme") -> None:
    archive.add(
        data,
        message_id=f"m{n}@{DOMAIN}",
        client=client,
        phrase="bon pour accord",
        received_at=T0,
        now=T0,
    )


@pytest.fixture
def three(store_dir: Path, dns: FakeDns, key: Key) -> EvidenceArchive:
    archive = EvidenceArchive(store_dir, lookup=dns)
    for n in (1, 2, 3):
        add(archive, sign(mail(n), key), n)
    return archive


def ledger_lines(archive: EvidenceArchive) -> list[bytes]:
    return archive.ledger.read_bytes().splitlines(keepends=True)


# --- the ledger --------------------------------------------------------------------------


def test_clean_archive_verifies_and_keeps_bytes(three: EvidenceArchive, key: Key) -> None:
    result = three.verify()
    assert result.ok, result.problems
    entries = three.entries()
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS
    assert [e.prev_hash for e in entries[1:]] == [e.entry_hash for e in entries[:-1]]
    assert result.head == entries[-1].entry_hash
    original = sign(mail(2), key)
    stored = three.root / "objects" / entries[1].sha256[:2] / f"{entries[1].sha256}.eml"
    assert stored.read_bytes() == original  # byte for byte, CRLF included
    doc = json.loads(ledger_lines(three)[1])
    assert doc["entry_hash"] == entry_hash(doc)
    assert ledger_lines(three)[1] == canonical(doc) + b"\n"
    assert not list((three.root / "pending").glob("*"))


def test_the_same_message_twice_is_one_entry(three: EvidenceArchive, key: Key) -> None:
    entry, added = three.add(
        sign(mail(2), key), message_id="m2@acme.fr", client="acme", phrase="approved", now=T0
    )
    assert not added and entry.seq == 2 and entry.phrase == "bon pour accord"
    # Same Message-ID, other bytes (another folder's copy): still the same message.
    assert not three.add(mail(2), message_id="m2@acme.fr", client="x", phrase="y", now=T0)[1]
    assert len(three.entries()) == 3


def flip_byte(archive: EvidenceArchive) -> None:
    path = archive.object_path(archive.entries()[1].sha256)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))


def delete_entry(archive: EvidenceArchive) -> None:
    lines = ledger_lines(archive)
    archive.ledger.write_bytes(lines[0] + lines[2])


def reorder(archive: EvidenceArchive) -> None:
    lines = ledger_lines(archive)
    archive.ledger.write_bytes(lines[0] + lines[2] + lines[1])


def edit_field(archive: EvidenceArchive) -> None:
    lines = ledger_lines(archive)
    lines[1] = lines[1].replace(b'"client":"acme"', b'"client":"other"')
    archive.ledger.write_bytes(b"".join(lines))


def delete_eml(archive: EvidenceArchive) -> None:
    archive.object_path(archive.entries()[1].sha256).unlink()


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (flip_byte, "bytes changed"),
        (delete_entry, "sequence number 3 at position 2"),
        (reorder, "sequence number 3 at position 2"),
        (edit_field, "ledger line was edited"),
        (delete_eml, "is missing"),
    ],
)
def test_tampering_is_reported_at_the_broken_entry(
    three: EvidenceArchive, tamper: Callable[[EvidenceArchive], None], reason: str
) -> None:
    assert three.verify().ok
    tamper(three)
    result = three.verify()
    assert not result.ok
    first = result.problems[0]
    assert first.seq == 2, result.problems
    assert reason in first.reason
    assert str(first).startswith("entry 2 (m")


def test_a_rewritten_chain_is_caught_by_dkim(three: EvidenceArchive) -> None:
    """Whoever can write the files can recompute every hash, but cannot re-sign the mail."""
    old = three.entries()[1]
    forged = three.read_object(old.sha256).replace(b"Bon pour accord", b"Bon pour ACCORD")
    new_sha = archive_mod._sha256(forged)
    three.object_path(new_sha).parent.mkdir(parents=True, exist_ok=True)
    three.object_path(new_sha).write_bytes(forged)
    prev = GENESIS
    rewritten = []
    for line in ledger_lines(three):
        doc = json.loads(line)
        if doc["sha256"] == old.sha256:
            doc["sha256"], doc["size"] = new_sha, len(forged)
        doc["prev_hash"] = prev
        doc["entry_hash"] = prev = entry_hash(doc)
        rewritten.append(canonical(doc) + b"\n")
    three.ledger.write_bytes(b"".join(rewritten))
    problems = three.verify().problems
    assert [(p.seq, "DKIM" in p.reason) for p in problems] == [(2, True)]


# --- crash safety ------------------------------------------------------------------------


def test_crash_between_eml_and_ledger_is_completed_next_run(
    store_dir: Path, dns: FakeDns, key: Key, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = EvidenceArchive(store_dir, lookup=dns)
    add(archive, sign(mail(1), key), 1)

    def crash(path: Path, line: bytes) -> None:
        raise OSError("No space left on device")

    with monkeypatch.context() as m:
        m.setattr(archive_mod, "_append_line", crash)
        with pytest.raises(DataError, match="cannot write"):
            add(archive, sign(mail(2), key), 2)
    assert len(archive.entries()) == 1  # no half entry
    assert archive.verify().ok
    # The next write (any message) first completes the interrupted one, exactly once.
    add(archive, sign(mail(3), key), 3)
    assert [e.message_id for e in archive.entries()] == ["m1@acme.fr", "m2@acme.fr", "m3@acme.fr"]
    assert archive.entries()[1].phrase == "bon pour accord"
    assert archive.verify().ok
    assert not list((store_dir / "pending").glob("*"))


def test_process_killed_mid_append_leaves_no_half_entry(
    store_dir: Path, dns: FakeDns, key: Key
) -> None:
    """A real crash: the child writes half a ledger line and dies with os._exit."""
    archive = EvidenceArchive(store_dir, lookup=dns)
    add(archive, sign(mail(1), key), 1)
    eml = store_dir.parent / "m2.eml"
    eml.write_bytes(sign(mail(2), key))
    script = textwrap.dedent(f"""
        import os
        from datetime import datetime, UTC
        from pathlib import Path
        from responsewatch.adapters.archive import ledger as a
        def half(path, line):
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            os.write(fd, line[: len(line) // 2])
            os._exit(9)
        a._append_line = half
        arc = a.EvidenceArchive(Path({str(store_dir)!r}), lookup=lambda n: None)
        arc.add(Path({str(eml)!r}).read_bytes(), message_id="m2@acme.fr", client="acme",
                phrase="bon pour accord", now=datetime.now(UTC))
    """)
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": str(SRC)},
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 9, done.stderr.decode()
    assert not archive.ledger.read_bytes().endswith(b"\n")
    result = archive.verify()
    assert result.ok and len(result.entries) == 1
    assert "interrupted write" in result.warnings[0]
    actions = archive.recover()
    assert any("set aside" in a for a in actions) and any("completed" in a for a in actions)
    assert [e.message_id for e in archive.entries()] == ["m1@acme.fr", "m2@acme.fr"]
    assert archive.verify().ok
    assert archive.recover() == []  # idempotent
    assert list(store_dir.glob("ledger.partial-*"))  # the torn bytes are kept, not destroyed


def test_orphan_eml_is_relinked_and_missing_newline_completed(
    store_dir: Path, dns: FakeDns, key: Key
) -> None:
    archive = EvidenceArchive(store_dir, lookup=dns)
    data = sign(mail(1), key)
    orphan = archive.object_path(archive_mod._sha256(data))
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(data)  # crash after the eml rename, before the intent was written
    add(archive, data, 1)
    add(archive, sign(mail(2), key), 2)
    archive.ledger.write_bytes(archive.ledger.read_bytes()[:-1])  # a whole line minus "\n"
    assert archive.recover() == ["completed the newline of entry 2"]
    assert len(archive.entries()) == 2 and archive.verify().ok


# --- DKIM --------------------------------------------------------------------------------


def test_dkim_pass_fail_none_at_arrival(three: EvidenceArchive, dns: FakeDns, key: Key) -> None:
    entry = three.entries()[0]
    assert (entry.dkim.result, entry.dkim.domain, entry.dkim.selector) == ("pass", DOMAIN, SELECTOR)
    assert entry.dkim.key_record == key.record  # the exact TXT text used
    modified = sign(mail(4), key).replace(b"Bon pour accord", b"Bon pour accord, sauf le lot 2")
    assert verify_dkim(modified, dns).result == "fail"
    assert "body hash" in verify_dkim(modified, dns).detail
    assert verify_dkim(mail(5), dns).result == "none"
    assert verify_dkim(sign(mail(6), key), FakeDns({})).detail == "no public key in DNS"

    def dns_down(name: str) -> str | None:
        raise dkim.DnsTimeoutError("dns.exception.Timeout")

    down = verify_dkim(sign(mail(6), key), dns_down)
    assert (down.result, down.detail) == ("temperror", "DNS lookup failed: dns.exception.Timeout")


def test_key_rotation_keeps_verification_from_the_recorded_key(
    three: EvidenceArchive, dns: FakeDns
) -> None:
    raw = three.read_object(three.entries()[0].sha256)
    dns.records[DNS_NAME] = Key().record  # the sender rotated its key after arrival
    assert verify_dkim(raw, dns).result == "fail"  # a fresh check would now fail...
    dns.asked.clear()
    result = three.verify()
    assert result.ok and result.dkim_rechecked == 3  # ...the archive still proves it
    assert dns.asked == []  # verify never asks DNS


# --- export ------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "first"), [("fr", "Rapport"), ("en", "Written-agreement")])
def test_export_folder(three: EvidenceArchive, tmp_path: Path, language: str, first: str) -> None:
    out = tmp_path / "export"
    assert export_archive(three, out, language=language, now=T0).ok
    with (out / "index.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == INDEX_COLUMNS
    assert [r["seq"] for r in rows] == ["1", "2", "3"]
    for row, entry in zip(rows, three.entries(), strict=True):
        assert row["file"] == f"messages/{entry.seq:04d}_m{entry.seq}@acme.fr.eml"
        assert (out / row["file"]).read_bytes() == three.read_object(entry.sha256)
        assert row["dkim"] == "pass" and row["entry_hash"] == entry.entry_hash
    assert (out / "ledger.jsonl").read_bytes() == three.ledger.read_bytes()
    report = (out / "verification-report.txt").read_text(encoding="utf-8")
    assert report.startswith(first)
    assert "l'archive est intacte" in report and "the archive is intact" in report
    assert three.entries()[-1].entry_hash in report and DNS_NAME in report
    with pytest.raises(ConfigError, match="not empty"):
        export_archive(three, out, language=language, now=T0)


def test_export_of_a_broken_archive_says_so(three: EvidenceArchive, tmp_path: Path) -> None:
    flip_byte(three)
    result = export_archive(three, tmp_path / "out", language="fr", now=T0)
    assert not result.ok
    report = (tmp_path / "out" / "verification-report.txt").read_text(encoding="utf-8")
    assert "ALTÉRÉE. Première anomalie : entry 2" in report and "ALTERED" in report


# --- the app layer -----------------------------------------------------------------------


def settings_for(tmp_path: Path, **kw: object) -> Settings:
    rules = Rules(me=frozenset({ME}), clients=(ClientRule("acme", domains=(DOMAIN,)),))
    base: dict[str, object] = {
        "rules": rules,
        "accounts": (AccountSettings(name="main", type="imap", host="imap.example"),),
        "store_path": tmp_path / "rw.db",
        "archive_path": tmp_path / "archive",
    }
    return Settings(**(base | kw))  # type: ignore[arg-type]


PDF = (
    "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nCi-joint.\r\n"
    "--b1\r\nContent-Type: application/pdf\r\n"
    'Content-Disposition: attachment; filename="devis signé.pdf"\r\n\r\nJVBERi0=\r\n--b1--\r\n'
)
MAILBOX = {
    1: mail(1),  # an agreement from the client
    2: mail(2, "Bonjour,\r\n\r\nPouvez-vous valider le devis ?\r\n"),  # a question
    3: mail(3, From=ME, To=f"paul@{DOMAIN}"),  # written by me
    4: mail(4, From="jo@other.example"),  # not a client
    5: mail(5, **{"Auto-Submitted": "auto-generated"}),  # automated, from the client domain
    6: mail(6, "Voir la pièce jointe.\r\n"),  # no phrase, but the user set $RwAgreement
    7: mail(7, PDF, **{"Content-Type": 'multipart/mixed; boundary="b1"'}),  # signed quote
}


def memory_source() -> MemoryMailSource:
    src = MemoryMailSource("main", {INBOX: []})
    for n, data in MAILBOX.items():
        src.append(INBOX, data, internaldate=T0, keywords=(AGREEMENT_KEYWORD,) if n == 6 else ())
    return src


def run_hook(watcher: AgreementWatcher, src: MemoryMailSource, cut: int | None = None) -> None:
    """What the sync does per message; ``cut`` keeps header + ``cut`` bytes, as IMAP does."""
    hook = watcher.hook(src)
    for raw in src.fetch_since(INBOX, None):
        data = raw.data
        if cut is not None:
            end = data.index(b"\r\n\r\n") + 4
            data = data[: end + cut]
        partial = RawMessage(raw.folder, raw.uid, data, raw.internaldate, keywords=raw.keywords)
        hook(partial, parse_message(partial.data, internaldate=raw.internaldate))


def test_watcher_archives_only_client_agreements_and_marked_mail(
    tmp_path: Path, dns: FakeDns
) -> None:
    settings = settings_for(tmp_path)
    archive = EvidenceArchive(settings.archive_path, lookup=dns)
    run_hook(AgreementWatcher(settings, archive, now=lambda: T0), memory_source())
    got = {e.message_id: (e.client, e.phrase) for e in archive.entries()}
    assert got == {
        "m1@acme.fr": ("acme", "bon pour accord"),
        "m6@acme.fr": ("acme", "keyword:$RwAgreement"),
        "m7@acme.fr": ("acme", "attachment:devis signé.pdf"),
    }
    first = archive.entries()[0]
    assert archive.read_object(first.sha256) == MAILBOX[1]
    assert first.received_at == T0.isoformat() and first.dkim.result == "none"
    run_hook(AgreementWatcher(settings, archive, now=lambda: T0), memory_source())
    assert len(archive.entries()) == 3  # a second sync adds nothing
    assert agreements_by_client(settings.archive_path) == {"acme": 3}
    assert len(archive_evidence.agreements_since(settings.archive_path, T0)) == 3
    assert archive_evidence.agreements_since(settings.archive_path, T0 + timedelta(seconds=1)) == []


def test_watcher_fetches_the_full_original_beyond_the_2kb_prefix(
    tmp_path: Path, dns: FakeDns, key: Key
) -> None:
    settings = settings_for(tmp_path)
    long = sign(mail(1, "Bonjour,\r\n\r\nJe valide le devis.\r\n\r\n" + "x" * 5000 + "\r\n"), key)
    src = MemoryMailSource("main", {INBOX: []})
    src.append(INBOX, long, internaldate=T0)
    archive = EvidenceArchive(settings.archive_path, lookup=dns)
    run_hook(AgreementWatcher(settings, archive, now=lambda: T0), src, cut=2048)
    (entry,) = archive.entries()
    assert archive.read_object(entry.sha256) == long
    assert (entry.phrase, entry.dkim.result) == ("je valide", "pass")


def test_detection_off_still_honours_the_keyword(tmp_path: Path, dns: FakeDns) -> None:
    settings = settings_for(tmp_path, archive_detect=False)
    archive = EvidenceArchive(settings.archive_path, lookup=dns)
    run_hook(AgreementWatcher(settings, archive, now=lambda: T0), memory_source())
    assert [e.message_id for e in archive.entries()] == ["m6@acme.fr"]


def test_a_local_archive_failure_does_not_stop_the_sync(tmp_path: Path, dns: FakeDns) -> None:
    settings = settings_for(tmp_path)
    (tmp_path / "archive").write_text("a file where the folder should be")
    archive = EvidenceArchive(settings.archive_path, lookup=dns)
    run_hook(AgreementWatcher(settings, archive, now=lambda: T0), memory_source())  # no raise


@pytest.fixture
def synced(tmp_path: Path) -> tuple[Settings, SqliteStore, MemoryMailSource]:
    settings = settings_for(tmp_path)
    store = SqliteStore.open(settings.store_path)
    src = memory_source()
    sync_source(src, store, now=lambda: T0)
    return settings, store, src


def test_archive_add_by_message_id(
    synced: tuple[Settings, SqliteStore, MemoryMailSource], dns: FakeDns
) -> None:
    settings, store, src = synced
    app = bootstrap(settings, clock=FixedClock(T0), store=store, source_factory=lambda a: src)
    archive = EvidenceArchive(settings.archive_path, lookup=dns)
    entry, added = add_by_message_id(app, archive, " <m2@acme.fr> ")
    assert added and (entry.message_id, entry.client, entry.phrase) == (
        "m2@acme.fr",
        "acme",
        "manual",
    )
    assert archive.read_object(entry.sha256) == MAILBOX[2]
    assert add_by_message_id(app, archive, "m2@acme.fr") == (entry, False)
    with pytest.raises(ConfigError, match="MESSAGE_ID nope@x: cannot fetch"):
        add_by_message_id(app, archive, "nope@x")


def test_keyword_set_later_is_caught_up(
    synced: tuple[Settings, SqliteStore, MemoryMailSource], dns: FakeDns
) -> None:
    settings, store, src = synced
    store.add_keywords([("m4@acme.fr", AGREEMENT_KEYWORD), ("gone@x", AGREEMENT_KEYWORD)], T0)
    app = bootstrap(settings, clock=FixedClock(T0), store=store, source_factory=lambda a: src)
    archive = EvidenceArchive(settings.archive_path, lookup=dns)
    added = archive_new_agreements(app, archive)
    assert {e.message_id for e in added} == {"m4@acme.fr", "m6@acme.fr"}  # "gone@x" skipped
    assert archive_new_agreements(app, archive) == []
    rows = archive_evidence.digest_agreements(app, T0)
    shown = "keyword:$RwAgreement · DKIM none"  # the verdict next to each agreement
    assert ("jo@other.example", shown, T0, "m4@acme.fr") in rows and len(rows) == 2


def test_cli_list_verify_export(three: EvidenceArchive, tmp_path: Path) -> None:
    config = tmp_path / "rw.toml"
    config.write_text(
        f'[me]\naddresses = ["{ME}"]\nlanguage = "en"\n[archive]\npath = "{three.root}"\n'
        f'[store]\npath = "{tmp_path / "rw.db"}"\n'
    )
    runner = CliRunner()
    listed = runner.invoke(cli, ["archive", "list", "--config", str(config), "--format", "json"])
    assert listed.exit_code == 0, listed.output
    docs = json.loads(listed.stdout)
    assert docs[0] == archive_evidence.entry_json(three.entries()[0])
    assert set(docs[0]) == {
        "message_id",
        "client",
        "phrase",
        "sha256",
        "received_at",
        "archived_at",
        "dkim",
        "dkim_domain",
    }
    assert (docs[0]["dkim"], docs[0]["dkim_domain"]) == ("pass", DOMAIN)
    table = runner.invoke(cli, ["archive", "list", "--config", str(config)])
    assert table.exit_code == 0 and "m3@acme.fr" in table.stdout
    ok = runner.invoke(cli, ["archive", "verify", "--config", str(config)])
    assert ok.exit_code == 0 and "3 entries" in ok.stdout, ok.output
    exported = runner.invoke(
        cli, ["archive", "export", str(tmp_path / "x"), "--config", str(config)]
    )
    assert exported.exit_code == 0
    report = (tmp_path / "x" / "verification-report.txt").read_text(encoding="utf-8")
    assert report.startswith("Written-agreement")  # me.language = "en" comes first
    edit_field(three)
    broken = runner.invoke(cli, ["archive", "verify", "--config", str(config)])
    assert broken.exit_code == 4
    assert "entry 2 (m2@acme.fr)" in broken.stderr

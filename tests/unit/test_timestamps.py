"""RFC 3161 timestamps of the ledger head against a real TSA (``openssl ts -reply`` behind
HTTP, tests/servers/tsa.py), the tamper cases after timestamping, and the export a third
party checks with standard tools: VERIFY.txt is run AS WRITTEN with bash, the PDF is
rendered by WeasyPrint and rasterised by pdftoppm."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs
from tests.servers.tsa import LocalTsa, make_ca
from tests.unit.test_archive import DOMAIN, FakeDns, Key, mail, sign
from typer.testing import CliRunner

from responsewatch.adapters.archive import (
    GENESIS,
    EvidenceArchive,
    canonical,
    entry_hash,
)
from responsewatch.adapters.archive.report import clean_text
from responsewatch.adapters.timestamps import (
    Timestamper,
    list_tokens,
    verify_tokens,
)
from responsewatch.app.bootstrap import FixedClock, bootstrap
from responsewatch.app.timestamp_app import check_timestamps, stamp_archive
from responsewatch.cli import app as cli
from responsewatch.config import AccountSettings, Settings, settings_from_mapping
from responsewatch.core.rules import ClientRule, Rules
from responsewatch.errors import ConfigError

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ME = "claire@martin-conseil.fr"


@pytest.fixture(scope="module")
def tsa() -> Iterator[LocalTsa]:
    server = LocalTsa.start_new()  # raises (a test error, never a skip) without openssl
    yield server
    server.close()


@pytest.fixture(scope="module")
def key() -> Key:
    return Key()


def settings(tmp_path: Path, tsa: LocalTsa, **kw: object) -> Settings:
    rules = Rules(me=frozenset({ME}), clients=(ClientRule("acme", domains=(DOMAIN,)),))
    base: dict[str, object] = {
        "rules": rules,
        "language": "en",
        "store_path": tmp_path / "rw.db",
        "archive_path": tmp_path / "archive",
        "archive_tsa_urls": (tsa.url,),
        "archive_tsa_ca_file": tsa.ca_file,
    }
    return Settings(**(base | kw))  # type: ignore[arg-type]


def add(archive: EvidenceArchive, key: Key, *numbers: int) -> None:
    for n in numbers:
        archive.add(
            sign(mail(n, Subject=f"Devis {n}"), key),
            message_id=f"m{n}@{DOMAIN}",
            client="acme",
            phrase="bon pour accord",
            excerpt="Bon pour accord sur le devis.",
            received_at=T0,
            now=T0,
        )


@pytest.fixture
def stamped(tmp_path: Path, tsa: LocalTsa, key: Key) -> tuple[Settings, EvidenceArchive]:
    s = settings(tmp_path, tsa)
    archive = EvidenceArchive(
        s.archive_path, lookup=FakeDns({f"mail2026._domainkey.{DOMAIN}": key.record})
    )
    add(archive, key, 1, 2, 3)
    assert len(stamp_archive(s, archive, T0)) == 1
    return s, archive


def config_file(tmp_path: Path, s: Settings, ca: Path | None = None) -> Path:
    path = tmp_path / "rw.toml"
    path.write_text(
        f'[me]\naddresses = ["{ME}"]\nlanguage = "{s.language}"\n'
        f'[archive]\npath = "{s.archive_path}"\ntsa_urls = ["{s.archive_tsa_urls[0]}"]\n'
        f'tsa_ca_file = "{ca or s.archive_tsa_ca_file}"\n'
        f'[store]\npath = "{tmp_path / "rw.db"}"\n'
    )
    return path


# --- requesting and storing -------------------------------------------------------------


def test_head_is_timestamped_stored_private_and_verified(
    stamped: tuple[Settings, EvidenceArchive], tsa: LocalTsa, key: Key
) -> None:
    s, archive = stamped
    (token,) = list_tokens(archive.root)[0]
    _seq, head = archive.head()
    assert (token.seq, token.entry_hash) == (3, head)
    assert token.name.startswith(f"00000003-{head}-")
    assert stat.S_IMODE(token.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(token.path.parent.stat().st_mode) == 0o700
    # The imprint is the entry hash, i.e. the SHA-256 of the canonical entry file.
    line = archive.ledger.read_bytes().splitlines()[2]
    doc = json.loads(line)
    assert (
        hashlib.sha256(canonical({k: v for k, v in doc.items() if k != "entry_hash"})).hexdigest()
        == head
    )
    report = verify_tokens(archive.root, archive.verify(), s.archive_tsa_ca_file, expected=True)
    assert report.problems == () and report.warnings == () and report.covered_through == 3
    assert "Test Time-Stamp Authority" in report.checks[0].authority
    # An up-to-date head is not sent again; a new entry is.
    before = tsa.requests
    assert stamp_archive(s, archive, T0) == []
    assert tsa.requests == before
    add(archive, key, 4)
    (new,) = stamp_archive(s, archive, T0)
    assert new.seq == 4 and tsa.requests == before + 1
    report = verify_tokens(archive.root, archive.verify(), s.archive_tsa_ca_file)
    assert report.covered_through == 4 and report.covering(2) is not None
    assert report.covering(2).token.seq == 3  # type: ignore[union-attr]  # the oldest proof


def test_cli_verify_lists_tokens_and_uncovered_entries(
    stamped: tuple[Settings, EvidenceArchive], tsa: LocalTsa, key: Key, tmp_path: Path
) -> None:
    s, archive = stamped
    add(archive, key, 4)  # not stamped yet
    runner = CliRunner()
    ok = runner.invoke(cli, ["archive", "verify", "--config", str(config_file(tmp_path, s))])
    assert ok.exit_code == 0, ok.output
    assert "1 of 1 token(s) verified; entries 1-3 covered" in ok.stdout
    assert "entries 4 not yet covered by any timestamp token" in ok.stdout


def test_a_wrong_ca_is_rejected(stamped: tuple[Settings, EvidenceArchive], tmp_path: Path) -> None:
    s, archive = stamped
    other = make_ca(tmp_path / "other-ca", "Someone Else")
    merged, report = check_timestamps(
        dataclasses.replace(s, archive_tsa_ca_file=other), archive, archive.verify()
    )
    assert report.covered_through == 0 and not merged.ok
    assert "signature or TSA certificate chain does not verify" in str(merged.problems[0])
    runner = CliRunner()
    bad = runner.invoke(
        cli, ["archive", "verify", "--config", str(config_file(tmp_path, s, other))]
    )
    assert bad.exit_code == 4
    assert "timestamp token 00000003-" in bad.stderr


def test_tsa_down_never_fails_the_sync_and_is_retried_later(tmp_path: Path, tsa: LocalTsa) -> None:
    mbox = tmp_path / "in.mbox"
    body = "Bonjour,\n\nBon pour accord sur le devis.\n"
    mbox.write_bytes(
        b"From paul@acme.fr Mon Mar  2 09:00:01 2026\n"
        + mail(1, body).replace(b"\r\n", b"\n")
        + b"\n"
    )
    s = settings(tmp_path, tsa, accounts=(AccountSettings("old", "mbox", path=str(mbox)),))
    clock = FixedClock(T0)
    app = bootstrap(s, clock=clock)
    tsa.down()
    try:
        with capture_logs() as logs:
            assert [r.error for r in app.sync_once()] == [None]
        assert len(EvidenceArchive(s.archive_path).entries()) == 1  # archived all the same
        assert list_tokens(s.archive_path)[0] == []
        assert any(e["event"] == "timestamp.failed" for e in logs)
        tsa.up()
        app.sync_once()  # within the wait: the TSA is not asked again yet
        assert list_tokens(s.archive_path)[0] == []
        clock.at = T0 + timedelta(minutes=2)
        app.sync_once()
        assert len(list_tokens(s.archive_path)[0]) == 1
    finally:
        tsa.up()
        app.close()


def test_a_hanging_or_absent_tsa_costs_a_bounded_time(tmp_path: Path, key: Key) -> None:
    archive = EvidenceArchive(tmp_path / "archive", lookup=lambda n: None)
    add(archive, key, 1)
    hanging = socket.socket()
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(1)  # accepts the connection in the backlog, never answers
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, not listening: connection refused
    try:
        urls = [
            f"http://127.0.0.1:{hanging.getsockname()[1]}/",
            f"http://127.0.0.1:{closed.getsockname()[1]}/",
        ]
        started = time.monotonic()
        assert Timestamper(urls, timeout=0.5).stamp(archive.root, T0) == []
        assert time.monotonic() - started < 5
    finally:
        hanging.close()
        closed.close()


# --- tampering after the timestamp --------------------------------------------------------


def problems_of(s: Settings, archive: EvidenceArchive) -> list[str]:
    merged, _report = check_timestamps(s, archive, archive.verify())
    return [str(p) for p in merged.problems]


def test_flipped_byte_in_a_covered_eml_names_entry_and_token(
    stamped: tuple[Settings, EvidenceArchive],
) -> None:
    s, archive = stamped
    path = archive.object_path(archive.entries()[1].sha256)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    token = list_tokens(archive.root)[0][0].name
    found = problems_of(s, archive)
    assert any(p.startswith("entry 2 (m2@acme.fr): archived message bytes changed") for p in found)
    assert any(
        p.startswith("entry 2 (m2@acme.fr): changed after it was timestamped") and token in p
        for p in found
    )


def test_edited_ledger_line_names_entry_and_token(
    stamped: tuple[Settings, EvidenceArchive],
) -> None:
    s, archive = stamped
    lines = archive.ledger.read_bytes().splitlines(keepends=True)
    lines[0] = lines[0].replace(b"bon pour accord", b"bon pour rien!!")
    archive.ledger.write_bytes(b"".join(lines))
    token = list_tokens(archive.root)[0][0].name
    found = problems_of(s, archive)
    assert any(p.startswith("entry 1 (m1@acme.fr): entry hash does not match") for p in found)
    assert any(p.startswith("entry 1 (m1@acme.fr): changed after") and token in p for p in found)
    # Editing the covered head itself breaks the token too.
    lines[2] = lines[2].replace(b"bon pour accord", b"bon pour rien!!")
    archive.ledger.write_bytes(b"".join(lines))
    assert any(p.startswith(f"entry 3: timestamp token {token}") for p in problems_of(s, archive))


def rebuild_chain(ledger: Path, change: bytes = b"bon pour rien!!") -> None:
    """What a forger with write access does: change an entry and re-hash the whole chain
    consistently, so the archive's own checks see nothing."""
    prev, out = GENESIS, []
    for n, line in enumerate(ledger.read_bytes().splitlines()):
        doc = json.loads(line.replace(b"bon pour accord", change) if n == 1 else line)
        doc["prev_hash"] = prev
        doc["entry_hash"] = prev = entry_hash(doc)
        out.append(canonical(doc) + b"\n")
    ledger.write_bytes(b"".join(out))


def test_rebuilt_chain_is_caught_by_the_token(
    stamped: tuple[Settings, EvidenceArchive], tmp_path: Path
) -> None:
    s, archive = stamped
    rebuild_chain(archive.ledger)
    assert archive.verify().ok  # the chain alone cannot tell
    token = list_tokens(archive.root)[0][0].name
    found = problems_of(s, archive)
    assert len(found) == 1 and f"timestamp token {token}" in found[0]
    assert "edited or rebuilt" in found[0] and "entries 1-3" in found[0]
    runner = CliRunner()
    bad = runner.invoke(cli, ["archive", "verify", "--config", str(config_file(tmp_path, s))])
    assert bad.exit_code == 4 and token in bad.stderr


def test_without_tsa_configured_verify_is_unchanged(tmp_path: Path, key: Key) -> None:
    archive = EvidenceArchive(tmp_path / "archive", lookup=lambda n: None)
    add(archive, key, 1)
    plain = Settings(rules=Rules(me=frozenset({ME})), archive_path=archive.root)
    result = archive.verify()
    merged, report = check_timestamps(plain, archive, result)
    assert merged is result and report.lines() == []
    assert stamp_archive(plain, archive, T0) == [] and not (archive.root / "timestamps").exists()


# --- the export -------------------------------------------------------------------------


def run_verify(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "VERIFY.txt"], cwd=directory, capture_output=True, text=True, timeout=60
    )


def test_export_verifies_with_standard_tools_and_fails_when_tampered(
    stamped: tuple[Settings, EvidenceArchive], tmp_path: Path
) -> None:
    s, archive = stamped
    s = dataclasses.replace(s, language="fr")
    out = tmp_path / "export"
    runner = CliRunner()
    done = runner.invoke(
        cli, ["archive", "export", str(out), "--config", str(config_file(tmp_path, s))]
    )
    assert done.exit_code == 0, done.output
    token = list_tokens(archive.root)[0][0].name
    assert (out / "tokens" / token).read_bytes() == (
        archive.root / "timestamps" / token
    ).read_bytes()
    assert sorted(p.name for p in (out / "chain").iterdir()) == [
        f"00000{n}.json" for n in (1, 2, 3)
    ]
    clean = run_verify(out)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.count("OK    ") == 3 + 3 + 1 and "ALL CHECKS PASSED" in clean.stdout

    def tampered(name: str, change: object) -> str:
        copy = tmp_path / name
        subprocess.run(["cp", "-a", str(out), str(copy)], check=True)
        assert callable(change)
        change(copy)
        result = run_verify(copy)
        assert result.returncode == 1 and "SOME CHECKS FAILED" in result.stdout
        return result.stdout

    def flip(copy: Path) -> None:
        eml = sorted((copy / "messages").iterdir())[1]
        data = bytearray(eml.read_bytes())
        data[-5] ^= 0x01
        eml.write_bytes(bytes(data))

    assert "FAIL  entry 2: messages/0002_" in tampered("flip", flip)

    def edit(copy: Path) -> None:
        ledger = copy / "ledger.jsonl"
        ledger.write_bytes(ledger.read_bytes().replace(b"bon pour accord", b"bon pour rien!!", 1))

    assert "FAIL  entry 1: the chain is broken here" in tampered("edit", edit)

    def rebuild(copy: Path) -> None:
        rebuild_chain(copy / "ledger.jsonl")
        for n, line in enumerate((copy / "ledger.jsonl").read_bytes().splitlines(), start=1):
            doc = json.loads(line)
            del doc["entry_hash"]
            (copy / "chain" / f"{n:06d}.json").write_bytes(canonical(doc))

    def remove(copy: Path) -> None:  # entry 2 taken out, the rest renumbered
        ledger = copy / "ledger.jsonl"
        lines = ledger.read_bytes().splitlines(keepends=True)
        ledger.write_bytes(lines[0] + lines[2])
        (copy / "chain" / "000003.json").replace(copy / "chain" / "000002.json")

    assert "FAIL  entry 2: the chain is broken here" in tampered("remove", remove)

    shown = tampered("rebuild", rebuild)
    assert "FAIL  entry" not in shown  # the chain is consistent again...
    assert f"FAIL  token {token}" in shown  # ...but not what the TSA signed


def test_pdf_report_renders_with_every_field(
    stamped: tuple[Settings, EvidenceArchive], tmp_path: Path, key: Key
) -> None:
    s, archive = stamped
    hostile = "Devis \u202e<b>txet</b>\x1b[31m"
    archive.add(
        sign(mail(9, Subject=hostile), key),
        message_id=f"m9@{DOMAIN}",
        client="acme",
        phrase="je valide",
        excerpt="Je valide <script>x</script>",
        received_at=T0,
        now=T0,
    )
    out = tmp_path / "export"
    runner = CliRunner()
    done = runner.invoke(
        cli, ["archive", "export", str(out), "--config", str(config_file(tmp_path, s))]
    )
    assert done.exit_code == 0, done.output
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(out / "report.pdf"), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    first = archive.entries()[0]
    for want in (
        "paul@acme.fr", "Devis 1", "bon pour accord", "Bon pour accord sur le devis.",
        first.sha256[:32], "pass", f"mail2026._domainkey.{DOMAIN}", "Test Time-Stamp Authority",
        "Entry no. 3", "not yet timestamped", "<script>x</script>", "<b>txet</b>",
    ):  # fmt: skip
        assert want in text, want
    assert "\u202e" not in text and "\x1b" not in text
    png = tmp_path / "page"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(out / "report.pdf"), str(png)],
        check=True,
    )
    (image,) = tmp_path.glob("page*.png")
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size > 2000


@given(st.text())
def test_clean_text_leaves_no_control_or_bidi_character(value: str) -> None:
    out = clean_text(value)
    assert len(out) <= 500
    assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in out)
    assert not any(c in out for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


# --- configuration ----------------------------------------------------------------------


def test_tsa_config_keys(tmp_path: Path) -> None:
    raw = {
        "me": {"addresses": [ME]},
        "archive": {
            "tsa_urls": ["https://freetsa.org/tsr"],
            "tsa_ca_file": "ca.pem",
            "timestamp_every": "1h",
        },
    }
    s = settings_from_mapping(raw, base=tmp_path)
    assert s.archive_tsa_urls == ("https://freetsa.org/tsr",)
    assert s.archive_tsa_ca_file == tmp_path / "ca.pem"
    assert s.archive_timestamp_every_s == 3600
    assert settings_from_mapping({"me": {"addresses": [ME]}}).archive_tsa_urls == ()
    for bad, key in (
        ({"tsa_urls": ["ftp://x"]}, "archive.tsa_urls"),
        ({"timestamp_every": "2d"}, "archive.timestamp_every"),
        ({"tsa_urls": "https://x"}, "archive.tsa_urls"),
    ):
        with pytest.raises(ConfigError, match=key):
            settings_from_mapping({"me": {"addresses": [ME]}, "archive": bad})


def test_timestamp_every_waits_but_not_beyond_it(tmp_path: Path, tsa: LocalTsa, key: Key) -> None:
    archive = EvidenceArchive(tmp_path / "archive", lookup=lambda n: None)
    add(archive, key, 1)
    stamper = Timestamper([tsa.url], every=timedelta(hours=1))
    now = datetime.now(UTC)
    assert len(stamper.stamp(archive.root, now)) == 1
    add(archive, key, 2)
    assert stamper.stamp(archive.root, now + timedelta(minutes=30)) == []
    assert len(stamper.stamp(archive.root, now + timedelta(minutes=61))) == 1
    assert os.listdir(archive.root / "timestamps") and len(list_tokens(archive.root)[0]) == 2


def test_a_replayed_or_foreign_answer_is_not_stored(
    stamped: tuple[Settings, EvidenceArchive], tsa: LocalTsa, key: Key
) -> None:
    _s, archive = stamped
    (token,) = list_tokens(archive.root)[0]
    old = token.path.read_bytes()
    token.path.unlink()
    replay = Timestamper([tsa.url], post=lambda url, query, timeout: old)  # same head, old nonce
    with capture_logs() as logs:
        assert replay.stamp(archive.root, T0) == []
    assert "nonce" in logs[-1]["error"] and list_tokens(archive.root)[0] == []
    add(archive, key, 4)  # a genuine token, but for another head
    assert Timestamper([tsa.url], post=lambda u, q, t: old).stamp(archive.root, T0) == []
    assert list_tokens(archive.root)[0] == []
    # A fresh, signed answer with the right nonce, for another hash: refused too.
    head = bytes.fromhex(archive.head()[1])

    def other_hash(url: str, query: bytes, timeout: float) -> bytes:
        return tsa.reply(query.replace(head, bytes(32))) or b""

    with capture_logs() as logs:
        assert Timestamper([tsa.url], post=other_hash).stamp(archive.root, T0) == []
    assert "does not cover the hash sent" in logs[-1]["error"]


def test_deleted_entries_after_a_timestamp_and_a_missing_ca(
    stamped: tuple[Settings, EvidenceArchive],
) -> None:
    s, archive = stamped
    lines = archive.ledger.read_bytes().splitlines(keepends=True)
    archive.ledger.write_bytes(b"".join(lines[:2]))
    found = problems_of(s, archive)
    assert any("covers entry 3 but the ledger holds 2" in p for p in found)
    gone = dataclasses.replace(s, archive_tsa_ca_file=archive.root / "nope.pem")
    with pytest.raises(ConfigError, match=r"archive\.tsa_ca_file"):
        check_timestamps(gone, archive, archive.verify())

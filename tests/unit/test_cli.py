"""Every command through the CLI: output contract, exit codes, bad input."""

from __future__ import annotations

import gzip
import json
import os
import random
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from tests.support.build import HOUR, ME, T0, raw
from typer.testing import CliRunner

from responsewatch.cli import app

runner = CliRunner()
README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def mailbox(tmp_path: Path) -> Path:
    """A directory of .eml files: one answered turn, one awaiting, one automated."""
    box = tmp_path / "box"
    box.mkdir()
    files = {
        "1.eml": raw("c1@acme.fr", "jean@acme.fr", [ME], T0, received=T0 + timedelta(seconds=30)),
        "2.eml": raw(
            "r1@m", ME, ["jean@acme.fr"], T0 + 2 * HOUR, refs=["c1@acme.fr"], subject="RE: Projet"
        ),
        "3.eml": raw(
            "c2@sub.acme.fr",
            "dg@sub.acme.fr",
            [ME],
            T0 + 3 * HOUR,
            subject="Budget",
            received=T0 + 3 * HOUR,
        ),
        "4.eml": raw("n1@acme.fr", "noreply@acme.fr", [ME], T0, subject="Notification"),
        "notes.txt": b"this file holds no header at all\n",
    }
    for name, data in files.items():
        (box / name).write_bytes(data)
    return box


def test_analyze_json_contract(mailbox: Path) -> None:
    result = invoke(
        "analyze",
        mailbox,
        "--me",
        ME,
        "--client",
        "Acme=acme.fr",
        "--now",
        "2026-11-03T10:00",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"now", "sla", "totals", "clients", "awaiting", "replies", "client_replies"}
    assert doc["now"] == "2026-11-03T09:00:00+00:00"  # 10:00 in Paris, printed in UTC
    assert doc["sla"] == {
        "reply_within_seconds": 86400,
        "warn_at_seconds": 64800,
        "clock": "calendar",
    }
    assert doc["totals"] == {"messages": 4, "conversations": 3, "automated": 1, "undated": 0}
    (acme,) = doc["clients"]
    assert acme["client"] == "Acme"
    assert (acme["client_messages"], acme["turns"], acme["replied"], acme["awaiting"]) == (
        2,
        2,
        1,
        1,
    )
    (reply,) = doc["replies"]
    assert reply["message_id"] == "c1@acme.fr" and reply["reply_message_id"] == "r1@m"
    assert reply["latency_seconds"] == 2 * 3600 - 30
    assert reply["received_at"] == "2026-11-02T09:00:30+00:00"
    (waiting,) = doc["awaiting"]
    assert waiting["first_unanswered_message_id"] == "c2@sub.acme.fr"
    assert waiting["state"] == "due_soon"  # 21 h old at 10:00 Paris the next day
    assert waiting["age_seconds"] == 21 * 3600
    assert doc["client_replies"] == []


def test_analyze_csv_and_table(mailbox: Path) -> None:
    csv_out = invoke("analyze", mailbox, "--me", ME, "--client", "Acme=acme.fr", "--format", "csv")
    assert csv_out.exit_code == 0
    header, row = csv_out.stdout.strip().splitlines()
    assert header.startswith("client,client_messages,turns")
    assert row.startswith("Acme,2,2,1")
    table = invoke("analyze", mailbox, "--me", ME, "--now", "2026-11-03T10:00")
    assert table.exit_code == 0
    assert "acme.fr" in table.stdout and "due_soon" in table.stdout


def test_analyze_client_address_beats_domain(mailbox: Path) -> None:
    result = invoke(
        "analyze",
        mailbox,
        "--me",
        ME,
        "--client",
        "Acme=acme.fr",
        "--client",
        "Boss=dg@sub.acme.fr",
        "--format",
        "json",
    )
    doc = json.loads(result.stdout)
    assert {c["client"]: c["client_messages"] for c in doc["clients"]} == {"Acme": 1, "Boss": 1}


def test_analyze_needs_me(mailbox: Path) -> None:
    result = invoke("analyze", mailbox)
    assert result.exit_code == 2
    assert "--me" in result.stderr


def test_analyze_nonexistent_path(tmp_path: Path) -> None:
    result = invoke("analyze", tmp_path / "nope", tmp_path / "nope2", "--me", ME)
    assert result.exit_code == 2
    assert "nope: no such file" in result.stderr and "nope2" in result.stderr


def test_unreadable_and_headerless_files_are_skipped(mailbox: Path) -> None:
    os.symlink(mailbox / "missing-target", mailbox / "dangling.eml")
    (mailbox / "dir.eml").mkdir()
    result = invoke("threads", mailbox, "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["messages"] == 4
    assert doc["skipped"] == 2  # notes.txt (no header) + the dangling link
    assert "skipped" in result.stderr


def test_corrupt_gz_keeps_what_was_read_and_counts_the_file(tmp_path: Path) -> None:
    noise = random.Random(1)
    mbox = b"".join(
        b"From x Mon Nov  2 10:00:00 2026\n"
        + raw(f"m{i}@x", "a@x.fr", [ME], T0, body=noise.randbytes(3000).hex() + "\n")
        + b"\n"
        for i in range(300)
    )
    packed = gzip.compress(mbox)
    (tmp_path / "box.mbox.gz").write_bytes(packed[: len(packed) // 2])
    result = invoke("threads", tmp_path / "box.mbox.gz")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["skipped"] == 1
    assert 0 < doc["messages"] < 300
    assert "corrupt" in result.stderr


def test_threads_json_and_table(mailbox: Path) -> None:
    result = invoke("threads", mailbox, "--me", ME)
    doc = json.loads(result.stdout)
    groups = sorted(sorted(t["message_ids"]) for t in doc["threads"])
    assert groups == [["c1@acme.fr", "r1@m"], ["c2@sub.acme.fr"], ["n1@acme.fr"]]
    assert all(t["thread_id"] for t in doc["threads"])
    table = invoke("threads", mailbox, "--format", "table")
    assert table.exit_code == 0 and "3 conversations" in table.stdout


def test_invalid_toml_names_the_problem(tmp_path: Path, mailbox: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[me]\naddresses = [\n")
    result = invoke("analyze", mailbox, "--config", bad)
    assert result.exit_code == 2 and "invalid TOML" in result.stderr
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(
        '[me]\naddresses = ["a@b.c"]\n[sla]\nreply_within = "soon"\nwarn_at = 5\n'
        '[[accounts]]\nname = "x"\ntype = "imap"\nhost = "h"\npassword = "p"\n'
    )
    result = invoke("check", "--config", wrong)
    assert result.exit_code == 2
    for key in (
        "sla.reply_within",
        "sla.warn_at",
        "accounts[x].password",
        "accounts[x].password_command",
    ):
        assert key in result.stderr
    assert "p\n" not in result.stderr


def _config(tmp_path: Path, box: Path) -> Path:
    cfg = tmp_path / "rw.toml"
    cfg.write_text(
        f'[me]\naddresses = ["{ME}"]\n'
        f'[store]\npath = "{tmp_path / "store.db"}"\n'
        f'[[clients]]\nname = "Acme"\ndomains = ["acme.fr"]\n'
        f'[[accounts]]\nname = "files"\ntype = "maildir"\npath = "{box}"\n'
    )
    return cfg


def test_sync_report_ack_round_trip(tmp_path: Path, mailbox: Path) -> None:
    cfg = _config(tmp_path, mailbox)
    assert invoke("report", "--config", cfg).exit_code == 2  # no store yet: says to sync
    synced = invoke("sync", "--config", cfg, "--once")
    assert synced.exit_code == 0, synced.output
    assert "4 new" in synced.stderr
    again = invoke("sync", "--config", cfg, "--once")
    assert "0 new" in again.stderr
    rep = invoke("report", "--config", cfg, "--now", "2026-11-03T10:00", "--format", "json")
    doc = json.loads(rep.stdout)
    insights = doc.pop("insights")
    assert set(insights) >= {"after_hours", "long_missions", "quiet", "rising", "my_latency"}
    analyzed = json.loads(
        invoke(
            "analyze", mailbox, "--config", cfg, "--now", "2026-11-03T10:00", "--format", "json"
        ).stdout
    )
    assert doc == analyzed
    thread = doc["awaiting"][0]["thread_id"]
    acked = invoke("ack", thread, "--config", cfg, "--now", "2026-11-03T11:00")
    assert acked.exit_code == 0, acked.output
    after = json.loads(
        invoke("report", "--config", cfg, "--now", "2026-11-03T12:00", "--format", "json").stdout
    )
    assert after["awaiting"] == []
    assert after["clients"][0]["acknowledged"] == 1
    assert invoke("ack", thread, "--config", cfg).exit_code == 2  # nothing left to ack
    assert invoke("ack", "t-unknown", "--config", cfg).exit_code == 2


def test_sync_without_once_is_a_usage_error(tmp_path: Path, mailbox: Path) -> None:
    assert invoke("sync", "--config", _config(tmp_path, mailbox)).exit_code == 2


def test_check_file_account(tmp_path: Path, mailbox: Path) -> None:
    result = invoke("check", "--config", _config(tmp_path, mailbox))
    assert result.exit_code == 0
    assert "maildir at" in result.stdout
    missing = tmp_path / "m.toml"
    missing.write_text(_config(tmp_path, tmp_path / "gone").read_text())
    result = invoke("check", "--config", missing)
    assert result.exit_code == 3 or result.exit_code == 2


def test_demo_runs_the_whole_pipeline(tmp_path: Path) -> None:
    result = invoke("demo", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["totals"]["messages"] > 100
    assert {c["client"] for c in doc["clients"]} == {"Acme", "Bolt", "Celsius", "Dune", "Eiffel"}
    assert doc["awaiting"] and doc["replies"]
    # Eiffel expects a weekly update: the last one was on 11 November, due a week later.
    rows = {c["client"]: c for c in doc["clients"]}
    eiffel = rows.pop("Eiffel")
    assert eiffel["last_update_at"] == "2026-11-11T10:00:00+00:00"
    assert eiffel["update_due_at"] == "2026-11-18T10:00:00+00:00"
    assert eiffel["updates_late"] == 2
    assert all("update_due_at" not in c for c in rows.values())
    table = invoke("demo", "--keep", tmp_path / "demo")
    assert table.exit_code == 0 and "My replies, per client" in table.stdout
    assert "Last update" in table.stdout and "9 d (late)" in table.stdout
    assert "Eiffel: requests for reports or meetings 0.0 -> 0.5 a week while my updates" in (
        table.stdout
    )
    assert (tmp_path / "demo" / "responsewatch.db").exists()


def test_bad_now_is_a_usage_error(mailbox: Path) -> None:
    result = invoke("analyze", mailbox, "--me", ME, "--now", "yesterday")
    assert result.exit_code == 2 and "--now" in result.stderr


@pytest.mark.parametrize("name", sorted(typer.main.get_command(app).commands))  # type: ignore[attr-defined]
def test_command_has_help_and_docs(name: str) -> None:
    assert runner.invoke(app, [name, "--help"]).exit_code == 0
    assert f"responsewatch {name}" in README


def test_progress_bar_only_for_large_interactive_reads(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from responsewatch.app.commands import analyze_paths
    from responsewatch.cli.progress import PROGRESS_AFTER_MESSAGES, reading

    path = tmp_path / "big.mbox"
    with open(path, "wb") as out:
        for i in range(PROGRESS_AFTER_MESSAGES + 500):
            out.write(b"From x Mon Nov  2 10:00:00 2026\n" + raw(f"m{i}@x", "p@x.fr", [ME], T0))
            out.write(b"\n")
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    with reading(True, console) as tick:
        result = analyze_paths([path], me=[ME], clients=[], config=None, now=None, on_message=tick)
    assert result.analysis.totals.messages == PROGRESS_AFTER_MESSAGES + 500
    assert "messages" in screen.getvalue()
    small = io.StringIO()
    with reading(False, Console(file=small, force_terminal=True)) as tick:
        analyze_paths(
            [tmp_path / "big.mbox"], me=[ME], clients=[], config=None, now=None, on_message=tick
        )
    assert small.getvalue() == ""
    doc = invoke("analyze", path, "--me", ME, "--format", "json")
    json.loads(doc.stdout)  # nothing but the JSON document on stdout


def test_repeated_client_flag_gives_one_client_several_rules(mailbox: Path) -> None:
    (mailbox / "5.eml").write_bytes(
        raw("h1@holding", "boss@holding-acme.com", [ME], T0 + HOUR, subject="Holding")
    )
    result = invoke(
        "analyze",
        mailbox,
        "--me",
        ME,
        "--client",
        "Acme=acme.fr",
        "--client",
        "Acme=boss@holding-acme.com",
        "--format",
        "json",
    )
    (acme,) = json.loads(result.stdout)["clients"]
    assert acme["client"] == "Acme" and acme["client_messages"] == 3


def test_client_names_are_printed_as_given(mailbox: Path) -> None:
    result = invoke(
        "analyze", mailbox, "--me", ME, "--client", "ACME Corp (FR)=ACME.fr", "--format", "json"
    )
    assert [c["client"] for c in json.loads(result.stdout)["clients"]] == ["ACME Corp (FR)"]

"""The archive's commands print hostile Message-IDs and client names as plain text, and its
index.csv never hands a spreadsheet a formula."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from responsewatch.adapters.archive import EvidenceArchive
from responsewatch.cli import app
from tests.hostile.test_terminal_output import _BAD
from tests.support.build import ME, T0

HOSTILE_ID = '=HYPERLINK("http://evil.test")[/]\x1b[2J@evil.test'
HOSTILE_CLIENT = "+acme[/bold]"


def _archive(root: Path) -> EvidenceArchive:
    archive = EvidenceArchive(root, lookup=lambda _name: None)
    data = (
        f"From: paul@acme.fr\r\nTo: {ME}\r\nSubject: [/] ok\r\nMessage-ID: <{HOSTILE_ID}>\r\n"
        "\r\nBon pour accord.\r\n"
    ).encode()
    archive.add(
        data, message_id=HOSTILE_ID, client=HOSTILE_CLIENT, phrase="@go", received_at=T0, now=T0
    )
    return archive


def test_list_verify_export_with_hostile_values(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "archive")
    config = tmp_path / "rw.toml"
    config.write_text(
        f'[me]\naddresses = ["{ME}"]\n[archive]\npath = "{archive.root}"\n'
        f'[store]\npath = "{tmp_path / "rw.db"}"\n'
    )
    runner = CliRunner()
    table = runner.invoke(app, ["archive", "list", "--config", str(config)])
    assert table.exit_code == 0, table.output
    assert "[/]" in table.stdout and not _BAD.search(table.stdout)
    listed = json.loads(
        runner.invoke(app, ["archive", "list", "-c", str(config), "-f", "json"]).stdout
    )
    assert listed[0]["message_id"] == HOSTILE_ID  # JSON stays exact
    ok = runner.invoke(app, ["archive", "verify", "--config", str(config)])
    assert ok.exit_code == 0, ok.output
    out = tmp_path / "export"
    exported = runner.invoke(app, ["archive", "export", str(out), "--config", str(config)])
    assert exported.exit_code == 0, exported.output
    with (out / "index.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    cells = [c for row in rows[1:] for c in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert "'" + HOSTILE_ID in cells and "'" + HOSTILE_CLIENT in cells and "'@go" in cells
    # A broken archive: verify's documented exit 4, its message plain text.
    obj = archive.object_path(archive.entries()[0].sha256)
    obj.write_bytes(obj.read_bytes() + b"tampered")
    broken = runner.invoke(app, ["archive", "verify", "--config", str(config)])
    assert broken.exit_code == 4, broken.output
    assert broken.exception is None or isinstance(broken.exception, SystemExit)
    assert not _BAD.search(broken.output)

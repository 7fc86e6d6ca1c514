"""A Hypothesis generator of hostile messages (markup, control and bidi characters, extreme
sizes and dates, forged identities) run through every way mail text leaves the program:
``analyze`` and ``report`` in every format, the digest, and the archive's commands. Each must
exit 0 with no traceback, put no control character on a terminal, and stay fast."""

from __future__ import annotations

import csv
import io
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from responsewatch.adapters.archive import EvidenceArchive
from responsewatch.cli import app
from tests.hostile.test_terminal_output import _BAD
from tests.support.build import ME

NASTY = [
    "[/]",
    "[bold red]",
    "[link=http://evil.test]x[/link]",
    "\x1b[2J",
    "\x1b]8;;http://e.test\x07",
    "\x9b31m",
    "\x07",
    "\x00",
    "\r",
    "\u202e",
    "\u2066",
    "\u2028",
    "${$",
    "$\\frac{a}{b}$",
    '=HYPERLINK("x")',
    "+1",
    "-1",
    "@SUM(A1)",
    "\t",
    ":smile:",
    "é",
    "字",
    "\udcff",
]
nasty_text = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=8)), max_size=12).map(
    "".join
)
DATES = [
    "Mon, 02 Nov 2026 09:00:00 +0000",
    "Mon, 02 Nov 0100 09:00:00 +0000",
    "Fri, 31 Dec 9999 23:59:59 +0000",
    "Wed, 31 Dec 1969 23:59:59 +0000",
    "garbage",
    "",
]
FORGED = (
    "Authentication-Results: mx.martin-conseil.fr; spf=fail smtp.mailfrom="
    "claire@martin-conseil.fr; dmarc=fail header.from=martin-conseil.fr"
)


def _clean(value: str) -> str:
    # A header value cannot hold a line break or NUL; everything else goes in as is.
    return value.replace("\r", "\\r").replace("\n", " ").replace("\x00", "\\0")


@st.composite
def hostile_message(draw: st.DrawFn, n: int) -> bytes:
    sender = draw(
        st.sampled_from(["jean@acme.fr", ME, "x@evil.test", "[/]@acme.fr", "${$@gmail.com"])
    )
    name = _clean(draw(nasty_text))
    subject = _clean(draw(nasty_text)) * draw(st.sampled_from([1, 1, 300]))
    if draw(st.booleans()):
        subject = "=?utf-8?b?G1syShs=?= " + subject  # ESC [2J inside an encoded word
    mid = _clean(draw(nasty_text)).replace(">", "").replace("<", "") or "x"
    many = draw(st.sampled_from([1, 1, 3000]))
    to = ", ".join([ME] + [f"r{i}@acme.fr" for i in range(many)])
    lines = [
        f'From: "{name}" <{sender}>',
        f"To: {to}",
        f"Subject: {subject}",
        f"Message-ID: <{n}{mid}@acme.fr>",
    ]
    date = draw(st.sampled_from(DATES))
    if date:
        lines.append(f"Date: {date}")
    if sender == ME and draw(st.booleans()):
        lines.append(FORGED)
    if draw(st.booleans()):
        lines.append(f"In-Reply-To: <0{mid}@acme.fr>")
    body = draw(st.sampled_from(["Bon pour accord.", "Pouvez-vous ?", "merci", _clean(name)]))
    return ("\n".join(lines) + "\n\n" + body + "\n").encode("utf-8", "surrogateescape")


runner = CliRunner()
NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def _run(*args: object) -> str:
    started = time.perf_counter()
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (args, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert time.perf_counter() - started < 20, args  # per command, on a shared machine
    return result.output


def _terminal(out: str) -> None:
    assert not _BAD.search(out), repr(out[:500])


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.lists(st.integers(0, 10**6), min_size=1, max_size=4).flatmap(
        lambda ns: st.tuples(*[hostile_message(i) for i, _ in enumerate(ns)])
    )
)
def test_hostile_messages_through_every_output(messages: tuple[bytes, ...]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        box = root / "box"
        for sub in ("cur", "new", "tmp"):
            (box / sub).mkdir(parents=True)
        for i, data in enumerate(messages):
            (box / "cur" / f"{i}:2,").write_bytes(data)
        now = ("--now", "2026-11-03T10:00")
        _terminal(_run("analyze", box, "--me", ME, "--client", "[/]acme=acme.fr", *now))
        doc = json.loads(_run("analyze", box, "--me", ME, *now, "-f", "json"))
        assert doc["totals"]["messages"] <= len(messages)
        _terminal(_run("threads", box, "--me", ME, "-f", "table"))

        archive = EvidenceArchive(root / "archive", lookup=lambda _name: None)
        for i, data in enumerate(messages):
            archive.add(data, message_id=f"{i}[/]\x1b", client="=acme", phrase="ok", now=NOW)
        config = root / "rw.toml"
        config.write_text(
            f'[me]\naddresses = ["{ME}"]\n[store]\npath = "{root / "s.db"}"\n'
            f'[archive]\npath = "{root / "archive"}"\n'
            '[[clients]]\nname = "+acme[/]"\ndomains = ["acme.fr", "gmail.com"]\n'
            f'[[accounts]]\nname = "files"\ntype = "maildir"\npath = "{box}"\n'
            '[digest]\nto = "me@example.org"\n'
        )
        _terminal(_run("sync", "--config", config, "--once"))
        _terminal(_run("report", "--config", config, *now))
        rows = list(csv.reader(io.StringIO(_run("report", "-c", config, *now, "-f", "csv"))))
        assert all(not c.startswith(("=", "+", "-", "@")) for row in rows for c in row)
        json.loads(_run("report", "-c", config, *now, "-f", "json"))
        _terminal(_run("digest", "--config", config, "--preview", root / "d.html", *now))
        text = (root / "d.txt").read_text(encoding="utf-8")
        assert "\u202e" not in text and "\x1b" not in text
        _terminal(_run("archive", "list", "--config", config))
        _terminal(_run("archive", "verify", "--config", config))
        _run("archive", "export", root / "export", "--config", config)

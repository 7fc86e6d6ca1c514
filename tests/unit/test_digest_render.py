"""The digest content model and its rendering: sections, languages, MIME, headless Chromium."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from tests.unit.test_insights import run, scenario

from responsewatch.adapters.render import CATALOG, digest_email, render_digest
from responsewatch.core.digest import Digest, build_digest
from responsewatch.core.models import TurnState

CHROMIUM_INSTALL = "apt-get install -y --no-install-recommends chromium"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def digest() -> Digest:
    messages, rules, now = scenario()
    analysis, ins = run(messages, rules, now)
    agreements = [("acme", "bon pour accord", now - timedelta(hours=2), "agr-1@acme.fr")]
    return build_digest(analysis, ins, rules, now=now, agreements=agreements)


def test_sections_content(digest: Digest) -> None:
    assert [(t.state, t.message_id) for t in digest.to_answer] == [
        (TurnState.OVERDUE, "acme-late"),
        (TurnState.DUE_SOON, "bolt-soon"),
    ]
    assert (digest.overdue, digest.due_soon) == (1, 1)
    assert [o.message_id for o in digest.owed] == ["bolt-ask"]
    assert [(c.client, c.replies, c.median_s) for c in digest.clients] == [
        ("acme", 9, 5 * 3600),
        ("bolt", 1, 2 * 3600),
    ]
    assert not digest.is_empty


def test_is_empty_ignores_the_statistics_table(digest: Digest) -> None:
    quiet_day = replace(
        digest,
        to_answer=(),
        owed=(),
        agreements=(),
        after_hours=(),
        long_missions=(),
        quiet=(),
        rising=(),
        out_of_office=(),
    )
    assert quiet_day.clients and quiet_day.is_empty
    rendered = render_digest(quiet_day, "fr")
    assert CATALOG["fr"]["empty"].replace("'", "&#39;") in rendered.html
    assert CATALOG["fr"]["empty"] in rendered.text


@pytest.mark.parametrize("language", ["fr", "en"])
def test_text_and_html_follow_the_language(digest: Digest, language: str) -> None:
    t = CATALOG[language]
    rendered = render_digest(digest, language)
    order = ["to_answer", "owed", "agreements", "clients", "after_hours", "missions", "quiet"]
    positions = [rendered.text.index(t[key]) for key in order]
    assert positions == sorted(positions)  # the sections in the documented order
    for key in order:
        assert t[key] in rendered.html
    assert "acme-late" in rendered.text and "bolt-ask" in rendered.text
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{language}">' in rendered.html
    if language == "fr":
        assert rendered.subject.startswith("Synthèse responsewatch du lundi 23 novembre 2026")
        assert "1 en retard" in rendered.subject
        assert "2,5 / sem." in rendered.text  # decimal comma
        assert "1 août 2026" in rendered.text
    else:
        assert rendered.subject.startswith("responsewatch digest for Monday, November 23, 2026")
        assert "2.5 / wk" in rendered.text
        assert "Aug 1, 2026" in rendered.text
    assert rendered.chart.startswith(PNG_MAGIC) and len(rendered.chart) > 5000


def test_html_escapes_subjects(digest: Digest) -> None:
    evil = replace(digest.to_answer[0], subject="<script>alert(1)</script>")
    rendered = render_digest(replace(digest, to_answer=(evil,)), "en")
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "<script>alert(1)</script>" in rendered.text  # plain text stays literal


def _email(digest: Digest, language: str) -> EmailMessage:
    msg = digest_email(
        digest,
        language=language,
        from_addr="digest@martin-conseil.fr",
        to_addr="claire@martin-conseil.fr",
        message_id="digest.2026-11-23.42@martin-conseil.fr",
    )
    # What a receiving client sees: the serialized bytes, parsed back.
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize("language", ["fr", "en"])
def test_mime_structure_and_headers(digest: Digest, language: str) -> None:
    msg = _email(digest, language)
    assert msg.get_content_type() == "multipart/alternative"
    text, related = msg.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, image = related.iter_parts()
    assert html.get_content_type() == "text/html"
    assert image.get_content_type() == "image/png"
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html.get_content()
    assert image.get_content().startswith(PNG_MAGIC)
    assert CATALOG[language]["to_answer"] in text.get_content()
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"] == "<digest.2026-11-23.42@martin-conseil.fr>"
    assert msg["X-Responsewatch-Digest"] == "2026-11-23"
    assert msg["Date"].datetime == digest.now
    assert msg["From"].addresses[0].addr_spec == "digest@martin-conseil.fr"
    assert msg["To"] == "claire@martin-conseil.fr"
    # strip(): the stdlib may fold the whole subject onto a continuation line, and its
    # parser keeps the folding space that mail clients drop.
    assert msg["Subject"].strip() == render_digest(digest, language).subject


def test_the_digest_is_automated_mail_for_the_parser(digest: Digest) -> None:
    from responsewatch.core.parsing import parse_message

    parsed = parse_message(_email(digest, "fr").as_bytes())
    assert parsed.automated
    assert parsed.message_id == "digest.2026-11-23.42@martin-conseil.fr"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(f"headless Chromium is required for this test: {CHROMIUM_INSTALL}")
    return found


def screenshot(html: Path, png: Path, profile: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            "--window-size=800,1400",
            html.as_uri(),
        ],
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "HOME": str(profile)},
    )


def test_html_renders_in_headless_chromium(digest: Digest, tmp_path: Path) -> None:
    # The preview variant (data: URI image) so the chart is part of the screenshot.
    html = tmp_path / "digest.html"
    html.write_text(render_digest(digest, "fr").html, encoding="utf-8")
    png = tmp_path / "digest.png"
    done = screenshot(html, png, tmp_path / "profile")
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")[-2000:]
    data = png.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 40_000  # a blank 800x1400 page is a few kilobytes

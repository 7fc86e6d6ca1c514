"""The digest survives hostile correspondents: mathtext labels, bidi overrides, huge fields,
and a chart that cannot be drawn."""

from __future__ import annotations

from dataclasses import replace

import pytest
from structlog.testing import capture_logs

from responsewatch.adapters import render
from responsewatch.adapters.render import digest_email, render_digest
from responsewatch.core.digest import Digest
from tests.unit.test_digest_render import digest  # noqa: F401 - the shared fixture


def _hostile(d: Digest) -> Digest:
    first, *rest = d.clients
    to_answer = d.to_answer[0]
    return replace(
        d,
        clients=(replace(first, client="${$@gmail.com"), *rest),
        to_answer=(
            replace(to_answer, subject="invoice\u202egpj.exe " + "x" * 20_000),
            *d.to_answer[1:],
        ),
    )


@pytest.mark.parametrize("language", ["fr", "en"])
def test_mathtext_label_bidi_and_long_subject(digest: Digest, language: str) -> None:  # noqa: F811
    rendered = render_digest(_hostile(digest), language)
    assert rendered.chart.startswith(b"\x89PNG\r\n\x1a\n")
    assert "\u202e" not in rendered.text and "\u202e" not in rendered.html
    assert "invoicegpj.exe" in rendered.text
    longest = max(len(line) for line in rendered.text.splitlines())
    assert longest < 400
    assert "x" * 144 + "…" in rendered.text and "x" * 145 not in rendered.text


def test_a_chart_that_cannot_be_drawn_never_stops_the_digest(
    digest: Digest,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(_d: Digest, _language: str) -> bytes:
        raise ValueError("matplotlib could not draw this")

    monkeypatch.setattr(render, "chart_png", broken)
    with capture_logs() as logs:
        msg = digest_email(
            digest, language="en", from_addr="a@b.test", to_addr="c@d.test", message_id="m@b"
        )
    assert [e["event"] for e in logs] == ["digest_chart_failed"]
    kinds = [p.get_content_type() for p in msg.walk()]
    assert "image/png" not in kinds and "text/html" in kinds
    html = msg.get_body(("html",))
    assert html is not None and "<img" not in html.get_content()

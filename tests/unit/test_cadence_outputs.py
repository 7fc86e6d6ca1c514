"""The reporting cadence in the outputs: digest line (fr, en), the report_requests insight,
the report table's "Last update" column. Nothing shows without a cadence."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from tests.support.build import ME, msg

from responsewatch.adapters.render import CATALOG, render_digest
from responsewatch.app.pipeline import compute
from responsewatch.cli.lines import print_analysis
from responsewatch.cli.output import analysis_csv
from responsewatch.core.digest import build_digest
from responsewatch.core.insights import Insights, insights
from responsewatch.core.models import Analysis, Message
from responsewatch.core.rules import ClientRule, Rules

D = timedelta(days=1)
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ACME = ClientRule("acme", domains=("acme.fr",), report_every_s=7 * 86400.0)
BOLT = ClientRule("bolt", domains=("bolt.com",))
RULES = Rules(me=frozenset({ME}), clients=(ACME, BOLT))
PLAIN = replace(RULES, clients=(replace(ACME, report_every_s=None), BOLT))


def run(box: list[Message], rules: Rules = RULES) -> tuple[Analysis, Insights]:
    messages = {m.message_id: m for m in box}
    analysis, conversations = compute(messages, rules, now=NOW)
    found = insights(
        messages, analysis, rules, now=NOW, quiet_after_s=1e9, conversations=conversations
    )
    return analysis, found


def asks(subject: str, days_ago: list[int]) -> list[Message]:
    """Client requests, each answered an hour later (replies, never updates)."""
    out: list[Message] = []
    for n in days_ago:
        at = NOW - n * D
        out.append(msg(f"ask{n}", "jean@acme.fr", at=at, subject=subject))
        out.append(msg(f"re{n}", ME, ["jean@acme.fr"], at + timedelta(hours=1), refs=[f"ask{n}"]))
    return out


SILENT = [
    msg("c0", "jean@acme.fr", at=NOW - 20 * D, subject="Lancement"),
    msg("u1", ME, ["jean@acme.fr"], NOW - 9 * D, subject="Avancement semaine 1"),
]


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("en", "acme: no update for 9 days, due 2 days ago"),
        ("fr", "acme : aucune mise à jour depuis 9 jours, attendue il y a 2 jours"),
    ],
)
def test_digest_line_for_a_late_update(language: str, line: str) -> None:
    analysis, found = run(SILENT)
    d = build_digest(analysis, found, RULES, now=NOW)
    assert [(u.client, u.silent_days, u.late_days) for u in d.updates_late] == [("acme", 9, 2)]
    rendered = render_digest(d, language)
    assert line in rendered.text and line in rendered.html
    assert CATALOG[language]["updates"] in rendered.text
    # Nothing else to say: the late update alone makes the digest worth sending.
    assert not replace(d, to_answer=(), owed=(), rising=(), quiet=(), after_hours=()).is_empty


def test_digest_line_without_any_update_and_due_today() -> None:
    box = [msg("c0", "jean@acme.fr", at=NOW - 7 * D - timedelta(hours=3))]
    analysis, found = run(box)
    text = render_digest(build_digest(analysis, found, RULES, now=NOW), "en").text
    assert "acme: no update yet, due today" in text


def test_no_cadence_no_digest_section() -> None:
    analysis, found = run(SILENT, PLAIN)
    d = build_digest(analysis, found, PLAIN, now=NOW)
    assert d.updates_late == ()
    for language in ("fr", "en"):
        assert CATALOG[language]["updates"] not in render_digest(d, language).text
    # An update on time: no line either.
    analysis, found = run([*SILENT, msg("u2", ME, ["jean@acme.fr"], NOW - D, subject="S2")])
    assert build_digest(analysis, found, RULES, now=NOW).updates_late == ()


def report_rising(box: list[Message], rules: Rules = RULES) -> list[tuple[str, float, float]]:
    found = run(box, rules)[1]
    return [
        (r.client, r.current, r.previous) for r in found.rising if r.signal == "report_requests"
    ]


def test_requests_for_reports_rising_while_updates_are_late() -> None:
    box = SILENT + asks("Point d'avancement ?", [5, 3])
    assert report_rising(box) == [("acme", 0.5, 0.0)]
    # The same requests without a cadence, or with updates on time, are not this signal.
    assert report_rising(box, PLAIN) == []
    weekly = [msg(f"w{i}", ME, ["jean@acme.fr"], NOW - i * 6 * D, subject="S") for i in range(4)]
    assert report_rising([*box, *weekly]) == []
    # Requests about something else are not requests for reports or meetings.
    assert report_rising(SILENT + asks("Facture octobre", [5, 3])) == []
    # As many as before is not a rise; fewer than two is noise.
    assert report_rising(box + asks("Compte rendu du comité", [40, 45])) == []
    assert report_rising(SILENT + asks("Meeting next week?", [5])) == []


def table(analysis: Analysis) -> str:
    out = io.StringIO()
    print_analysis(analysis, Console(file=out, width=200), timezone="Europe/Paris")
    return out.getvalue()


def test_report_table_last_update_column_only_with_a_cadence() -> None:
    late = table(run(SILENT)[0])
    assert "Last update" in late and "9 d (late)" in late
    assert "Last update" not in table(run(SILENT, PLAIN)[0])
    on_time = table(run([*SILENT, msg("u2", ME, ["jean@acme.fr"], NOW - D, subject="S2")])[0])
    assert "1 d" in on_time and "late" not in on_time


def test_csv_cadence_columns_only_with_a_cadence() -> None:
    lines = analysis_csv(run(SILENT)[0]).splitlines()
    assert lines[0].endswith(",last_update_at,update_due_at,updates_late")
    assert lines[1].startswith("acme,") and lines[1].endswith(
        ",2026-11-14T09:00:00+00:00,2026-11-21T09:00:00+00:00,2"
    )
    assert lines[2].startswith("bolt,") and lines[2].endswith(",,,")
    assert "last_update_at" not in analysis_csv(run(SILENT, PLAIN)[0])

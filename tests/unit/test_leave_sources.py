"""Where leave comes from: config tables, ICS calendars, out-of-office text; `leave` CLI."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.build import ME, raw
from typer.testing import CliRunner

from responsewatch.adapters.store import MIGRATIONS, SqliteStore
from responsewatch.app.commands import analyze_paths
from responsewatch.cli import app
from responsewatch.config import settings_from_mapping
from responsewatch.core.absence import MAX_ABSENCE_DAYS, parse_absence, read_absence
from responsewatch.core.models import TurnState
from responsewatch.core.parsing import parse_message
from responsewatch.errors import ConfigError

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def paris(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=PARIS).astimezone(UTC)


# -- out-of-office text --------------------------------------------------------------------

MONDAY = date(2026, 7, 27)  # the reply's date in most samples


@pytest.mark.parametrize(
    ("text", "received", "expected"),
    [
        ("Je suis absente du 3 au 12 août, de retour le 13 août.", MONDAY,
         (date(2026, 8, 3), date(2026, 8, 12))),
        ("Absente jusqu'au lundi 3, je vous répondrai à mon retour.", MONDAY,
         (None, date(2026, 8, 3))),
        ("En congés jusqu’au 21/08 inclus.", MONDAY, (None, date(2026, 8, 21))),
        ("Je serai de retour le 24 août.", MONDAY, (None, date(2026, 8, 23))),
        ("Bureau fermé du 28 décembre au 2 janvier.", date(2026, 12, 20),
         (date(2026, 12, 28), date(2027, 1, 2))),
        ("I am out of the office until Monday 3rd with limited access to e-mail.", MONDAY,
         (None, date(2026, 8, 3))),
        ("On leave from 3 August to 12 August 2026.", MONDAY,
         (date(2026, 8, 3), date(2026, 8, 12))),
        ("I will be back on August 17th.", MONDAY, (None, date(2026, 8, 16))),
        ("Out of office until Friday.", MONDAY, (None, date(2026, 7, 31))),
        ("Thank you for your message.", MONDAY, None),
        ("Réunion du 5 mars", MONDAY, None),  # a start alone is no absence
        ("absent until 2020-01-01", MONDAY, None),  # ends before the reply
        ("Je suis absent le 17 septembre.", MONDAY, (date(2026, 9, 17), date(2026, 9, 17))),
        ("Delivery failed: 550 5.1.1; retried until 4.4.7", MONDAY, None),  # SMTP codes
        ("Your message of 3 August could not be delivered.", MONDAY, None),  # no absence cue
    ],
)  # fmt: skip
def test_absence_periods_in_french_and_english(
    text: str, received: date, expected: tuple[date | None, date] | None
) -> None:
    assert parse_absence(text, received) == expected


def test_subject_cue_with_body_date_as_in_a_real_enron_reply() -> None:
    # enron/arnold-j: subject "OUT OF THE OFFICE", body "On Monday September 17. ...".
    body = "On Monday September 17.  I can be reached on my cell phone or at home.\n"
    single = (date(2001, 9, 17), date(2001, 9, 17))
    assert read_absence("OUT OF THE OFFICE", body, date(2001, 9, 14)) == single


def test_own_words_beat_the_quoted_message_and_subject_is_the_fallback() -> None:
    body = "Je suis absent jusqu'au 14 août.\n\n> Le 10 juin, Jean a écrit :\n> rdv le 30 août ?\n"
    assert read_absence("Réponse automatique", body, MONDAY) == (None, date(2026, 8, 14))
    assert read_absence("Absent jusqu'au 7 août", "", MONDAY) == (None, date(2026, 8, 7))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)))
def test_absence_reader_never_raises_and_stays_in_bounds(text: str, received: date) -> None:
    found = parse_absence(text, received)
    if found is not None:
        first, last = found
        assert received <= last <= received + timedelta(days=MAX_ABSENCE_DAYS)
        assert first is None or first <= last


def test_parser_reads_the_absence_of_auto_replies_only(tmp_path: Path) -> None:
    at = datetime(2026, 7, 27, 8, tzinfo=UTC)
    body = "Bonjour,\nJe suis en congés du 27 juillet au 14 août.\nCordialement\n"
    ooo = parse_message(
        raw("ooo@x", ME, ["jean@acme.fr"], at, subject="Réponse automatique : Projet", body=body,
            extra=["Auto-Submitted: auto-replied"])
    )  # fmt: skip
    assert ooo.auto_reply and ooo.absence == (date(2026, 7, 27), date(2026, 8, 14))
    plain = parse_message(raw("p@x", ME, ["jean@acme.fr"], at, body=body))
    assert plain.absence is None
    # Kept in the store (migration appended), read back unchanged.
    store = SqliteStore.open(tmp_path / "rw.db")
    try:
        store.add_messages([ooo, plain])
        back = {m.message_id: m.absence for m in store.messages()}
        version = store._db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        store.close()
    assert back == {"ooo@x": ooo.absence, "p@x": None}
    assert version == len(MIGRATIONS)


# -- config --------------------------------------------------------------------------------


def load(leave: Any, **extra: Any) -> Any:
    return settings_from_mapping({"me": {"addresses": [ME]}, "leave": leave, **extra})


def test_leave_tables_dates_and_instants() -> None:
    s = load(
        [
            {"from": date(2026, 8, 3), "to": "2026-08-21", "label": "été"},
            {"from": "2026-12-24T12:00", "to": datetime(2027, 1, 2, 9, tzinfo=UTC)},
            {"from_my_auto_replies": True},
        ]
    )
    spans = s.rules.leave.spans
    assert [(x.start, x.end, x.source, x.label) for x in spans] == [
        (paris(2026, 8, 3), paris(2026, 8, 22), "leave[0]", "été"),
        (paris(2026, 12, 24, 12), datetime(2027, 1, 2, 9, tzinfo=UTC), "leave[1]", ""),
    ]
    assert s.rules.leave.from_my_auto_replies and not s.rules.leave.from_client_auto_replies


def test_leave_as_a_table_with_periods() -> None:
    period = {"from": "2026-05-01", "to": "2026-05-01"}
    s = load({"from_client_auto_replies": True, "periods": [period]})
    (span,) = s.rules.leave.spans
    assert (span.start, span.end, span.source) == (
        paris(2026, 5, 1), paris(2026, 5, 2), "leave.periods[0]"
    )  # fmt: skip
    assert s.rules.leave.from_client_auto_replies


def test_business_hours_leave_takes_instants_too() -> None:
    s = settings_from_mapping(
        {
            "me": {"addresses": [ME]},
            "business_hours": {
                "leave": [
                    {"from": "2026-08-03", "to": "2026-08-04", "label": "x"},
                    {"from": "2026-08-10T14:00", "to": "2026-08-11"},
                ]
            },
        }
    )
    assert [(p.start, p.end) for p in s.rules.hours.leave] == [(date(2026, 8, 3), date(2026, 8, 4))]
    (span,) = s.rules.leave.spans
    assert (span.start, span.end) == (paris(2026, 8, 10, 14), paris(2026, 8, 12))


def test_no_leave_section_changes_nothing() -> None:
    s = settings_from_mapping({"me": {"addresses": [ME]}})
    assert not s.rules.leave.configured


def test_leave_errors_name_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        load(
            [
                {"from": "2026-08-21", "to": "2026-08-03"},
                {"from": "soon", "to": "2026-08-03"},
                {"from": "2026-08-03", "to": "2026-08-04", "lable": "x"},
                {"ics_file": "missing.ics"},
            ]
        )
    text = str(err.value)
    assert "leave[0]: 'to' is before 'from'" in text
    assert "leave[1].from" in text
    assert "leave[2].lable: unknown key; did you mean 'label'?" in text
    assert "leave[3].ics_file: cannot read missing.ics" in text


# -- ICS -----------------------------------------------------------------------------------


def _calendar() -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//responsewatch tests//")
    cal.add("version", "2.0")

    def event(uid: str, summary: str, start: Any, end: Any, **more: Any) -> icalendar.Event:
        e = icalendar.Event()
        e.add("uid", uid)
        e.add("summary", summary)
        e.add("dtstart", start)
        e.add("dtend", end)
        for key, value in more.items():
            e.add(key, value)
        cal.add_component(e)
        return e

    # All-day, multi-day: 3..21 August (DTEND exclusive).
    event("summer", "Vacances d'été", date(2026, 8, 3), date(2026, 8, 22))
    # Weekly, four times, Wednesday afternoons in Paris, but not on 9 September.
    event(
        "wed",
        "Congés (mercredi après-midi)",
        datetime(2026, 9, 2, 14, tzinfo=PARIS),
        datetime(2026, 9, 2, 18, tzinfo=PARIS),
        rrule={"freq": "weekly", "count": 4},
        exdate=datetime(2026, 9, 9, 14, tzinfo=PARIS),
    )
    event("off", "Congés annulés", date(2026, 9, 28), date(2026, 9, 29), status="CANCELLED")
    # Time-zoned: a New York day, matched by category, not by summary.
    event(
        "nyc",
        "Trip",
        datetime(2026, 10, 5, 9, tzinfo=NEW_YORK),
        datetime(2026, 10, 5, 17, tzinfo=NEW_YORK),
        categories=["OOO"],
    )
    event("meeting", "Réunion client", date(2026, 9, 10), date(2026, 9, 11))
    return bytes(cal.to_ical())


EXPECTED_ICS = [
    (paris(2026, 8, 3), paris(2026, 8, 22), "summer"),
    (paris(2026, 9, 2, 14), paris(2026, 9, 2, 18), "wed"),
    (paris(2026, 9, 16, 14), paris(2026, 9, 16, 18), "wed"),
    (paris(2026, 9, 23, 14), paris(2026, 9, 23, 18), "wed"),
    (datetime(2026, 10, 5, 13, tzinfo=UTC), datetime(2026, 10, 5, 21, tzinfo=UTC), "nyc"),
]


def _ics_spans(settings: Any) -> list[tuple[datetime, datetime, str]]:
    return [(s.start, s.end, s.source.rsplit(" ", 1)[1]) for s in settings.rules.leave.spans]


def test_ics_file_recurring_all_day_and_time_zoned_events(tmp_path: Path) -> None:
    (tmp_path / "conges.ics").write_bytes(_calendar())
    s = settings_from_mapping(
        {"me": {"addresses": [ME]}, "leave": [{"ics_file": "conges.ics"}]}, base=tmp_path
    )
    assert _ics_spans(s) == EXPECTED_ICS
    assert s.rules.leave.spans[0].label == "Vacances d'été"
    only_summer = settings_from_mapping(
        {"me": {"addresses": [ME]}, "leave": [{"ics_file": "conges.ics", "ics_match": "été"}]},
        base=tmp_path,
    )
    assert _ics_spans(only_summer) == EXPECTED_ICS[:1]


@pytest.fixture()
def ics_server(tmp_path: Path) -> Iterator[str]:
    body = _calendar()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/private-token/cal.ics"):
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_ics_url_over_http_and_file(ics_server: str, tmp_path: Path) -> None:
    s = load([{"ics_url": f"{ics_server}/private-token/cal.ics?key=secret"}])
    assert _ics_spans(s) == EXPECTED_ICS
    # The source never shows the URL's path or query (private calendar tokens live there).
    assert all("token" not in x.source and "secret" not in x.source for x in s.rules.leave.spans)
    with pytest.raises(ConfigError) as err:
        load([{"ics_url": f"{ics_server}/private-token/missing.ics?key=secret"}])
    assert "leave[0].ics_url: cannot fetch" in str(err.value)
    assert "secret" not in str(err.value) and "token" not in str(err.value)
    (tmp_path / "c.ics").write_bytes(_calendar())
    assert _ics_spans(load([{"ics_url": (tmp_path / "c.ics").as_uri()}])) == EXPECTED_ICS


def test_ics_garbage_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "bad.ics").write_bytes(b"\x00\xffBEGIN:VCALENDAR\nnot really")
    with pytest.raises(ConfigError) as err:
        settings_from_mapping(
            {"me": {"addresses": [ME]}, "leave": [{"ics_file": "bad.ics"}]}, base=tmp_path
        )
    assert "leave[0].ics_file" in str(err.value)


# -- end to end ----------------------------------------------------------------------------


def _write_config(tmp_path: Path, leave: str) -> Path:
    config = tmp_path / "rw.toml"
    config.write_text(
        f'[me]\naddresses = ["{ME}"]\n[store]\npath = "{tmp_path}/rw.db"\n'
        f'[[clients]]\nname = "acme"\ndomains = ["acme.fr"]\n{leave}',
        encoding="utf-8",
    )
    return config


def test_my_out_of_office_in_sent_puts_turns_on_leave(tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    at = datetime(2026, 7, 27, 8, tzinfo=UTC)
    (box / "1.eml").write_bytes(raw("c1@acme.fr", "jean@acme.fr", [ME], at))
    (box / "2.eml").write_bytes(
        raw("ooo@me", ME, ["jean@acme.fr"], at + timedelta(minutes=1),
            subject="Réponse automatique : Projet", extra=["Auto-Submitted: auto-replied"],
            body="Je suis absente jusqu'au vendredi 14 août inclus.\n")
    )  # fmt: skip
    now = "2026-08-10T12:00:00+02:00"
    off = analyze_paths([box], me=[], clients=[], config=_write_config(tmp_path, ""), now=now)
    assert off.analysis.awaiting[0].state is TurnState.OVERDUE
    config = _write_config(tmp_path, "[[leave]]\nfrom_my_auto_replies = true\n")
    on = analyze_paths([box], me=[], clients=[], config=config, now=now)
    (turn,) = on.analysis.awaiting
    assert turn.state is TurnState.ON_LEAVE and turn.age_seconds == 60
    back = analyze_paths([box], me=[], clients=[], config=config, now="2026-08-15T10:00+02:00")
    assert back.analysis.awaiting[0].age_seconds == 60 + 10 * 3600
    # Every output format shows the state.
    runner = CliRunner()
    for fmt in ("table", "json", "csv"):
        result = runner.invoke(
            app, ["analyze", str(box), "--config", str(config), "--now", now, "--format", fmt]
        )
        assert result.exit_code == 0, result.output
        assert fmt == "csv" or "on_leave" in result.stdout


def test_leave_command_lists_periods_and_sources(tmp_path: Path) -> None:
    (tmp_path / "c.ics").write_bytes(_calendar())
    config = _write_config(
        tmp_path,
        '[business_hours]\nleave = [{ from = "2026-08-20", to = "2026-08-24" }]\n'
        '[[leave]]\nfrom = 2026-12-24\nto = 2026-12-31\nlabel = "Noël"\n'
        '[[leave]]\nics_file = "c.ics"\nics_match = "vacances"\n',
    )
    runner = CliRunner()
    result = runner.invoke(app, ["leave", "--config", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(p["source"], p["label"]) for p in doc["periods"]] == [
        ("ics_file c.ics summer", "Vacances d'été"),
        ("business_hours.leave[0]", ""),
        ("leave[0]", "Noël"),
    ]
    # The summer holiday and business_hours.leave overlap: one merged period 3..24 August.
    assert doc["merged"] == [
        {"from": "2026-08-02T22:00:00+00:00", "to": "2026-08-24T22:00:00+00:00"},
        {"from": "2026-12-23T23:00:00+00:00", "to": "2026-12-31T23:00:00+00:00"},
    ]
    table = runner.invoke(app, ["leave", "--config", str(config)])
    assert table.exit_code == 0 and "business_hours.leave[0]" in table.stdout
    assert "Noël" in table.stdout


# -- outputs: metrics label, digest --------------------------------------------------------


def test_on_leave_in_metrics_and_digest_and_away_until_next_to_the_client() -> None:
    from tests.support.build import T0, msg
    from tests.unit.test_metrics import RULES as METRIC_RULES
    from tests.unit.test_metrics import registry_for, value

    from responsewatch.adapters.render import render_digest
    from responsewatch.app.pipeline import compute
    from responsewatch.core.digest import build_digest
    from responsewatch.core.insights import insights
    from responsewatch.core.leave import LeaveRules, LeaveSpan
    from responsewatch.core.models import Message

    hour = timedelta(hours=1)
    rules = replace_leave(
        METRIC_RULES,
        LeaveRules(
            (LeaveSpan(T0 + 2 * hour, T0 + 200 * hour, "test"),), from_client_auto_replies=True
        ),
    )
    away = Message(
        "ooo@bolt.com", "mike@bolt.com", (ME,), subject="Out of office", date=T0, arrival=T0,
        automated=True, auto_reply=True, absence=(None, date(2026, 11, 13)),
    )  # fmt: skip
    box = [
        msg("c1", "jean@acme.fr", at=T0),
        msg("b0", "mike@bolt.com", at=T0 - 5 * hour, subject="B"),
        msg("rb0", ME, ["mike@bolt.com"], at=T0 - 4 * hour, subject="Re: B", refs=["b0"]),
        away,
    ]
    by_id = {m.message_id: m for m in box}
    now = T0 + 30 * hour
    analysis, conversations = compute(by_id, rules, now=now)
    reg = registry_for(analysis, rules)
    name = "responsewatch_awaiting_reply_threads"
    assert value(reg, name, client="acme", state="on_leave") == 1
    assert value(reg, name, client="acme", state="overdue") == 0
    found = insights(
        by_id, analysis, rules, now=now, quiet_after_s=1e9, conversations=conversations
    )
    digest = build_digest(analysis, found, rules, now=now)
    assert [t.state for t in digest.to_answer] == [TurnState.ON_LEAVE]
    lines = {c.client: c.away_until for c in digest.clients}
    assert lines == {"acme": None, "bolt": date(2026, 11, 13)}
    for language, state, words in (
        ("en", "On leave", "away until Nov 13, 2026"),
        ("fr", "En congé", "absent jusqu'au 13 nov. 2026"),
    ):
        rendered = render_digest(digest, language)
        assert state in rendered.text, language
        assert words in rendered.text, rendered.text
        assert words.replace("'", "&#39;") in rendered.html or words in rendered.html
    # Off by default: the auto-reply's own period is not used for the digest either.
    plain = replace_leave(rules, LeaveRules(rules.leave.spans))
    found_plain = insights(by_id, compute(by_id, plain, now=now)[0], plain, now=now,
                           quiet_after_s=1e9, conversations=conversations)  # fmt: skip
    assert [o.return_date for o in found.out_of_office] == [date(2026, 11, 13)]
    assert [o.return_date for o in found_plain.out_of_office] == [None]


def replace_leave(rules: Any, leave: Any) -> Any:
    from dataclasses import replace

    return replace(rules, leave=leave)

"""The status page over real HTTP: a real SQLite store, the real server, the real renderer.

Auth (401/200, timing-safe compare), CSRF (403 without the token, with another cookie's
token, from another origin), the ack action (same effect as `responsewatch ack`), the
JSON document (= `report --format json` plus `sync`), hostile subjects, connection limits.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.build import HOUR, ME, T0, msg
from typer.testing import CliRunner

from responsewatch.adapters import web
from responsewatch.adapters.store import SqliteStore
from responsewatch.adapters.web import WebServer
from responsewatch.app import commands
from responsewatch.app.bootstrap import FixedClock, bootstrap
from responsewatch.app.status_app import StatusSite, StatusState, read_health, status_document
from responsewatch.cli import app as cli
from responsewatch.config import load_settings
from responsewatch.core.insights import Insights, LatencyTrend, Trend
from responsewatch.core.models import Analysis, Awaiting, Totals, TurnState
from responsewatch.core.rules import ClientRule, Rules
from responsewatch.core.status import clean_text, sparkline_path, status_board

NOW = T0 + 30 * HOUR
PASSWORD = "c0rrect-h0rse-Battery"
HOSTILE = "<script>alert(1)</script> \u202etxt.exe\x07 <img src=x onerror=alert(2)>"
UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def messages() -> list:
    return [
        # Acme: one overdue turn with a hostile subject, one answered.
        msg("a1@acme.fr", "jean@acme.fr", at=T0, subject=HOSTILE),
        msg("a2@acme.fr", "jean@acme.fr", at=T0 + 2 * HOUR, subject="Devis"),
        msg(
            "r2@m", ME, ["jean@acme.fr"], at=T0 + 3 * HOUR, refs=["a2@acme.fr"], subject="RE: Devis"
        ),
        # Bolt: due soon (warn_at 18 h of 24 h).
        msg("b1@bolt.com", "eve@bolt.com", at=NOW - 20 * HOUR, subject="Planning"),
        # Bolt owes me: my own question, unanswered.
        msg("m1@m", ME, ["eve@bolt.com"], at=NOW - 5 * HOUR, subject="Une question"),
    ]


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "rw.toml"
    path.write_text(
        f'[me]\naddresses = ["{ME}"]\nlanguage = "en"\ntimezone = "Europe/Paris"\n'
        '[[clients]]\nname = "Acme"\ndomains = ["acme.fr"]\n'
        '[[clients]]\nname = "Bolt"\ndomains = ["bolt.com"]\n'
        f'[store]\npath = "{tmp_path / "rw.db"}"\n[archive]\npath = "{tmp_path / "archive"}"\n'
        '[[accounts]]\nname = "box"\ntype = "mbox"\npath = "box.mbox"\n' + extra
    )
    return path


@dataclass
class Site:
    config: Path
    server: WebServer
    state: StatusState
    store: SqliteStore

    def republish(self) -> None:
        settings = load_settings(self.config)
        app = bootstrap(settings, clock=FixedClock(NOW))
        try:
            analysis, found = app.report_with_insights(NOW)
            health = read_health(settings, app.store.sync_status(), app.store.sync_errors())
        finally:
            app.close()
        self.state.publish(analysis, found, NOW, health)


def start_site(tmp_path: Path, password: str | None) -> Site:
    config = write_config(tmp_path)
    settings = load_settings(config)
    store = SqliteStore.open(settings.store_path)
    store.add_messages(messages(), account="box")
    store.record_sync_success("box", NOW - HOUR)
    store.record_sync_error("box", "SourceError", NOW - 2 * HOUR)
    state = StatusState(settings)
    site = StatusSite(settings, state, ack=store.add_ack, now=lambda: NOW + timedelta(minutes=1))
    server = WebServer(site, "127.0.0.1:0", password=password)
    server.start()
    result = Site(config, server, state, store)
    result.republish()
    return result


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = start_site(tmp_path, None)
    yield s
    s.server.close()
    s.store.close()


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[Site]:
    s = start_site(tmp_path, PASSWORD)
    yield s
    s.server.close()
    s.store.close()


def request(
    port: int,
    method: str,
    path: str,
    *,
    body: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    data = urllib.parse.urlencode(body).encode() if body is not None else None
    all_headers = dict(headers or {})
    if data is not None:
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=data, headers=all_headers)
    resp = conn.getresponse()
    out = resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    conn.close()
    return out


def basic(password: str, user: str = "claire") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def page_with_token(port: int, headers: dict[str, str] | None = None) -> tuple[str, str, str]:
    status, head, body = request(port, "GET", "/", headers=headers)
    assert status == 200
    cookie = head["set-cookie"].split(";")[0]
    assert "HttpOnly" in head["set-cookie"] and "SameSite=Strict" in head["set-cookie"]
    html = body.decode()
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert token is not None
    return html, cookie, token.group(1)


def threads_on(html: str) -> list[str]:
    return re.findall(r'data-thread="([^"]+)"', html)


def test_page_lists_the_awaiting_turns_overdue_first_and_hostile_text_is_inert(
    site: Site,
) -> None:
    html, _cookie, _token = page_with_token(site.server.port)
    view = site.state.latest()
    assert view is not None
    states = re.findall(r'data-state="([a-z_]+)"', html)
    assert states == ["overdue", "due_soon"]
    assert sorted(threads_on(html)) == sorted(w.thread_id for w in view.analysis.awaiting)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not UNSAFE.search(html)
    # The countdown: the deadline instant for the browser, the server's figure as fallback.
    deadline = (T0 + 24 * HOUR).isoformat()
    assert f'data-deadline="{deadline}"' in html
    assert "late by 6 h 01" in html  # 30 h + 1 min after, a 24 h deadline
    assert "What they owe me" in html and "Une question" in html
    assert "Errors: 1" in html or "Errors : 1" in html


def test_french_from_the_query_and_the_configured_language_otherwise(site: Site) -> None:
    _s, _h, fr = request(site.server.port, "GET", "/?lang=fr")
    _s, _h, en = request(site.server.port, "GET", "/")
    assert "Ce que je dois" in fr.decode() and 'lang="fr"' in fr.decode()
    assert "What I owe" in en.decode() and 'lang="en"' in en.decode()


def test_api_status_is_the_report_document_plus_sync_health(site: Site) -> None:
    status, head, body = request(site.server.port, "GET", "/api/status")
    assert status == 200 and head["content-type"] == "application/json"
    doc = json.loads(body)
    analysis, _tz, found = commands.report(site.config, now=NOW.isoformat())
    from responsewatch.app.report import analysis_json
    from responsewatch.core.insights import insights_json

    view = site.state.latest()
    assert view is not None
    assert body == json.dumps(status_document(view), ensure_ascii=False).encode()
    sync = doc.pop("sync")
    assert doc == json.loads(
        json.dumps({**analysis_json(analysis), "insights": found}, ensure_ascii=False)
    )
    assert insights_json  # the report's insights are exactly the CLI's
    [account] = sync["accounts"]
    assert account == {
        "account": "box",
        "last_success": (NOW - HOUR).isoformat(),
        "errors": 1,
        "error_kinds": {"SourceError": 1},
    }
    assert sync["analysis_at"] == NOW.isoformat()


def test_healthz_answers_without_auth_and_says_nothing_else(locked: Site) -> None:
    status, _h, body = request(locked.server.port, "GET", "/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "analysis_at": NOW.isoformat()}


def test_basic_auth_wrong_password_401_right_200(locked: Site) -> None:
    port = locked.server.port
    for headers in (
        {},
        basic("wrong"),
        basic(PASSWORD[:-1]),
        basic(PASSWORD + "x"),
        {"Authorization": "Basic !!!"},
        {"Authorization": f"Bearer {PASSWORD}"},
    ):
        for path in ("/", "/api/status", "/status.css"):
            status, head, body = request(port, "GET", path, headers=headers)
            assert status == 401, (headers, path)
            assert head["www-authenticate"].startswith("Basic realm=")
            assert b"Acme" not in body
        status, _h, _b = request(
            port, "POST", "/action/ack", body={"thread_id": "x"}, headers=headers
        )
        assert status == 401
    status, _h, body = request(port, "GET", "/", headers=basic(PASSWORD))
    assert status == 200 and b"Acme" in body
    assert PASSWORD.encode() not in body
    status, _h, body = request(port, "GET", "/api/status", headers=basic(PASSWORD, user="x"))
    assert status == 200 and PASSWORD.encode() not in body


def test_the_password_compare_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check goes through hmac.compare_digest on fixed-length digests."""
    calls: list[tuple[bytes, bytes]] = []
    real = web.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(web.hmac, "compare_digest", spy)
    pages = _NoPages()
    server = WebServer(pages, "127.0.0.1:0", password=PASSWORD)  # type: ignore[arg-type]
    server.start()
    try:
        assert request(server.port, "GET", "/", headers=basic("short"))[0] == 401
    finally:
        server.close()
    assert calls and all(len(a) == len(b) == 32 for a, b in calls)


class _NoPages:
    def page(self, query: dict[str, str], csrf: str) -> object:
        raise AssertionError("never reached without the password")


def test_ack_needs_the_csrf_token_of_its_cookie_and_the_same_origin(site: Site) -> None:
    port = site.server.port
    html, cookie, token = page_with_token(port)
    overdue = threads_on(html)[0]
    _h2, other_cookie, other_token = page_with_token(port)
    form = {"thread_id": overdue}
    refused = [
        ({}, {}),
        ({"Cookie": cookie}, {}),
        ({}, {"csrf": token}),
        ({"Cookie": cookie}, {"csrf": "0" * 64}),
        ({"Cookie": cookie}, {"csrf": other_token}),
        ({"Cookie": other_cookie}, {"csrf": token}),
        ({"Cookie": cookie, "Origin": "http://evil.example"}, {"csrf": token}),
        ({"Cookie": cookie, "Origin": "null"}, {"csrf": token}),
    ]
    for headers, extra in refused:
        status, _h, _b = request(
            port, "POST", "/action/ack", body={**form, **extra}, headers=headers
        )
        assert status == 403, (headers, extra)
    assert site.store.acks() == {}
    status, head, _b = request(
        port,
        "POST",
        "/action/ack",
        body={**form, "csrf": token},
        headers={
            "Cookie": cookie,
            "Origin": f"http://127.0.0.1:{port}",
            "Host": f"127.0.0.1:{port}",
        },
    )
    assert status == 303 and head["location"] == "/?done=ack"
    # The same effect as `responsewatch ack`: the thread's first unanswered message acked.
    view = site.state.latest()
    assert view is not None
    [turn] = [w for w in view.analysis.awaiting if w.thread_id == overdue]
    assert set(site.store.acks()) == {turn.first_unanswered_message_id}
    # Hidden at once, before the next snapshot; and once republished, gone from the report.
    html, _c, _t = page_with_token(port)
    assert (
        overdue not in threads_on(html)
        and "Acknowledged." in request(port, "GET", "/?done=ack")[2].decode()
    )
    site.republish()
    analysis, _tz, _ins = commands.report(site.config, now=NOW.isoformat())
    assert overdue not in {w.thread_id for w in analysis.awaiting}
    assert overdue not in threads_on(page_with_token(port)[0])
    # Twice: nothing left to acknowledge.
    status, _h, _b = request(
        port, "POST", "/action/ack", body={**form, "csrf": token}, headers={"Cookie": cookie}
    )
    assert status == 409


def test_not_an_agreement_appends_the_archives_rejection(site: Site) -> None:
    """The page's "not an agreement" writes a rejection entry into the real ledger: the
    chain still verifies and the agreement leaves the page's list; an unknown id is 409."""
    from responsewatch.adapters.archive import DkimResult, EvidenceArchive
    from responsewatch.app.status_app import read_agreements

    settings = load_settings(site.config)
    archive = EvidenceArchive(settings.archive_path)
    archive.add(
        b"Message-ID: <ag@acme.fr>\r\n\r\nBon pour accord.\r\n",
        message_id="ag@acme.fr",
        client="Acme",
        phrase="bon pour accord",
        now=NOW - HOUR,
        received_at=NOW - 2 * HOUR,
        excerpt="Bon pour accord.",
        dkim_result=DkimResult("none"),
    )
    view = site.state.latest()
    assert view is not None
    site.state.publish(
        view.analysis, view.insights, NOW, view.health, read_agreements(settings.archive_path)
    )
    port = site.server.port
    html, cookie, token = page_with_token(port)
    assert "/action/reject" in html
    headers = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}", "Host": f"127.0.0.1:{port}"}
    status, _h, _b = request(
        port,
        "POST",
        "/action/reject",
        body={"message_id": "nope@x", "csrf": token},
        headers=headers,
    )
    assert status == 409
    status, _h, _b = request(
        port,
        "POST",
        "/action/reject",
        body={"message_id": "ag@acme.fr", "csrf": token},
        headers=headers,
    )
    assert status == 303
    again = EvidenceArchive(settings.archive_path)
    assert again.is_rejected("ag@acme.fr")
    assert again.verify().ok
    assert [r.message_id for r in read_agreements(settings.archive_path)] == []


def test_security_headers_and_no_body_text(site: Site) -> None:
    for path in ("/", "/api/status", "/status.css", "/status.js"):
        status, head, body = request(site.server.port, "GET", path)
        assert status == 200, path
        assert "default-src 'none'" in head["content-security-policy"]
        assert head["x-content-type-options"] == "nosniff"
        assert b"Pouvez-vous" not in body  # the builders' body text is never stored
    assert request(site.server.port, "GET", "/../etc/passwd")[0] == 404
    assert request(site.server.port, "GET", "/strings.json")[0] == 404


def test_oversized_posts_and_extra_connections_are_refused(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = site.server.port
    status, _h, _b = request(port, "POST", "/action/ack", body={"thread_id": "x" * 5000})
    assert status == 413
    idle = []
    try:
        for _ in range(web.MAX_CONNECTIONS):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            idle.append(s)
        time.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", port), timeout=5)
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert extra.recv(100).startswith(b"HTTP/1.1 503")
        extra.close()
    finally:
        for s in idle:
            s.close()
    deadline = time.monotonic() + 5
    while request(port, "GET", "/healthz")[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_silent_connection_is_dropped_after_the_read_timeout(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web._Handler, "timeout", 0.3)
    s = socket.create_connection(("127.0.0.1", site.server.port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\n")  # and nothing more
    started = time.monotonic()
    assert s.recv(100) == b""  # closed by the server
    assert time.monotonic() - started < 3
    s.close()


# -- config ---------------------------------------------------------------------------------


def test_beyond_loopback_without_a_password_is_a_config_error_exit_2(tmp_path: Path) -> None:
    (tmp_path / "box.mbox").write_bytes(b"")
    runner = CliRunner()
    for listen in ("0.0.0.0:9878", "192.168.1.10:9878", "[::]:9878", "nas.local:9878"):
        config = write_config(tmp_path, f'[web]\nlisten = "{listen}"\n')
        result = runner.invoke(cli, ["check", "--config", str(config)])
        assert result.exit_code == 2, listen
        assert "web.listen" in result.stderr and "password" in result.stderr
    secret = tmp_path / "web.password"
    secret.write_text(PASSWORD + "\n")
    config = write_config(tmp_path, f'[web]\nlisten = "0.0.0.0:9878"\npassword_file = "{secret}"\n')
    assert runner.invoke(cli, ["check", "--config", str(config)]).exit_code == 0
    config = write_config(tmp_path, '[web]\nlisten = "localhost:9878"\n')
    assert runner.invoke(cli, ["check", "--config", str(config)]).exit_code == 0
    config = write_config(tmp_path, f'[web]\npassword = "{PASSWORD}"\n')
    result = runner.invoke(cli, ["check", "--config", str(config)])
    assert result.exit_code == 2 and PASSWORD not in result.stderr + result.stdout


# -- properties -----------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.text(), st.integers(min_value=2, max_value=300))
def test_clean_text_is_one_safe_line_within_its_limit(text: str, limit: int) -> None:
    out = clean_text(text, limit)
    assert len(out) <= limit
    assert not UNSAFE.search(out) and "\n" not in out and "\u2028" not in out
    assert clean_text(out, limit) == out
    assert out == out.strip()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.none() | st.floats(min_value=0, max_value=1e7), min_size=1, max_size=20),
    st.floats(min_value=1, max_value=1e6),
)
def test_sparkline_stays_in_its_box_and_breaks_at_missing_weeks(
    values: list[float | None], ceiling: float
) -> None:
    d = sparkline_path(values, width=120, height=28, ceiling=ceiling)
    points = [tuple(map(float, p)) for p in re.findall(r"[ML]([\d.]+) ([\d.]+)", d)]
    assert len(points) == sum(v is not None for v in values)
    assert all(0 <= x <= 120.05 and 0 <= y <= 28.05 for x, y in points)
    runs = sum(
        1 for i, v in enumerate(values) if v is not None and (i == 0 or values[i - 1] is None)
    )
    assert d.count("M") == runs
    # The highest value (or the SLA line, when higher) is the top of the box.
    top = max([ceiling, *(v for v in values if v is not None)])
    ys = [y for _x, y in points]
    if ys and top == max(v for v in values if v is not None):
        assert min(ys) == pytest.approx(0.0, abs=0.06)


def test_the_board_uses_the_business_clock_for_deadlines(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    text = config.read_text().replace(
        'timezone = "Europe/Paris"\n', 'timezone = "Europe/Paris"\n[sla]\nclock = "business"\n'
    )
    config.write_text(text)
    settings = load_settings(config)
    store = SqliteStore.open(settings.store_path)
    friday = datetime(2026, 11, 6, 16, 0, tzinfo=UTC)  # 17:00 in Paris, one business hour left
    store.add_messages([msg("f1@acme.fr", "jean@acme.fr", at=friday, subject="Vendredi")])
    store.close()
    app = bootstrap(settings)
    try:
        analysis, found = app.report_with_insights(friday + HOUR)
    finally:
        app.close()
    state = StatusState(settings)
    view = state.publish(analysis, found, friday + HOUR)
    [turn] = view.board.owed
    # 24 business hours (9-18, Mon-Fri): 1 h on Friday, 9 + 9 Mon-Tue, 5 h on Wednesday.
    assert turn.deadline == datetime(2026, 11, 11, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "module",
    ["responsewatch.core.status", "responsewatch.adapters.web", "responsewatch.app.status_app"],
)
def test_exported_members_exist(module: str) -> None:
    import importlib

    mod = importlib.import_module(module)
    assert mod.__all__ and all(hasattr(mod, name) for name in mod.__all__), module


def test_latest_agreements_with_their_sentence_and_dkim_verdict(site: Site) -> None:
    """Through the real evidence archive: newest first, the matched sentence escaped."""
    from responsewatch.adapters.archive import DkimResult, EvidenceArchive
    from responsewatch.app.status_app import read_agreements

    settings = load_settings(site.config)
    archive = EvidenceArchive(settings.archive_path)
    for n, (verdict, sentence) in enumerate(
        [("pass", "Bon pour accord sur le devis."), ("fail", "OK <script>x()</script>\u202e go")]
    ):
        archive.add(
            f"Message-ID: <ag{n}@acme.fr>\r\n\r\nbody {n}\r\n".encode(),
            message_id=f"ag{n}@acme.fr",
            client="Acme",
            phrase="bon pour accord",
            now=NOW - timedelta(hours=2 - n),
            received_at=NOW - timedelta(hours=3 - n),
            excerpt=sentence,
            dkim_result=DkimResult(verdict, domain="acme.fr", from_domain="acme.fr"),
        )
    rows = read_agreements(settings.archive_path)
    assert [r.message_id for r in rows] == ["ag1@acme.fr", "ag0@acme.fr"]
    view = site.state.latest()
    assert view is not None
    site.state.publish(view.analysis, view.insights, NOW, view.health, rows)
    html = request(site.server.port, "GET", "/")[2].decode()
    section = html.split('id="agreements"')[1]
    assert section.index("OK &lt;script&gt;x()&lt;/script&gt; go") < section.index(
        "Bon pour accord sur le devis."
    )
    assert "DKIM : invalid signature" in section and "DKIM : valid signature" in section
    assert "body 0" not in html and "\u202e" not in html


def test_the_daemon_serves_the_page_behind_its_configured_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Daemon wiring: [web] password_env resolved with the project's secrets, page and
    /healthz served, the web server stopped with the daemon."""
    from responsewatch.adapters.memory import MemoryMailSource
    from responsewatch.app.daemon import Daemon
    from responsewatch.app.watch import WatchTiming
    from responsewatch.config import settings_from_mapping
    from responsewatch.ports import FolderRef

    monkeypatch.setenv("RW_TEST_WEB_PASSWORD", PASSWORD)
    inbox = FolderRef("mem", "INBOX", "inbox")
    box = MemoryMailSource("mem", {inbox: [], FolderRef("mem", "Sent", "sent"): []})
    box.append(
        inbox,
        f"From: jean@acme.fr\r\nTo: {ME}\r\nSubject: Daemon\r\nMessage-ID: <dw@acme.fr>\r\n"
        "Date: Mon, 2 Mar 2026 09:00:00 +0100\r\n\r\nTexte\r\n".encode(),
        internaldate=datetime.now(UTC) - 2 * HOUR,
    )
    settings = settings_from_mapping(
        {
            "me": {"addresses": [ME], "language": "en"},
            "clients": [{"name": "Acme", "domains": ["acme.fr"]}],
            "store": {"path": str(tmp_path / "d.db")},
            "archive": {"path": str(tmp_path / "archive")},
            "metrics": {"listen": "127.0.0.1:0"},
            "daemon": {"recompute_every": "1s", "recompute_in_child": False},
            "web": {"listen": "127.0.0.1:0", "password_env": "RW_TEST_WEB_PASSWORD"},
            "accounts": [{"name": "mem", "type": "graph"}],
        }
    )
    timing = WatchTiming(backoff_base_s=0.05, backoff_cap_s=0.5, wait_s=60.0, sync_every_s=60.0)
    daemon = Daemon(settings, source_factory=lambda _a: box, timing=timing)
    daemon.start()
    try:
        port = daemon.web_port
        assert port is not None
        deadline = time.monotonic() + 20
        while b"Daemon" not in request(port, "GET", "/", headers=basic(PASSWORD))[2]:
            assert time.monotonic() < deadline, "the page never showed the synced turn"
            time.sleep(0.1)
        assert request(port, "GET", "/", headers=basic("nope"))[0] == 401
        assert request(port, "GET", "/healthz")[0] == 200
    finally:
        assert daemon.shutdown() == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Acme", "Bolt", "Other"]),
            st.integers(min_value=0, max_value=200 * 3600),
            st.sampled_from(list(TurnState)),
        ),
        max_size=12,
    )
)
def test_board_holds_every_awaiting_turn_overdue_first_then_by_deadline(
    turns: list[tuple[str, int, TurnState]],
) -> None:
    rules = Rules(
        me=frozenset({ME}),
        clients=(ClientRule("Acme", ("acme.fr",), reply_within_s=8 * 3600.0),
                 ClientRule("Bolt", ("bolt.com",))),
    )  # fmt: skip
    awaiting = tuple(
        Awaiting(f"t{i}", client, f"s{i}", f"m{i}", NOW - timedelta(seconds=age), age, age, state)
        for i, (client, age, state) in enumerate(turns)
    )
    analysis = Analysis(NOW, 86400.0, 64800.0, "calendar", Totals(0, 0, 0, 0), (), awaiting, (), ())
    trend = LatencyTrend(None, None, 0, 0, Trend.UNKNOWN)
    found = Insights(NOW, NOW - 28 * 24 * HOUR, NOW - 56 * 24 * HOUR, (), (), (), (), trend, (), ())
    board = status_board(analysis, found, rules)
    assert sorted(t.thread_id for t in board.owed) == sorted(w.thread_id for w in awaiting)
    rank = {TurnState.OVERDUE: 0, TurnState.DUE_SOON: 1, TurnState.OK: 2, TurnState.ON_LEAVE: 3}
    keys = [(rank[t.state], t.deadline) for t in board.owed]
    assert keys == sorted(keys)
    for t in board.owed:
        within = 8 * 3600 if t.client == "Acme" else 86400
        assert t.deadline == t.since + timedelta(seconds=within)

"""The status page: the daemon's latest analysis as HTML (Jinja2) and JSON, and its actions.

Everything a page view needs is prepared when the recompute publishes a snapshot (on the
scheduler's thread): the board (core/status.py), the accounts' sync health and the latest
agreements. A request then only renders; it never reads the mailbox or the message facts,
so it never waits for a sync or a recompute.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import urllib.parse
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import structlog

from responsewatch.adapters.strings import CATALOG
from responsewatch.app.archive_app import open_archive, reject
from responsewatch.app.archive_evidence import agreements_since
from responsewatch.app.bootstrap import bootstrap
from responsewatch.app.report import analysis_json
from responsewatch.app.status_json import compressed_report
from responsewatch.config import Settings
from responsewatch.core import durations
from responsewatch.core.insights import Insights, insights_json
from responsewatch.core.models import Analysis, TurnState
from responsewatch.core.status import (
    SPARK_WEEKS,
    ClientPanel,
    StatusBoard,
    clean_text,
    sparkline_path,
    status_board,
)
from responsewatch.errors import RwError
from responsewatch.ports import WebResponse

__all__ = [
    "REJECT_AGREEMENT",
    "AccountHealth",
    "AgreementRow",
    "Prepared",
    "StatusSite",
    "StatusState",
    "StatusView",
    "open_link",
    "prepare",
    "read_agreements",
    "read_health",
    "report_in_child",
    "status_document",
    "sync_json",
]

log = structlog.get_logger("responsewatch.status")

# "Not an agreement": (settings, message_id) -> None. None hides the button. It only writes
# the archive (a rejection entry, as `archive reject` does), never the mailbox.
Rejecter = Callable[[Settings, str], None]

PAGE_REJECTION_REASON = "not an agreement (status page)"


def reject_in_archive(settings: Settings, message_id: str) -> None:
    """The archive's rejection entry for ``message_id``. Writers of the ledger serialise on
    its flock, so this is safe beside the daemon's own archive."""
    app = bootstrap(settings)
    try:
        archive = open_archive(settings, head=app.store)
        reject(archive, message_id, PAGE_REJECTION_REASON, app.clock.now())
    finally:
        app.close()


REJECT_AGREEMENT: Rejecter | None = reject_in_archive

LATEST_AGREEMENTS = 10
# Rows per list on the page (overdue first, so the cut only drops the least urgent): a page
# is read in ten seconds, on a phone too; /api/status has every turn.
MAX_ROWS = 100
SPARK_W, SPARK_H = 120.0, 28.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STRINGS: Mapping[str, Mapping[str, str]] = CATALOG
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("responsewatch", "templates"),
    autoescape=True,  # every subject, name and id on the page comes from mail
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
_TEXT = "text/plain; charset=utf-8"
_STATIC = {
    "status.css": "text/css; charset=utf-8",
    "status.js": "text/javascript; charset=utf-8",
}


# -- the recompute, with insights ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prepared:
    """One recompute's worth of status: everything costly, built off the request path."""

    analysis: Analysis
    insights: Insights
    board: StatusBoard
    # `report --format json`, serialised and zlib-compressed (the API adds "sync"): it
    # lists every reply ever measured, ~160 MB at 1,000,000 messages, ~10 times less
    # compressed, and only /api/status reads it.
    report_json: bytes


def prepare(analysis: Analysis, insights: Insights, settings: Settings) -> Prepared:
    return Prepared(
        analysis,
        insights,
        status_board(analysis, insights, settings.rules),
        compressed_report(analysis, insights),
    )


def _report(settings: Settings, at: datetime) -> Prepared:
    app = bootstrap(settings)
    try:
        analysis, found = app.report_with_insights(at)
    finally:
        app.close()
    return prepare(analysis, found, settings)


def report_in_child(settings: Settings, at: datetime) -> Prepared:
    """The analysis, insights, board and report JSON in a short-lived child (as
    app/recompute.py, which says why: the facts' memory goes back to the system when the
    child exits). Serialising a 100,000-message report takes a second of CPU; in the
    child it never holds the daemon's GIL while a page is being served."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_report, settings, at).result()


# -- the snapshot the page renders from -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountHealth:
    account: str
    last_success: datetime | None
    errors: int
    error_kinds: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class AgreementRow:
    message_id: str
    client: str
    phrase: str
    sentence: str  # the matched sentence (the archive's excerpt), cleaned
    received_at: datetime | None
    dkim: str


@dataclass(frozen=True, slots=True)
class StatusView:
    analysis: Analysis
    insights: Insights
    board: StatusBoard
    health: tuple[AccountHealth, ...]
    agreements: tuple[AgreementRow, ...]
    at: datetime
    report_json: bytes = b""  # zlib-compressed, as Prepared.report_json
    _cache: dict[str, bytes] = field(default_factory=dict, compare=False)


def status_document(view: StatusView) -> dict[str, Any]:
    """``report --format json`` plus one key, ``sync``: the accounts' health."""
    doc = {**analysis_json(view.analysis), "insights": insights_json(view.insights)}
    doc["sync"] = sync_json(view)
    return doc


def sync_json(view: StatusView) -> dict[str, Any]:
    return {
        "analysis_at": view.at.astimezone(UTC).isoformat(),
        "accounts": [
            {
                "account": h.account,
                "last_success": h.last_success.astimezone(UTC).isoformat()
                if h.last_success
                else None,
                "errors": h.errors,
                "error_kinds": dict(h.error_kinds),
            }
            for h in view.health
        ],
    }


def read_health(
    settings: Settings,
    status: Mapping[str, tuple[datetime | None, int]],
    errors: Mapping[tuple[str, str], int],
) -> tuple[AccountHealth, ...]:
    out = []
    for account in settings.accounts:
        kinds = tuple(sorted((k, n) for (a, k), n in errors.items() if a == account.name))
        last = status.get(account.name, (None, 0))[0]
        out.append(AccountHealth(account.name, last, sum(n for _, n in kinds), kinds))
    return tuple(out)


def read_agreements(archive_path: Path, limit: int = LATEST_AGREEMENTS) -> tuple[AgreementRow, ...]:
    """The latest archived agreements, newest first, through the archive app (whatever it
    lists is what the page shows)."""
    if not archive_path.exists():
        return ()
    try:
        entries = agreements_since(archive_path, _EPOCH)
    except (RwError, OSError, ValueError, KeyError) as exc:
        log.warning("status_agreements_unreadable", kind=type(exc).__name__)
        return ()
    sentences = _excerpts(archive_path)
    rows = []
    for e in reversed(entries[-limit:]):
        received = e.get("received_at")
        rows.append(
            AgreementRow(
                message_id=clean_text(str(e["message_id"]), 300),
                client=clean_text(str(e["client"])),
                phrase=clean_text(str(e["phrase"])),
                sentence=clean_text(sentences.get(str(e["message_id"]), ""), 300),
                received_at=datetime.fromisoformat(received) if received else None,
                dkim=str(e.get("dkim") or "none"),
            )
        )
    return tuple(rows)


def _excerpts(archive_path: Path) -> dict[str, str]:
    from responsewatch.adapters.archive import EvidenceArchive

    return {e.message_id: e.excerpt for e in EvidenceArchive(archive_path).entries()}


class StatusState:
    """The latest StatusView; published by the recompute, read by every request."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._view: StatusView | None = None
        self._acked: dict[str, datetime] = {}  # thread -> when, until a snapshot includes it

    def publish(
        self,
        analysis: Analysis,
        insights: Insights,
        at: datetime,
        health: tuple[AccountHealth, ...] = (),
        agreements: tuple[AgreementRow, ...] = (),
        prepared: Prepared | None = None,
    ) -> StatusView:
        if prepared is None:
            prepared = prepare(analysis, insights, self.settings)
        view = StatusView(
            analysis, insights, prepared.board, health, agreements, at, prepared.report_json
        )
        with self._lock:
            self._view = view
            self._acked = {t: when for t, when in self._acked.items() if when > analysis.now}
        return view

    def latest(self) -> StatusView | None:
        with self._lock:
            return self._view

    def acknowledged(self, thread_id: str, at: datetime) -> None:
        with self._lock:
            self._acked[thread_id] = at

    def pending_acks(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._acked)


# -- rendering ------------------------------------------------------------------------------


def _duration(seconds: float, t: Mapping[str, str]) -> str:
    return durations.clock(seconds, t["web_day"], zero_hours=False)


def _maybe(seconds: float | None, t: Mapping[str, str]) -> str:
    return "—" if seconds is None else _duration(seconds, t)


def open_link(template: str, message_id: str) -> str:
    """``notify.open_url`` with ``{message_id}`` filled in ("" when it is not set)."""
    if not template:
        return ""
    return template.replace("{message_id}", urllib.parse.quote(message_id, safe=""))


def _spark(values: tuple[float | None, ...], line_s: float) -> dict[str, Any]:
    top = max([line_s, *(v for v in values if v is not None)])
    return {
        "d": sparkline_path(values, width=SPARK_W, height=SPARK_H, ceiling=line_s),
        "line_y": f"{SPARK_H - SPARK_H * line_s / top:.1f}" if top > 0 else "0",
        "empty": all(v is None for v in values),
    }


def _panel(p: ClientPanel, t: Mapping[str, str]) -> dict[str, Any]:
    notes: list[tuple[str, str]] = []  # (css class, text)
    if p.overdue or p.awaiting:
        notes.append(
            ("bad" if p.overdue else "", t["web_counts"].format(a=p.awaiting, o=p.overdue))
        )
    if p.their_rising:
        notes.append(("warn", t["web_rising"]))
    if p.after_hours or p.after_hours_previous:
        notes.append(
            ("warn" if p.after_hours > p.after_hours_previous else "",
             t["web_after_hours"].format(n=p.after_hours, p=p.after_hours_previous))
        )  # fmt: skip
    if p.days_over is not None:
        notes.append(("warn", t["web_mission_over"].format(n=p.days_over)))
    if p.quiet_days is not None:
        notes.append(("", t["web_quiet"].format(n=p.quiet_days)))
    if p.update_late:
        notes.append(("bad", t["web_update_late"]))
    over = p.median_s is not None and p.median_s > p.reply_within_s
    return {
        "client": clean_text(p.client, 80),
        "median": _maybe(p.median_s, t),
        "p90": _maybe(p.p90_s, t),
        "median_over": over,
        "p90_over": p.p90_s is not None and p.p90_s > p.reply_within_s,
        "line": _duration(p.reply_within_s, t),
        "replies": p.replies,
        "mine": _spark(p.my_weeks, p.reply_within_s),
        "theirs": _spark(p.their_weeks, p.reply_within_s),
        "their_median": _maybe(p.their_median_s, t),
        "their_previous": _maybe(p.their_previous_s, t),
        "notes": notes,
    }


class StatusSite:
    """``StatusPages`` for the daemon: renders the latest view, runs the two actions."""

    def __init__(
        self,
        settings: Settings,
        state: StatusState,
        *,
        ack: Callable[[str, str, datetime], None],
        refresh: Callable[[], None] = lambda: None,
        healthy: Callable[[], bool] = lambda: True,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        reject: Rejecter | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self._ack = ack
        self._refresh = refresh
        self._healthy = healthy
        self._now = now
        self._reject = reject if reject is not None else REJECT_AGREEMENT
        self._zone = ZoneInfo(settings.timezone)

    # -- pages --------------------------------------------------------------------------

    def _language(self, query: Mapping[str, str]) -> str:
        lang = query.get("lang", "")
        return lang if lang in _STRINGS else self.settings.language

    def _when(self, at: datetime | None, t: Mapping[str, str]) -> str:
        if at is None:
            return t["web_never"]
        return f"{at.astimezone(self._zone):%Y-%m-%d %H:%M}"

    def page(self, query: dict[str, str], csrf: str) -> WebResponse:
        language = self._language(query)
        t = _STRINGS[language]
        view = self.state.latest()
        context: dict[str, Any] = {
            "t": t,
            "lang": language,
            "other_lang": "en" if language == "fr" else "fr",
            "csrf": csrf,
            "refresh_url": f"/?lang={query['lang']}" if query.get("lang") == language else "/",
            "done": query.get("done", "") if query.get("done") in ("ack", "reject") else "",
            "view": view is not None,
            "can_reject": self._reject is not None,
            "weeks": SPARK_WEEKS,
        }
        if view is not None:
            context.update(self._context(view, t, self._now()))
        html = _ENV.get_template("status.html").render(context)
        return WebResponse(200, html.encode("utf-8"))

    def _context(self, view: StatusView, t: Mapping[str, str], now: datetime) -> dict[str, Any]:
        hidden = self.state.pending_acks()
        open_url = self.settings.notify.open_url
        clock = (
            t["web_clock_business"] if view.board.clock == "business" else t["web_clock_calendar"]
        )
        owed = []
        shown = [turn for turn in view.board.owed if turn.thread_id not in hidden]
        for turn in shown[:MAX_ROWS]:
            remaining = (turn.deadline - now).total_seconds()
            owed.append(
                {
                    "thread_id": turn.thread_id,
                    "client": clean_text(turn.client, 80),
                    "subject": turn.subject,
                    "message_id": clean_text(turn.message_id, 300),
                    "link": open_link(open_url, turn.message_id),
                    "state": turn.state.value,
                    "state_text": t.get(f"web_state_{turn.state.value}", turn.state.value),
                    "age": _duration((now - turn.since).total_seconds(), t),
                    "since": self._when(turn.since, t),
                    "deadline_iso": turn.deadline.astimezone(UTC).isoformat(),
                    "deadline": self._when(turn.deadline, t),
                    "countdown": (
                        t["web_left"].format(d=_duration(remaining, t))
                        if remaining >= 0
                        else t["web_late"].format(d=_duration(-remaining, t))
                    ),
                    "late": remaining < 0,
                    "within": _duration(turn.reply_within_s, t),
                }
            )
        theirs = [
            {
                "client": clean_text(o.client, 80),
                "subject": clean_text(o.subject),
                "age": _duration((now - o.since).total_seconds(), t),
                "since": self._when(o.since, t),
            }
            for o in view.board.theirs[:MAX_ROWS]
        ]
        agreements = [
            {
                "client": a.client,
                "phrase": a.phrase,
                "sentence": a.sentence,
                "message_id": a.message_id,
                "received": self._when(a.received_at, t),
                "dkim": a.dkim,
                "dkim_text": t.get(f"web_dkim_{a.dkim}", a.dkim),
                "dkim_ok": a.dkim == "pass",  # unaligned: someone else signed it
            }
            for a in view.agreements
        ]
        health = [
            {
                "account": clean_text(h.account, 80),
                "last": self._when(h.last_success, t),
                "errors": h.errors,
            }
            for h in view.health
        ]
        counts = {s: sum(1 for o in shown if o.state is s) for s in TurnState}
        return {
            "owed": owed,
            "owed_more": len(shown) - len(owed),
            "theirs": theirs,
            "theirs_more": len(view.board.theirs) - len(theirs),
            "clients": [_panel(p, t) for p in view.board.clients],
            "agreements": agreements,
            "health": health,
            "clock": clock,
            "analysis_at": self._when(view.at, t),
            "overdue": counts[TurnState.OVERDUE],
            "due_soon": counts[TurnState.DUE_SOON],
        }

    def api_status(self) -> WebResponse:
        view = self.state.latest()
        if view is None:
            body = json.dumps({"status": "starting"}).encode()
            return WebResponse(503, body, "application/json")
        # The report serialised off the request path, plus the "sync" key: the same bytes
        # as json.dumps(status_document(view)). Not cached: a second copy of the whole
        # report would stay resident for a rarely called endpoint.
        if not view.report_json:
            body = json.dumps(status_document(view), ensure_ascii=False).encode("utf-8")
            return WebResponse(200, body, "application/json")
        sync = json.dumps(sync_json(view), ensure_ascii=False).encode("utf-8")
        report = zlib.decompress(view.report_json)
        return WebResponse(200, report[:-1] + b', "sync": ' + sync + b"}", "application/json")

    def health(self) -> WebResponse:
        view = self.state.latest()
        ok = self._healthy()
        doc = {
            "status": "ok" if ok else "failing",
            "analysis_at": view.at.astimezone(UTC).isoformat() if view else None,
        }
        return WebResponse(200 if ok else 503, json.dumps(doc).encode(), "application/json")

    def static(self, name: str) -> WebResponse | None:
        kind = _STATIC.get(name)
        if kind is None:
            return None
        body = resources.files("responsewatch").joinpath(f"templates/{name}").read_bytes()
        return WebResponse(200, body, kind)

    # -- actions (POST, CSRF checked by the adapter) ---------------------------------------

    def action(self, name: str, form: dict[str, str]) -> WebResponse:
        back = f"&lang={form['lang']}" if form.get("lang") in _STRINGS else ""
        if name == "ack":
            return self._acknowledge(form.get("thread_id", ""), back)
        if name == "reject" and self._reject is not None:
            return self._reject_agreement(form.get("message_id", ""), back)
        return WebResponse(404, b"404 Not Found\n", _TEXT)

    def _acknowledge(self, thread_id: str, back: str) -> WebResponse:
        """Same effect as ``responsewatch ack THREAD_ID``: an ack for each of the thread's
        awaiting turns (their first unanswered message), as of now."""
        view = self.state.latest()
        awaiting = view.analysis.awaiting if view is not None else ()
        turns = [w for w in awaiting if w.thread_id == thread_id]
        if not turns or thread_id in self.state.pending_acks():
            return WebResponse(409, b"409 Nothing awaits a reply there\n", _TEXT)
        at = self._now()
        for turn in turns:
            self._ack(turn.first_unanswered_message_id, thread_id, at)
        self.state.acknowledged(thread_id, at)
        log.info("web_ack", thread_id=thread_id, turns=len(turns))
        self._refresh()
        return WebResponse(303, b"", _TEXT, location=f"/?done=ack{back}")

    def _reject_agreement(self, message_id: str, back: str) -> WebResponse:
        view = self.state.latest()
        known = view is not None and any(a.message_id == message_id for a in view.agreements)
        if not known or self._reject is None:
            return WebResponse(409, b"409 No such agreement\n", _TEXT)
        try:
            self._reject(self.settings, message_id)
        except RwError as exc:
            log.warning("web_reject_failed", kind=type(exc).__name__)
            return WebResponse(409, b"409 Could not reject\n", _TEXT)
        self._refresh()
        return WebResponse(303, b"", _TEXT, location=f"/?done=reject{back}")

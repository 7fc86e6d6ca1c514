"""Digest -> e-mail: Jinja2 templates (HTML + plain text), Babel formatting, a matplotlib chart.

The HTML uses nested tables and inline CSS only (what Outlook, Gmail and Apple Mail all
render). The chart is a PNG attached as a CID image in a multipart/related part, so it
shows without loading remote content. Structure of the message::

    multipart/alternative
    ├── text/plain
    └── multipart/related
        ├── text/html        (<img src="cid:...">)
        └── image/png
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import structlog
from babel.dates import format_date, format_skeleton, format_time
from babel.numbers import format_decimal
from babel.units import format_unit

from responsewatch.adapters.strings import CATALOG
from responsewatch.core import durations
from responsewatch.core.digest import ClientLine, Digest, UpdateLate
from responsewatch.core.insights import Trend
from responsewatch.core.models import TurnState
from responsewatch.core.safe_text import plain

__all__ = ["CATALOG", "Rendered", "chart_png", "digest_email", "render_digest"]

LANGUAGES = ("fr", "en")
# CATALOG (adapters/strings.py): every string of the digest, per language (French is the
# default language of the tool).

RED = "#b42318"
AMBER = "#b54708"
GREEN = "#067647"
TREND_ARROWS = {Trend.UP: "↑", Trend.DOWN: "↓", Trend.FLAT: "→", Trend.UNKNOWN: "–"}
MAX_ROWS = 15  # per section: the digest is read in a minute, the report has the rest
# Longest text of one cell (a subject, a Message-ID): a 20,000-character subject would
# bury the digest. Cut with an ellipsis; the report has the full value.
MAX_CELL = 160
MAX_LABEL = 40  # a chart's client label

log = structlog.get_logger("responsewatch.digest")

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("responsewatch", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    html: str
    text: str
    chart: bytes


def _cell(text: str, *, sub: str = "", color: str = "", right: bool = False) -> dict[str, Any]:
    # Every value the digest shows passes here: bidi overrides ("invoice\u202egpj.exe") and
    # control characters never reach the reader's mail client, long fields are cut.
    return {
        "text": plain(text, MAX_CELL),
        "sub": plain(sub, MAX_CELL),
        "color": color,
        "right": right,
    }


_BABEL_UNITS = {"min": "duration-minute", "h": "duration-hour", "d": "duration-day"}


class _Formatter:
    def __init__(self, language: str, timezone: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"language {language!r}: expected one of {LANGUAGES}")
        self.locale = language
        self.tz = ZoneInfo(timezone)
        self.t = CATALOG[language]

    def duration(self, seconds: float | None) -> str:
        """Minutes under an hour, hours (one decimal) under three days, then days."""
        if seconds is None:
            return "–"
        value, short_unit = durations.magnitude(seconds, hours_below=durations.HOURS_BELOW_DIGEST)
        unit = _BABEL_UNITS[short_unit]
        return format_unit(value, unit, length="short", format="#,##0.#", locale=self.locale)

    def when(self, value: datetime | None) -> str:
        if value is None:
            return self.t["never"]
        local = value.astimezone(self.tz)
        day = format_skeleton("MMMd", local, locale=self.locale)
        return f"{day} {format_time(local, 'short', locale=self.locale)}"

    def day(self, value: date | None, fmt: str = "medium") -> str:
        return format_date(value, fmt, locale=self.locale) if value else self.t["unknown"]

    def number(self, value: float, pattern: str = "#,##0.#") -> str:
        return format_decimal(value, pattern, locale=self.locale)


def _section(
    title: str,
    headers: list[str],
    rows: list[list[dict[str, Any]]],
    *,
    note: str = "",
    empty: str = "",
    more: str = "",
    chart: bool = False,
) -> dict[str, Any]:
    return {
        "title": title,
        "headers": headers,
        "rows": rows,
        "note": note,
        "empty": empty,
        "more": more,
        "chart": chart,
    }


def _limited(rows: list[list[dict[str, Any]]], f: _Formatter) -> tuple[list[Any], str]:
    if len(rows) <= MAX_ROWS:
        return rows, ""
    return rows[:MAX_ROWS], f.t["more"].format(n=len(rows) - MAX_ROWS)


def _where(f: _Formatter, thread_id: str, message_id: str) -> str:
    return f"{f.t['thread']} {thread_id} · <{message_id}>"


def _client_row(f: _Formatter, line: ClientLine) -> list[dict[str, Any]]:
    late = line.median_s is not None and line.median_s > line.reply_within_s
    p90_late = line.p90_s is not None and line.p90_s > line.reply_within_s
    away = f.t["away_until"].format(day=f.day(line.away_until)) if line.away_until else ""
    return [
        _cell(line.client, sub=away),
        _cell(f.number(line.replies), right=True),
        _cell(f.duration(line.median_s), color=RED if late else GREEN, right=True),
        _cell(f.duration(line.p90_s), color=RED if p90_late else "", right=True),
        _cell(f"{line.within_sla}/{line.replies}" if line.replies else "–", right=True),
        _cell(f.number(line.awaiting), color=RED if line.overdue else "", right=True),
    ]


def _days(f: _Formatter, n: int) -> str:
    return f.t["day_one" if n == 1 else "day_many"].format(n=f.number(n))


def _update_line(f: _Formatter, u: UpdateLate) -> str:
    """ "Acme: no update for 9 days, due 2 days ago" (the reporting cadence)."""
    t = f.t
    due = t["due_today"] if u.late_days < 1 else t["due_ago"].format(days=_days(f, u.late_days))
    if u.silent_days is None:
        return t["update_line_none"].format(client=u.client, due=due)
    return t["update_line"].format(client=u.client, days=_days(f, u.silent_days), due=due)


def _sections(d: Digest, f: _Formatter) -> list[dict[str, Any]]:
    t = f.t
    out: list[dict[str, Any]] = []
    rows = [
        [
            _cell(t[s.state.value], color=RED if s.state is TurnState.OVERDUE else AMBER),
            _cell(s.client),
            _cell(s.subject or "–", sub=_where(f, s.thread_id, s.message_id)),
            _cell(f.duration(s.age_seconds), right=True),
        ]
        for s in d.to_answer
    ]
    rows, more = _limited(rows, f)
    heads = [t["col_state"], t["col_client"], t["col_subject"], t["col_age"]]
    out.append(_section(t["to_answer"], heads, rows, empty=t["to_answer_empty"], more=more))
    rows = [
        [
            _cell(o.client),
            _cell(o.subject or "–", sub=_where(f, o.thread_id, o.message_id)),
            _cell(f.duration(o.age_seconds), right=True),
        ]
        for o in d.owed
    ]
    rows, more = _limited(rows, f)
    heads = [t["col_client"], t["col_subject"], t["col_since"]]
    out.append(_section(t["owed"], heads, rows, empty=t["owed_empty"], more=more))
    if d.updates_late:
        rows = [[_cell(_update_line(f, u), color=RED)] for u in d.updates_late]
        rows, more = _limited(rows, f)
        out.append(
            _section(t["updates"], [t["col_client"]], rows, note=t["updates_note"], more=more)
        )
    rows = [
        [
            _cell(a.client),
            _cell(
                f"« {a.phrase} »" if f.locale == "fr" else f"“{a.phrase}”", sub=f"<{a.message_id}>"
            ),
            _cell(f.when(a.received_at)),
        ]
        for a in d.agreements
    ]
    heads = [t["col_client"], t["col_phrase"], t["col_received"]]
    out.append(_section(t["agreements"], heads, rows, empty=t["agreements_empty"]))
    mine = d.my_latency
    note = t["clients_note"].format(limit=f.duration(d.reply_within_s))
    if mine.current_median_s is not None:
        note += " " + t["my_latency"].format(
            current=f.duration(mine.current_median_s), previous=f.duration(mine.previous_median_s)
        )
    heads = [
        t[k]
        for k in (
            "col_client",
            "col_replies",
            "col_median",
            "col_p90",
            "col_within",
            "col_awaiting",
        )
    ]
    out.append(
        _section(
            t["clients"],
            heads,
            [_client_row(f, c) for c in d.clients],
            note=note,
            empty=t["clients_empty"],
            chart=True,
        )
    )
    if any(a.current or a.previous for a in d.after_hours):
        rows = [
            [
                _cell(a.client),
                _cell(f.number(a.current), right=True),
                _cell(f.number(a.previous), right=True),
                _cell(TREND_ARROWS[a.trend], color=RED if a.trend is Trend.UP else "", right=True),
            ]
            for a in d.after_hours
        ]
        heads = [t["col_client"], t["col_current"], t["col_previous"], t["col_trend"]]
        out.append(_section(t["after_hours"], heads, rows, note=t["after_hours_note"]))
    if d.long_missions:
        rows = [
            [
                _cell(m.client),
                _cell(f.day(m.started)),
                _cell(f.day(m.planned_end)),
                _cell(t["days_over"].format(n=m.days_over), color=RED, right=True),
            ]
            for m in d.long_missions
        ]
        heads = [t["col_client"], t["col_start"], t["col_end"], t["col_over"]]
        out.append(_section(t["missions"], heads, rows))
    if d.quiet:
        rows = [
            [
                _cell(q.client),
                _cell(f.when(q.last_contact)),
                _cell(
                    t["days_over"].format(n=q.quiet_days) if q.quiet_days is not None else "–",
                    right=True,
                ),
            ]
            for q in d.quiet
        ]
        rows, more = _limited(rows, f)
        heads = [t["col_client"], t["col_last"], t["col_since"]]
        out.append(_section(t["quiet"], heads, rows, note=t["quiet_note"], more=more))
    if d.rising:
        rows = []
        for r in d.rising:
            if r.signal == "latency":
                now_s, before = f.duration(r.current), f.duration(r.previous)
            else:
                now_s = t["per_week"].format(n=f.number(r.current))
                before = t["per_week"].format(n=f.number(r.previous))
            rows.append(
                [
                    _cell(r.client),
                    _cell(t[f"signal_{r.signal}"]),
                    _cell(now_s, color=RED, right=True),
                    _cell(before, right=True),
                ]
            )
        heads = [t["col_client"], t["col_signal"], t["col_now"], t["col_before"]]
        out.append(_section(t["rising"], heads, rows, note=t["rising_note"]))
    if d.out_of_office:
        rows = [
            [_cell(o.client, sub=o.address), _cell(f.day(o.return_date)), _cell(o.subject or "–")]
            for o in d.out_of_office
        ]
        heads = [t["col_client"], t["col_return"], t["col_subject"]]
        out.append(_section(t["away"], heads, rows))
    if d.suspicious:
        note = t["suspicious_note"].format(n=f.number(d.suspicious))
        out.append(_section(t["suspicious"], [], [], empty=note))
    return out


def chart_png(d: Digest, language: str) -> bytes:
    """Horizontal bars of each client's median and p90 reply time, with the SLA line."""
    t = CATALOG[language]
    lines = [c for c in d.clients if c.median_s is not None][:MAX_ROWS]
    limit_h = d.reply_within_s / 3600
    # Imported here: matplotlib and numpy are ~45 MB of the daemon's resident memory, and
    # the chart is drawn once a day at most.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 1.2 + 0.45 * max(len(lines), 1)), dpi=100)
    FigureCanvasAgg(fig)  # attaches itself: no pyplot, no global state, thread-safe
    ax = fig.add_subplot()
    if lines:
        ys = list(range(len(lines)))
        ax.barh(
            [y + 0.2 for y in ys],
            [(c.p90_s or 0) / 3600 for c in lines],
            height=0.4,
            color="#9db4d8",
            label=t["chart_p90"],
        )
        ax.barh(
            [y - 0.2 for y in ys],
            [(c.median_s or 0) / 3600 for c in lines],
            height=0.4,
            color="#2f5597",
            label=t["chart_median"],
        )
        # parse_math=False: a correspondent such as "${$@gmail.com" is a label, not mathtext.
        ax.set_yticks(ys, [plain(c.client, MAX_LABEL) for c in lines], parse_math=False)
        ax.invert_yaxis()
    else:
        ax.set_yticks([])
        ax.text(0.5, 0.5, t["chart_empty"], transform=ax.transAxes, ha="center", va="center")
    limit_label = t["chart_limit"].format(
        limit=_Formatter(language, "UTC").duration(d.reply_within_s)
    )
    ax.axvline(limit_h, color=RED, linestyle="--", linewidth=1.5, label=limit_label)
    ax.set_xlim(left=0, right=max([limit_h * 1.2] + [(c.p90_s or 0) / 3600 * 1.05 for c in lines]))
    ax.set_xlabel(t["chart_hours"])
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.42), ncol=3, fontsize="small", frameon=False
    )
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", pad_inches=0.1, metadata={"Software": None})
    return buf.getvalue()


def render_digest(
    d: Digest, language: str, *, image_src: Callable[[bytes], str] | None = None
) -> Rendered:
    """Subject, HTML and text of a digest. ``image_src`` turns the chart into the ``src`` of
    its ``<img>`` (a ``cid:`` in mail; by default a ``data:`` URI, for previews)."""
    f = _Formatter(language, d.timezone)
    t = f.t
    try:
        chart = chart_png(d, language)
    except Exception as exc:  # a chart is a nicety: the digest goes out without it
        log.warning("digest_chart_failed", error=type(exc).__name__)
        chart = b""
    src = (image_src or _data_uri)(chart) if chart else ""
    subject = t["subject"].format(date=f.day(d.day, "full"))
    if d.to_answer:
        subject += t["subject_counts"].format(overdue=d.overdue, due_soon=d.due_soon)
    context = {
        "lang": language,
        "t": t,
        "subject": subject,
        "date_line": f.day(d.day, "full"),
        "sections": _sections(d, f),
        "image_src": src,
        "empty": d.is_empty,
        "generated": f.when(d.now),
    }
    html = _ENV.get_template("digest.html").render(context)
    text = _ENV.get_template("digest.txt").render(context)
    return Rendered(subject, html, text, chart)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def digest_email(
    d: Digest,
    *,
    language: str,
    from_addr: str,
    to_addr: str,
    message_id: str,
    sender_name: str = "responsewatch",
) -> EmailMessage:
    """The complete message: headers, text + (HTML + chart) alternatives.

    ``Auto-Submitted: auto-generated`` makes every mail tool, responsewatch included, treat it
    as automated, so the digest never counts as a client message if it lands in a watched
    mailbox. ``message_id`` is given by the caller so that a retry reuses it.
    """
    domain = from_addr.rpartition("@")[2] or "responsewatch.invalid"
    cid = f"chart-{d.day.isoformat()}@{domain}"
    rendered = render_digest(d, language, image_src=lambda _png: f"cid:{cid}")
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = Address(sender_name, addr_spec=from_addr)
    msg["To"] = to_addr
    msg["Date"] = format_datetime(d.now.astimezone(ZoneInfo(d.timezone)))
    msg["Message-ID"] = f"<{message_id.strip('<>')}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Responsewatch-Digest"] = d.day.isoformat()
    msg["Content-Language"] = language
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    html_part = msg.get_payload()[1]  # type: ignore[index]
    assert isinstance(html_part, EmailMessage)
    if rendered.chart:
        html_part.add_related(
            rendered.chart,
            "image",
            "png",
            cid=f"<{cid}>",
            filename="chart.png",
            disposition="inline",
        )
    return msg

"""Render docs/monitoring.png: a dashboard-like page drawn from a real /metrics scrape.

Runs `responsewatch demo` (the bundled sample mailbox, synced into a SQLite store), puts
its Analysis behind the metrics collector, scrapes it over HTTP, parses the exposition
and draws what the Grafana dashboard shows from the same series: awaiting replies by
state, oldest awaiting age against the 24 h line, reply latency p50/p90 per client
(``histogram_quantile`` over the cumulative buckets, as Prometheus computes it). Then
headless Chromium screenshots the page. Not run in CI; needs `chromium` on PATH.

Usage: python tests/support/render_monitoring.py [--out docs/monitoring.png] [--html F]
"""

from __future__ import annotations

import argparse
import html
import math
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from responsewatch.adapters.metrics import (  # noqa: E402
    ResponsewatchCollector,
    build_registry,
    serve_metrics,
)
from responsewatch.adapters.store import SqliteStore  # noqa: E402
from responsewatch.app.commands import SAMPLE_CONFIG, SAMPLE_NOW, demo  # noqa: E402
from responsewatch.config import settings_from_mapping  # noqa: E402

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]
H = 3600.0
STATE_COLORS = {"ok": "#73bf69", "due_soon": "#ff9830", "overdue": "#f2495c"}
P_COLORS = {"p50": "#5794f2", "p90": "#b877d9"}
TICKS = [
    (H, "1h"),
    (6 * H, "6h"),
    (24 * H, "24h"),
    (7 * 24 * H, "7d"),
    (30 * 24 * H, "30d"),
    (90 * 24 * H, "90d"),
]


def scrape() -> tuple[str, int]:
    """The demo store behind the collector, scraped over HTTP; returns the exposition."""
    with tempfile.TemporaryDirectory() as tmp, structlog.testing.capture_logs():
        result = demo(keep=Path(tmp))
        settings = settings_from_mapping(dict(SAMPLE_CONFIG), base=Path(tmp))
        store = SqliteStore.open(Path(tmp) / "responsewatch.db", readonly=True)
        try:
            collector = ResponsewatchCollector(
                analysis=lambda: result.analysis,
                sync_status=store.sync_status,
                sync_errors=store.sync_errors,
                agreements=dict,
                rules=settings.rules,
                top_clients=settings.metrics_top_clients,
            )
            server, thread = serve_metrics(build_registry(collector), "127.0.0.1:0")
            try:
                url = f"http://127.0.0.1:{server.server_port}/metrics"
                with urllib.request.urlopen(url, timeout=5) as response:
                    text = response.read().decode()
            finally:
                server.shutdown()
                server.server_close()
                thread.join()
        finally:
            store.close()
    return text, result.analysis.totals.messages


def parse(text: str) -> Series:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def by_client(series: Series, name: str, **match: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for (n, labels), v in series.items():
        d = dict(labels)
        if n == name and all(d.get(k) == x for k, x in match.items()):
            out[d["client"]] = v
    return out


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile over cumulative (le, count) pairs."""
    buckets = sorted(buckets)
    total = buckets[-1][1]
    if total == 0:
        return None
    rank = q * total
    prev_le, prev_n = 0.0, 0.0
    for le, n in buckets:
        if n >= rank:
            if math.isinf(le):
                return prev_le
            return prev_le + (le - prev_le) * (rank - prev_n) / (n - prev_n)
        prev_le, prev_n = le, n
    return prev_le


def quantiles(series: Series, name: str) -> dict[str, dict[str, float | None]]:
    buckets: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for (n, labels), v in series.items():
        if n == f"{name}_bucket":
            d = dict(labels)
            buckets[d["client"]].append((float(d["le"]), v))
    return {
        c: {"p50": histogram_quantile(0.5, b), "p90": histogram_quantile(0.9, b)}
        for c, b in buckets.items()
    }


def duration(s: float) -> str:
    if s < 2 * H:
        return f"{s / 60:.0f} min"
    if s < 48 * H:
        return f"{s / H:.1f} h"
    return f"{s / 86400:.1f} d"


# --- SVG ----------------------------------------------------------------------------------

W, LABEL_W, PAD = 560, 90, 16
GRID, TEXT, DIM, LIMIT, OVERRIDE = "#2c3235", "#ccccdc", "#9fa7b3", "#f2495c", "#fade2a"


def text(
    x: float, y: float, s: str, *, size: int = 13, anchor: str = "start", fill: str = TEXT
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}">{html.escape(s)}</text>'
    )


def rect(x: float, y: float, w: float, h: float, color: str, opacity: float = 1.0) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h}" '
        f'fill="{color}" fill-opacity="{opacity}" rx="2"/>'
    )


def vline(x: float, y1: float, y2: float, style: str) -> str:
    return f'<line x1="{x:.1f}" y1="{y1:.1f}" x2="{x:.1f}" y2="{y2:.1f}" {style}/>'


def svg(width: int, height: float, parts: list[str]) -> str:
    return f'<svg width="{width}" height="{height:.0f}">{"".join(parts)}</svg>'


def log_x(v: float, width: int = W, lo: float = 0.5 * H, hi: float = 150 * 86400.0) -> float:
    v = min(max(v, lo), hi)
    return LABEL_W + (width - LABEL_W - PAD) * math.log(v / lo) / math.log(hi / lo)


def axis(height: float, width: int = W) -> list[str]:
    """Log-scale time ticks; the 24 h line drawn like the dashboard's threshold."""
    out = []
    for v, label in TICKS:
        x = log_x(v, width)
        if label == "24h":
            style = f'stroke="{LIMIT}" stroke-width="2" stroke-dasharray="6 4"'
        else:
            style = f'stroke="{GRID}" stroke-width="1"'
        out.append(vline(x, 8, height - 18, style))
        out.append(text(x, height - 4, label, size=11, anchor="middle", fill=DIM))
    return out


def awaiting_svg(series: Series, clients: list[str]) -> str:
    row, top = 34, 10
    height = top + row * len(clients) + 26
    counts = {
        s: by_client(series, "responsewatch_awaiting_reply_threads", state=s) for s in STATE_COLORS
    }
    most = max([1.0] + [sum(counts[s].get(c, 0) for s in STATE_COLORS) for c in clients])
    unit = (W - LABEL_W - PAD) / most
    parts = []
    for i, c in enumerate(clients):
        y = top + i * row
        parts.append(text(LABEL_W - 8, y + 17, c, anchor="end"))
        x = float(LABEL_W)
        for state, color in STATE_COLORS.items():
            n = counts[state].get(c, 0)
            if n:
                parts.append(rect(x, y + 4, n * unit, 20, color))
                mid = x + n * unit / 2
                parts.append(text(mid, y + 18, f"{n:.0f}", size=12, anchor="middle", fill="#111"))
                x += n * unit
    for k in range(int(most) + 1):
        parts.append(
            text(LABEL_W + k * unit, height - 4, str(k), size=11, anchor="middle", fill=DIM)
        )
    return svg(W, height, parts)


def age_svg(series: Series, clients: list[str]) -> str:
    row, top = 34, 10
    height = top + row * len(clients) + 26
    ages = by_client(series, "responsewatch_oldest_awaiting_reply_age_seconds")
    limits = by_client(series, "responsewatch_reply_within_seconds")
    warns = by_client(series, "responsewatch_reply_warn_at_seconds")
    parts = axis(height)
    for i, c in enumerate(clients):
        y = top + i * row
        age, limit = ages.get(c, 0.0), limits.get(c, 86400.0)
        state = "overdue" if age >= limit else "due_soon" if age >= warns.get(c, 64800) else "ok"
        parts.append(text(LABEL_W - 8, y + 17, c, anchor="end"))
        if age > 0:
            x = log_x(age)
            parts.append(rect(LABEL_W, y + 6, x - LABEL_W, 16, STATE_COLORS[state], 0.85))
            parts.append(text(min(x + 6, W - 60), y + 18, duration(age), size=12))
        if limit != 86400:
            style = f'stroke="{OVERRIDE}" stroke-width="2"'
            parts.append(vline(log_x(limit), y + 2, y + 26, style))
    return svg(W, height, parts)


def latency_svg(q: dict[str, dict[str, float | None]], clients: list[str], width: int) -> str:
    row, top = 40, 10
    height = top + row * len(clients) + 26
    parts = axis(height, width)
    for i, c in enumerate(clients):
        y = top + i * row
        parts.append(text(LABEL_W - 8, y + 22, c, anchor="end"))
        for j, (p, color) in enumerate(P_COLORS.items()):
            v = q.get(c, {}).get(p)
            if v is None:
                continue
            x, by = log_x(v, width), y + 4 + j * 16
            parts.append(rect(LABEL_W, by, x - LABEL_W, 13, color))
            parts.append(text(min(x + 6, width - 70), by + 11, f"{p} {duration(v)}", size=11))
    return svg(width, height, parts)


def legend(items: dict[str, str]) -> str:
    return "".join(
        f'<span class="key"><i style="background:{color}"></i>{html.escape(name)}</span>'
        for name, color in items.items()
    )


CSS = """
body { margin:0; background:#111217; color:#ccccdc; font-family: 'DejaVu Sans', sans-serif; }
header { padding:12px 18px; border-bottom:1px solid #2c3235; display:flex;
         justify-content:space-between; }
h1 { font-size:17px; margin:0; font-weight:500; } .sub { color:#9fa7b3; font-size:12px; }
.grid { display:grid; grid-template-columns: 1fr 1fr; gap:10px; padding:10px; }
.panel { background:#181b1f; border:1px solid #2c3235; border-radius:3px; padding:8px 10px; }
.panel h2 { font-size:13px; font-weight:500; margin:0 0 6px; }
.wide { grid-column: 1 / 3; }
.stats { grid-column: 1 / 3; display:grid; grid-template-columns: repeat(6, 1fr); gap:10px; }
.stat { background:#181b1f; border:1px solid #2c3235; border-radius:3px; padding:8px 12px; }
.stat .t { font-size:12px; color:#9fa7b3; } .stat .v { font-size:30px; font-weight:500; }
.key { font-size:11px; color:#9fa7b3; margin-right:12px; }
.key i { display:inline-block; width:14px; height:4px; margin:0 5px 2px 0;
         vertical-align:middle; }
"""


def page(series: Series, messages: int) -> str:
    clients = sorted(by_client(series, "responsewatch_oldest_awaiting_reply_age_seconds"))
    awaiting = {
        s: sum(by_client(series, "responsewatch_awaiting_reply_threads", state=s).values())
        for s in STATE_COLORS
    }
    breaches = sum(by_client(series, "responsewatch_sla_breaches_total").values())
    replies = sum(by_client(series, "responsewatch_reply_latency_seconds_count").values())
    version = next(dict(k[1])["version"] for k in series if k[0] == "responsewatch_build_info")
    q = quantiles(series, "responsewatch_reply_latency_seconds")
    stats = [
        ("Awaiting replies", f"{sum(awaiting.values()):.0f}", TEXT),
        ("Overdue", f"{awaiting['overdue']:.0f}", STATE_COLORS["overdue"]),
        ("Due soon", f"{awaiting['due_soon']:.0f}", STATE_COLORS["due_soon"]),
        ("Replies measured", f"{replies:.0f}", TEXT),
        ("SLA breaches", f"{breaches:.0f}", STATE_COLORS["due_soon"]),
        ("Messages ingested", f"{messages}", TEXT),
    ]
    stat_html = "".join(
        f'<div class="stat"><div class="t">{t}</div><div class="v" style="color:{c}">{v}</div>'
        "</div>"
        for t, v, c in stats
    )
    sub = (
        f"/metrics scrape of <code>responsewatch demo</code> (sample mailbox) as of "
        f"{html.escape(SAMPLE_NOW)} · responsewatch {html.escape(version)}"
    )
    limits = {"24 h reply limit": LIMIT, "client's own limit (override)": OVERRIDE}
    latency_title = (
        "Reply latency p50 / p90 per client (histogram_quantile over the whole history, log scale)"
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>{CSS}</style></head>
<body><header><h1>responsewatch</h1><span class="sub">{sub}</span></header>
<div class="grid"><div class="stats">{stat_html}</div>
<div class="panel"><h2>Awaiting replies by state</h2>{awaiting_svg(series, clients)}
<div>{legend(STATE_COLORS)}</div></div>
<div class="panel"><h2>Oldest awaiting reply age (log scale)</h2>{age_svg(series, clients)}
<div>{legend(limits)}</div></div>
<div class="panel wide"><h2>{latency_title}</h2>{latency_svg(q, clients, 1150)}
<div>{legend({**P_COLORS, "24 h": LIMIT})}</div></div>
</div></body></html>"""


def screenshot(html_path: Path, out: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium not found: apt-get install -y --no-install-recommends chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                "--window-size=1200,660",
                f"--screenshot={out}",
                html_path.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "monitoring.png")
    ap.add_argument("--html", type=Path, default=None, help="also keep the HTML page here")
    args = ap.parse_args()
    text, messages = scrape()
    document = page(parse(text), messages)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        html_path = args.html or Path(tmp) / "monitoring.html"
        html_path.write_text(document, encoding="utf-8")
        screenshot(html_path.resolve(), args.out.resolve())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

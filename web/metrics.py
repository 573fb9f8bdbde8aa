"""GET /metrics: the server's figures in the Prometheus text format.

Each app gets its own ``CollectorRegistry`` (never the process-wide default one), so several
apps in one process, as in tests, keep separate figures. Gauges and counters of the hub and
the relay are read from those objects at scrape time, so they cost nothing between scrapes.

This module defines the figures and serves them; the composition root builds the registry
(``panamia/metrics.py``), stores it under ``keys.METRICS`` and names the hub's and the
relay's ``stats`` once they exist. Handlers call ``record_booking(app)`` where a booking is
stored. With ``metrics.bearer_token`` set, a scrape must carry it as a bearer token.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import hdrs, web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from web import keys
from web.activity import HourlyActivity
from web.quality.metrics import QualityHistograms

StatsSource = Callable[[], Mapping[str, Any]]


@dataclass
class MetricsState:
    """An app's registry, its bookings counter, and where the live figures are read from."""

    registry: CollectorRegistry
    bookings: Counter
    rate_limited: Counter
    """Requests refused by a rate limit, labelled ``limit`` (see web.limits)."""
    signins: Counter | None = None
    quality: QualityHistograms | None = None
    """Round-trip time, loss and join time from the rooms' quality reports."""
    activity: HourlyActivity = field(default_factory=HourlyActivity)
    """Sign-ins and bookings per hour (the operator console)."""
    hub_stats: StatsSource | None = None
    relay_stats: StatsSource | None = None
    mail_stats: StatsSource | None = None
    wsmedia_stats: StatsSource | None = None


# (hub stats key, metric name, kind, help)
HUB_METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("connections", "panamia_hub_connections", "gauge", "Open websocket connections"),
    ("channels", "panamia_hub_channels", "gauge", "Channels with at least one subscriber"),
    ("messages_in", "panamia_hub_messages_in", "counter", "Frames received from clients"),
    ("messages_out", "panamia_hub_messages_out", "counter", "Frames sent to clients"),
    (
        "client_events_rejected",
        "panamia_hub_client_events_rejected",
        "counter",
        "Client events refused (rate limit, size, channel type, not subscribed)",
    ),
    (
        "client_events_rate_limited",
        "panamia_hub_client_events_rate_limited",
        "counter",
        "Client events refused by a rate limit (per connection or per user)",
    ),
)
RELAY_METRICS: tuple[tuple[str, str, str], ...] = (
    ("sessions", "panamia_relay_sessions", "Sessions whose media goes through this node"),
    ("peer_connections", "panamia_relay_peer_connections", "Relay peer connections"),
    ("streams", "panamia_relay_streams", "Media streams forwarded by the relay"),
    (
        "transcoding",
        "panamia_relay_transcoding_streams",
        "Relayed streams re-encoded because the two sides share no codec",
    ),
)


RELAY_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("packets_in", "panamia_relay_packets_in", "RTP packets received from publishers"),
    ("packets_forwarded", "panamia_relay_packets_forwarded", "RTP packets sent to subscribers"),
    (
        "packets_dropped",
        "panamia_relay_packets_dropped",
        "RTP packets not forwarded (waiting for a keyframe, subscriber not connected yet)",
    ),
    (
        "packets_fast",
        "panamia_relay_packets_fast",
        "RTP packets handled within the datagram callback",
    ),
    ("keyframe_requests", "panamia_relay_keyframe_requests", "PLIs sent to publishers"),
)


MAIL_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("sent", "panamia_mail_sent", "E-mails this node handed to the SMTP server (or the log)"),
    ("retried", "panamia_mail_retried", "Delivery attempts that failed and were rescheduled"),
    ("failed", "panamia_mail_failed", "E-mails given up after their last attempt"),
    ("skipped", "panamia_mail_skipped", "Reminders not sent: their session was moved or cancelled"),
)


class MailCollector(Collector):
    """The outbox sender's figures (zeros until the sender exists); the queue depth is the
    count of due, unsent messages seen at the sender's last look."""

    def __init__(self, state: MetricsState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        source = self._state.mail_stats
        stats = source() if source is not None else {}
        for key, name, text in MAIL_COUNTERS:
            counter = CounterMetricFamily(name, text)
            counter.add_metric([], float(stats.get(key, 0)))
            yield counter
        depth = GaugeMetricFamily(
            "panamia_mail_queue_depth", "E-mails due and not yet sent (all nodes)"
        )
        depth.add_metric([], float(stats.get("queue_depth", 0)))
        yield depth


class HubCollector(Collector):
    """Reads the hub's ``stats()`` (a mapping of the keys in HUB_METRICS) when scraped."""

    def __init__(self, state: MetricsState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        source = self._state.hub_stats
        if source is None:
            return
        stats = source()
        for key, name, kind, text in HUB_METRICS:
            value = stats.get(key)
            if value is None:
                continue
            if kind == "gauge":
                gauge = GaugeMetricFamily(name, text)
                gauge.add_metric([], float(value))
                yield gauge
            else:
                counter = CounterMetricFamily(name, text)
                counter.add_metric([], float(value))
                yield counter


class RelayCollector(Collector):
    """Reads the relay's ``stats()`` once the composition root named it (zeros until then)."""

    def __init__(self, state: MetricsState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        source = self._state.relay_stats
        stats = source() if source is not None else {}
        for key, name, text in RELAY_METRICS:
            family = GaugeMetricFamily(name, text)
            family.add_metric([], float(stats.get(key, 0)))
            yield family
        for key, name, text in RELAY_COUNTERS:
            counter = CounterMetricFamily(name, text)
            counter.add_metric([], float(stats.get(key, 0)))
            yield counter
        workers = stats.get("workers")
        if isinstance(workers, list):
            yield from _relay_worker_metrics(workers)


RELAY_WORKER_METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("alive", "panamia_relay_worker_up", "gauge", "1 while the relay worker process runs"),
    ("sessions", "panamia_relay_worker_sessions", "gauge", "Sessions placed on the relay worker"),
    ("streams", "panamia_relay_worker_streams", "gauge", "Media streams the relay worker forwards"),
    (
        "cpu_seconds",
        "panamia_relay_worker_cpu_seconds",
        "counter",
        "CPU time the relay worker process used (restarts from 0 when it is replaced)",
    ),
    (
        "rss_bytes",
        "panamia_relay_worker_resident_memory_bytes",
        "gauge",
        "Worker's resident memory",
    ),
    ("restarts", "panamia_relay_worker_restarts", "counter", "Times the worker was replaced"),
    (
        "recycles",
        "panamia_relay_worker_recycles",
        "counter",
        "Times the worker was replaced by a fresh process after relay.worker_idle_recycle_s idle",
    ),
)
"""Per relay worker process (label ``worker``: its slot, 0 to relay.workers - 1)."""


def _relay_worker_metrics(workers: list[Mapping[str, object]]) -> Iterator[Metric]:
    for key, name, kind, text in RELAY_WORKER_METRICS:
        family: GaugeMetricFamily | CounterMetricFamily = (
            GaugeMetricFamily(name, text, labels=["worker"])
            if kind == "gauge"
            else CounterMetricFamily(name, text, labels=["worker"])
        )
        for row in workers:
            value = row.get(key, 0)
            number = float(value) if isinstance(value, int | float) else 0.0
            family.add_metric([str(row.get("worker", ""))], number)
        yield family


class LoopCollector(Collector):
    """Tasks alive on the event loop (a leak shows as a count that never comes back down;
    bench/soak.py watches it). Scraped by the /metrics handler, so on the loop itself."""

    def collect(self) -> Iterator[Metric]:
        try:
            count = len(asyncio.all_tasks())
        except RuntimeError:  # scraped outside the loop: nothing to say
            return
        gauge = GaugeMetricFamily("panamia_asyncio_tasks", "Tasks alive on the event loop")
        gauge.add_metric([], float(count))
        yield gauge


def setup_metrics_routes(app: web.Application) -> None:
    """Serve ``app[keys.METRICS]`` at GET /metrics."""
    app.router.add_get("/metrics", metrics_handler)


def record_booking(app: web.Application) -> None:
    state = app.get(keys.METRICS)
    if state is not None:
        state.bookings.inc()
        state.activity.record("bookings")


def record_signin(app: web.Application) -> None:
    state = app.get(keys.METRICS)
    if state is not None:
        if state.signins is not None:
            state.signins.inc()
        state.activity.record("signins")


def _authorized(request: web.Request) -> bool:
    """True when no token is configured, or the request carries it as a bearer token.

    The comparison takes the same time wherever the two differ, so a scraper's token cannot be
    guessed a character at a time."""
    token = request.app[keys.SETTINGS].metrics.bearer_token.reveal()
    if not token:
        return True
    scheme, _, given = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


async def metrics_handler(request: web.Request) -> web.Response:
    if not _authorized(request):
        return web.json_response(
            {"error": "A bearer token is required", "field": "Authorization"},
            status=401,
            headers={hdrs.WWW_AUTHENTICATE: 'Bearer realm="metrics"'},
        )
    body = generate_latest(request.app[keys.METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

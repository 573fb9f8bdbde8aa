"""The app's Prometheus registry: one per app, never the process-wide default."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, ProcessCollector

from web.limits import LIMIT_NAMES
from web.metrics import HubCollector, MailCollector, MetricsState, RelayCollector
from web.wsmedia.metrics import WsMediaCollector


def make_metrics() -> MetricsState:
    """A fresh registry with the process, hub, relay, mail, websocket media and bookings
    figures.

    The hub and relay collectors report nothing (hub) or zeros (relay) until the app's
    start-up names their ``stats`` sources in the returned state.
    """
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    bookings = Counter(
        "panamia_bookings_created", "Sessions booked since the process started", registry=registry
    )
    rate_limited = Counter(
        "panamia_rate_limited",
        "Requests refused with 429 by a rate limit",
        ["limit"],
        registry=registry,
    )
    for name in LIMIT_NAMES:  # every limit shows, at zero, before its first refusal
        rate_limited.labels(limit=name)
    state = MetricsState(registry=registry, bookings=bookings, rate_limited=rate_limited)
    registry.register(HubCollector(state))
    registry.register(RelayCollector(state))
    registry.register(MailCollector(state))
    registry.register(WsMediaCollector(lambda: state.wsmedia_stats))
    return state

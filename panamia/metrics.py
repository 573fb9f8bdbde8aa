"""The app's Prometheus registry: one per app, never the process-wide default."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, ProcessCollector

from web.hub_limits import HUB_LIMIT_NAMES
from web.limits import LIMIT_NAMES
from web.metrics import (
    HubCollector,
    LoopCollector,
    MailCollector,
    MetricsState,
    RelayCollector,
)
from web.quality.metrics import QualityHistograms
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
        "Requests refused by a rate limit (429, or a Pusher code on the hub's socket)",
        ["limit"],
        registry=registry,
    )
    # every limit shows, at zero, before its first refusal
    for name in (*LIMIT_NAMES, *HUB_LIMIT_NAMES):
        rate_limited.labels(limit=name)
    signins = Counter(
        "panamia_signins", "Sign-in links used since the process started", registry=registry
    )
    state = MetricsState(
        registry=registry,
        bookings=bookings,
        rate_limited=rate_limited,
        signins=signins,
        quality=QualityHistograms.register(registry),
    )
    registry.register(HubCollector(state))
    registry.register(RelayCollector(state))
    registry.register(MailCollector(state))
    registry.register(LoopCollector())
    registry.register(WsMediaCollector(lambda: state.wsmedia_stats))
    return state

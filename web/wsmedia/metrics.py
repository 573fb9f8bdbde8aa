"""The websocket media path's figures on /metrics: open sockets and what was forwarded or
dropped (zeros until the composition root names the source)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

WSMEDIA_GAUGES: tuple[tuple[str, str, str], ...] = (
    ("sockets", "panamia_wsmedia_sockets", "Open media websockets (calls on the websocket path)"),
)
WSMEDIA_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("forwarded", "panamia_wsmedia_frames_forwarded", "Media frames sent to receivers"),
    (
        "dropped_video",
        "panamia_wsmedia_video_dropped",
        "Video chunks dropped for a receiver that fell behind or waits for a key frame",
    ),
    ("dropped_audio", "panamia_wsmedia_audio_dropped", "Audio chunks dropped (receiver behind)"),
    ("congested", "panamia_wsmedia_congestion", "Times a receiver's queue filled up"),
)


class WsMediaCollector(Collector):
    def __init__(self, source: Callable[[], Callable[[], Mapping[str, float]] | None]) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        stats_of = self._source()
        stats = stats_of() if stats_of is not None else {}
        for key, name, text in WSMEDIA_GAUGES:
            gauge = GaugeMetricFamily(name, text)
            gauge.add_metric([], float(stats.get(key, 0)))
            yield gauge
        for key, name, text in WSMEDIA_COUNTERS:
            counter = CounterMetricFamily(name, text)
            counter.add_metric([], float(stats.get(key, 0)))
            yield counter

"""Prometheus histograms fed by the rooms' quality reports (display data, like the console)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Histogram

from web.quality.sample import Sample


@dataclass(frozen=True)
class QualityHistograms:
    rtt: Histogram
    loss: Histogram
    join: Histogram

    @classmethod
    def register(cls, registry: CollectorRegistry) -> QualityHistograms:
        return cls(
            rtt=Histogram(
                "panamia_call_rtt_seconds",
                "Round-trip time of calls' media path, as the rooms report it every 5 s",
                ["path"],
                buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2),
                registry=registry,
            ),
            loss=Histogram(
                "panamia_call_packet_loss_ratio",
                "Share of media packets lost over each 5 s report (0-1)",
                ["path"],
                buckets=(0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
                registry=registry,
            ),
            join=Histogram(
                "panamia_call_join_seconds",
                "Time from opening the room to the first frame of the other person's video",
                buckets=(0.5, 1, 1.5, 2, 3, 5, 8, 13, 21, 34),
                registry=registry,
            ),
        )

    def observe(self, sample: Sample, join_ms: int | None) -> None:
        if sample.rtt_ms is not None:
            self.rtt.labels(path=sample.path).observe(sample.rtt_ms / 1000)
        if sample.loss_pct is not None:
            self.loss.labels(path=sample.path).observe(sample.loss_pct / 100)
        if join_ms is not None:
            self.join.observe(join_ms / 1000)

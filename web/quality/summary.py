"""A participant's running call-quality summary: sums and extremes, updated per report, so a
long call costs the same memory as a short one."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from store.operator import QualitySummary
from web.quality.sample import Sample


@dataclass
class Mean:
    total: float = 0.0
    count: int = 0
    high: float | None = None
    low: float | None = None

    def add(self, value: float | None) -> None:
        if value is None:
            return
        self.total += value
        self.count += 1
        self.high = value if self.high is None else max(self.high, value)
        self.low = value if self.low is None else min(self.low, value)

    @property
    def average(self) -> float | None:
        return round(self.total / self.count, 2) if self.count else None


@dataclass
class RunningSummary:
    session_id: str
    email: str
    node: str
    first_at: datetime
    last_at: datetime
    reports: int = 0
    path: str = "none"
    paths: list[str] = field(default_factory=list)
    rtt: Mean = field(default_factory=Mean)
    jitter: Mean = field(default_factory=Mean)
    loss: Mean = field(default_factory=Mean)
    bitrate_in: Mean = field(default_factory=Mean)
    bitrate_out: Mean = field(default_factory=Mean)
    fps: Mean = field(default_factory=Mean)
    resolution: str = ""
    limitations: Counter[str] = field(default_factory=Counter)
    local_candidate: str = ""
    remote_candidate: str = ""
    poor_reports: int = 0
    join_ms: int | None = None

    def add(self, sample: Sample) -> None:
        self.reports += 1
        self.last_at = max(self.last_at, sample.at)
        self.path = sample.path
        if sample.path != "none" and sample.path not in self.paths:
            self.paths.append(sample.path)
        self.rtt.add(sample.rtt_ms)
        self.jitter.add(sample.jitter_ms)
        self.loss.add(sample.loss_pct)
        self.bitrate_in.add(sample.bitrate_in_kbps)
        self.bitrate_out.add(sample.bitrate_out_kbps)
        self.fps.add(sample.fps)
        self.resolution = sample.resolution or self.resolution
        if sample.limitation and sample.limitation != "none":
            self.limitations[sample.limitation] += 1
        self.local_candidate = sample.local_candidate or self.local_candidate
        self.remote_candidate = sample.remote_candidate or self.remote_candidate
        self.poor_reports += int(sample.poor)

    def freeze(self) -> QualitySummary:
        common = self.limitations.most_common(1)
        return QualitySummary(
            session_id=self.session_id,
            email=self.email,
            first_at=self.first_at,
            last_at=self.last_at,
            reports=self.reports,
            path=self.path,
            paths=tuple(self.paths),
            node=self.node,
            rtt_ms_avg=self.rtt.average,
            rtt_ms_max=self.rtt.high,
            jitter_ms_avg=self.jitter.average,
            loss_pct_avg=self.loss.average,
            loss_pct_max=self.loss.high,
            bitrate_in_kbps_avg=self.bitrate_in.average,
            bitrate_out_kbps_avg=self.bitrate_out.average,
            fps_avg=self.fps.average,
            fps_min=self.fps.low,
            resolution=self.resolution,
            limitation=common[0][0] if common else "",
            local_candidate=self.local_candidate,
            remote_candidate=self.remote_candidate,
            poor_reports=self.poor_reports,
            join_ms=self.join_ms,
        )

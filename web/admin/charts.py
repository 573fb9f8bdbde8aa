"""Time-series charts drawn on the server as inline SVG: no script, nothing to vendor, and
the page's content security policy (no inline style) holds, since only presentation
attributes are used.

Each chart carries ``data-metric``, ``data-max`` (the largest value drawn) and
``data-points`` (how many), so a test or a script can read what it shows without parsing the
drawing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

from web.quality.sample import Sample

WIDTH, HEIGHT = 500, 150
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 22
COLOURS = ("#2563eb", "#d97706", "#059669", "#db2777")


@dataclass(frozen=True)
class Metric:
    key: str
    title: str
    unit: str
    read: Callable[[Sample], float | None]


METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric("bitrate_in", "Bitrate received", "kbit/s", lambda s: s.bitrate_in_kbps),
        Metric("bitrate_out", "Bitrate sent", "kbit/s", lambda s: s.bitrate_out_kbps),
        Metric("rtt", "Round-trip time", "ms", lambda s: s.rtt_ms),
        Metric("loss", "Packet loss", "%", lambda s: s.loss_pct),
        Metric("jitter", "Jitter", "ms", lambda s: s.jitter_ms),
        Metric("fps", "Frame rate", "fps", lambda s: s.fps),
    )
}


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if factor * step >= value:
            return factor * step
    return 10 * step


def line_chart(metric_key: str, series: Mapping[str, Sequence[Sample]]) -> Markup:
    """One chart of ``metric_key`` with a line per participant (the mapping's keys)."""
    metric = METRICS[metric_key]
    points = {
        label: [(s.at, value) for s in samples if (value := metric.read(s)) is not None]
        for label, samples in series.items()
    }
    times = [at for values in points.values() for at, _ in values]
    values = [v for vs in points.values() for _, v in vs]
    peak = max(values, default=0.0)
    ceiling = _nice_ceiling(peak * 1.15)  # headroom above the highest point
    start: datetime | None = min(times, default=None)
    end: datetime | None = max(times, default=None)
    span = (end - start).total_seconds() if start and end and end > start else 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        assert start is not None
        return LEFT + plot_w * (at - start).total_seconds() / span

    def y(value: float) -> float:
        return TOP + plot_h * (1 - min(value, ceiling) / ceiling)

    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}"'
        f' height="{HEIGHT}" data-metric="{metric.key}" data-max="{peak:g}"'
        f' data-points="{len(values)}"'
        f' aria-label="{escape(metric.title)} ({escape(metric.unit)})">',
        f"<title>{escape(metric.title)} ({escape(metric.unit)})</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#f8fafc"'
        ' stroke="#cbd5e1"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 10}" text-anchor="end" font-size="10"'
        f' fill="#475569">{ceiling:g}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end" font-size="10"'
        ' fill="#475569">0</text>',
        f'<text x="{LEFT}" y="{HEIGHT - 6}" font-size="10" fill="#475569">'
        f"{escape(metric.title)}, {escape(metric.unit)}</text>",
    ]
    if start is not None and end is not None:
        parts.append(
            f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" text-anchor="end" font-size="10"'
            f' fill="#475569">{start:%H:%M:%S}-{end:%H:%M:%S} UTC</text>'
        )
    for index, (label, values_of) in enumerate(points.items()):
        colour = COLOURS[index % len(COLOURS)]
        if not values_of:
            continue
        coords = " ".join(f"{x(at):.1f},{y(v):.1f}" for at, v in values_of)
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}">'
            f"<title>{escape(label)}</title></polyline>"
        )
        parts.extend(
            f'<circle cx="{x(at):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}"/>'
            for at, v in values_of
        )
        parts.append(
            f'<text x="{LEFT + 6 + 180 * index}" y="{TOP + 12}" font-size="10"'
            f' fill="{colour}">{escape(label)}</text>'
        )
    if not values:
        parts.append(
            f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle"'
            ' font-size="11" fill="#64748b">no reports yet</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text part above is escaped

"""Small self-contained SVG plots (a histogram, line series) for the HTML report."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 640, 260, 56, 16, 28, 40
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def _axis(title: str, x_label: str, y_label: str, x_max: float, y_max: float) -> list[str]:
    e = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" '
        f'height="{H}" role="img" aria-label="{e(title)}">',
        f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="14">{e(title)}</text>',
        f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}" stroke="#333"/>',
        f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}" stroke="#333"/>',
        f'<text x="{W / 2}" y="{H - 6}" text-anchor="middle" font-size="12">{e(x_label)}</text>',
        f'<text x="14" y="{H / 2}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 14 {H / 2})">{e(y_label)}</text>',
    ]
    for i in range(5):
        frac = i / 4
        y = H - PAD_B - frac * (H - PAD_T - PAD_B)
        x = PAD_L + frac * (W - PAD_L - PAD_R)
        parts.append(
            f'<text x="{PAD_L - 4}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="10">{y_max * frac:.4g}</text>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{H - PAD_B + 14}" text-anchor="middle" '
            f'font-size="10">{x_max * frac:.4g}</text>'
        )
    return parts


def _nice(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def histogram_svg(values: Sequence[float], title: str, x_label: str, bins: int = 20) -> str:
    if not values:
        return f"<p>{html.escape(title)}: no data</p>"
    x_max = _nice(max(values))
    width = x_max / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int(v / width))] += 1
    y_max = _nice(max(counts))
    parts = _axis(title, x_label, "count", x_max, y_max)
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    for i, count in enumerate(counts):
        bar_h = plot_h * count / y_max
        x = PAD_L + plot_w * i / bins
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{H - PAD_B - bar_h:.1f}" '
            f'width="{plot_w / bins - 2:.1f}" height="{bar_h:.1f}" fill="{COLOURS[0]}">'
            f"<title>{i * width:.0f}-{(i + 1) * width:.0f}: {count}</title></rect>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def line_svg(series: dict[str, list[tuple[float, float]]], title: str, y_label: str) -> str:
    points = [p for s in series.values() for p in s]
    if not points:
        return f"<p>{html.escape(title)}: no data</p>"
    x_max = _nice(max(p[0] for p in points))
    y_max = _nice(max(p[1] for p in points))
    parts = _axis(title, "seconds since start", y_label, x_max, y_max)
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    for n, (name, pts) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        path = " ".join(
            f"{PAD_L + plot_w * x / x_max:.1f},{H - PAD_B - plot_h * y / y_max:.1f}" for x, y in pts
        )
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
        )
        parts.append(
            f'<text x="{W - PAD_R - 4}" y="{PAD_T + 14 * (n + 1)}" text-anchor="end" '
            f'font-size="11" fill="{colour}">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)

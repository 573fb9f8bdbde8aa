"""Results of a run: percentiles, the summary table, JSON, an HTML report with inline SVG
plots, and reading the server's Prometheus /metrics text."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TIMINGS: dict[str, str] = {
    "wsConnectedMs": "websocket connected",
    "subscribedMs": "channels subscribed",
    "iceConnectedMs": "ICE connected",
    "firstFrameMs": "first remote frame",
}
MEDIA: dict[str, str] = {
    "fps": "received fps",
    "bitrateKbps": "received kbit/s",
    "packetLossPct": "packet loss %",
    "jitterMs": "jitter ms",
}
SESSION_FIELDS = (
    "index",
    "sessionId",
    "path",
    "success",
    "reason",
    "setupMs",
    *TIMINGS,
    *MEDIA,
    "packetsReceived",
    "packetsLost",
    "peers",
)
PEER_FIELDS = (
    "role",
    "email",
    *TIMINGS,
    *MEDIA,
    "framesReceived",
    "packetsReceived",
    "packetsLost",
    "failure",
)
SERVER_SAMPLE_FIELDS = (
    "t",
    "cpuPercent",
    "cpuSecondsTotal",
    "residentMemoryBytes",
    "connections",
    "channels",
    "messagesIn",
    "messagesOut",
    "clientEventsRejected",
    "relaySessions",
    "relayStreams",
    "bookings",
)
TIMELINE_FIELDS = (
    "t",
    "loadtestCpuPercent",
    "startedSessions",
    "activeSessions",
    "meanFps",
    "minFps",
    "totalKbps",
)
REPORT_FIELDS = (
    "runId",
    "url",
    "options",
    "startedAt",
    "finishedAt",
    "durationS",
    "sessions",
    "summary",
    "timeline",
    "server",
    "errors",
)

# The server's metric names (web/metrics.py) and the sample field each one fills.
METRIC_FIELDS: dict[str, str] = {
    "process_cpu_seconds_total": "cpuSecondsTotal",
    "process_resident_memory_bytes": "residentMemoryBytes",
    "panamia_hub_connections": "connections",
    "panamia_hub_channels": "channels",
    "panamia_hub_messages_in_total": "messagesIn",
    "panamia_hub_messages_out_total": "messagesOut",
    "panamia_hub_client_events_rejected_total": "clientEventsRejected",
    "panamia_relay_sessions": "relaySessions",
    "panamia_relay_streams": "relayStreams",
    "panamia_bookings_created_total": "bookings",
}


# --- numbers -------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation between ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    value = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return round(value, 2)


def distribution(values: Iterable[float | None]) -> dict[str, float | int | None]:
    present = [float(v) for v in values if v is not None]
    return {
        "count": len(present),
        "mean": round(sum(present) / len(present), 2) if present else None,
        "min": round(min(present), 2) if present else None,
        "p50": percentile(present, 50),
        "p95": percentile(present, 95),
        "p99": percentile(present, 99),
        "max": round(max(present), 2) if present else None,
    }


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text exposition -> {metric name: value}, label sets summed."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "{" in line:  # label values may hold "}", the value after the labels cannot
            name_part = line.partition("{")[0]
            rest = line.rpartition("}")[2]
        else:
            name_part, _, rest = line.partition(" ")
        fields = rest.split()
        if not fields:
            continue
        try:
            value = float(fields[0])
        except ValueError:
            continue
        name = name_part.strip()
        values[name] = values.get(name, 0.0) + value
    return values


# --- the report ------------------------------------------------------------------------------
@dataclass
class Report:
    runId: str
    url: str
    options: dict[str, Any]
    startedAt: str
    finishedAt: str = ""
    durationS: float = 0.0
    sessions: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    server: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> int:
        return sum(1 for s in self.sessions if s["success"])

    @property
    def failed(self) -> int:
        return len(self.sessions) - self.succeeded

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)


FULL_RATE = 0.9
"""A session runs at full frame rate when both sides receive at least 90% of the sent fps."""


def _full_rate(session: dict[str, Any], options: dict[str, Any]) -> bool:
    target = float(options.get("fps") or 0)
    rates = [p["fps"] for p in session["peers"]]
    return bool(rates) and all(r is not None and r >= FULL_RATE * target for r in rates)


def summarize(report: Report) -> dict[str, Any]:
    sessions = report.sessions
    peers = [p for s in sessions for p in s["peers"]]
    ok = [s for s in sessions if s["success"]]
    failures: dict[str, int] = {}
    for s in sessions:
        if not s["success"]:
            failures[s["reason"]] = failures.get(s["reason"], 0) + 1
    cpu = [x["cpuPercent"] for x in report.server if x.get("cpuPercent") is not None]
    own = [x["loadtestCpuPercent"] for x in report.timeline if "loadtestCpuPercent" in x]

    def peak(key: str) -> float | None:
        found = [x[key] for x in report.server if x.get(key) is not None]
        return max(found) if found else None

    return {
        "sessions": {
            "total": len(sessions),
            "succeeded": len(ok),
            "failed": len(sessions) - len(ok),
            "direct": sum(1 for s in sessions if s["path"] == "direct"),
            "directSucceeded": sum(1 for s in ok if s["path"] == "direct"),
            "relay": sum(1 for s in sessions if s["path"] == "relay"),
            "relaySucceeded": sum(1 for s in ok if s["path"] == "relay"),
            "atFullFrameRate": sum(1 for s in ok if _full_rate(s, report.options)),
        },
        "maxConcurrent": max((t["activeSessions"] for t in report.timeline), default=0),
        "timings": {key: distribution(p[key] for p in peers) for key in TIMINGS},
        "joinMs": distribution(s["firstFrameMs"] for s in sessions),
        "setupMs": distribution(s["setupMs"] for s in sessions),
        "media": {
            key: distribution(p[key] for p in peers if p["firstFrameMs"] is not None)
            for key in MEDIA
        },
        "server": {
            "samples": len(report.server),
            "meanCpuPercent": round(sum(cpu) / len(cpu), 1) if cpu else None,
            "peakCpuPercent": max(cpu) if cpu else None,
            "peakResidentMemoryBytes": peak("residentMemoryBytes"),
            "peakConnections": peak("connections"),
            "peakChannels": peak("channels"),
            "peakRelaySessions": peak("relaySessions"),
            "peakRelayStreams": peak("relayStreams"),
        },
        "loadtest": {
            "meanCpuPercent": round(sum(own) / len(own), 1) if own else None,
            "peakCpuPercent": max(own) if own else None,
        },
        "failures": failures,
    }


# --- text ----------------------------------------------------------------------------------
def _fmt(value: object, width: int = 8) -> str:
    if value is None:
        return "-".rjust(width)
    if isinstance(value, float):
        return f"{value:.1f}".rjust(width)
    return str(value).rjust(width)


def summary_table(report: Report) -> str:
    s = report.summary
    counts = s["sessions"]
    lines = [
        f"Load test {report.runId} against {report.url} ({report.durationS:.0f} s)",
        f"sessions: {counts['total']} ({counts['direct']} direct, {counts['relay']} relay); "
        f"succeeded {counts['succeeded']} (direct {counts['directSucceeded']}, relay "
        f"{counts['relaySucceeded']}); failed {counts['failed']}; "
        f"max concurrent {s['maxConcurrent']}; at full frame rate {counts['atFullFrameRate']}",
        "",
        f"{'per peer':<24}{'n':>6}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}",
    ]
    rows = [(f"{label} ms", s["timings"][key]) for key, label in TIMINGS.items()]
    rows.append(("session joined ms", s["joinMs"]))
    rows.append(("session setup ms", s["setupMs"]))
    rows += [(label, s["media"][key]) for key, label in MEDIA.items()]
    for label, d in rows:
        lines.append(
            f"{label:<24}{d['count']:>6}{_fmt(d['p50'])}{_fmt(d['p95'])}"
            f"{_fmt(d['p99'])}{_fmt(d['max'])}"
        )
    server = s["server"]
    rss = server["peakResidentMemoryBytes"]
    lines += [
        "",
        f"server: CPU mean {_fmt(server['meanCpuPercent'], 0)}% peak "
        f"{_fmt(server['peakCpuPercent'], 0)}% (100% = one core); peak RSS "
        f"{_fmt(round(rss / 2**20, 1) if rss else None, 0)} MB; peak connections "
        f"{_fmt(server['peakConnections'], 0)}; peak relay streams "
        f"{_fmt(server['peakRelayStreams'], 0)}",
    ]
    own = s["loadtest"]
    lines.append(
        f"load tester itself: CPU mean {_fmt(own['meanCpuPercent'], 0)}% peak "
        f"{_fmt(own['peakCpuPercent'], 0)}% (its peers encode and decode all media; near 100% "
        "it, not the server, is the limit)"
    )
    for reason, count in sorted(s["failures"].items(), key=lambda kv: -kv[1]):
        lines.append(f"failed x{count}: {reason}")
    lines.extend(f"note: {e}" for e in report.errors)
    return "\n".join(lines)


# --- SVG plots ---------------------------------------------------------------------------
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


def _series(rows: list[dict[str, Any]], key: str) -> list[tuple[float, float]]:
    return [(float(r["t"]), float(r[key])) for r in rows if r.get(key) is not None]


def html_report(report: Report) -> str:
    e = html.escape
    joins = [float(s["firstFrameMs"]) for s in report.sessions if s["firstFrameMs"] is not None]
    plots = [
        histogram_svg(joins, "Session join time (both sides showing remote video)", "ms"),
        line_svg(
            {
                "mean fps": _series(report.timeline, "meanFps"),
                "min fps": _series(report.timeline, "minFps"),
            },
            "Received video frame rate",
            "frames/s",
        ),
        line_svg(
            {"total kbit/s": _series(report.timeline, "totalKbps")},
            "Received bitrate, all peers",
            "kbit/s",
        ),
        line_svg(
            {
                "active sessions": _series(report.timeline, "activeSessions"),
                "started": _series(report.timeline, "startedSessions"),
            },
            "Sessions",
            "sessions",
        ),
        line_svg(
            {
                "server CPU %": _series(report.server, "cpuPercent"),
                "load tester CPU %": _series(report.timeline, "loadtestCpuPercent"),
            },
            "Server CPU (100% = one core)",
            "%",
        ),
        line_svg(
            {
                "relay streams": _series(report.server, "relayStreams"),
                "hub connections": _series(report.server, "connections"),
            },
            "Server connections and relay streams",
            "count",
        ),
    ]
    rows = "\n".join(
        "<tr>"
        + "".join(f"<td>{e(_cell(s.get(k)))}</td>" for k in SESSION_FIELDS if k != "peers")
        + "</tr>"
        for s in report.sessions
    )
    head = "".join(f"<th>{e(k)}</th>" for k in SESSION_FIELDS if k != "peers")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Load test {e(report.runId)}</title>
<style>body{{font-family:sans-serif;margin:2em}} pre{{background:#f6f6f6;padding:1em}}
table{{border-collapse:collapse;font-size:12px}} td,th{{border:1px solid #ccc;padding:2px 6px}}
svg{{display:block;margin:1em 0;background:#fff;border:1px solid #eee}}</style></head>
<body><h1>Load test {e(report.runId)}</h1>
<p>{e(report.url)} &middot; started {e(report.startedAt)} &middot; {report.durationS:.0f} s</p>
<pre>{e(summary_table(report))}</pre>
{"".join(plots)}
<h2>Sessions</h2><table><tr>{head}</tr>
{rows}</table>
<h2>Options</h2><pre>{e(json.dumps(report.options, indent=2))}</pre>
</body></html>
"""


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def write_reports(report: Report, folder: str) -> tuple[Path, Path]:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "report.json"
    html_path = out / "report.html"
    json_path.write_text(report.to_json(), encoding="utf-8")
    html_path.write_text(html_report(report), encoding="utf-8")
    return json_path, html_path

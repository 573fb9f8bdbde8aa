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

from loadtest.svg import histogram_svg, line_svg

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
    "loopLagMs",
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
    lags = [x["loopLagMs"] for x in report.timeline if x.get("loopLagMs") is not None]

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
            "media": report.options.get("media"),
            "loopLagMs": distribution(lags),
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
    lag = own["loopLagMs"]
    work = (
        "its peers replay pre-encoded media and count frames without decoding"
        if own["media"] == "replay"
        else "its peers encode and decode all media"
    )
    lines.append(
        f"load tester itself ({own['media']} media): CPU mean {_fmt(own['meanCpuPercent'], 0)}%"
        f" peak {_fmt(own['peakCpuPercent'], 0)}% ({work}; 100% = one core); event-loop lag"
        f" p95 {_fmt(lag['p95'], 0)} ms max {_fmt(lag['max'], 0)} ms (near 250 ms it, not"
        " the server, is the limit)"
    )
    for reason, count in sorted(s["failures"].items(), key=lambda kv: -kv[1]):
        lines.append(f"failed x{count}: {reason}")
    lines.extend(f"note: {e}" for e in report.errors)
    return "\n".join(lines)


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

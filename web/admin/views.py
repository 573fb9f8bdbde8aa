"""What the console shows, built once for the pages and the API: live sessions with their
latest quality, one session's quality (summaries and, while live, its time series), past
sessions, and the relay and TURN overview."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from store.models import Session
from store.operator import QualitySummary, SessionSearch
from web import keys
from web.api import admin_models as out
from web.node import node_name
from web.quality.sample import Sample
from web.serialize import iso


def point_out(sample: Sample) -> out.QualityPoint:
    return out.QualityPoint(
        at=iso(sample.at),
        path=sample.path,
        rtt_ms=sample.rtt_ms,
        jitter_ms=sample.jitter_ms,
        loss_pct=sample.loss_pct,
        bitrate_in_kbps=sample.bitrate_in_kbps,
        bitrate_out_kbps=sample.bitrate_out_kbps,
        fps=sample.fps,
        width=sample.width,
        height=sample.height,
        limitation=sample.limitation,
        local_candidate=sample.local_candidate,
        remote_candidate=sample.remote_candidate,
    )


def summary_out(summary: QualitySummary) -> out.QualitySummary:
    return out.QualitySummary(
        email=summary.email,
        first_at=iso(summary.first_at),
        last_at=iso(summary.last_at),
        reports=summary.reports,
        path=summary.path,
        paths=list(summary.paths),
        node=summary.node,
        rtt_ms_avg=summary.rtt_ms_avg,
        rtt_ms_max=summary.rtt_ms_max,
        jitter_ms_avg=summary.jitter_ms_avg,
        loss_pct_avg=summary.loss_pct_avg,
        loss_pct_max=summary.loss_pct_max,
        bitrate_in_kbps_avg=summary.bitrate_in_kbps_avg,
        bitrate_out_kbps_avg=summary.bitrate_out_kbps_avg,
        fps_avg=summary.fps_avg,
        fps_min=summary.fps_min,
        resolution=summary.resolution,
        limitation=summary.limitation,
        local_candidate=summary.local_candidate,
        remote_candidate=summary.remote_candidate,
        poor_reports=summary.poor_reports,
        join_ms=summary.join_ms,
    )


async def live_sessions(app: web.Application) -> out.LiveSessions:
    store = app[keys.STORE]
    found: list[out.LiveSession] = []
    for call in await app[keys.QUALITY].live():
        session = await store.get_session(call.session_id)
        if session is None:
            continue
        found.append(
            out.LiveSession(
                session_id=session.session_id,
                topic=session.topic,
                mentor_email=session.mentor_email,
                mentee_email=session.mentee_email,
                node=call.nodes,
                since=iso(call.since),
                participants=[
                    out.LiveParticipant(
                        email=p.email,
                        path=p.latest.path,
                        since=iso(p.since),
                        latest=point_out(p.latest),
                    )
                    for p in call.participants
                ],
            )
        )
    return out.LiveSessions(node=node_name(app[keys.SETTINGS]), sessions=found)


async def session_quality(app: web.Application, session: Session) -> out.SessionQuality:
    summaries = await app[keys.STORE].quality_summaries(session.session_id)
    series = await app[keys.QUALITY].series(session.session_id)
    return out.SessionQuality(
        session_id=session.session_id,
        topic=session.topic,
        mentor_email=session.mentor_email,
        mentee_email=session.mentee_email,
        scheduled_at=iso(session.scheduled_at),
        duration=session.duration,
        status=session.effective_status().value,
        summaries=[summary_out(s) for s in summaries],
        series={email: [point_out(s) for s in samples] for email, samples in series.items()},
    )


async def past_sessions(app: web.Application, search: SessionSearch) -> out.PastSessions:
    sessions = await app[keys.STORE].search_sessions(search)
    return out.PastSessions(sessions=[await session_quality(app, s) for s in sessions])


@dataclass
class CpuClock:
    """This process's CPU use between two looks (the console's "CPU per node"); the first
    look measures from when the app was built."""

    cpu_s: float = field(default_factory=time.process_time)
    wall_s: float = field(default_factory=time.monotonic)

    def percent(self) -> float | None:
        cpu, wall = time.process_time(), time.monotonic()
        if wall - self.wall_s < 0.5:
            return None  # too soon after the previous look to say
        previous_cpu, previous_wall = self.cpu_s, self.wall_s
        self.cpu_s, self.wall_s = cpu, wall
        return round(100 * (cpu - previous_cpu) / (wall - previous_wall), 1)


CPU_CLOCK = web.AppKey("admin_cpu_clock", CpuClock)


def _numbers(stats: dict[str, Any]) -> dict[str, float]:
    return {
        key: float(value)
        for key, value in stats.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def relay_workers(stats: dict[str, Any]) -> list[dict[str, float | str]]:
    """Per-worker entries when the relay reports them (a list or a mapping of mappings)."""
    raw = stats.get("workers")
    entries: list[tuple[str, Any]] = []
    if isinstance(raw, list):
        entries = [(str(i), item) for i, item in enumerate(raw)]
    elif isinstance(raw, dict):
        entries = [(str(name), item) for name, item in raw.items()]
    workers: list[dict[str, float | str]] = []
    for name, item in entries:
        if not isinstance(item, dict):
            continue
        row: dict[str, float | str] = {"worker": str(item.get("name", item.get("pid", name)))}
        row.update(_numbers(item))
        workers.append(row)
    return workers


async def relay_overview(app: web.Application) -> out.RelayOverview:
    relay = app.get(keys.RELAY)
    stats: dict[str, Any] = {}
    if relay is not None:
        try:
            stats = dict(relay.stats())
        except Exception:  # the console shows what is there; a failing source shows nothing
            stats = {}
    clock = app.get(CPU_CLOCK)
    by_path: dict[str, int] = {}
    for call in await app[keys.QUALITY].live():
        for participant in call.participants:
            path = participant.latest.path
            by_path[path] = by_path.get(path, 0) + 1
    activity = app[keys.METRICS].activity.hours()
    return out.RelayOverview(
        node=node_name(app[keys.SETTINGS]),
        cpu_percent=clock.percent() if clock is not None else None,
        relay=_numbers(stats),
        workers=relay_workers(stats),
        turn_by_transport=by_path,
        activity=[
            out.HourActivity(hour=iso(hour), signins=signins, bookings=bookings)
            for hour, signins, bookings in activity
        ],
    )

"""The quality service of a node: takes reports, keeps the live window, feeds the
Prometheus histograms and writes each participant's summary to the store.

A summary is saved on a participant's first report, then at most every
``quality.summary_interval_s`` while reports keep coming, at once when the room says the call
ended (hang-up), once the participant falls silent, and when the node shuts down: so an ended
session always carries its summaries.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from config.settings import QualitySettings
from store.base import Store
from store.models import utcnow
from web.quality.sample import Sample
from web.quality.shared import SharedWindow
from web.quality.window import LiveCall, ParticipantWindow, QualityWindows, live_calls

log = structlog.get_logger(__name__)

TICK_S = 2.0
REPORT_INTERVAL_S = 5.0
"""How often a room reports (the room's own constant; used to size the window)."""
IDLE_FORGET = timedelta(minutes=5)
"""A session nobody reported for this long leaves memory (its summaries are saved)."""

Observer = Callable[[Sample, int | None], None]
"""Called with each accepted report and, on a page load's first report, its join time."""


class QualityService:
    def __init__(
        self,
        store: Store,
        settings: QualitySettings,
        node: str,
        observe: Observer | None = None,
        redis_url: str = "",
    ) -> None:
        self.store = store
        self.settings = settings
        self.node = node
        window = timedelta(minutes=settings.window_minutes)
        # Twice the nominal count: two tabs of one person, or a burst after a stall.
        max_samples = int(2 * window.total_seconds() / REPORT_INTERVAL_S)
        self.windows = QualityWindows(window, node, max_samples)
        self.shared = SharedWindow(redis_url, window, max_samples) if redis_url else None
        """The cluster's window in Redis, when the bus uses Redis; this node's otherwise."""
        self.observe = observe
        self._task: asyncio.Task[None] | None = None

    @property
    def live_after(self) -> timedelta:
        return timedelta(seconds=self.settings.live_after_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="quality")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.save_due(utcnow(), everything=True)
        if self.shared is not None:
            await self.shared.close()

    async def report(
        self,
        session_id: str,
        email: str,
        connection_id: str,
        sample: Sample,
        join_ms: int | None,
        final: bool,
    ) -> None:
        first = self.windows.add(session_id, email, connection_id, sample)
        participant = self.windows.sessions[session_id].participants[email]
        if first and join_ms is not None:
            participant.summary.join_ms = join_ms
        if self.observe is not None:
            self.observe(sample, join_ms if first else None)
        if final:
            participant.left = True
        if self.shared is not None:
            try:
                await self.shared.publish(session_id, email, self.node, sample, final)
            except Exception as exc:  # display data: this node's own window still has it
                log.warning("quality.redis_unavailable", error=type(exc).__name__)
        if final or participant.saved_at is None:
            await self._save(participant, sample.at)

    async def live(self, now: datetime | None = None) -> list[LiveCall]:
        """Calls with a participant still reporting: the whole cluster's when Redis is used
        (this node's alone while Redis does not answer)."""
        moment = now or utcnow()
        if self.shared is not None:
            try:
                return await self.shared.live(moment, self.live_after)
            except Exception as exc:
                log.warning("quality.redis_unavailable", error=type(exc).__name__)
        return live_calls(self.windows.live(moment, self.live_after), self.node)

    async def series(self, session_id: str) -> dict[str, list[Sample]]:
        """Per participant, the reports of the window (empty once the session left memory)."""
        if self.shared is not None:
            try:
                return await self.shared.series(session_id)
            except Exception as exc:
                log.warning("quality.redis_unavailable", error=type(exc).__name__)
        session = self.windows.sessions.get(session_id)
        if session is None:
            return {}
        return {email: list(p.samples) for email, p in session.participants.items()}

    async def save_due(self, now: datetime, everything: bool = False) -> None:
        interval = timedelta(seconds=self.settings.summary_interval_s)
        for session in list(self.windows.sessions.values()):
            for participant in list(session.participants.values()):
                if not participant.dirty:
                    continue
                silent = now - participant.summary.last_at > self.live_after
                saved = participant.saved_at
                if everything or silent or saved is None or now - saved >= interval:
                    await self._save(participant, now)

    async def _save(self, participant: ParticipantWindow, now: datetime) -> None:
        participant.dirty = False
        participant.saved_at = now
        try:
            await self.store.save_quality_summary(participant.summary.freeze())
        except Exception as exc:  # display data: a failed save is retried on the next tick
            participant.dirty = True
            log.warning("quality.save_failed", error=str(exc) or type(exc).__name__)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now = utcnow()
            await self.save_due(now)
            self.windows.forget_idle(now, IDLE_FORGET)

"""Recording a session with both participants' consent (docs/recording.md).

The flow, all enforced here: one participant asks (``request``); the other accepts or refuses
(``answer``); on acceptance both pages are told to move the call onto the media relay (a direct
call has no server in its media path), and once both participants are there the relay starts
writing a new part (``RelayManager.start_recording``). Either participant stops it (``stop``);
a failed write (a full disk) stops it too. Every change goes to both pages as the server event
``recording-state`` on the session's private channel.

The state of a session (idle, asked, starting, recording) lives in this process: the relay
that records is in this process too (in cluster mode the session's room has one owner node).
Finished parts are rows in the store and files under ``recording.folder``; a purge removes
those older than ``recording.retention_days``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from config.settings import Settings
from relay.errors import RecordingRefused
from relay.recording.writer import PartResult, describe
from relay.service import RelayService
from signaling.hub import Hub
from store.base import Store
from store.models import Recording, RecordingStatus, Session, utcnow

log = structlog.get_logger(__name__)

EVENT = "recording-state"
RELAY_WAIT_S = 20.0
"""How long both participants may take to reach the relay once recording was accepted."""
PURGE_INTERVAL_S = 3600.0


class RecordingConflict(Exception):
    """The request does not fit the session's recording state (HTTP 409)."""


@dataclass
class _State:
    phase: str  # "asked" | "starting" | "recording"
    requested_by: str
    recording_id: str | None = None
    task: asyncio.Task[None] | None = None


def recordings_folder(settings: Settings) -> Path:
    folder = Path(settings.recording.folder)
    return folder if folder.is_absolute() else Path(settings.store.data_dir) / folder


class RecordingService:
    def __init__(self, settings: Settings, store: Store, relay: RelayService, hub: Hub) -> None:
        self.settings = settings
        self.store = store
        self.relay = relay
        self.hub = hub
        self.folder = recordings_folder(settings)
        self._states: dict[str, _State] = {}
        self._purger: asyncio.Task[None] | None = None

    # --- what the API reads ---------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self.settings.recording.enabled and self.settings.relay.mode != "never"

    def state_of(self, session_id: str) -> tuple[str, str | None]:
        """(phase, requested_by): phase is idle, asked, starting or recording."""
        state = self._states.get(session_id)
        return ("idle", None) if state is None else (state.phase, state.requested_by)

    def path_of(self, recording: Recording) -> Path:
        return self.folder / recording.file_name

    # --- the consent flow --------------------------------------------------------------------

    async def request(self, session: Session, email: str) -> None:
        if not self.enabled:
            raise RecordingConflict("Recording is turned off on this server")
        if session.session_id in self._states:
            phase = self._states[session.session_id].phase
            raise RecordingConflict(f"A recording is already {phase_words(phase)}")
        self._states[session.session_id] = _State("asked", email)
        await self._tell(session.session_id, "asked", by=email)

    async def answer(self, session: Session, email: str, accept: bool) -> None:
        state = self._states.get(session.session_id)
        if state is None or state.phase != "asked":
            raise RecordingConflict("Nobody asked to record this session")
        if state.requested_by == email:
            raise RecordingConflict("The other participant has to answer this request")
        if not accept:
            del self._states[session.session_id]
            await self._tell(session.session_id, "refused", by=email)
            return
        state.phase = "starting"
        await self._tell(session.session_id, "starting", by=email)
        state.task = asyncio.ensure_future(self._start_when_relayed(session, state))

    async def _start_when_relayed(self, session: Session, state: _State) -> None:
        """Wait until both participants are on the relay, then start a new part."""
        session_id = session.session_id
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RELAY_WAIT_S
        people = (session.mentor_email, session.mentee_email)
        while not all(self.relay.has_participant(session_id, p) for p in people):
            if loop.time() > deadline or self._states.get(session_id) is not state:
                if self._states.get(session_id) is state:
                    del self._states[session_id]
                    await self._tell(
                        session_id, "failed", reason="The call could not move to the relay"
                    )
                return
            await asyncio.sleep(0.2)
        recording_id = uuid.uuid4().hex
        file_name = f"{session_id}/{utcnow().strftime('%Y%m%dT%H%M%S')}-{recording_id[:8]}.webm"
        path = self.folder / file_name

        def failed(reason: str) -> None:
            state.task = asyncio.ensure_future(self._write_failed(session_id, state, reason))

        try:
            await self.relay.start_recording(session_id, str(path), failed)
        except RecordingRefused as exc:
            del self._states[session_id]
            await self._tell(session_id, "failed", reason=str(exc))
            return
        state.phase = "recording"
        state.recording_id = recording_id
        await self.store.add_recording(
            Recording(
                recording_id=recording_id,
                session_id=session_id,
                started_by=state.requested_by,
                file_name=file_name,
                started_at=utcnow(),
            )
        )
        await self._tell(session_id, "recording", by=state.requested_by)
        state.task = asyncio.ensure_future(self._watch(session_id, state, path))

    async def _watch(self, session_id: str, state: _State, path: Path) -> None:
        """The relayed call may end under the recording (both left): finish the part then."""
        while self._states.get(session_id) is state:
            await asyncio.sleep(1.0)
            if self._states.get(session_id) is state and not self.relay.is_recording(session_id):
                del self._states[session_id]
                if state.recording_id is not None:
                    await self._save(state.recording_id, describe(path))
                await self._tell(session_id, "stopped")
                return

    async def stop(self, session: Session, email: str) -> None:
        state = self._states.get(session.session_id)
        if state is None:
            raise RecordingConflict("This session is not being recorded")
        await self._finish(session.session_id, state, stopped_by=email)

    async def _finish(self, session_id: str, state: _State, stopped_by: str | None) -> None:
        if self._states.get(session_id) is state:
            del self._states[session_id]
        if state.task is not None and state.task is not asyncio.current_task():
            state.task.cancel()
        if state.recording_id is not None:
            result = await self.relay.stop_recording(session_id)
            await self._save(state.recording_id, result)
        await self._tell(session_id, "stopped", by=stopped_by)

    async def _write_failed(self, session_id: str, state: _State, reason: str) -> None:
        """Writing failed (a full disk): the part is closed as it is; both are told."""
        if self._states.get(session_id) is state:
            del self._states[session_id]
        result = await self.relay.stop_recording(session_id)
        if state.recording_id is not None:
            await self._save(state.recording_id, result, error=reason)
        await self._tell(session_id, "failed", reason=f"The recording stopped: {reason}")

    async def _save(
        self, recording_id: str, result: PartResult | None, error: str | None = None
    ) -> None:
        error = error or (result.error if result else None)
        await self.store.finish_recording(
            recording_id,
            ended_at=utcnow(),
            duration_s=result.duration_s if result else 0.0,
            size_bytes=result.size_bytes if result else 0,
            status=RecordingStatus.FAILED if error else RecordingStatus.DONE,
            error=error,
        )

    async def _tell(self, session_id: str, phase: str, **detail: Any) -> None:
        data = {"state": phase, **{k: v for k, v in detail.items() if v is not None}}
        try:
            await self.hub.trigger([f"private-session-{session_id}"], EVENT, data)
        except Exception as exc:  # the bus is down: pages catch up from GET .../recordings
            log.warning("recording.notify_failed", session_id=session_id, reason=str(exc))

    # --- files ------------------------------------------------------------------------------

    async def delete(self, recording: Recording) -> None:
        state = self._states.get(recording.session_id)
        if state is not None and state.recording_id == recording.recording_id:
            raise RecordingConflict("Stop the recording before deleting it")
        with contextlib.suppress(FileNotFoundError):
            self.path_of(recording).unlink()
        await self.store.delete_recording(recording.recording_id)

    async def purge(self, now: datetime) -> int:
        """Delete recordings older than recording.retention_days; how many went."""
        days = self.settings.recording.retention_days
        if days <= 0:
            return 0
        removed = 0
        for recording in await self.store.recordings_started_before(now - timedelta(days=days)):
            try:
                await self.delete(recording)
            except RecordingConflict:
                continue  # still being written
            removed += 1
        if removed:
            log.info("recording.purged", count=removed, retention_days=days)
        return removed

    def start(self) -> None:
        self._purger = asyncio.ensure_future(self._purge_forever())

    async def _purge_forever(self) -> None:
        while True:
            try:
                await self.purge(utcnow())
            except Exception:
                log.exception("recording.purge_failed")
            await asyncio.sleep(PURGE_INTERVAL_S)

    async def close(self) -> None:
        if self._purger is not None:
            self._purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purger
        for session_id, state in list(self._states.items()):
            with contextlib.suppress(Exception):
                await self._finish(session_id, state, stopped_by=None)


def phase_words(phase: str) -> str:
    return {"asked": "waiting for an answer", "starting": "starting"}.get(phase, "running")

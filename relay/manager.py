"""RelayManager: the relayed sessions of this node, their capacity and their counters."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from aiortc import RTCIceServer

from config.settings import RelaySettings
from relay import compat, udpbatch
from relay.counters import Counters, relay_stats
from relay.errors import BadOffer, RecordingRefused, RelayFull, RelayUnavailable
from relay.limits import StreamLimits
from relay.recording.session import SessionRecorder
from relay.recording.writer import PartResult
from relay.room import Room
from relay.selfcheck import unavailable_reason
from relay.tasks import spawn

log = structlog.get_logger(__name__)

MAX_OFFER_BYTES = 64 * 1024
"""A real offer is a few kilobytes; anything far larger is not one."""

HISTORY_FIT_INTERVAL_S = 1.0
"""How often every forwarded stream's retransmission history is sized to its packet rate."""


class RelayManager:
    """Rooms per session id.

    ``ice_servers`` is passed as is to every server peer connection: give an explicit list
    (aiortc falls back to a public STUN server when it gets none) and include the TURN
    server so clients that cannot send UDP can still reach the relay through it.
    ``peer_timeout_s`` removes a participant whose connection is not up by then.
    ``ice_servers`` may be a callable, asked for each new room (fresh TURN credentials).
    ``on_room_closed(session_id)`` is told when a session's last participant is gone (a relay
    worker process passes that on to the web process, which then forgets where it placed it).

    Call :meth:`start` once before serving. It checks that the installed aiortc and aioice
    still have every private name the relay relies on (:func:`relay.compat.self_check`).
    A failed check disables the relay only: :attr:`unavailable_reason` says why, the relay
    API answers 503 with that reason, the rest of the server keeps serving, and /readyz can
    report it. A failed check never raises.
    """

    def __init__(
        self,
        settings: RelaySettings,
        ice_servers: list[RTCIceServer] | Callable[[], list[RTCIceServer]],
        *,
        peer_timeout_s: float = 30.0,
        on_room_closed: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        udpbatch.enable(settings.udp_gso)  # process-wide, like the kernel's answer to it
        self._on_room_closed = on_room_closed
        self._ice_servers = ice_servers
        self._peer_timeout_s = peer_timeout_s
        self._rooms: dict[str, Room] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._fitting: set[asyncio.Task[None]] = set()
        self.counters = Counters()
        self.sessions_started = 0
        self.closed = False
        self._unavailable_reason: str | None = None

    async def start(self) -> None:
        """Run the compatibility self-check; on failure, log it and disable the relay."""
        problems = compat.self_check()
        self._unavailable_reason = unavailable_reason(problems)
        if self._unavailable_reason is None:
            log.info("relay.ready", **compat.installed_versions())
            return
        log.error("relay.unavailable", reason=self._unavailable_reason, problems=problems)

    @property
    def unavailable_reason(self) -> str | None:
        """Why the relay cannot serve (None when it can); set by :meth:`start`."""
        return self._unavailable_reason

    async def answer(
        self, session_id: str, participant_id: str, offer_sdp: str, offer_type: str = "offer"
    ) -> tuple[str, str]:
        """Answer a participant's complete (non-trickle) offer; returns ``(sdp, type)``.

        A participant that answers again (a reconnect) replaces its previous connection.
        Raises RelayUnavailable, RelayFull, SessionBusy or BadOffer.
        """
        if self._unavailable_reason is not None:
            raise RelayUnavailable(self._unavailable_reason)
        if self.closed:
            raise RelayFull("the relay is shutting down")
        if offer_type != "offer":
            raise BadOffer('the description type must be "offer"')
        if not offer_sdp.strip() or len(offer_sdp.encode()) > MAX_OFFER_BYTES:
            raise BadOffer("the offer is empty or too large")
        room = self._rooms.get(session_id)
        if room is None:
            if len(self._rooms) >= self.settings.max_sessions:
                raise RelayFull(
                    f"this relay already carries {self.settings.max_sessions} sessions; "
                    "try again later"
                )
            room = Room(
                session_id,
                self._current_ice_servers(),
                self.counters,
                self._peer_timeout_s,
                self._room_empty,
                StreamLimits.from_settings(self.settings),
            )
            self._rooms[session_id] = room
            self.sessions_started += 1
            if all(task.done() for task in self._fitting):
                spawn(self._fitting, self._fit_histories(), "fit-histories")
        description = await room.join(participant_id, offer_sdp, offer_type)
        return description.sdp, description.type

    async def _fit_histories(self) -> None:
        """While there are rooms: size every stream's send history to its packet rate
        (:meth:`relay.history.SendHistory.fit`), so it holds ``relay.send_history_ms``."""
        window_ms = self.settings.send_history_ms
        while self._rooms and not self.closed:
            await asyncio.sleep(HISTORY_FIT_INTERVAL_S)
            now = time.monotonic()
            for room in list(self._rooms.values()):
                for participant in list(room.participants.values()):
                    for track in participant.outputs.values():
                        outlet = track.outlet
                        if outlet is not None:
                            outlet.history.fit(outlet.packets, now, window_ms)

    def _current_ice_servers(self) -> list[RTCIceServer]:
        """A callable is asked per new room, so minted TURN credentials are always fresh."""
        source = self._ice_servers
        return list(source() if callable(source) else source)

    async def leave(self, session_id: str, participant_id: str) -> bool:
        """Close one participant's connection; False when it had none."""
        room = self._rooms.get(session_id)
        if room is None:
            return False
        return await room.leave(participant_id)

    async def end(self, session_id: str) -> bool:
        """The call ended: close every connection of the session."""
        room = self._rooms.pop(session_id, None)
        if room is None:
            return False
        await room.close()
        return True

    async def close(self) -> None:
        """Close everything (application shutdown)."""
        self.closed = True
        rooms = list(self._rooms.values())
        self._rooms.clear()
        for room in rooms:
            await room.close()
        for task in list(self._fitting):
            task.cancel()
        for task in [*self._closing, *self._fitting]:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- recording (relay.recording): the room's publications feed the file ---------------------

    async def start_recording(
        self,
        session_id: str,
        path: str,
        on_failed: Callable[[str], None] | None = None,
    ) -> None:
        """Start recording the relayed session into a new file at ``path`` (one part).

        Raises RecordingRefused when the session has no relayed participant here or a
        recording already runs. ``on_failed(reason)`` runs if writing fails (a full disk):
        the recording has then stopped and what it wrote stays playable.
        """
        room = self._rooms.get(session_id)
        if room is None or room.closed or not room.participants:
            raise RecordingRefused("the session is not on the media relay")
        if room.recorder is not None and room.recorder.running:
            raise RecordingRefused("the session is already being recorded")
        room.recorder = SessionRecorder(
            session_id, Path(path), room.participants.values(), on_failed or (lambda _: None)
        )
        log.info("recording.started", session_id=session_id)

    async def stop_recording(self, session_id: str) -> PartResult | None:
        """Stop the session's recording and finish its file; None when none ran."""
        room = self._rooms.get(session_id)
        if room is None or room.recorder is None:
            return None
        recorder, room.recorder = room.recorder, None
        return recorder.stop()

    def is_recording(self, session_id: str) -> bool:
        room = self._rooms.get(session_id)
        return room is not None and room.recorder is not None and room.recorder.running

    def has_participant(self, session_id: str, participant_id: str) -> bool:
        room = self._rooms.get(session_id)
        return room is not None and participant_id in room.participants

    def sessions(self) -> list[str]:
        """The sessions with a room here."""
        return list(self._rooms)

    def participants_by_session(self) -> dict[str, list[str]]:
        """Who has a connection in which session (a worker reports it to the web process)."""
        return {session: list(room.participants) for session, room in self._rooms.items()}

    def stats(self) -> dict[str, Any]:
        """Gauges and totals for metrics.

        ``streams`` counts media streams being forwarded (kind x direction with a
        publisher attached); ``transcoding`` those that had to be re-encoded.
        """
        rooms = list(self._rooms.values())
        return relay_stats(
            self.counters,
            max_sessions=self.settings.max_sessions,
            sessions=len(rooms),
            peer_connections=sum(len(room.participants) for room in rooms),
            streams=sum(room.streams for room in rooms),
            transcoding=sum(room.transcoding for room in rooms),
            sessions_started=self.sessions_started,
        )

    def _room_empty(self, room: Room) -> None:
        if self._rooms.get(room.session_id) is room:
            del self._rooms[room.session_id]
            if self._on_room_closed is not None:
                self._on_room_closed(room.session_id)
        spawn(self._closing, room.close(), f"close:{room.session_id}")

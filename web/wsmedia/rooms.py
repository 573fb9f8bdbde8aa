"""The media sockets of live sessions on this node, and forwarding between the two sides.

A session has at most one socket per participant (a newer one replaces the older, which is
closed with 4409). A chunk from one side goes to the other side's queue as it is; nothing is
decoded, so a stream costs the server little more than copying its bytes.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import structlog
from aiohttp import web

from web.wsmedia.peer import MediaPeer, PeerStats, RateLimits
from web.wsmedia.protocol import CLOSE_REPLACED, Kind

log = structlog.get_logger(__name__)

KEYFRAME = json.dumps({"type": "keyframe"})
SLOW_DOWN = json.dumps({"type": "slow-down"})


def _peer_message(present: bool) -> str:
    return json.dumps({"type": "peer", "present": present})


@dataclass
class MediaStats:
    sockets: int = 0
    streams_opened: int = 0
    totals: PeerStats = field(default_factory=PeerStats)


class MediaRooms:
    """Every session's media sockets on this node (built by the composition root)."""

    def __init__(self, limits: RateLimits | None = None) -> None:
        self._rooms: dict[str, dict[str, MediaPeer]] = {}
        self._limits = limits or RateLimits()
        self._closing: set[asyncio.Task[bool]] = set()
        self.stats = MediaStats()

    def open(self, session_id: str, email: str, ws: web.WebSocketResponse) -> MediaPeer:
        """Register a new socket of ``email``; the other side learns of it and is asked for a
        key frame, so the newcomer can start decoding at once."""
        peer = MediaPeer(
            ws, email, limits=self._limits, on_congested=lambda p: self._congested(session_id, p)
        )
        room = self._rooms.setdefault(session_id, {})
        old = room.get(email)
        room[email] = peer
        self.stats.sockets += 1
        self.stats.streams_opened += 1
        if old is not None:
            self._retire(old)
        other = self.other(session_id, email)
        if other is not None:
            other.deliver_text(_peer_message(True))
            other.deliver_text(KEYFRAME)
            peer.deliver_text(_peer_message(True))
        return peer

    def other(self, session_id: str, email: str) -> MediaPeer | None:
        room = self._rooms.get(session_id, {})
        return next((peer for who, peer in room.items() if who != email), None)

    def forward_chunk(self, session_id: str, sender: MediaPeer, kind: Kind, frame: bytes) -> None:
        receiver = self.other(session_id, sender.email)
        if receiver is None:
            return
        was_waiting = receiver.wants_keyframe()
        receiver.deliver_chunk(kind, frame)
        if was_waiting and kind is Kind.VIDEO_DELTA:
            # The receiver cannot use deltas until a key frame: ask for one (the page
            # rate-limits its answer, so asking on every skipped delta is harmless).
            sender.deliver_text(KEYFRAME)

    def forward_text(self, session_id: str, sender: MediaPeer, text: str) -> None:
        receiver = self.other(session_id, sender.email)
        if receiver is not None:
            receiver.deliver_text(text)

    async def close(self, session_id: str, peer: MediaPeer) -> None:
        room = self._rooms.get(session_id, {})
        if room.get(peer.email) is peer:
            del room[peer.email]
            other = self.other(session_id, peer.email)
            if other is not None:
                other.deliver_text(_peer_message(False))
        if not room:
            self._rooms.pop(session_id, None)
        self.stats.sockets -= 1
        self._add_stats(peer.stats)
        await peer.close()

    async def close_all(self) -> None:
        for session_id, room in list(self._rooms.items()):
            for peer in list(room.values()):
                await self.close(session_id, peer)

    def figures(self) -> dict[str, float]:
        """Open sockets and totals over closed and open sockets (for /metrics)."""
        live = [peer.stats for room in self._rooms.values() for peer in room.values()]
        totals = self.stats.totals
        return {
            "sockets": self.stats.sockets,
            "forwarded": totals.forwarded + sum(s.forwarded for s in live),
            "dropped_video": totals.dropped_video + sum(s.dropped_video for s in live),
            "dropped_audio": totals.dropped_audio + sum(s.dropped_audio for s in live),
            "congested": totals.congested + sum(s.congested for s in live),
        }

    def _congested(self, session_id: str, receiver: MediaPeer) -> None:
        sender = self.other(session_id, receiver.email)
        log.info("wsmedia.congested", session_id=session_id)
        if sender is not None:
            sender.deliver_text(SLOW_DOWN)
            sender.deliver_text(KEYFRAME)

    def _retire(self, old: MediaPeer) -> None:
        task = asyncio.get_running_loop().create_task(
            old.ws.close(code=CLOSE_REPLACED, message=b"Replaced by a newer connection")
        )
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _add_stats(self, stats: PeerStats) -> None:
        totals = self.stats.totals
        totals.forwarded += stats.forwarded
        totals.dropped_video += stats.dropped_video
        totals.dropped_audio += stats.dropped_audio
        totals.congested += stats.congested

"""A headless session participant: the room's signaling contract, spoken by aiortc.

It joins ``private-session-{id}`` and ``presence-session-{id}`` on the hub, says
``client-hello`` and negotiates with perfect negotiation (the mentee is polite, the mentor
impolite; the impolite side offers when it hears a hello). Or, when the session is forced
through the relay, it asks the other side to move (``client-path``) and POSTs its own
offer to /api/relay/sessions/{id}/offer. It sends audio and video and counts what it receives:
in the ``replay`` media mode pre-encoded streams out and RTP frame boundaries in (nothing is
encoded or decoded); in the ``synthetic`` mode live-encoded pictures and a tone out, every
received frame decoded. Loss, jitter and bitrate come from aiortc's stats or the counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import Any, Literal

import aiohttp
import structlog
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.rtcconfiguration import RTCBundlePolicy
from aiortc.sdp import candidate_from_sdp
from aiortc.stats import RTCInboundRtpStreamStats, RTCTransportStats

from loadtest.api import ApiUser
from loadtest.media import AUDIO_RATE, VIDEO_CLOCK
from loadtest.peer_figures import (
    CLOSED_BY_AIORTC,
    MediaOptions,
    PeerFailure,
    PeerSample,
    PeerTimings,
    PeerTotals,
)
from loadtest.peer_media import Received, add_media, watch_remote_tracks
from loadtest.pusher import PusherClient, PusherError
from loadtest.rtp_count import RtpFrameCounter

log = structlog.get_logger(__name__)

__all__ = [
    "MediaOptions",
    "Path",
    "Peer",
    "PeerFailure",
    "PeerSample",
    "PeerTimings",
    "PeerTotals",
    "Role",
    "ice_configuration",
]

Role = Literal["mentor", "mentee"]
Path = Literal["direct", "relay"]


def ice_configuration(servers: list[dict[str, Any]]) -> RTCConfiguration:
    """Always an explicit list: aiortc reads None as "use a public STUN server"."""
    ice = [
        RTCIceServer(
            urls=s.get("urls", []),
            username=s.get("username"),
            credential=s.get("credential"),
        )
        for s in servers
        if s.get("urls")
    ]
    return RTCConfiguration(iceServers=ice, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


class Peer:
    def __init__(
        self,
        *,
        user: ApiUser,
        role: Role,
        session_id: str,
        path: Path,
        pusher_key: str,
        ice_servers: list[dict[str, Any]],
        media: MediaOptions,
    ) -> None:
        self.user = user
        self.email = user.email
        self.role = role
        self.session_id = session_id
        self.path = path
        self.polite = role == "mentee"
        self.epoch = random.randint(1, 2**31 - 1)
        self.timings = PeerTimings()
        self.totals = PeerTotals()
        self.media = media
        self._ice_servers = ice_servers
        self._private = f"private-session-{session_id}"
        self._presence = f"presence-session-{session_id}"
        self._pusher = PusherClient(
            user.http, user.base_url, pusher_key, self._on_event, on_close=self._on_ws_closed
        )
        self._events: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._pc: RTCPeerConnection | None = None
        self._received: list[Received] = []
        self._ice_connected = asyncio.Event()
        self._first_frame = asyncio.Event()
        self._failed: str | None = None
        self._failure = asyncio.Event()
        self._seen_epochs: set[int] = set()
        self._offered_to: int | None = None
        self._making_offer = False
        self._started = 0.0
        self._last_sample: tuple[float, int, int] | None = None
        self._relay_joined = False
        self._closing = False

    # --- joining -------------------------------------------------------------------------
    async def join(self) -> None:
        """Connect, subscribe, negotiate and wait for the first remote video frame.

        The caller bounds the time; failures raise :class:`PeerFailure`.
        """
        self._started = time.monotonic()
        try:
            await self._pusher.connect()
            self.timings.ws_connected_ms = self._elapsed_ms()
            await asyncio.gather(
                self._pusher.subscribe(self._private), self._pusher.subscribe(self._presence)
            )
        except PusherError as exc:
            raise PeerFailure(str(exc)) from exc
        self.timings.subscribed_ms = self._elapsed_ms()
        self._pc = self._new_connection()
        self._worker = asyncio.create_task(self._handle_events())
        await self._say_hello()
        if self.path == "relay":
            await self._send("client-path", {"path": "relay", "reason": "load test"})
            await self._join_relay()
        await self._wait_for(self._ice_connected, "ICE connected")
        self.timings.ice_connected_ms = self._elapsed_ms()
        await self._wait_for(self._first_frame, "first remote frame")
        self.timings.first_frame_ms = self._elapsed_ms()

    async def _wait_for(self, event: asyncio.Event, what: str) -> None:
        waiter = asyncio.create_task(event.wait())
        failure = asyncio.create_task(self._failure.wait())
        try:
            await asyncio.wait({waiter, failure}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            failure.cancel()
        if not event.is_set():
            raise PeerFailure(f"{self._failed} (before {what})")

    def _fail(self, reason: str) -> None:
        if self._failed is None:
            self._failed = reason
            self._failure.set()

    def _on_ws_closed(self, reason: str) -> None:
        if not self._closing:
            self._fail(reason)

    @property
    def failed(self) -> str | None:
        """Why the peer stopped working (connection lost, websocket closed, other side left)."""
        return self._failed

    def _elapsed_ms(self) -> float:
        return round((time.monotonic() - self._started) * 1000, 1)

    def _new_connection(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(ice_configuration(self._ice_servers))
        add_media(pc, self.media)
        watch_remote_tracks(pc, self.media, self._received, self._first_frame)

        @pc.on("iceconnectionstatechange")
        def on_ice_state() -> None:
            state = pc.iceConnectionState
            if state in ("connected", "completed"):
                self._ice_connected.set()
            elif state == "failed":
                self._fail("ICE failed")

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "failed":
                self._fail("peer connection failed")
            elif pc.connectionState == "closed" and self._started and not self._closing:
                self._fail(CLOSED_BY_AIORTC)

        return pc

    # --- signaling ---------------------------------------------------------------------
    async def _on_event(self, event: str, channel: str, data: dict[str, Any]) -> None:
        if channel == self._private and event.startswith("client-"):
            self._events.put_nowait((event, data))

    async def _send(self, event: str, data: dict[str, Any]) -> None:
        payload = {**data, "from": self.email}
        if event != "client-path":
            payload["epoch"] = self.epoch
        try:
            await self._pusher.trigger(self._private, event, payload)
        except PusherError as exc:
            self._fail(str(exc))

    async def _say_hello(self) -> None:
        await self._send("client-hello", {})

    async def _handle_events(self) -> None:
        while True:
            event, data = await self._events.get()
            try:
                await self._handle(event, data)
            except Exception as exc:
                log.warning("loadtest.signaling_error", client_event=event, error=repr(exc))
                self._fail(f"{event} handling failed: {type(exc).__name__}: {exc}")

    async def _handle(self, event: str, data: dict[str, Any]) -> None:
        if data.get("from") == self.email:
            return
        epoch = data.get("epoch")
        if event == "client-hello" and isinstance(epoch, int):
            if epoch not in self._seen_epochs:
                self._seen_epochs.add(epoch)
                await self._say_hello()  # a newcomer missed our first hello
            if not self.polite and self.path == "direct" and self._offered_to != epoch:
                self._offered_to = epoch
                await self._make_offer()
        elif event == "client-offer" and self.path == "direct":
            await self._on_offer(data.get("offer"))
        elif event == "client-answer" and self.path == "direct":
            answer = data.get("answer")
            pc = self._pc
            if (
                pc is not None
                and isinstance(answer, dict)
                and pc.signalingState == "have-local-offer"
            ):
                await pc.setRemoteDescription(
                    RTCSessionDescription(sdp=str(answer.get("sdp", "")), type="answer")
                )
        elif event == "client-ice-candidate" and self.path == "direct":
            await self._on_candidate(data.get("candidate"))
        elif event == "client-bye":
            self._fail("the other side left")

    async def _make_offer(self) -> None:
        pc = self._pc
        if pc is None:
            return
        self._making_offer = True
        try:
            await pc.setLocalDescription(await pc.createOffer())  # gathers all candidates
        finally:
            self._making_offer = False
        local = pc.localDescription
        await self._send("client-offer", {"offer": {"type": local.type, "sdp": local.sdp}})

    async def _on_offer(self, offer: object) -> None:
        pc = self._pc
        if pc is None or not isinstance(offer, dict):
            return
        collision = self._making_offer or pc.signalingState != "stable"
        if collision and not self.polite:
            return  # impolite: our own offer wins
        # The polite side never offers here, so it never has an offer of its own to roll back
        # (aiortc has no rollback); a collision can only be a repeated offer, answered anew.
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=str(offer.get("sdp", "")), type="offer")
        )
        await pc.setLocalDescription(await pc.createAnswer())
        local = pc.localDescription
        await self._send("client-answer", {"answer": {"type": local.type, "sdp": local.sdp}})

    async def _on_candidate(self, candidate: object) -> None:
        """Browsers trickle; aiortc puts every candidate in its SDP and sends none."""
        pc = self._pc
        if pc is None or not isinstance(candidate, dict) or not candidate.get("candidate"):
            return
        text = str(candidate["candidate"])
        parsed = candidate_from_sdp(
            text.split(":", 1)[1] if text.startswith("candidate:") else text
        )
        parsed.sdpMid = candidate.get("sdpMid")
        parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
        await pc.addIceCandidate(parsed)

    # --- relay -------------------------------------------------------------------------
    async def _join_relay(self) -> None:
        pc = self._pc
        assert pc is not None
        await pc.setLocalDescription(await pc.createOffer())  # non-trickle: all candidates in
        local = pc.localDescription
        path = f"/api/relay/sessions/{self.session_id}/offer"
        try:
            async with self.user.http.post(
                self.user.url(path), json={"sdp": local.sdp, "type": local.type}
            ) as resp:
                body = await resp.json(content_type=None)
                if resp.status != 200 or not isinstance(body, dict) or "sdp" not in body:
                    error = body.get("error") if isinstance(body, dict) else body
                    code = body.get("code") if isinstance(body, dict) else None
                    detail = f" ({code})" if code else ""
                    raise PeerFailure(f"relay offer: HTTP {resp.status} {error}{detail}")
        except (aiohttp.ClientError, ValueError) as exc:
            raise PeerFailure(f"relay offer failed: {type(exc).__name__} {exc}") from exc
        self._relay_joined = True
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=str(body["sdp"]), type=str(body.get("type", "answer")))
        )

    # --- measuring ---------------------------------------------------------------------
    def _video_frames(self) -> int:
        return sum(r.frames for r in self._received if r.kind == "video")

    async def sample(self) -> PeerSample | None:
        """Frames and bytes received since the last call (None before the first frame)."""
        pc = self._pc
        if pc is None or self.timings.first_frame_ms is None or self._failed is not None:
            return None
        now = time.monotonic()
        frames = self._video_frames()
        stats = await pc.getStats()
        received_bytes = 0
        packets_received = packets_lost = 0
        jitter_ms = 0.0
        for item in stats.values():
            if isinstance(item, RTCTransportStats):
                received_bytes += item.bytesReceived
            elif isinstance(item, RTCInboundRtpStreamStats):
                packets_received += item.packetsReceived
                packets_lost += max(0, item.packetsLost)
                if item.kind == "video":
                    jitter_ms = max(jitter_ms, item.jitter * 1000 / VIDEO_CLOCK)
                else:
                    jitter_ms = max(jitter_ms, item.jitter * 1000 / AUDIO_RATE)
        counters = [r for r in self._received if isinstance(r, RtpFrameCounter)]
        if counters:  # the counters replace aiortc's receiver statistics
            packets_received = sum(c.packets_received for c in counters)
            packets_lost = sum(c.packets_lost for c in counters)
            jitter_ms = max(c.jitter_ms for c in counters)
        totals = self.totals
        totals.frames, totals.bytes = frames, received_bytes
        totals.packets_received, totals.packets_lost = packets_received, packets_lost
        totals.jitter_ms = round(jitter_ms, 2)
        previous = self._last_sample
        self._last_sample = (now, frames, received_bytes)
        if previous is None:
            return None
        interval = now - previous[0]
        if interval <= 0:
            return None
        sample = PeerSample(
            interval_s=interval,
            frames=frames - previous[1],
            bytes=received_bytes - previous[2],
            fps=(frames - previous[1]) / interval,
            kbps=(received_bytes - previous[2]) * 8 / 1000 / interval,
        )
        totals.sampled_s += interval
        totals.sampled_frames += sample.frames
        totals.sampled_bytes += sample.bytes
        return sample

    def stalled(self, now: float, limit_s: float) -> bool:
        """No remote video frame for ``limit_s`` although one had arrived before."""
        last = max(
            (r.last_frame_at or 0.0 for r in self._received if r.kind == "video"), default=0.0
        )
        return last > 0 and now - last > limit_s

    @property
    def connection_state(self) -> str:
        return self._pc.connectionState if self._pc is not None else "new"

    # --- leaving -----------------------------------------------------------------------
    async def leave(self) -> None:
        self._closing = True
        if self._pusher.is_open:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._send("client-bye", {}), 2)
        if self._relay_joined:
            with contextlib.suppress(Exception):
                async with self.user.http.post(
                    self.user.url(f"/api/relay/sessions/{self.session_id}/leave")
                ):
                    pass
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker
        for received in self._received:
            await received.stop()
        if self._pc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._pc.close(), 5)
        await self._pusher.close()

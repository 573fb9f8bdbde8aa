"""One relayed session: a server peer connection per participant, cross-linked.

Each participant negotiates once (non-trickle) with a bundled peer connection. The server
pre-creates one audio and one video transceiver per connection, ``sendrecv``:

* their receivers carry what the participant publishes (see :mod:`relay.publication`);
* their senders carry a :class:`ForwardTrack` each, fed with the *other* participant's
  publication of the same kind as soon as that participant is there.

So the order of joining does not matter, and a participant who reconnects gets a fresh
connection that the other side's tracks re-attach to.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine

import structlog
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription, sdp
from aiortc.rtcrtpparameters import RTCRtpCodecCapability
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtptransceiver import RTCRtpTransceiver

from relay import compat, fastpath
from relay.counters import Counters
from relay.dtls_identity import SHARED_CERTIFICATE
from relay.errors import BadOffer, SessionBusy
from relay.fastpath import FastRoute
from relay.limits import DEFAULT_LIMITS, StreamLimits
from relay.outlet import hook_sender_feedback
from relay.publication import Publication
from relay.recording.session import SessionRecorder
from relay.tasks import spawn
from relay.track import ForwardTrack

log = structlog.get_logger(__name__)

KINDS = ("audio", "video")
MAX_PARTICIPANTS = 2

_fast_path_warning = [False]
"""Whether the missing fast path was logged already (once per process is enough)."""


def _fast_path_unavailable() -> None:
    """The socket hook could not be installed: media takes aiortc's own receive path (slower,
    same behaviour). The start-up self-check makes this unlikely; say so once if it happens."""
    if not _fast_path_warning[0]:
        _fast_path_warning[0] = True
        log.warning(
            "relay.fast_path_unavailable",
            detail="the ICE connection lacks the expected internals; "
            "packets take aiortc's receive path",
        )


def _codec_preferences(kind: str) -> list[RTCRtpCodecCapability]:
    """aiortc's own order (Opus; VP8, then H.264) whatever order the offer lists.

    Both participants then agree on one codec whenever they can, so media passes through.
    """
    capabilities = RTCRtpReceiver.getCapabilities(kind)
    return list(capabilities.codecs) if capabilities is not None else []


def _negotiated_codec(transceiver: RTCRtpTransceiver) -> tuple[str | None, int | None]:
    """The media codec (MIME type, payload type) a transceiver's sender will use."""
    for codec in compat.transceiver_codecs(transceiver):
        if (
            codec.mimeType.lower() not in ("video/rtx", "audio/rtx")
            and codec.payloadType is not None
        ):
            return codec.mimeType, codec.payloadType
    return None, None


def offered_kinds(offer_sdp: str) -> tuple[str, ...]:
    """The media kinds the offer has m-lines for (the server answers exactly those)."""
    try:
        description = sdp.SessionDescription.parse(offer_sdp)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise BadOffer(f"the offer is not valid SDP: {exc}") from exc
    kinds = tuple(kind for kind in KINDS if any(m.kind == kind for m in description.media))
    if not kinds:
        raise BadOffer("the offer has no audio or video")
    return kinds


class Participant:
    """One participant's server peer connection and its media."""

    def __init__(
        self,
        room: Room,
        participant_id: str,
        ice_servers: list[RTCIceServer],
        counters: Counters,
        kinds: tuple[str, ...] = KINDS,
        limits: StreamLimits = DEFAULT_LIMITS,
    ) -> None:
        self.room = room
        self.id = participant_id
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=list(ice_servers)))
        SHARED_CERTIFICATE.use_in(self.pc)
        self.counters = counters
        self.limits = limits
        self.outputs: dict[str, ForwardTrack] = {}
        self.publications: dict[str, Publication] = {}
        self.routes: dict[int, FastRoute] = {}
        """Media SSRCs this participant publishes, for the fast path (:mod:`relay.fastpath`)."""
        self._extra: list[Publication] = []
        self.closed = False
        self.deadline: asyncio.Task[None] | None = None
        label = f":{room.session_id}:{participant_id}"
        self.label = label
        for kind in kinds:
            track = ForwardTrack(kind, counters, limits)
            transceiver = self.pc.addTransceiver(track, direction="sendrecv")
            transceiver.setCodecPreferences(_codec_preferences(kind))
            track.bind_sender(transceiver.sender)
            hook_sender_feedback(transceiver.sender, track.request_keyframe, track.forward_bitrate)
            compat.thin_reports(transceiver.sender, transceiver.receiver, limits.rtcp_report_every)
            self.outputs[kind] = track
            fast = fastpath.install(transceiver.receiver.transport, self.routes)
            if not fast:
                _fast_path_unavailable()
            self.publications[kind] = Publication(
                kind, transceiver.receiver, counters, label, self.routes if fast else None, limits
            )

    @property
    def connection_state(self) -> str:
        return str(self.pc.connectionState)

    async def negotiate(self, offer_sdp: str, offer_type: str) -> RTCSessionDescription:
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, offer_type))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise BadOffer(f"the offer is not valid SDP: {exc}") from exc
        except Exception as exc:  # aiortc's InvalidStateError/OperationError (no common codec)
            raise BadOffer(f"the offer cannot be answered: {exc}") from exc
        # m-lines beyond one audio and one video got receivers of their own: drain them too.
        for transceiver in self.pc.getTransceivers():
            if not compat.is_tapped(transceiver.receiver):
                self._extra.append(
                    Publication(
                        transceiver.kind,
                        transceiver.receiver,
                        self.counters,
                        self.label,
                        limits=self.limits,
                    )
                )
        for transceiver in self.pc.getTransceivers():
            track = self.outputs.get(transceiver.kind)
            if track is not None and transceiver.sender.track is track:
                track.set_output(*_negotiated_codec(transceiver))
        try:
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        except ValueError as exc:
            raise BadOffer(f"the offer cannot be answered: {exc}") from exc
        local = self.pc.localDescription
        return RTCSessionDescription(local.sdp, local.type)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for publication in (*self.publications.values(), *self._extra):
            publication.close()
        for track in self.outputs.values():
            track.stop()
        await self.pc.close()


class Room:
    """The relay side of one session."""

    def __init__(
        self,
        session_id: str,
        ice_servers: list[RTCIceServer],
        counters: Counters,
        peer_timeout_s: float,
        on_empty: Callable[[Room], None],
        limits: StreamLimits = DEFAULT_LIMITS,
    ) -> None:
        self.session_id = session_id
        self._limits = limits
        self._ice_servers = ice_servers
        self._counters = counters
        self._peer_timeout_s = peer_timeout_s
        self._on_empty = on_empty
        self.participants: dict[str, Participant] = {}
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False
        self.recorder: SessionRecorder | None = None
        """The running recording (relay.recording), tapping every publication of the room."""

    @property
    def streams(self) -> int:
        """Media streams being forwarded (one per kind and direction with a publisher)."""
        return sum(
            1
            for participant in self.participants.values()
            for track in participant.outputs.values()
            if track.source is not None
        )

    @property
    def transcoding(self) -> int:
        return sum(
            1
            for participant in self.participants.values()
            for track in participant.outputs.values()
            if track.transcoding
        )

    async def join(
        self, participant_id: str, offer_sdp: str, offer_type: str
    ) -> RTCSessionDescription:
        async with self._lock:
            if self.closed:
                raise SessionBusy("the relayed session has just ended; try again")
            previous = self.participants.get(participant_id)
            if previous is None and len(self.participants) >= MAX_PARTICIPANTS:
                raise SessionBusy("this session already has two relayed participants")
            if previous is not None:
                await self._remove(previous)
            try:
                kinds = offered_kinds(offer_sdp)
            except BadOffer:
                self._notify_if_empty()
                raise
            participant = Participant(
                self, participant_id, self._ice_servers, self._counters, kinds, self._limits
            )
            self.participants[participant_id] = participant
            try:
                answer = await participant.negotiate(offer_sdp, offer_type)
            except BaseException:
                await self._remove(participant)
                self._notify_if_empty()
                raise
            self._link()
            self._watch(participant)
            log.info("relay.joined", session_id=self.session_id, participant_id=participant_id)
            return answer

    async def leave(self, participant_id: str) -> bool:
        async with self._lock:
            participant = self.participants.get(participant_id)
            if participant is None:
                return False
            await self._remove(participant)
            log.info("relay.left", session_id=self.session_id, participant_id=participant_id)
        self._notify_if_empty()
        return True

    async def close(self) -> None:
        async with self._lock:
            self.closed = True
            if self.recorder is not None:
                self.recorder.stop()
            for participant in list(self.participants.values()):
                await self._remove(participant)
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        for task in list(self._tasks):
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _link(self) -> None:
        for subscriber in self.participants.values():
            for publisher in self.participants.values():
                if publisher is subscriber:
                    continue
                for kind in KINDS:
                    track = subscriber.outputs.get(kind)
                    publication = publisher.publications.get(kind)
                    if track is not None and publication is not None:
                        track.attach(publication)
        if self.recorder is not None:
            self.recorder.link(self.participants.values())

    async def _remove(self, participant: Participant) -> None:
        if self.participants.get(participant.id) is participant:
            del self.participants[participant.id]
        deadline = participant.deadline
        if deadline is not None and deadline is not asyncio.current_task():
            deadline.cancel()
        await participant.close()

    def _notify_if_empty(self) -> None:
        if not self.participants and not self.closed:
            self.closed = True
            self._on_empty(self)

    def _spawn(self, coro: Coroutine[object, object, None], name: str) -> asyncio.Task[None]:
        return spawn(self._tasks, coro, name)

    def _watch(self, participant: Participant) -> None:
        """Remove a participant whose connection fails, closes or never connects."""

        @participant.pc.on("connectionstatechange")
        def on_state() -> None:
            state = participant.connection_state
            if state == "connected" and participant.deadline is not None:
                participant.deadline.cancel()
            if state in ("failed", "closed") and not participant.closed:
                log.info(
                    "relay.connection_lost",
                    session_id=self.session_id,
                    participant_id=participant.id,
                    state=state,
                )
                self._spawn(self._drop_if_current(participant), f"drop{participant.label}")

        participant.deadline = self._spawn(
            self._connect_deadline(participant), f"deadline{participant.label}"
        )

    async def _connect_deadline(self, participant: Participant) -> None:
        await asyncio.sleep(self._peer_timeout_s)
        if participant.connection_state != "connected" and not participant.closed:
            log.info(
                "relay.connect_timeout", session_id=self.session_id, participant_id=participant.id
            )
            await self._drop_if_current(participant)

    async def _drop_if_current(self, participant: Participant) -> None:
        async with self._lock:
            if self.participants.get(participant.id) is not participant:
                return
            await self._remove(participant)
        self._notify_if_empty()

"""Every private name of aiortc and aioice the relay relies on, and nothing else.

The relay forwards packets without aiortc's decode/encode loop, so it reaches into aiortc's
senders, receivers, DTLS transport and transceivers, and into aioice's ICE connection. Those
names are not API and may change in any release, so each is declared here once (the constants
the accessors use) and :func:`self_check` verifies the installed versions still have them.
:meth:`relay.manager.RelayManager.start` runs it: a failure disables the relay, not the
server, with a message naming the missing attribute and the supported versions.

Per-packet accessors are bound once per sender, receiver or connection.
"""

from __future__ import annotations

import functools
import importlib.metadata
import operator
import queue
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, NamedTuple

import pylibsrtp
import structlog
from aioice.ice import CandidatePair, Connection, StunProtocol
from aiortc.jitterbuffer import JitterFrame
from aiortc.rate import RemoteBitrateEstimator
from aiortc.rtcdtlstransport import RTCCertificate, RTCDtlsTransport, State
from aiortc.rtcicetransport import RTCIceTransport
from aiortc.rtcpeerconnection import RTCPeerConnection
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import RTCRtpReceiver, StreamStatistics
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.rtp import (
    RTP_HISTORY_SIZE,
    AnyRtcpPacket,
    HeaderExtensions,
    HeaderExtensionsMap,
    RtcpRrPacket,
    RtcpSrPacket,
)
from OpenSSL import SSL

from relay.introspect import defines

log = structlog.get_logger(__name__)

SUPPORTED_VERSIONS = {"aiortc": ">=1.16,<1.17", "aioice": ">=0.13,<0.14", "pylibsrtp": ">=1.0,<1.1"}
"""The ranges pyproject.toml pins; the names below were read from these releases."""


@dataclass(frozen=True, slots=True)
class Expected:
    """One name the relay needs ``owner`` (a class) or its instances to have."""

    package: str
    owner: type
    name: str


_expected: list[Expected] = []


def _needs(package: str, owner: type, name: str) -> str:
    """Declare a private name the relay uses: it joins what :func:`self_check` verifies."""
    _expected.append(Expected(package, owner, name))
    return name


_sender = functools.partial(_needs, "aiortc", RTCRtpSender)
_receiver = functools.partial(_needs, "aiortc", RTCRtpReceiver)
_dtls = functools.partial(_needs, "aiortc", RTCDtlsTransport)
_ice = functools.partial(_needs, "aiortc", RTCIceTransport)
_transceiver = functools.partial(_needs, "aiortc", RTCRtpTransceiver)
_extensions = functools.partial(_needs, "aiortc", HeaderExtensionsMap)
_peer_connection = functools.partial(_needs, "aiortc", RTCPeerConnection)
_certificate = functools.partial(_needs, "aiortc", RTCCertificate)
_connection = functools.partial(_needs, "aioice", Connection)
_protocol = functools.partial(_needs, "aioice", StunProtocol)
_srtp = functools.partial(_needs, "pylibsrtp", pylibsrtp.Session)
_statistics = functools.partial(_needs, "aiortc", StreamStatistics)

# RTCRtpSender (name-mangled attributes are set on the instance in aiortc's methods).
SENDER_HISTORY = _sender("_RTCRtpSender__rtp_history")
SENDER_EXTENSIONS = _sender("_RTCRtpSender__rtp_header_extensions_map")
SENDER_MID = _sender("_RTCRtpSender__mid")
SENDER_NTP_TIMESTAMP = _sender("_RTCRtpSender__ntp_timestamp")
SENDER_RTP_TIMESTAMP = _sender("_RTCRtpSender__rtp_timestamp")
SENDER_OCTET_COUNT = _sender("_RTCRtpSender__octet_count")
SENDER_PACKET_COUNT = _sender("_RTCRtpSender__packet_count")
SENDER_SSRC = _sender("_ssrc")
SENDER_SEND_KEYFRAME = _sender("_send_keyframe")
SENDER_HANDLE_RTCP = _sender("_handle_rtcp_packet")
SENDER_RETRANSMIT = _sender("_retransmit")
SENDER_SEND_RTCP = _sender("_send_rtcp")
# RTCRtpReceiver
RECEIVER_DECODER_QUEUE = _receiver("_RTCRtpReceiver__decoder_queue")
RECEIVER_DECODER_THREAD = _receiver("_RTCRtpReceiver__decoder_thread")
RECEIVER_RTX_SSRC = _receiver("_RTCRtpReceiver__rtx_ssrc")
RECEIVER_CODECS = _receiver("_RTCRtpReceiver__codecs")
RECEIVER_STREAMS = _receiver("_RTCRtpReceiver__remote_streams")
RECEIVER_RTCP_SSRC = _receiver("_RTCRtpReceiver__rtcp_ssrc")
RECEIVER_ENABLED = _receiver("_enabled")
RECEIVER_HANDLE_RTP = _receiver("_handle_rtp_packet")
RECEIVER_SEND_RTCP = _receiver("_send_rtcp")
RECEIVER_SEND_NACK = _receiver("_send_rtcp_nack")
RECEIVER_SEND_PLI = _receiver("_send_rtcp_pli")
RECEIVER_BITRATE_ESTIMATOR = _receiver("_RTCRtpReceiver__remote_bitrate_estimator")
# RTCDtlsTransport, RTCIceTransport, RTCRtpTransceiver, HeaderExtensionsMap
DTLS_RX_SRTP = _dtls("_rx_srtp")
DTLS_TX_SRTP = _dtls("_tx_srtp")
DTLS_STATE = _dtls("_state")
DTLS_EXTENSIONS = _dtls("_rtp_header_extensions_map")
ICE_CONNECTION = _ice("_connection")
TRANSCEIVER_CODECS = _transceiver("_codecs")
EXTENSIONS_IDS = _extensions("_HeaderExtensionsMap__ids")
# RTCPeerConnection, RTCCertificate
PC_CERTIFICATES = _peer_connection("_RTCPeerConnection__certificates")
CERTIFICATE_SSL_CONTEXT = _certificate("_create_ssl_context")
# aioice
CONNECTION_PROTOCOLS = _connection("_protocols")
CONNECTION_NOMINATED = _connection("_nominated")
CONNECTION_DATA_RECEIVED = _connection("data_received")
PROTOCOL_DATAGRAM_RECEIVED = _protocol("datagram_received")
PROTOCOL_LOCAL_CANDIDATE = _protocol("local_candidate")
PROTOCOL_TRANSPORT = _protocol("transport")
# StreamStatistics: a receiver's per-SSRC reception figures, updated by the fast path
STATS_CLOCKRATE = _statistics("_clockrate")
STATS_JITTER = _statistics("_jitter_q4")
STATS_LAST_ARRIVAL = _statistics("_last_arrival")
STATS_LAST_TIMESTAMP = _statistics("_last_timestamp")
# pylibsrtp: a session's libsrtp context (a cffi ``srtp_t *``), for :mod:`relay.srtp`
SRTP_CONTEXT = _srtp("_srtp")

for field_name in ("mid", "abs_send_time", "audio_level"):  # read from EXTENSIONS_IDS
    _needs("aiortc", HeaderExtensions, field_name)

EXPECTED: tuple[Expected, ...] = tuple(_expected)
"""Everything :func:`self_check` verifies: every private name this module uses."""

_HOOKED = "_relay_fast_path"
"""Our own marker on a hooked aioice connection or socket protocol."""


def installed_versions() -> dict[str, str]:
    """The installed aiortc and aioice versions ("not installed" when metadata is missing)."""
    versions: dict[str, str] = {}
    for package in SUPPORTED_VERSIONS:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def self_check(expected: tuple[Expected, ...] | None = None) -> list[str]:
    """One problem per missing private name (naming it, the installed and supported versions)."""
    versions = installed_versions()
    problems: list[str] = []
    for item in EXPECTED if expected is None else expected:
        if defines(item.owner, item.name):
            continue
        problems.append(
            f"{item.package} {versions[item.package]}: {item.owner.__module__}."
            f"{item.owner.__qualname__} has no attribute {item.name!r}; the relay supports "
            + " and ".join(f"{name} {spec}" for name, spec in SUPPORTED_VERSIONS.items())
        )
    return problems


class SenderInternals:
    """An ``RTCRtpSender``'s private state, bound once per sender.

    The relay writes forwarded packets into the sender's retransmission history (so aiortc
    answers NACKs) and its report counters (so its RTCP sender reports stay true).
    """

    __slots__ = ("extensions", "history", "sender", "ssrc", "state")

    def __init__(self, sender: RTCRtpSender) -> None:
        self.sender = sender
        self.state: dict[str, Any] = vars(sender)
        self.ssrc: int = getattr(sender, SENDER_SSRC)
        self.history: dict[int, object] = getattr(sender, SENDER_HISTORY)
        self.extensions: HeaderExtensionsMap = getattr(sender, SENDER_EXTENSIONS)

    def mid(self) -> str | None:
        """The negotiated MID; None until aiortc has started the sender."""
        mid: str | None = getattr(self.sender, SENDER_MID, None)
        return mid

    def record_sent(self, size: int, rtp_timestamp: int, ntp_timestamp: int) -> None:
        """Count one sent packet of ``size`` payload bytes, as aiortc's own send loop does.

        Per forwarded packet: the mangled names live in the instance dict, written directly.
        """
        state = self.state
        state[SENDER_PACKET_COUNT] += 1
        state[SENDER_OCTET_COUNT] += size
        state[SENDER_NTP_TIMESTAMP] = ntp_timestamp
        state[SENDER_RTP_TIMESTAMP] = rtp_timestamp


def serve_retransmissions(sender: RTCRtpSender, find: Callable[[int], object | None]) -> None:
    """Answer NACKs for ``sender`` from ``find(sequence)`` (an RtpPacket-like object) too.

    aiortc's ``_retransmit`` looks the packet up in its own history (which its send loop
    fills while transcoding); a packet ``find`` knows is put there just for the lookup, so
    aiortc's RTX wrapping and sending apply unchanged.
    """
    original: Callable[[int], Awaitable[None]] = getattr(sender, SENDER_RETRANSMIT)
    history: dict[int, object] = getattr(sender, SENDER_HISTORY)

    async def retransmit(sequence_number: int) -> None:
        packet = find(sequence_number)
        if packet is None:
            await original(sequence_number)
            return
        slot = sequence_number % RTP_HISTORY_SIZE
        previous = history.get(slot)
        history[slot] = packet
        try:
            await original(sequence_number)
        finally:
            if previous is None:
                history.pop(slot, None)
            else:
                history[slot] = previous

    setattr(sender, SENDER_RETRANSMIT, retransmit)


def wrap_keyframe_request(sender: RTCRtpSender, also: Callable[[], None]) -> None:
    """Call ``also`` after aiortc's own handling of a PLI/FIR for ``sender``."""
    original: Callable[[], None] = getattr(sender, SENDER_SEND_KEYFRAME)

    def send_keyframe() -> None:
        original()
        also()

    setattr(sender, SENDER_SEND_KEYFRAME, send_keyframe)


def wrap_rtcp_handler(
    sender: RTCRtpSender, also: Callable[[AnyRtcpPacket], Awaitable[None]]
) -> None:
    """Await ``also`` after aiortc's own handling of each RTCP packet for ``sender``."""
    original: Callable[[AnyRtcpPacket], Awaitable[None]] = getattr(sender, SENDER_HANDLE_RTCP)

    async def handle_rtcp(packet: AnyRtcpPacket) -> None:
        await original(packet)
        await also(packet)

    setattr(sender, SENDER_HANDLE_RTCP, handle_rtcp)


RtpHandler = Callable[..., Awaitable[None]]
"""aiortc's ``_handle_rtp_packet(packet, arrival_time_ms)`` (called with a keyword)."""
FrameHandler = Callable[[RTCRtpCodecParameters, JitterFrame], None]


REPORTS_ALWAYS_SENT = 2
"""A stream's first reports always go: a receiver's lip sync and first round-trip time need them."""


def thin_reports(sender: RTCRtpSender, receiver: RTCRtpReceiver, keep_every: int) -> None:
    """Send only one in ``keep_every`` of the sender's RTCP sender reports and of the
    receiver's receiver reports (after the first :data:`REPORTS_ALWAYS_SENT` of each).

    aiortc schedules both about once a second (0.5-1.5 s apart); each one it sends costs
    serialising, SRTCP and a system call on the relay's loop, per stream. RFC 3550 (6.2)
    recommends 5 s between reports. Everything else (NACK, PLI, REMB, BYE) passes untouched;
    the skipped reports' figures stay counted, so the next report sent is still true.
    """
    if keep_every <= 1:
        return
    _thin(sender, SENDER_SEND_RTCP, RtcpSrPacket, keep_every)
    _thin(receiver, RECEIVER_SEND_RTCP, RtcpRrPacket, keep_every)


def _thin(owner: object, name: str, report_type: type, keep_every: int) -> None:
    send = getattr(owner, name)
    reports = [0]

    async def send_some(packets: Any) -> None:
        first = packets[0] if isinstance(packets, list) and packets else packets
        if isinstance(first, report_type):
            reports[0] += 1
            count = reports[0]
            if count > REPORTS_ALWAYS_SENT and (count - REPORTS_ALWAYS_SENT) % keep_every:
                return
        await send(packets)

    setattr(owner, name, send_some)


class ReceiverInternals:
    """An ``RTCRtpReceiver``'s private state and RTCP senders, bound once per receiver."""

    __slots__ = ("codecs", "receiver", "rtx_ssrc", "send_nack", "send_pli", "send_rtcp", "streams")

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        self.receiver = receiver
        self.codecs: dict[int, RTCRtpCodecParameters] = getattr(receiver, RECEIVER_CODECS)
        self.rtx_ssrc: dict[int, int] = getattr(receiver, RECEIVER_RTX_SSRC)
        self.streams: dict[int, StreamStatistics] = getattr(receiver, RECEIVER_STREAMS)
        self.send_nack: Callable[[int, list[int]], Coroutine[object, object, None]] = getattr(
            receiver, RECEIVER_SEND_NACK
        )
        """``send_nack(media_ssrc, lost)``: RTCP generic NACK to the publisher."""
        self.send_pli: Callable[[int], Coroutine[object, object, None]] = getattr(
            receiver, RECEIVER_SEND_PLI
        )
        self.send_rtcp: Callable[[AnyRtcpPacket], Awaitable[None]] = getattr(
            receiver, RECEIVER_SEND_RTCP
        )

    def rtcp_ssrc(self) -> int | None:
        """The SSRC the receiver's RTCP goes out with; None before it is negotiated."""
        ssrc: int | None = getattr(self.receiver, RECEIVER_RTCP_SSRC, None)
        return ssrc

    def header_extensions(self) -> HeaderExtensionsMap:
        """The extension map of the receiver's (bundled) DTLS transport."""
        extensions: HeaderExtensionsMap = getattr(self.receiver.transport, DTLS_EXTENSIONS)
        return extensions

    def drop_bitrate_estimator(self) -> None:
        """Free the receiver's bandwidth estimator (a video receiver's holds a thousand
        one-millisecond rate buckets, about 50 KB): only aiortc's full receive path feeds it,
        and the relay's packet path never takes it."""
        if getattr(self.receiver, RECEIVER_BITRATE_ESTIMATOR, None) is not None:
            setattr(self.receiver, RECEIVER_BITRATE_ESTIMATOR, None)

    def restore_bitrate_estimator(self) -> None:
        """Give a video receiver a fresh estimator again (its packets now take the full
        path, whose REMB to the publisher comes from it)."""
        if getattr(self.receiver, RECEIVER_BITRATE_ESTIMATOR, None) is None:
            setattr(self.receiver, RECEIVER_BITRATE_ESTIMATOR, RemoteBitrateEstimator())

    def replace_rtp_handler(self, handler: RtpHandler) -> RtpHandler:
        """Route every RTP packet of this receiver to ``handler``; returns aiortc's own."""
        original: RtpHandler = getattr(self.receiver, RECEIVER_HANDLE_RTP)
        setattr(self.receiver, RECEIVER_HANDLE_RTP, handler)
        return original


def count_received(
    stream: StreamStatistics, sequence: int, timestamp: int, clock: Callable[[], float] = time.time
) -> None:
    """What ``StreamStatistics.add`` does for one packet, from its sequence number and
    timestamp (the fast path has no RtpPacket), with its comparisons inline.

    Per received packet: aiortc's version needs a packet object and calls a helper for the
    wrap-around comparison. The figures (highest sequence, cycles, count, jitter) are the same.
    """
    state = vars(stream)
    stream.packets_received += 1
    highest = stream.max_seq
    if highest is None:
        stream.base_seq = sequence
    elif not 0 < (sequence - highest) & 0xFFFF < 0x8000:
        return  # a retransmission or reordering: counted, but not the newest
    arrival = int(clock() * state[STATS_CLOCKRATE])
    if highest is not None and sequence < highest:
        stream.cycles += 1 << 16
    stream.max_seq = sequence
    last_timestamp = state[STATS_LAST_TIMESTAMP]
    if timestamp != last_timestamp and stream.packets_received > 1:
        jitter = state[STATS_JITTER]
        diff = abs((arrival - state[STATS_LAST_ARRIVAL]) - (timestamp - last_timestamp))
        state[STATS_JITTER] = jitter + diff - ((jitter + 8) >> 4)
    state[STATS_LAST_ARRIVAL] = arrival
    state[STATS_LAST_TIMESTAMP] = timestamp


class _DecoderQueueTap:
    """Stands in for a receiver's decoder queue: aiortc's receive path puts
    ``(codec, frame)`` there for its decoder thread; this hands them to a callback instead."""

    def __init__(self, on_frame: FrameHandler) -> None:
        self._on_frame = on_frame
        self._stop: queue.Queue[None] = queue.Queue()

    def put(self, item: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None:
        if item is None:
            self._stop.put(None)
            return
        codec, frame = item
        try:
            self._on_frame(codec, frame)
        except Exception:  # a bad frame must never break the receiver's RTP handling
            log.exception("relay.tap_failed")

    def get(self) -> None:
        return self._stop.get()


def tap_receiver(receiver: RTCRtpReceiver, on_frame: FrameHandler) -> None:
    """Deliver ``receiver``'s depacketised frames to ``on_frame`` instead of its decoder.

    Must run before the receiver starts (before DTLS connects); raises RuntimeError if the
    receiver lacks the expected internals or already runs.
    """
    if not all(hasattr(receiver, n) for n in (RECEIVER_DECODER_QUEUE, RECEIVER_DECODER_THREAD)):
        raise RuntimeError("this aiortc version has no receiver decoder queue to tap")
    if getattr(receiver, RECEIVER_DECODER_THREAD) is not None:
        raise RuntimeError("the receiver already runs; tap it before it connects")
    setattr(receiver, RECEIVER_DECODER_QUEUE, _DecoderQueueTap(on_frame))


def is_tapped(receiver: RTCRtpReceiver) -> bool:
    return isinstance(getattr(receiver, RECEIVER_DECODER_QUEUE, None), _DecoderQueueTap)


def transceiver_codecs(transceiver: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    """The codecs negotiated for a transceiver, preferred first (empty before negotiation)."""
    codecs: list[RTCRtpCodecParameters] = getattr(transceiver, TRANSCEIVER_CODECS, [])
    return codecs


class ExtensionIds(NamedTuple):
    """Negotiated one-byte header extension IDs (0 when not negotiated)."""

    mid: int
    abs_send_time: int
    audio_level: int


def extension_ids(extensions: HeaderExtensionsMap) -> ExtensionIds:
    ids: HeaderExtensions = getattr(extensions, EXTENSIONS_IDS)
    return ExtensionIds(ids.mid or 0, ids.abs_send_time or 0, ids.audio_level or 0)


read_enabled: Callable[[RTCRtpReceiver], bool] = operator.attrgetter(RECEIVER_ENABLED)
"""Whether a receiver is enabled (aiortc drops its packets when not); C-level, per packet."""
read_rx_srtp: Callable[[RTCDtlsTransport], pylibsrtp.Session | None] = operator.attrgetter(
    DTLS_RX_SRTP
)
"""A DTLS transport's inbound SRTP session (None before the handshake); C-level, per packet."""


def srtp_context(session: pylibsrtp.Session) -> Any:
    """The libsrtp context (``srtp_t``) under a pylibsrtp session, for direct calls."""
    return getattr(session, SRTP_CONTEXT)[0]


def srtp_binding() -> tuple[Any, Any]:
    """pylibsrtp's cffi ``ffi`` and ``lib`` (its package imports them, without exporting)."""
    names = vars(pylibsrtp)
    return names["ffi"], names["lib"]


def sending_route(dtls: RTCDtlsTransport) -> tuple[pylibsrtp.Session, CandidatePair] | None:
    """The outbound SRTP session and the nominated RTP candidate pair, when the transport is
    up; None otherwise. Per forwarded packet (the transport may change at bundling), so it
    reads DTLS_TX_SRTP, DTLS_STATE, ICE_CONNECTION and CONNECTION_NOMINATED directly."""
    srtp: pylibsrtp.Session | None = dtls._tx_srtp
    if srtp is None or dtls._state is not State.CONNECTED:
        return None
    pair = dtls.transport._connection._nominated.get(1)
    return None if pair is None else (srtp, pair)


def is_connected(dtls: RTCDtlsTransport) -> bool:
    """Whether SRTP can be sent on ``dtls`` now."""
    connected = getattr(dtls, DTLS_STATE, None) is State.CONNECTED
    return connected and getattr(dtls, DTLS_TX_SRTP, None) is not None


Deliver = Callable[[bytes, int], None]
"""aioice's ``Connection.data_received(data, component)``."""


@dataclass(frozen=True, slots=True)
class IceHook:
    """An aioice connection's ``data_received`` before the relay replaced it (install_hook)."""

    original: Deliver
    protocols: list[StunProtocol]
    """The connection's socket protocols: the same list aioice appends to as it gathers."""


def ice_connection(dtls: RTCDtlsTransport) -> Connection | None:
    """The aioice connection under a DTLS transport, if it has the expected internals."""
    connection = getattr(getattr(dtls, "transport", None), ICE_CONNECTION, None)
    if isinstance(connection, Connection) and hasattr(dtls, DTLS_RX_SRTP):
        return connection if hasattr(connection, CONNECTION_PROTOCOLS) else None
    return None


def is_hooked(connection: Connection) -> bool:
    return bool(getattr(connection, _HOOKED, False))


def install_hook(connection: Connection, handler: Deliver) -> IceHook:
    """Replace ``connection``'s ``data_received`` with ``handler`` (per instance)."""
    hook = IceHook(
        getattr(connection, CONNECTION_DATA_RECEIVED), getattr(connection, CONNECTION_PROTOCOLS)
    )
    setattr(connection, CONNECTION_DATA_RECEIVED, handler)
    setattr(connection, _HOOKED, True)
    return hook


def bypass_stun_parsing(protocols: list[StunProtocol], deliver: Deliver) -> None:
    """Hand RTP/RTCP datagrams from these sockets straight to ``deliver``.

    aioice first tries to parse every datagram as STUN and takes the ValueError as "data";
    RFC 7983 tells them apart by the first byte, which is far cheaper.
    """
    for protocol in list(protocols):
        if not isinstance(protocol, StunProtocol) or getattr(protocol, _HOOKED, False):
            continue
        candidate = getattr(protocol, PROTOCOL_LOCAL_CANDIDATE, None)
        if candidate is None:
            continue
        original: Callable[[bytes | str, tuple[object, ...]], None] = getattr(
            protocol, PROTOCOL_DATAGRAM_RECEIVED
        )
        component: int = candidate.component

        def datagram_received(
            data: bytes | str,
            addr: tuple[object, ...],
            original: Callable[[bytes | str, tuple[object, ...]], None] = original,
            component: int = component,
        ) -> None:
            if isinstance(data, bytes) and data and 127 < data[0] < 192:
                deliver(data, component)
            else:
                original(data, addr)

        setattr(protocol, PROTOCOL_DATAGRAM_RECEIVED, datagram_received)
        setattr(protocol, _HOOKED, True)


def use_certificate(pc: RTCPeerConnection, certificate: RTCCertificate) -> None:
    """Make ``pc`` present ``certificate`` (before its first description)."""
    setattr(pc, PC_CERTIFICATES, [certificate])


def share_ssl_contexts(certificate: RTCCertificate, prepare: Callable[[SSL.Context], None]) -> None:
    """Give every DTLS transport that uses ``certificate`` one OpenSSL context per SRTP profile
    list (aiortc builds a new one per transport), ``prepare``d once when it is built."""
    create: Callable[..., SSL.Context] = getattr(certificate, CERTIFICATE_SSL_CONTEXT)
    contexts: dict[tuple[bytes, ...], SSL.Context] = {}

    def shared_context(srtp_profiles: list[Any]) -> SSL.Context:
        key = tuple(profile.openssl_profile for profile in srtp_profiles)
        context = contexts.get(key)
        if context is None:
            context = create(srtp_profiles=srtp_profiles)
            prepare(context)
            contexts[key] = context
        return context

    setattr(certificate, CERTIFICATE_SSL_CONTEXT, shared_context)

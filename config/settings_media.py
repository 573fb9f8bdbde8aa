"""Settings of the media path: the relay and its rooms, recording, the built-in STUN responder
and TURN. Part of :mod:`config.settings` (which re-exports them), kept apart because the relay
alone has more options than all the web sections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from config.secret import Secret


@dataclass(frozen=True)
class RelaySettings:
    mode: Literal["auto", "always", "never"] = "auto"
    """auto: fall back to the relay when P2P does not connect; always: relay every call;
    never: P2P only."""
    connect_timeout_s: float = 5.0
    """Seconds to wait for a direct connection before moving to the relay (auto mode)."""
    max_sessions: int = 50
    """Relayed sessions this node accepts at once."""
    workers: int = 0
    """Relay processes on this node. 0: one per CPU core the process may use; N > 0: N worker
    processes, each running its own event loop, with the web process placing each session on the
    least-loaded one; -1: no worker process, the relay runs inside the web process (one core at
    most; for tests that patch aiortc in-process and for debugging)."""
    worker_start_timeout_s: float = 60.0
    """Seconds a new relay worker process may take to start and pass its self-check."""
    worker_preload: bool = False
    """Whether a relay worker imports the media stack (aiortc with its DTLS, SRTP and ICE
    libraries) when it starts. False: at its first session, which keeps an idle worker small
    (about 30 MB instead of 55) and adds the import (about 0.1-0.3 s) to the first relayed join
    on each worker. PyAV (FFmpeg) is loaded only when a session transcodes or records either
    way."""
    worker_idle_recycle_s: float = 300.0
    """Seconds a relay worker that has loaded the media stack may go without any session
    before it is replaced by a fresh process: the native libraries stay mapped once loaded
    (about 58 MB instead of 31 for a fresh worker), and a fresh worker gives that back. One
    worker at a time, never one carrying a session; not a crash (no restart delay, counted
    apart). 0 turns it off. Ignored with worker_preload, whose workers load the stack at start
    anyway."""
    send_history_packets: int = 128
    """The most packets kept per forwarded stream to answer the subscriber's NACKs
    (retransmissions). About 1.2 KB each for video: 128 is about one second of a 1 Mbit/s
    stream."""
    send_history_ms: int = 300
    """How much of a forwarded stream's recent past is kept for retransmissions, in
    milliseconds: each stream's history is sized to what this holds at its measured packet
    rate (at least 16 packets, at most send_history_packets). A lost packet asked for later
    than this after it was sent is not resent. Janus keeps 200 ms at least (min_nack_queue)."""
    nack_window_packets: int = 128
    """How far back (in packets) the relay asks a publisher again for a lost packet."""
    video_queue_frames: int = 30
    """Frames queued per subscriber while transcoding video; beyond it the queue is dropped
    and the subscriber waits for the next keyframe."""
    audio_queue_frames: int = 50
    """Frames queued per subscriber while transcoding audio; beyond it the oldest is dropped."""
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    """The event loop of each relay worker process. uvloop (libuv, in C) receives and sends
    datagrams at a fraction of asyncio's own cost per packet; asyncio is Python's standard
    loop (used anyway where uvloop is not installed). With ``workers = -1`` the relay runs on
    the web process's loop and this has no effect."""

    rtcp_report_every: int = 1
    """Send one in this many of the RTCP sender and receiver reports aiortc schedules for a
    relayed stream (about one a second). 1, the default, sends every one: a browser's
    loss-based bandwidth estimate and its round-trip time feed on them. 5 puts them about 5 s
    apart, the minimum interval RFC 3550 recommends, for about 3 % less relay CPU. A
    stream's first two reports always go. NACK, PLI and REMB are never held back."""
    udp_gso: bool = True
    """Send a video frame's packets to a subscriber in one system call (Linux UDP
    segmentation offload) instead of one call per packet. Turned off for the rest of the
    process when the kernel refuses it, and never used through TURN."""

    def __post_init__(self) -> None:
        if self.workers < -1:
            raise ValueError("relay.workers: must be -1 (in-process), 0 (one per core) or more")
        if self.worker_start_timeout_s <= 0:
            raise ValueError("relay.worker_start_timeout_s: must be positive")
        if self.worker_idle_recycle_s < 0:
            raise ValueError("relay.worker_idle_recycle_s: must be 0 (off) or positive")
        bounds = {
            "send_history_packets": (16, 4096),
            "send_history_ms": (50, 10_000),
            "nack_window_packets": (16, 4096),
            "video_queue_frames": (1, 600),
            "audio_queue_frames": (1, 1000),
            "rtcp_report_every": (1, 30),
        }
        for name, (low, high) in bounds.items():
            if not low <= getattr(self, name) <= high:
                raise ValueError(f"relay.{name}: must be between {low} and {high}")


@dataclass(frozen=True)
class RoomSettings:
    join_lead_minutes: int = 10
    """Minutes before a session's start when its room opens (call, chat, notes, relay). The
    room stays open until the session's end."""

    def __post_init__(self) -> None:
        if not 0 <= self.join_lead_minutes <= 24 * 60:
            raise ValueError("room.join_lead_minutes: must be between 0 and 1440")


@dataclass(frozen=True)
class RecordingSettings:
    enabled: bool = True
    """Whether participants may record their sessions (both must agree each time). False
    turns recording off for the whole server: the room shows no Record button and the API
    answers 409."""
    retention_days: int = 30
    """Recordings older than this many days are deleted (file and listing); 0 keeps them."""
    folder: str = "recordings"
    """Where recordings are written, relative to store.data_dir (or absolute)."""

    def __post_init__(self) -> None:
        if not 0 <= self.retention_days <= 3650:
            raise ValueError("recording.retention_days: must be between 0 and 3650")
        if not self.folder.strip():
            raise ValueError("recording.folder: must not be empty")


@dataclass(frozen=True)
class StunSettings:
    enabled: bool = True
    """Answer STUN Binding requests on a UDP port of this server, and offer it to browsers, so
    people behind ordinary NATs connect directly without coturn."""
    host: str = ""
    """Address the STUN responder listens on. Empty: the same as http.host."""
    port: int = 3479
    """UDP port of the STUN responder (not 3478, which coturn usually takes on the same
    machine). Open it in the firewall. 0: any free port (tests)."""
    public_host: str = ""
    """Host name or address browsers reach the STUN responder at. Empty: the host of
    http.public_url."""
    uris: tuple[str, ...] = ()
    """More STUN URIs offered to browsers after the built-in one, e.g. stun:stun.example.org."""

    def __post_init__(self) -> None:
        if not 0 <= self.port < 65536:
            raise ValueError("stun.port: must be from 0 to 65535")


@dataclass(frozen=True)
class TurnSettings:
    uris: tuple[str, ...] = ()
    """TURN URIs handed to browsers, e.g. turn:turn.example.org:3478?transport=udp."""
    stun_uris: tuple[str, ...] = ()
    """STUN URIs handed to browsers. Empty: the TURN hosts are used as STUN too."""
    shared_secret: Secret = field(default_factory=lambda: Secret(""))
    """coturn static-auth-secret used to mint short-lived credentials."""
    ttl_s: int = 3600
    """Lifetime of minted TURN credentials, in seconds."""
    realm: str = "panamia"
    """TURN realm."""
    listening_port: int = 3478
    """Port coturn listens on for STUN and TURN over UDP and TCP."""
    listening_ips: tuple[str, ...] = ()
    """Addresses coturn listens on. Empty: every address of the machine."""
    tls_port: int = 443
    """Port coturn listens on for TURN over TLS (turns:), used when tls_cert_file and
    tls_key_file are set. 443 passes most firewalls that only allow web traffic."""
    tls_cert_file: str = ""
    """PEM certificate chain for TURN over TLS, as a path coturn can read. Empty: no TLS."""
    tls_key_file: str = ""
    """PEM private key matching tls_cert_file, as a path coturn can read."""
    relay_ips: tuple[str, ...] = ()
    """Addresses coturn relays media from. Empty: chosen by coturn."""
    relay_min_port: int = 49160
    """Lowest UDP port of coturn's relay range (open the whole range in the firewall)."""
    relay_max_port: int = 49200
    """Highest UDP port of coturn's relay range. Each call leg uses one port."""
    external_ip: str = ""
    """Public address coturn announces when it sits behind NAT (for example a cloud VM):
    "203.0.113.7", or "203.0.113.7/10.0.0.5" to map the public address to a private one.
    Empty: coturn announces the address it listens on."""
    allowed_peer_ips: tuple[str, ...] = ()
    """Addresses or ranges ("a.b.c.d" or "a.b.c.d-e.f.g.h") coturn may relay to even though
    they are private, such as the app nodes' own network for the media relay."""
    log_file: str = "stdout"
    """coturn log file, or "stdout"."""
    pidfile: str = "/var/tmp/turnserver.pid"  # noqa: S108 - coturn's file, writable after it drops root
    """File where coturn writes its process id."""
    userdb: str = "/var/lib/coturn/turndb"
    """coturn's SQLite database file (it holds no users with a shared secret, but coturn
    always opens one)."""

"""What a load-test run does: how many sessions, how fast, how long, which media."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any

from loadtest.peer_figures import MEDIA_MODES, MediaMode

SESSIONS_PER_PROCESS = 12
"""Sessions one load-generating process is given when the count is chosen automatically:
few enough that its event loop answers every STUN consent check in time (see
docs/loadtest.md)."""
PROCESSES_PER_CORE = 2
"""The automatic count's cap. One event loop uses one core at most; two per core keep every
core busy while one waits, and on a machine shared with other work the scheduler shares time
per runnable thread, so more loops get the load tester a fairer share."""


@dataclass(frozen=True)
class Options:
    url: str
    """Base URL of the server under test, e.g. http://127.0.0.1:8080."""
    sessions: int = 2
    """Mentor/mentee pairs whose media goes directly peer to peer."""
    relay_sessions: int = 0
    """Pairs forced through the server's media relay (POST /api/relay/sessions/{id}/offer)."""
    ramp_per_s: float = 2.0
    """New sessions started per second."""
    hold_s: float = 10.0
    """Seconds to keep every session up once the last one has joined (or failed)."""
    width: int = 320
    height: int = 240
    fps: int = 15
    audio: bool = True
    """Send a tone besides the video."""
    media: MediaMode = "replay"
    """``replay``: send VP8 and Opus encoded once and replayed, count received frames from RTP
    marker bits without decoding (cheap: for many sessions on one machine). ``synthetic``:
    encode live pictures and decode every received frame (end-to-end quality checks; about
    three times the CPU per session)."""
    audio_packet_ms: int = 20
    """Opus packet length in the ``replay`` mode: 20 ms as browsers send, or 40/60 ms for
    fewer packets (a third at 60 ms: audio is most of a session's packets)."""
    token: str = ""
    """The server's auth.loadtest_token. Empty: sign in through the development sign-in links
    (the server must have auth.dev_login on)."""
    pusher_key: str = "panamia-key"
    """The server's pusher.key (browsers connect to /app/{key})."""
    connect_timeout_s: float = 20.0
    """A session that has not shown a remote frame on both sides after this many seconds
    fails. aiortc itself would only give up on ICE after about 64 s."""
    max_duration_s: float = 600.0
    """Hard limit on the whole run, whatever happens."""
    sample_interval_s: float = 1.0
    """How often media stats and the server's /metrics are sampled."""
    output_dir: str = ""
    """Folder for report.json and report.html. Empty: no files."""
    loopback_candidates: bool = False
    """Offer 127.0.0.1 as the only ICE host candidate (single-machine runs against a server
    listening on loopback; aiortc never offers loopback addresses by itself)."""
    progress: bool = True
    """Live progress on stderr: one updating line on a terminal, periodic lines otherwise."""
    run_id: str = ""
    """Tag in the test users' e-mail addresses. Empty: random."""
    processes: int = 0
    """Load-generating processes; 0 chooses: one per started :data:`SESSIONS_PER_PROCESS`
    sessions, at most :data:`PROCESSES_PER_CORE` per CPU core. More processes spread the
    sessions and the ramp evenly and merge their results into one report."""
    scrape_metrics: bool = True
    """Sample the server's /metrics (off in the worker processes: the parent samples)."""

    @property
    def total_sessions(self) -> int:
        return self.sessions + self.relay_sessions

    @property
    def process_count(self) -> int:
        """:attr:`processes`, or the automatic choice when it is 0."""
        if self.processes > 0:
            return self.processes
        wanted = math.ceil(self.total_sessions / SESSIONS_PER_PROCESS)
        return max(1, min(wanted, PROCESSES_PER_CORE * (os.cpu_count() or 1)))

    def validate(self) -> None:
        """Raise ValueError naming the first option out of range."""
        checks: list[tuple[bool, str]] = [
            (self.url.startswith(("http://", "https://")), "url must start with http(s)://"),
            (self.sessions >= 0, "sessions must be >= 0"),
            (self.relay_sessions >= 0, "relay_sessions must be >= 0"),
            (self.total_sessions >= 1, "at least one session is needed"),
            (self.total_sessions <= 10_000, "at most 10000 sessions"),
            (self.ramp_per_s > 0, "ramp_per_s must be > 0"),
            (self.hold_s >= 0, "hold_s must be >= 0"),
            (16 <= self.width <= 3840 and self.width % 2 == 0, "width must be even, 16-3840"),
            (16 <= self.height <= 2160 and self.height % 2 == 0, "height must be even, 16-2160"),
            (1 <= self.fps <= 60, "fps must be 1-60"),
            (self.connect_timeout_s > 0, "connect_timeout_s must be > 0"),
            (self.max_duration_s > 0, "max_duration_s must be > 0"),
            (self.sample_interval_s > 0, "sample_interval_s must be > 0"),
            (0 <= self.processes <= 64, "processes must be 0 (automatic) to 64"),
            (self.audio_packet_ms in (20, 40, 60), "audio_packet_ms must be 20, 40 or 60"),
            (self.media in MEDIA_MODES, f"media must be one of {', '.join(MEDIA_MODES)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def public_dict(self) -> dict[str, Any]:
        """The options as reported (the token never appears, only whether one was used)."""
        data = asdict(self)
        data["token"] = "set" if self.token else ""
        return data

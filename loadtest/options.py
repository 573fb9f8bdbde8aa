"""What a load-test run does: how many sessions, how fast, how long, which media."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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
    """Send a synthetic tone besides the video."""
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
    processes: int = 1
    """Load-generating processes. One event loop drives about 20 peer pairs at 160x120@15
    on a small core (its peers encode and decode every stream); more processes spread the
    sessions and the ramp evenly and merge their results into one report."""
    scrape_metrics: bool = True
    """Sample the server's /metrics (off in the worker processes: the parent samples)."""

    @property
    def total_sessions(self) -> int:
        return self.sessions + self.relay_sessions

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
            (1 <= self.processes <= 64, "processes must be 1-64"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def public_dict(self) -> dict[str, Any]:
        """The options as reported (the token never appears, only whether one was used)."""
        data = asdict(self)
        data["token"] = "set" if self.token else ""
        return data

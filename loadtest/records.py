"""One session of a run and the records the report keeps of it and of its peers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loadtest.api import ApiUser
from loadtest.peer import Path, Peer


@dataclass
class SessionRun:
    index: int
    path: Path
    session_id: str = ""
    setup_ms: float | None = None
    users: list[ApiUser] = field(default_factory=list)
    peers: list[Peer] = field(default_factory=list)
    joined: bool = False
    left: bool = False
    failure: str | None = None
    peer_records: list[dict[str, Any]] | None = None
    """The peers' figures as they stood when the session was stopped (before leaving, so the
    other side's goodbye does not count as a failure)."""

    @property
    def active(self) -> bool:
        return self.joined and self.failure is None and not self.left

    def fail(self, reason: str) -> None:
        if self.failure is None:
            self.failure = reason


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def peer_record(peer: Peer) -> dict[str, Any]:
    t, totals = peer.timings, peer.totals
    seen = totals.packets_received + totals.packets_lost
    return {
        "role": peer.role,
        "email": peer.email,
        "wsConnectedMs": t.ws_connected_ms,
        "subscribedMs": t.subscribed_ms,
        "iceConnectedMs": t.ice_connected_ms,
        "firstFrameMs": t.first_frame_ms,
        "fps": totals.fps,
        "bitrateKbps": totals.kbps,
        "packetLossPct": round(100 * totals.packets_lost / seen, 3) if seen else None,
        "jitterMs": totals.jitter_ms if seen else None,
        "framesReceived": totals.frames,
        "packetsReceived": totals.packets_received,
        "packetsLost": totals.packets_lost,
        "failure": peer.failed,
    }


def session_record(run: SessionRun) -> dict[str, Any]:
    peers = (
        run.peer_records if run.peer_records is not None else [peer_record(p) for p in run.peers]
    )

    def slowest(key: str) -> float | None:
        values = [p[key] for p in peers]
        if len(values) < 2 or any(v is None for v in values):
            return None
        return float(max(values))

    def mean(key: str) -> float | None:
        return _mean([p[key] for p in peers if p[key] is not None])

    received = sum(p["packetsReceived"] for p in peers)
    lost = sum(p["packetsLost"] for p in peers)
    success = run.joined and run.failure is None
    return {
        "index": run.index,
        "sessionId": run.session_id,
        "path": run.path,
        "success": success,
        "reason": "" if success else (run.failure or "not joined before the run ended"),
        "setupMs": run.setup_ms,
        "wsConnectedMs": slowest("wsConnectedMs"),
        "subscribedMs": slowest("subscribedMs"),
        "iceConnectedMs": slowest("iceConnectedMs"),
        "firstFrameMs": slowest("firstFrameMs"),
        "fps": mean("fps"),
        "bitrateKbps": mean("bitrateKbps"),
        "packetLossPct": round(100 * lost / (received + lost), 3) if received + lost else None,
        "jitterMs": max((p["jitterMs"] for p in peers if p["jitterMs"] is not None), default=None),
        "packetsReceived": received,
        "packetsLost": lost,
        "peers": peers,
    }

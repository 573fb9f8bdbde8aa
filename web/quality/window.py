"""The live window: the last ``window`` of reports per participant of each session, in this
process's memory.

Why memory and not Redis: the reports are display data, a node restart losing a few minutes
of charts is harmless, and the per-participant summary (what lasts) is written to the store,
which every node reads. In a cluster the console of a node shows the calls whose reports
reached that node; its page says which node it is (see docs/admin.md).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from web.quality.sample import Sample
from web.quality.summary import RunningSummary

CONNECTIONS_REMEMBERED = 8
"""Page loads remembered per participant (to count each one's join time once)."""


@dataclass
class ParticipantWindow:
    email: str
    samples: deque[Sample]
    summary: RunningSummary
    connections: deque[str] = field(default_factory=lambda: deque(maxlen=CONNECTIONS_REMEMBERED))
    saved_at: datetime | None = None
    """When the summary was last written to the store (None: never)."""
    dirty: bool = True
    """Reports arrived since the last save."""
    left: bool = False
    """The room said the call ended for this participant."""

    @property
    def latest(self) -> Sample:
        return self.samples[-1]


@dataclass
class SessionWindow:
    session_id: str
    participants: dict[str, ParticipantWindow] = field(default_factory=dict)

    @property
    def since(self) -> datetime:
        return min(p.summary.first_at for p in self.participants.values())

    @property
    def last_at(self) -> datetime:
        return max(p.summary.last_at for p in self.participants.values())


@dataclass(frozen=True)
class LiveEntry:
    """One participant of a live call as the console lists them."""

    email: str
    node: str
    since: datetime
    latest: Sample


@dataclass(frozen=True)
class LiveCall:
    session_id: str
    participants: tuple[LiveEntry, ...]

    @property
    def since(self) -> datetime:
        return min(p.since for p in self.participants)

    @property
    def nodes(self) -> str:
        return ", ".join(sorted({p.node for p in self.participants}))


def live_calls(sessions: list[SessionWindow], node: str) -> list[LiveCall]:
    return [
        LiveCall(
            session.session_id,
            tuple(
                LiveEntry(p.email, node, p.summary.first_at, p.latest)
                for p in session.participants.values()
            ),
        )
        for session in sessions
    ]


class QualityWindows:
    """Every session's window; bounded by time and, per participant, by count."""

    def __init__(self, window: timedelta, node: str, max_samples: int) -> None:
        self.window = window
        self.node = node
        self.max_samples = max_samples
        self.sessions: dict[str, SessionWindow] = {}

    def add(self, session_id: str, email: str, connection_id: str, sample: Sample) -> bool:
        """Record a report; True when it is the first from this page load."""
        session = self.sessions.setdefault(session_id, SessionWindow(session_id))
        participant = session.participants.get(email)
        if participant is None:
            summary = RunningSummary(session_id, email, self.node, sample.at, sample.at)
            participant = ParticipantWindow(email, deque(maxlen=self.max_samples), summary)
            session.participants[email] = participant
        participant.samples.append(sample)
        participant.summary.add(sample)
        participant.dirty = True
        participant.left = False
        cutoff = sample.at - self.window
        while participant.samples and participant.samples[0].at < cutoff:
            participant.samples.popleft()
        first = connection_id not in participant.connections
        if first:
            participant.connections.append(connection_id)
        return first

    def live(self, now: datetime, live_after: timedelta) -> list[SessionWindow]:
        """Sessions with at least one participant still reporting, newest call first."""
        found = [
            session
            for session in self.sessions.values()
            if any(
                not p.left and now - p.summary.last_at <= live_after
                for p in session.participants.values()
            )
        ]
        return sorted(found, key=lambda session: session.since, reverse=True)

    def forget_idle(self, now: datetime, idle: timedelta) -> None:
        """Drop sessions nobody reported for ``idle`` whose summaries are saved."""
        for session_id, session in list(self.sessions.items()):
            parts = session.participants.values()
            if all(now - p.summary.last_at > idle and not p.dirty for p in parts):
                del self.sessions[session_id]

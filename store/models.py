"""Plain data objects shared by both store backends and the web layer.

All datetimes are timezone-aware UTC. E-mail addresses are stored lower-cased.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

SLOT_MINUTES = 30
"""Bookings start on a 30-minute grid; double-booking is prevented per 30-minute cell."""


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


def utcnow() -> datetime:
    """Now, in UTC, truncated to milliseconds (MongoDB's precision) so both stores agree."""
    now = datetime.now(UTC)
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)


@dataclass(frozen=True)
class MentoringProfile:
    enabled: bool = False
    bio: str = ""
    expertise: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    video_intro_url: str | None = None
    goals: str | None = None
    hourly_rate: float = 0.0

    @property
    def is_free(self) -> bool:
        return self.hourly_rate == 0


@dataclass(frozen=True)
class Profile:
    email: str
    name: str = ""
    avatar_url: str | None = None
    time_zone: str = "UTC"
    mentoring: MentoringProfile = field(default_factory=MentoringProfile)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class Session:
    session_id: str
    mentor_email: str
    mentee_email: str
    scheduled_at: datetime
    duration: int
    """Minutes: one of 15, 30, 60, 90, 120."""
    topic: str
    status: SessionStatus = SessionStatus.SCHEDULED
    """Stored status. Use :meth:`effective_status` for what people see."""
    notes: str = ""
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)

    @property
    def ends_at(self) -> datetime:
        return self.scheduled_at + timedelta(minutes=self.duration)

    def effective_status(self, now: datetime | None = None) -> SessionStatus:
        """A scheduled session whose end has passed reads as completed."""
        if self.status is SessionStatus.SCHEDULED and (now or utcnow()) >= self.ends_at:
            return SessionStatus.COMPLETED
        return self.status

    def has_participant(self, email: str) -> bool:
        return email.lower() in (self.mentor_email, self.mentee_email)


@dataclass(frozen=True)
class ChatMessage:
    session_id: str
    sender: str
    """E-mail of the sender."""
    text: str
    sent_at: datetime = field(default_factory=utcnow)
    sender_name: str = ""
    message_id: str = ""


def slot_cells(start: datetime, duration_minutes: int) -> list[datetime]:
    """The 30-minute grid cells that [start, start + duration) touches, in order."""
    cell = start.replace(
        minute=(start.minute // SLOT_MINUTES) * SLOT_MINUTES, second=0, microsecond=0
    )
    end = start + timedelta(minutes=duration_minutes)
    cells: list[datetime] = []
    while cell < end:
        cells.append(cell)
        cell += timedelta(minutes=SLOT_MINUTES)
    return cells

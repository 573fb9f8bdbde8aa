"""Plain data objects shared by both store backends and the web layer.

All datetimes are timezone-aware UTC. E-mail addresses are stored lower-cased.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
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


@dataclass(frozen=True, order=True)
class TimeRange:
    """Bookable hours on one local day, as minutes after local midnight: [start, end)."""

    start_minute: int
    end_minute: int


@dataclass(frozen=True)
class DateException:
    """One local date that does not follow the weekly hours: ``ranges`` replace them for the
    day; no ranges means a day off."""

    day: date
    ranges: tuple[TimeRange, ...] = ()


WORKDAY = (TimeRange(9 * 60, 17 * 60),)
"""09:00-17:00, the default hours of a weekday."""
DEFAULT_DURATIONS: tuple[int, ...] = (15, 30, 60, 90, 120)
DEFAULT_BUFFER_MINUTES = 0
DEFAULT_MIN_NOTICE_MINUTES = 120
DEFAULT_HORIZON_DAYS = 60


@dataclass(frozen=True)
class Availability:
    """When a mentor can be booked: weekly hours in their zone, plus the booking rules.

    ``weekly[0]`` is Monday ... ``weekly[6]`` Sunday (``date.weekday()``); an empty day is a
    day off. Ranges are sorted and never overlap (see ``store.validation``).
    """

    time_zone: str
    """Canonical IANA name the hours are read in."""
    weekly: tuple[tuple[TimeRange, ...], ...] = (WORKDAY,) * 5 + ((),) * 2
    exceptions: tuple[DateException, ...] = ()
    """Sorted by day, one per day."""
    buffer_minutes: int = DEFAULT_BUFFER_MINUTES
    """Kept free before and after each of the mentor's sessions."""
    min_notice_minutes: int = DEFAULT_MIN_NOTICE_MINUTES
    horizon_days: int = DEFAULT_HORIZON_DAYS
    durations: tuple[int, ...] = DEFAULT_DURATIONS
    """The session lengths the mentor offers, ascending."""

    def ranges_on(self, day: date) -> tuple[TimeRange, ...]:
        """The bookable ranges of a local date: its exception if it has one, else its weekday."""
        for exception in self.exceptions:
            if exception.day == day:
                return exception.ranges
        return self.weekly[day.weekday()]


def default_availability(time_zone: str) -> Availability:
    """A new mentor's hours: Monday to Friday 09:00-17:00 in their own zone."""
    return Availability(time_zone=time_zone)


@dataclass(frozen=True)
class Profile:
    email: str
    name: str = ""
    avatar_url: str | None = None
    time_zone: str = "UTC"
    mentoring: MentoringProfile = field(default_factory=MentoringProfile)
    availability: Availability | None = None
    """None until the mentor saves their own: the default hours in ``time_zone`` apply."""

    @property
    def effective_availability(self) -> Availability:
        return self.availability or default_availability(self.time_zone)

    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class SessionChange:
    """One reschedule: who moved the session, when, and from which start to which."""

    by: str
    at: datetime
    from_start: datetime
    to_start: datetime


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
    sequence: int = 0
    """Rises by one on each reschedule and on cancel (the calendar invite's SEQUENCE)."""
    history: tuple[SessionChange, ...] = ()
    """Every move of the session, oldest first."""

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


class MailKind(StrEnum):
    SIGNIN = "signin"
    BOOKED = "booked"
    CANCELLED = "cancelled"
    RESCHEDULED = "rescheduled"
    REMINDER = "reminder"


class MailStatus(StrEnum):
    HELD = "held"
    """Written ahead of the change it reports (MongoDB, no transactions); not yet sendable."""
    PENDING = "pending"
    SENT = "sent"
    SKIPPED = "skipped"
    """Not sent because it no longer applied (a reminder of a moved or cancelled session)."""
    FAILED = "failed"
    """Given up after the last allowed attempt."""


NEVER = datetime(1970, 1, 1, tzinfo=UTC)
"""Lease expiry of a message nobody holds: always a datetime, so both stores compare it."""


@dataclass(frozen=True)
class OutboxMessage:
    """One e-mail in the persistent outbox.

    ``message_id`` is chosen by whoever enqueues it and derived from what the message is
    about (session, change, recipient), so enqueuing it again (a retried request, a re-run
    job) is a no-op: each message is delivered at most once.
    """

    message_id: str
    recipient: str
    subject: str
    text: str
    kind: MailKind
    due_at: datetime
    """Send not before this instant."""
    session_id: str | None = None
    sequence: int = 0
    """The session's change counter the message was built for (a reminder whose session
    has moved on is skipped)."""
    session_start: datetime | None = None
    """The session start the message was built for."""
    html: str | None = None
    ics: str | None = None
    """An iCalendar object attached as text/calendar."""
    ics_method: str | None = None
    """REQUEST or CANCEL: the attachment's ``method`` parameter."""
    status: MailStatus = MailStatus.PENDING
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    """When the sender may try next; None means ``due_at``."""
    lease_owner: str | None = None
    lease_expires_at: datetime = NEVER
    created_at: datetime = field(default_factory=utcnow)
    sent_at: datetime | None = None


class RecordingStatus(StrEnum):
    RECORDING = "recording"
    DONE = "done"
    FAILED = "failed"
    """Writing stopped early (a full disk); the part written so far stays playable."""


@dataclass(frozen=True)
class Recording:
    """One recorded part of a session (one start/stop), a file under the data directory."""

    recording_id: str
    session_id: str
    started_by: str
    """The participant who asked for it (the other one consented)."""
    file_name: str
    """Relative to the recordings folder (recording.folder under store.data_dir)."""
    started_at: datetime
    ended_at: datetime | None = None
    duration_s: float = 0.0
    size_bytes: int = 0
    status: RecordingStatus = RecordingStatus.RECORDING
    error: str | None = None

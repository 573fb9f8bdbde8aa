"""The Store protocol every backend implements, and the errors it raises.

The contract suite in tests/contract/ runs the same tests against every backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from store.models import (
    Availability,
    ChatMessage,
    MailStatus,
    MentoringProfile,
    OutboxMessage,
    Profile,
    Recording,
    RecordingStatus,
    Session,
    SessionStatus,
)
from store.operator import QualitySummary, SessionSearch


class StoreError(Exception):
    """Base class of store errors."""


class NotFound(StoreError):
    """The record does not exist."""


class Conflict(StoreError):
    """The write collides with existing data (e.g. an overlapping booking)."""


class SlotTaken(Conflict):
    """A time the write needs is held by another scheduled session."""


class NotScheduled(Conflict):
    """The session is not scheduled any more (cancelled, over) or has already started."""


class SessionChanged(Conflict):
    """The session is still scheduled, but not at the sequence or start the caller read: a
    move (or another change) landed between the caller's read and its write.

    ``current`` is the session as it is now, so the caller can say what changed."""

    def __init__(self, message: str, current: Session) -> None:
        super().__init__(message)
        self.current = current


class StoreUnavailable(StoreError):
    """The database cannot be reached."""


class RoleFilter(StrEnum):
    MENTOR = "mentor"
    MENTEE = "mentee"
    ALL = "all"


@dataclass(frozen=True)
class DiscoverQuery:
    """Typed discovery filters. Text filters match tags case-insensitively, as substrings."""

    expertise: str | None = None
    language: str | None = None
    free_only: bool = False
    exclude_email: str | None = None
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True)
class DiscoverPage:
    mentors: list[Profile]
    total: int


class Store(Protocol):
    """Async persistence used by the web app and the signaling hub."""

    async def open(self) -> None:
        """Connect, run migrations / create indexes."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreUnavailable when the database cannot answer."""

    # --- people -----------------------------------------------------------------------
    async def ensure_profile(self, email: str, name: str = "") -> Profile:
        """Return the profile for ``email``, creating an empty one on first sign-in."""

    async def get_profile(self, email: str) -> Profile | None: ...

    async def save_profile(self, profile: Profile) -> Profile:
        """Insert or replace the whole profile (updated_at is set by the caller)."""

    async def update_mentoring(self, email: str, mentoring: MentoringProfile) -> Profile:
        """Replace the mentoring part of an existing profile. NotFound if absent."""

    async def discover(self, query: DiscoverQuery) -> DiscoverPage:
        """Enabled mentors matching the filters, ordered by name then e-mail."""

    async def set_availability(self, email: str, availability: Availability | None) -> Profile:
        """Replace the availability of an existing profile (None: back to the default hours
        in the profile's zone) without touching anything else. NotFound if absent."""

    # --- sessions ---------------------------------------------------------------------
    async def create_session(
        self, session: Session, outbox: Sequence[OutboxMessage] = ()
    ) -> Session:
        """Book a session. Raises Conflict when the mentor or the mentee already holds a
        scheduled session overlapping it (enforced by unique keys, not read-then-write),
        or when the session id exists. ``outbox`` is enqueued with the booking: it becomes
        sendable if and only if the booking is stored (see docs/mail.md)."""

    async def get_session(self, session_id: str) -> Session | None: ...

    async def list_sessions(
        self,
        email: str,
        role: RoleFilter = RoleFilter.ALL,
        status: SessionStatus | None = None,
        now: datetime | None = None,
    ) -> list[Session]:
        """Sessions of ``email`` newest first. ``status`` compares the effective status
        (past scheduled sessions count as completed)."""

    async def busy_intervals(
        self,
        emails: list[str],
        start: datetime,
        end: datetime,
        exclude_session_id: str | None = None,
    ) -> list[tuple[datetime, datetime]]:
        """[start, end) of scheduled sessions of any of ``emails`` overlapping the window,
        leaving out ``exclude_session_id`` (the session being moved)."""

    async def update_notes(self, session_id: str, notes: str, now: datetime) -> Session:
        """Set the notes. NotFound if absent."""

    async def cancel_session(
        self,
        session_id: str,
        cancelled_by: str,
        reason: str,
        now: datetime,
        outbox: Sequence[OutboxMessage] = (),
        *,
        expected_sequence: int | None = None,
        expected_start: datetime | None = None,
    ) -> Session:
        """Cancel and free the slot. NotFound if absent, NotScheduled (a Conflict) unless
        scheduled and not yet over. ``outbox`` is enqueued with the change, as for
        :meth:`create_session`.

        ``expected_sequence`` and ``expected_start`` are what the caller read: the cancel
        happens only while the session is still at that sequence and start (one conditional
        write), else SessionChanged and nothing is stored. Its notices describe the session
        as read, so a move landing in between must not be answered with a CANCEL that
        carries the old time and the move's own SEQUENCE. Without ``expected_sequence``,
        messages about this session in ``outbox`` imply it (their sequence minus one, see
        :func:`store.codec.mail_sequence`); both given must agree (ValueError)."""

    async def reschedule_session(
        self,
        session_id: str,
        by: str,
        new_start: datetime,
        now: datetime,
        outbox: Sequence[OutboxMessage] = (),
    ) -> Session:
        """Move a scheduled session that has not started to ``new_start`` (same duration):
        its cell claims move with it, ``sequence`` rises by one and a change (by, now, old
        start, new start) is appended to ``history``. NotFound if absent; NotScheduled unless
        scheduled and starting after ``now``; SlotTaken when another scheduled session of
        either participant holds a cell of the new time. Exactly one of concurrent writers
        wins a cell; the session is never left without its claims.

        ``outbox`` is enqueued with the move, as for :meth:`create_session`. Its messages
        for this session must carry the sequence the move produces (the stored one + 1):
        when the session changed since the caller read it, the move fails with NotScheduled
        and nothing is enqueued."""

    # --- chat -------------------------------------------------------------------------
    async def add_chat_message(self, message: ChatMessage) -> ChatMessage: ...

    async def list_chat(self, session_id: str, limit: int = 200) -> list[ChatMessage]:
        """Oldest first; at most the last ``limit`` messages."""

    # --- sign-in links ----------------------------------------------------------------
    async def add_login_token(self, token_hash: str, email: str, expires_at: datetime) -> None: ...

    async def consume_login_token(self, token_hash: str, now: datetime) -> str | None:
        """Atomically mark the token used; return its e-mail, or None if unknown, used or
        expired."""

    async def count_login_tokens_since(self, email: str, since: datetime) -> int:
        """How many sign-in links ``email`` requested since ``since`` (throttling)."""

    # --- mail outbox ------------------------------------------------------------------
    async def enqueue_mail(self, messages: Sequence[OutboxMessage]) -> int:
        """Add messages; one whose id is already queued is left alone. Returns how many
        were new."""

    async def claim_mail(
        self, owner: str, now: datetime, lease_s: float, limit: int
    ) -> list[OutboxMessage]:
        """Lease up to ``limit`` pending messages that are due and not leased (or whose
        lease expired) to ``owner``, counting an attempt. Atomic: two claimers never get
        the same message while a lease holds."""

    async def mark_mail_sent(
        self, message_id: str, owner: str, now: datetime, skipped: bool = False
    ) -> bool:
        """Record delivery (or a deliberate skip). False when ``owner`` no longer holds the
        lease (another node re-claimed it)."""

    async def mark_mail_retry(
        self,
        message_id: str,
        owner: str,
        error: str,
        retry_at: datetime,
        max_attempts: int,
    ) -> MailStatus | None:
        """Release a failed attempt: pending again from ``retry_at``, or failed once
        ``max_attempts`` attempts were made. None when ``owner`` no longer holds the lease."""

    async def list_mail_for(self, email: str, limit: int = 50) -> list[OutboxMessage]:
        """Messages to ``email``, newest first (not held ones)."""

    async def count_mail_due(self, now: datetime) -> int:
        """Pending messages due by ``now`` (the queue depth)."""

    # --- calendar feed tokens ---------------------------------------------------------
    async def set_calendar_token(self, email: str, token_hash: str, now: datetime) -> None:
        """Make ``token_hash`` the one feed token of ``email`` (replacing any older one)."""

    async def delete_calendar_token(self, email: str) -> bool:
        """Revoke the feed token of ``email``; False when there was none."""

    async def calendar_token_created(self, email: str) -> datetime | None:
        """When the current feed token of ``email`` was made, or None."""

    async def calendar_owner(self, token_hash: str) -> str | None:
        """The e-mail whose feed token has this hash, or None."""

    # --- revoked session tokens ---------------------------------------------------------
    async def revoke_session_token(
        self, token_id: str, expires_at: datetime, now: datetime
    ) -> None:
        """Refuse the session token ``token_id`` until ``expires_at`` (when it would expire
        anyway); revocations already past their expiry at ``now`` are forgotten."""

    async def revoke_sessions_before(
        self, email: str, before: datetime, expires_at: datetime
    ) -> None:
        """Refuse every session token of ``email`` issued at or before ``before`` ("sign out
        everywhere"), remembered at least until ``expires_at``. A later call never moves
        ``before`` back."""

    async def session_revoked(self, email: str, token_id: str, issued_at: datetime) -> bool:
        """Whether the token ``token_id`` of ``email``, issued at ``issued_at``, was revoked:
        one lookup by primary key, made on every authenticated request."""

    # --- operator console ---------------------------------------------------------------
    async def save_quality_summary(self, summary: QualitySummary) -> None:
        """Store (or replace) the call-quality summary of one participant of a session."""

    async def quality_summaries(self, session_id: str) -> list[QualitySummary]:
        """The quality summaries stored with a session, ordered by e-mail."""

    async def search_sessions(self, search: SessionSearch) -> list[Session]:
        """Sessions of any status matching the search, newest start first, at most
        ``search.limit`` (capped at ``store.operator.SEARCH_LIMIT_MAX``)."""

    # --- session recordings (one row per recorded part) ----------------------------------
    async def add_recording(self, recording: Recording) -> None:
        """Keep a new recording's metadata (its file is being written)."""

    async def finish_recording(
        self,
        recording_id: str,
        *,
        ended_at: datetime,
        duration_s: float,
        size_bytes: int,
        status: RecordingStatus,
        error: str | None = None,
    ) -> Recording:
        """Record how a recording ended; NotFound when there is no such recording."""

    async def get_recording(self, recording_id: str) -> Recording | None:
        """One recording, or None."""

    async def list_recordings(self, session_id: str) -> list[Recording]:
        """A session's recordings, oldest first."""

    async def delete_recording(self, recording_id: str) -> bool:
        """Forget a recording's metadata; False when there was none."""

    async def recordings_started_before(self, before: datetime) -> list[Recording]:
        """Recordings started before ``before`` (the retention purge), oldest first."""

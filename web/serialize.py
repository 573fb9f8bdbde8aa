"""Store models -> the API's response models (:mod:`web.api.response_models`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from store import models
from store import validation as rules
from store.availability_rules import WEEKDAYS, format_clock
from web.api import response_models as out


def iso(moment: datetime) -> str:
    """Aware datetime -> ``2025-01-31T09:30:00Z`` (milliseconds only when present)."""
    utc = moment.astimezone(UTC)
    spec = "milliseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def mentoring_out(mentoring: models.MentoringProfile) -> out.Mentoring:
    return out.Mentoring(
        enabled=mentoring.enabled,
        bio=mentoring.bio,
        expertise=list(mentoring.expertise),
        languages=list(mentoring.languages),
        video_intro_url=mentoring.video_intro_url,
        goals=mentoring.goals,
        hourly_rate=mentoring.hourly_rate,
    )


def _hours(ranges: tuple[models.TimeRange, ...]) -> list[out.HoursRange]:
    return [
        out.HoursRange(start=format_clock(r.start_minute), end=format_clock(r.end_minute))
        for r in ranges
    ]


def availability_out(profile: models.Profile) -> out.MentorAvailability:
    """The mentor's hours as saved, or the default ones (``isDefault``) until they save."""
    a = profile.effective_availability
    return out.MentorAvailability(
        time_zone=a.time_zone,
        weekly=out.WeeklyHours(**{day: _hours(a.weekly[i]) for i, day in enumerate(WEEKDAYS)}),
        exceptions=[
            out.DateHours(date=e.day.isoformat(), ranges=_hours(e.ranges)) for e in a.exceptions
        ],
        buffer_minutes=a.buffer_minutes,
        min_notice_minutes=a.min_notice_minutes,
        horizon_days=a.horizon_days,
        durations=list(a.durations),
        is_default=profile.availability is None,
    )


def public_profile_out(profile: models.Profile) -> out.PublicProfile:
    return out.PublicProfile(
        email=profile.email,
        name=profile.name,
        avatar_url=profile.avatar_url,
        time_zone=rules.shown_zone(profile.time_zone),
        mentoring=mentoring_out(profile.mentoring),
        availability=availability_out(profile),
    )


def profile_out(profile: models.Profile) -> out.Profile:
    return out.Profile(
        email=profile.email,
        name=profile.name,
        avatar_url=profile.avatar_url,
        time_zone=rules.shown_zone(profile.time_zone),
        mentoring=mentoring_out(profile.mentoring),
        availability=availability_out(profile),
        created_at=iso(profile.created_at),
        updated_at=iso(profile.updated_at),
    )


def me_out(profile: models.Profile) -> out.Me:
    return out.Me(
        email=profile.email,
        name=profile.name,
        avatar_url=profile.avatar_url,
        time_zone=rules.shown_zone(profile.time_zone),
    )


def session_out(
    session: models.Session, names: Mapping[str, str], now: datetime | None = None
) -> out.Session:
    """``names`` maps e-mail -> display name; the status shown is the effective one."""
    return out.Session(
        session_id=session.session_id,
        mentor_email=session.mentor_email,
        mentee_email=session.mentee_email,
        mentor_name=names.get(session.mentor_email, ""),
        mentee_name=names.get(session.mentee_email, ""),
        scheduled_at=iso(session.scheduled_at),
        ends_at=iso(session.ends_at),
        duration=session.duration,
        topic=session.topic,
        status=session.effective_status(now).value,
        notes=session.notes,
        cancelled_by=session.cancelled_by,
        cancel_reason=session.cancel_reason,
        created_at=iso(session.created_at),
        updated_at=iso(session.updated_at),
        sequence=session.sequence,
        history=[
            out.SessionChange(by=c.by, at=iso(c.at), from_=iso(c.from_start), to=iso(c.to_start))
            for c in session.history
        ],
    )


def chat_message_out(message: models.ChatMessage) -> out.ChatMessage:
    return out.ChatMessage(
        id=message.message_id,
        session_id=message.session_id,
        sender=message.sender,
        sender_name=message.sender_name,
        text=message.text,
        sent_at=iso(message.sent_at),
    )

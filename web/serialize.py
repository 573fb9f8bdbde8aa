"""Store models -> the JSON shapes of the API (camelCase keys, ISO UTC times with ``Z``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from store.models import ChatMessage, MentoringProfile, Profile, Session

JsonDict = dict[str, Any]


def iso(moment: datetime) -> str:
    """Aware datetime -> ``2025-01-31T09:30:00Z`` (milliseconds only when present)."""
    utc = moment.astimezone(UTC)
    spec = "milliseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def mentoring_json(mentoring: MentoringProfile) -> JsonDict:
    return {
        "enabled": mentoring.enabled,
        "bio": mentoring.bio,
        "expertise": list(mentoring.expertise),
        "languages": list(mentoring.languages),
        "videoIntroUrl": mentoring.video_intro_url,
        "goals": mentoring.goals,
        "hourlyRate": mentoring.hourly_rate,
    }


def public_profile_json(profile: Profile) -> JsonDict:
    """What other people see of a profile (discovery, booking)."""
    return {
        "email": profile.email,
        "name": profile.name,
        "avatarUrl": profile.avatar_url,
        "timeZone": profile.time_zone,
        "mentoring": mentoring_json(profile.mentoring),
    }


def profile_json(profile: Profile) -> JsonDict:
    """The owner's view of their profile."""
    return {
        **public_profile_json(profile),
        "createdAt": iso(profile.created_at),
        "updatedAt": iso(profile.updated_at),
    }


def me_json(profile: Profile) -> JsonDict:
    return {
        "email": profile.email,
        "name": profile.name,
        "avatarUrl": profile.avatar_url,
        "timeZone": profile.time_zone,
    }


def session_json(
    session: Session, names: Mapping[str, str], now: datetime | None = None
) -> JsonDict:
    """``names`` maps e-mail -> display name; the status shown is the effective one."""
    return {
        "sessionId": session.session_id,
        "mentorEmail": session.mentor_email,
        "menteeEmail": session.mentee_email,
        "mentorName": names.get(session.mentor_email, ""),
        "menteeName": names.get(session.mentee_email, ""),
        "scheduledAt": iso(session.scheduled_at),
        "endsAt": iso(session.ends_at),
        "duration": session.duration,
        "topic": session.topic,
        "status": session.effective_status(now).value,
        "notes": session.notes,
        "cancelledBy": session.cancelled_by,
        "cancelReason": session.cancel_reason,
        "createdAt": iso(session.created_at),
        "updatedAt": iso(session.updated_at),
    }


def chat_message_json(message: ChatMessage) -> JsonDict:
    return {
        "id": message.message_id,
        "sessionId": message.session_id,
        "sender": message.sender,
        "senderName": message.sender_name,
        "text": message.text,
        "sentAt": iso(message.sent_at),
    }

"""MongoDB documents <-> store models (the seed's camelCase field names).

Datetimes are BSON dates; a profile's ``availability`` is a sub-document, absent or null when
the mentor never saved one (the default hours in their zone apply); a session carries its
``sequence`` and its move ``history`` (a list of {by, at, from, to}), absent on documents
written before scheduling existed (read as 0 and []).
"""

from __future__ import annotations

from typing import Any

from store.codec import (
    availability_from_doc,
    availability_to_doc,
    email_key,
    fold,
    fold_tags,
    from_mongo,
    utc_ms,
)
from store.models import (
    Availability,
    MentoringProfile,
    Profile,
    Session,
    SessionChange,
    SessionStatus,
)
from store.zones import canonical_time_zone

PROFILES = "profiles"
SESSIONS = "mentorSessions"
CLAIMS = "slotClaims"
"""The collections the profile and session documents below live in (and the sessions' cell
claims, see ``store.mongo_claims``), shared by every module that reads or writes them."""

Doc = dict[str, Any]


def mentoring_doc(m: MentoringProfile) -> Doc:
    return {
        "enabled": m.enabled,
        "bio": m.bio,
        "expertise": list(m.expertise),
        "languages": list(m.languages),
        "expertiseSearch": fold_tags(m.expertise),
        "languagesSearch": fold_tags(m.languages),
        "videoIntroUrl": m.video_intro_url,
        "goals": m.goals,
        "hourlyRate": float(m.hourly_rate),
    }


def profile_doc(p: Profile) -> Doc:
    return {
        "email": email_key(p.email),
        "name": p.name,
        "nameKey": fold(p.name),
        "avatarUrl": p.avatar_url,
        "timeZone": p.time_zone,
        "mentoring": mentoring_doc(p.mentoring),
        "createdAt": utc_ms(p.created_at),
        "updatedAt": utc_ms(p.updated_at),
        "availability": availability_doc(p.availability),
    }


def profile_from_doc(d: Doc) -> Profile:
    m: Doc = d.get("mentoring") or {}
    return Profile(
        email=d["email"],
        name=d.get("name", ""),
        avatar_url=d.get("avatarUrl"),
        time_zone=canonical_time_zone(d.get("timeZone") or "UTC"),
        mentoring=MentoringProfile(
            enabled=bool(m.get("enabled", False)),
            bio=m.get("bio", ""),
            expertise=tuple(m.get("expertise", ())),
            languages=tuple(m.get("languages", ())),
            video_intro_url=m.get("videoIntroUrl"),
            goals=m.get("goals"),
            hourly_rate=float(m.get("hourlyRate", 0.0)),
        ),
        created_at=from_mongo(d["createdAt"]),
        updated_at=from_mongo(d["updatedAt"]),
        availability=(availability_from_doc(d["availability"]) if d.get("availability") else None),
    )


def session_doc(s: Session) -> Doc:
    return {
        "sessionId": s.session_id,
        "mentorEmail": s.mentor_email,
        "menteeEmail": s.mentee_email,
        "scheduledAt": s.scheduled_at,
        "endsAt": s.ends_at,
        "duration": s.duration,
        "topic": s.topic,
        "status": s.status.value,
        "notes": s.notes,
        "cancelledBy": s.cancelled_by,
        "cancelReason": s.cancel_reason,
        "createdAt": s.created_at,
        "updatedAt": s.updated_at,
        "sequence": s.sequence,
        "history": [change_doc(c) for c in s.history],
    }


def session_from_doc(d: Doc) -> Session:
    return Session(
        session_id=d["sessionId"],
        mentor_email=d["mentorEmail"],
        mentee_email=d["menteeEmail"],
        scheduled_at=from_mongo(d["scheduledAt"]),
        duration=int(d["duration"]),
        topic=d["topic"],
        status=SessionStatus(d["status"]),
        notes=d.get("notes") or "",
        cancelled_by=d.get("cancelledBy"),
        cancel_reason=d.get("cancelReason"),
        created_at=from_mongo(d["createdAt"]),
        updated_at=from_mongo(d["updatedAt"]),
        sequence=int(d.get("sequence", 0)),
        history=tuple(change_from_doc(c) for c in d.get("history") or ()),
    )


def availability_doc(availability: Availability | None) -> Doc | None:
    return None if availability is None else availability_to_doc(availability)


def change_doc(c: SessionChange) -> Doc:
    return {"by": c.by, "at": utc_ms(c.at), "from": utc_ms(c.from_start), "to": utc_ms(c.to_start)}


def change_from_doc(d: Doc) -> SessionChange:
    return SessionChange(
        by=d["by"],
        at=from_mongo(d["at"]),
        from_start=from_mongo(d["from"]),
        to_start=from_mongo(d["to"]),
    )

"""Response bodies of the JSON API, written once: handlers encode these, the OpenAPI
document is generated from them, and a test validates real answers against that document.

Field names are the API's camelCase (``rename="camel"``). Times are ISO 8601 UTC strings with
``Z`` (see :func:`web.serialize.iso`), typed as text documented as ``date-time`` so the wire
format stays exactly what it was.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

Time = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
Email = Annotated[str, Meta(extra_json_schema={"format": "email"})]


class Answer(Struct, rename="camel", omit_defaults=True):
    """Base of every response body; fields left UNSET are not sent."""


class Error(Answer):
    """Every error answer of the API."""

    error: Annotated[str, Meta(description="Human-readable message")]
    field: Annotated[str, Meta(description="The input to blame, when there is one")] | UnsetType = (
        UNSET
    )
    code: Annotated[str, Meta(description="A machine-readable reason, when useful")] | UnsetType = (
        UNSET
    )


class LinkSent(Answer):
    sent: bool
    dev_link: Annotated[str, Meta(description="Only when auth.dev_login is on")] | UnsetType = UNSET


class Me(Answer):
    email: Email
    name: str
    avatar_url: str | None
    time_zone: Annotated[str, Meta(description="IANA time zone name")]


class Mentoring(Answer, omit_defaults=False):
    enabled: bool
    bio: str
    expertise: list[str]
    languages: list[str]
    video_intro_url: str | None
    goals: str | None
    hourly_rate: Annotated[float, Meta(ge=0, description="0 means free")]


class HoursRange(Answer, omit_defaults=False):
    start: Annotated[str, Meta(description="HH:MM, local time of the mentor")]
    end: Annotated[str, Meta(description="HH:MM; 24:00 is midnight at the end of the day")]


class WeeklyHours(Answer, omit_defaults=False):
    monday: list[HoursRange]
    tuesday: list[HoursRange]
    wednesday: list[HoursRange]
    thursday: list[HoursRange]
    friday: list[HoursRange]
    saturday: list[HoursRange]
    sunday: list[HoursRange]


class DateHours(Answer, omit_defaults=False):
    date: Annotated[str, Meta(extra_json_schema={"format": "date"})]
    ranges: Annotated[list[HoursRange], Meta(description="Empty: a day off")]


class MentorAvailability(Answer, omit_defaults=False):
    """When a mentor can be booked, in their own time zone."""

    time_zone: Annotated[str, Meta(description="IANA zone the hours are in")]
    weekly: WeeklyHours
    exceptions: Annotated[list[DateHours], Meta(description="Dates that replace the weekly hours")]
    buffer_minutes: Annotated[int, Meta(description="Kept free around each session")]
    min_notice_minutes: int
    horizon_days: int
    durations: Annotated[list[int], Meta(description="Session lengths offered, minutes")]
    is_default: Annotated[bool, Meta(description="True until the mentor saves their own hours")]


class AvailabilityAnswer(Answer):
    availability: MentorAvailability


class FreeSlots(Answer):
    """Free start times, computed by the server for the signed-in person."""

    mentor_email: Email
    time_zone: Annotated[str, Meta(description="The mentor's zone")]
    duration: int
    durations: list[int]
    slot_minutes: int
    start: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    end: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    slots: Annotated[
        list[Annotated[str, Meta(extra_json_schema={"format": "date-time"})]],
        Meta(description="Start times (UTC), ascending"),
    ]


class PublicProfile(Answer):
    """What other people see of a profile (discovery, booking)."""

    email: Email
    name: str
    avatar_url: str | None
    time_zone: Annotated[str, Meta(description="IANA time zone name")]
    mentoring: Mentoring
    availability: MentorAvailability


class Profile(PublicProfile):
    """The owner's view of their profile."""

    created_at: Time
    updated_at: Time


class ProfileAnswer(Answer):
    profile: Profile


class MentorPage(Answer):
    mentors: list[PublicProfile]
    total: int
    page: int
    limit: int


class SessionChange(Answer, omit_defaults=False):
    """One reschedule of a session."""

    by: Email
    at: Time
    from_: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    to: Time


class Session(Answer):
    """A mentoring session as its two participants see it."""

    session_id: str
    mentor_email: Email
    mentee_email: Email
    mentor_name: str
    mentee_name: str
    scheduled_at: Time
    ends_at: Time
    duration: int
    topic: str
    status: Annotated[
        Literal["scheduled", "completed", "cancelled"],
        Meta(description="Scheduled sessions past their end read as completed"),
    ]
    notes: str
    cancelled_by: str | None
    cancel_reason: str | None
    created_at: Time
    updated_at: Time
    sequence: Annotated[int, Meta(description="Rises on each reschedule and on cancel")]
    history: Annotated[list[SessionChange], Meta(description="Reschedules, oldest first")]


class SessionAnswer(Answer):
    session: Session


class SessionList(Answer):
    sessions: list[Session]


class ChatMessage(Answer):
    id: str
    session_id: str
    sender: Email
    sender_name: str
    text: str
    sent_at: Time


class ChatHistory(Answer):
    messages: list[ChatMessage]


class PusherAuthAnswer(Answer, rename=None):
    """The signature pusher-js expects; channel_data only for presence channels."""

    auth: str
    channel_data: str | UnsetType = UNSET


class IceServer(Answer):
    """One RTCIceServer entry."""

    urls: list[str]
    username: str | UnsetType = UNSET
    credential: str | UnsetType = UNSET


class RelayPolicy(Answer):
    mode: Literal["auto", "always", "never"]
    connect_timeout_ms: int


class IceServers(Answer):
    ice_servers: list[IceServer]
    relay: RelayPolicy


class RelayAnswer(Answer):
    """The media relay's SDP answer."""

    sdp: str
    type: Literal["answer"]


class RelayLeft(Answer):
    left: Annotated[bool, Meta(description="Whether a connection was closed")]


class LoadtestToken(Answer):
    token: str
    email: Email


class CalendarFeed(Answer):
    url: Annotated[
        str, Meta(description="The private feed address; shown once, store it in a calendar app")
    ]
    created_at: Time


class RecordingPart(Answer, omit_defaults=False):
    """One recorded part of a session (one start/stop)."""

    id: str
    startedAt: str
    endedAt: str | None
    durationS: Annotated[float, Meta(description="Length in seconds")]
    sizeBytes: int
    status: Literal["recording", "done", "failed"]
    error: str | None
    url: Annotated[str, Meta(description="The file (WebM), for the page's player")]
    downloadUrl: Annotated[str, Meta(description="The same file as a download")]


class RecordingState(Answer, omit_defaults=False):
    """Whether the session may be, is asked to be, or is being recorded."""

    enabled: Annotated[bool, Meta(description="False: recording is off on this server")]
    state: Literal["idle", "asked", "starting", "recording"]
    requestedBy: str | None


class RecordingList(RecordingState, omit_defaults=False):
    recordings: list[RecordingPart]

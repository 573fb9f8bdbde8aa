"""Request bodies of the JSON API, written once: decoded by :func:`web.api.jsonio.read_body`
and documented by the generated OpenAPI document.

The models check JSON types only (a string where a string belongs, so ``{"$ne": null}`` never
reaches a store query). The mentoring rules (lengths, tags, the booking grid...) stay plain
functions in :mod:`store.validation`, applied to the decoded values; the limits shown here are
documentation taken from the same constants.

Optional fields default to ``UNSET`` so "absent" and ``null`` stay different: a PATCH that
omits ``goals`` keeps them, one that sends ``"goals": null`` clears them.

Why msgspec rather than pydantic v2 (measured with ``python -m bench.api_models``): on this
API's bodies msgspec decodes 2-6 times faster in strict mode, and its schemas say what the
API accepts: an optional field is simply not required, while pydantic can only express
"optional" as a nullable default, so its schema would admit ``"enabled": null``, which the
API refuses. ``msgspec.json.schema_components`` also emits OpenAPI component references
directly.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from store import availability_rules as avail_rules
from store import validation as rules
from web.quality import sample as quality


def _doc(description: str = "", **schema: object) -> Meta:
    """Schema-only annotations: shown in the document, never enforced by decoding."""
    return Meta(description=description or None, extra_json_schema=schema or None)


Tags = list[Annotated[str, _doc(minLength=1, maxLength=rules.TAG_MAX)]]


class Body(Struct, rename="camel", forbid_unknown_fields=True):
    """Base of every request body: unknown fields are refused by name."""


class EmailLink(Body):
    email: Annotated[str, _doc(format="email")]
    next: Annotated[str, _doc("Local path to go to after signing in, /...")] | UnsetType | None = (
        UNSET
    )
    timeZone: (
        Annotated[
            str,
            _doc(
                "The device's IANA time zone: a new profile starts in it (an unknown name is"
                " ignored, the profile then starts in UTC)"
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


class MentoringPatch(Body):
    """The mentoring fields, as GET returns them under mentoring."""

    enabled: bool | UnsetType = UNSET
    bio: Annotated[str, _doc(minLength=rules.BIO_MIN, maxLength=rules.BIO_MAX)] | UnsetType = UNSET
    expertise: (
        Annotated[
            Tags,
            _doc(
                "Duplicates are removed case-insensitively",
                minItems=rules.EXPERTISE_MIN,
                maxItems=rules.EXPERTISE_MAX,
            ),
        ]
        | UnsetType
    ) = UNSET
    languages: (
        Annotated[Tags, _doc(minItems=rules.LANGUAGES_MIN, maxItems=rules.LANGUAGES_MAX)]
        | UnsetType
    ) = UNSET
    video_intro_url: (
        Annotated[str, _doc("http(s) URL; empty or null clears it")] | UnsetType | None
    ) = UNSET
    goals: Annotated[str, _doc(maxLength=rules.GOALS_MAX)] | UnsetType | None = UNSET
    hourly_rate: (
        Annotated[float, _doc("0 means free", minimum=0, maximum=rules.HOURLY_RATE_MAX)] | UnsetType
    ) = UNSET


class ProfilePatch(MentoringPatch):
    """Every field optional. When mentoring is enabled the resulting profile must have a bio,
    expertise and languages. The mentoring fields may be sent flat or nested under
    mentoring."""

    name: Annotated[str, _doc(minLength=1, maxLength=rules.NAME_MAX)] | UnsetType = UNSET
    avatar_url: Annotated[str, _doc(format="uri")] | UnsetType | None = UNSET
    time_zone: Annotated[str, _doc("IANA time zone name")] | UnsetType = UNSET
    mentoring: MentoringPatch | UnsetType = UNSET


class Booking(Body):
    mentor_email: Annotated[str, _doc(format="email")]
    scheduled_at: Annotated[
        str,
        _doc(
            "A free start time as GET /api/mentoring/mentors/{email}/slots lists them: on the "
            "hour or half hour, inside the mentor's hours, past their minimum notice, inside "
            "their booking horizon",
            format="date-time",
        ),
    ]
    duration: Annotated[int, _doc("One of the mentor's durations", enum=list(rules.DURATIONS))]
    topic: Annotated[str, _doc(minLength=rules.TOPIC_MIN, maxLength=rules.TOPIC_MAX)]


class SessionUpdate(Body):
    """{"action": "update_notes", "notes"} or {"action": "cancel", "reason"}; an
    optional sessionId must match the session in the URL."""

    action: Annotated[str, _doc(enum=["update_notes", "cancel"])]
    notes: Annotated[str, _doc(maxLength=rules.NOTES_MAX)] | UnsetType = UNSET
    reason: (
        Annotated[str, _doc(minLength=rules.REASON_MIN, maxLength=rules.REASON_MAX)] | UnsetType
    ) = UNSET
    session_id: str | UnsetType = UNSET


class HoursRange(Body):
    start: Annotated[str, _doc("HH:MM on a quarter hour", pattern=r"^\d{2}:\d{2}$")]
    end: Annotated[
        str, _doc("HH:MM on a quarter hour; 24:00 is midnight", pattern=r"^\d{2}:\d{2}$")
    ]


DayHours = Annotated[
    list[HoursRange],
    _doc(
        "Sorted on the way in; touching ranges are merged, overlapping ones refused",
        maxItems=avail_rules.RANGES_PER_DAY_MAX,
    ),
]


class WeeklyHours(Body):
    """One list per weekday; an empty or absent day is a day off."""

    monday: DayHours | UnsetType = UNSET
    tuesday: DayHours | UnsetType = UNSET
    wednesday: DayHours | UnsetType = UNSET
    thursday: DayHours | UnsetType = UNSET
    friday: DayHours | UnsetType = UNSET
    saturday: DayHours | UnsetType = UNSET
    sunday: DayHours | UnsetType = UNSET


class DateHours(Body):
    date: Annotated[str, _doc("YYYY-MM-DD, the mentor's local date", format="date")]
    ranges: Annotated[list[HoursRange], _doc("Empty or absent: a day off")] | UnsetType = UNSET


class AvailabilityPut(Body):
    """The whole availability (PUT replaces it)."""

    time_zone: Annotated[str, _doc("IANA time zone name the hours are in")]
    weekly: WeeklyHours
    buffer_minutes: Annotated[
        int,
        _doc(
            "Kept free before and after each session",
            minimum=0,
            maximum=avail_rules.BUFFER_MAX_MINUTES,
            multipleOf=avail_rules.BUFFER_STEP_MINUTES,
        ),
    ]
    min_notice_minutes: Annotated[int, _doc(minimum=0, maximum=avail_rules.MIN_NOTICE_MAX_MINUTES)]
    horizon_days: Annotated[
        int, _doc(minimum=avail_rules.HORIZON_MIN_DAYS, maximum=avail_rules.HORIZON_MAX_DAYS)
    ]
    durations: Annotated[list[Annotated[int, _doc(enum=list(rules.DURATIONS))]], _doc(minItems=1)]
    exceptions: (
        Annotated[
            list[DateHours],
            _doc(
                "Past dates are dropped; none beyond the horizon",
                maxItems=avail_rules.EXCEPTIONS_MAX,
            ),
        ]
        | UnsetType
    ) = UNSET


class Reschedule(Body):
    scheduled_at: Annotated[
        str,
        _doc(
            "The new start: a free time by the same rules as booking (the duration stays)",
            format="date-time",
        ),
    ]


class PusherAuth(Body, rename=None):
    """What pusher-js posts (form-encoded; JSON is accepted too)."""

    socket_id: Annotated[str, _doc(pattern=r"^\d+\.\d+$")]
    channel_name: Annotated[str, _doc("private-session-{id} or presence-session-{id}")]


class RelayOffer(Body):
    """A complete (non-trickle) SDP offer."""

    sdp: str
    type: Literal["offer"] | UnsetType = UNSET


class LoadtestSignIn(Body):
    email: Annotated[str, _doc("An address under @loadtest.invalid")]


class LoadtestSession(Body):
    mentor_email: Annotated[str, _doc("An address under @loadtest.invalid", format="email")]
    topic: Annotated[str, _doc(minLength=rules.TOPIC_MIN, maxLength=rules.TOPIC_MAX)]


def _figure(name: str, description: str) -> Meta:
    low, high = quality.RANGES[name]
    return _doc(description, minimum=low, maximum=high)


class QualityReport(Body):
    """A summary of the room's RTCPeerConnection statistics over the last 5 seconds. Display
    data only; a figure the browser does not know is absent or null."""

    connectionId: Annotated[str, _doc("Random per page load", pattern="^[A-Za-z0-9_-]{8,64}$")]
    path: Annotated[str, _doc("How the media travels", enum=list(quality.PATHS))]
    rttMs: Annotated[float, _figure("rttMs", "Round-trip time, ms")] | None = None
    jitterMs: Annotated[float, _figure("jitterMs", "Jitter of received media, ms")] | None = None
    lossPct: Annotated[float, _figure("lossPct", "Received packets lost, %")] | None = None
    bitrateInKbps: Annotated[float, _figure("bitrateInKbps", "Received, kbit/s")] | None = None
    bitrateOutKbps: Annotated[float, _figure("bitrateOutKbps", "Sent, kbit/s")] | None = None
    fps: Annotated[float, _figure("fps", "Received video frames per second")] | None = None
    width: Annotated[int, _figure("width", "Received video width")] | None = None
    height: Annotated[int, _figure("height", "Received video height")] | None = None
    limitation: (
        Annotated[
            str,
            _doc("Why the sent video is limited", enum=list(quality.LIMITATIONS)),
        ]
        | None
    ) = None
    localCandidate: (
        Annotated[str, _doc("Local ICE candidate type", enum=list(quality.CANDIDATE_TYPES))] | None
    ) = None
    remoteCandidate: (
        Annotated[str, _doc("Remote ICE candidate type", enum=list(quality.CANDIDATE_TYPES))] | None
    ) = None
    joinMs: (
        Annotated[int, _figure("joinMs", "Opening the room to first remote frame, ms")] | None
    ) = None
    final: Annotated[bool, _doc("The call ended here (hang-up)")] = False


class RecordingAnswer(Body):
    """The other participant's answer to a request to record the session."""

    accept: bool

"""The mentoring rules in one place: raw input in, typed values out.

Every function takes an untrusted value (decoded JSON, a form field, text from a URL) and
either returns a typed Python value or raises :class:`ValidationError` naming the field to
blame. Nothing here touches a database, so a value that reaches a query has already been
checked and converted: a JSON object where a string belongs (``{"$ne": null}``) never gets
past these functions.

Used by the JSON API and the HTML forms alike; imports only the standard library,
``store.models`` and the zone-name table in ``store.zones``. The JSON types of a body are
checked before these run, by the API's request models; query strings and path parameters are
read in ``web.params``.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
import zoneinfo
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

from store.models import SLOT_MINUTES, MentoringProfile, Profile
from store.zones import canonical_time_zone

# --- limits -------------------------------------------------------------------------------
EMAIL_MAX = 254
NAME_MAX = 100
URL_MAX = 2000
BIO_MIN, BIO_MAX = 10, 500
EXPERTISE_MIN, EXPERTISE_MAX = 1, 10
LANGUAGES_MIN, LANGUAGES_MAX = 1, 20
TAG_MAX = 50
GOALS_MAX = 500
HOURLY_RATE_MAX = 1_000_000.0
DURATIONS: tuple[int, ...] = (15, 30, 60, 90, 120)
TOPIC_MIN, TOPIC_MAX = 5, 200
NOTES_MAX = 5000
REASON_MIN, REASON_MAX = 1, 500
CHAT_TEXT_MAX = 2000
YEAR_MIN, YEAR_MAX = 1970, 9000
"""Dates and times from outside are refused beyond these years, so arithmetic on them (a
session's end, a day's hours) never runs off the calendar."""

SessionAction = Literal["update_notes", "cancel"]


class ValidationError(ValueError):
    """A value broke a rule. ``field`` names the input to blame (the API's field name)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- shapes -------------------------------------------------------------------------------
def check_fields(
    body: Mapping[str, object],
    allowed: Collection[str],
    required: Collection[str] = (),
) -> None:
    """Reject unknown keys and missing required keys, naming the first offending key."""
    for key in body:
        if key not in allowed:
            raise ValidationError(key, "Unknown field")
    for key in required:
        if key not in body:
            raise ValidationError(key, "This field is required")


def as_str(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, "Expected a string")
    return value


def as_bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(field, "Expected true or false")
    return value


def _text(value: object, field: str, low: int, high: int, label: str) -> str:
    """A stripped string whose length is within [low, high]."""
    text = as_str(value, field).strip()
    if len(text) < low or len(text) > high:
        if low <= 0:
            raise ValidationError(field, f"{label} must be at most {high} characters")
        raise ValidationError(field, f"{label} must be {low} to {high} characters")
    return text


def _line(value: object, field: str, low: int, high: int, label: str) -> str:
    """Like :func:`_text`, for one-line values (a name, a topic) that end up in e-mail
    headers and calendar lines: control characters and line breaks are refused."""
    text = _text(value, field, low, high, label)
    if any(unicodedata.category(c) in _LINE_BREAKING for c in text):
        raise ValidationError(field, f"{label} must be one line without control characters")
    return text


# Cc: control characters (tab, CR, LF, ...); Zl/Zp: the Unicode line and paragraph separators.
_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})


def _optional_text(value: object, field: str, high: int, label: str) -> str | None:
    """A string of at most ``high`` characters; null or "" (after stripping) clears it."""
    if value is None:
        return None
    text = _text(value, field, 0, high, label)
    return text or None


# --- people -------------------------------------------------------------------------------
_EMAIL_RE = re.compile(
    r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+"  # local part (dot-atom characters)
    r"@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"  # first domain label
    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"  # at least one more label
)


def parse_email(value: object, field: str = "email") -> str:
    """A plausible e-mail address, stripped and lower-cased (how the store keeps them)."""
    text = as_str(value, field).strip().lower()
    if not text:
        raise ValidationError(field, "An e-mail address is required")
    local = text.rpartition("@")[0]
    if (
        len(text) > EMAIL_MAX
        or len(local) > 64
        or not _EMAIL_RE.fullmatch(text)
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
    ):
        raise ValidationError(field, "Enter a valid e-mail address")
    return text


def name_from_email(email: str) -> str:
    """A friendly default name from an address: ``ana.maria+x@host`` -> ``Ana Maria``."""
    local = email.partition("@")[0].partition("+")[0]
    words = [w for w in re.split(r"[._\-]+", local) if w]
    return " ".join(w.capitalize() for w in words)[:NAME_MAX] or email[:NAME_MAX]


def parse_name(value: object, field: str = "name") -> str:
    return _line(value, field, 1, NAME_MAX, "Name")


@functools.lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    # The tz database ships a few files that are not zones people live in.
    return frozenset(zoneinfo.available_timezones()) - {"localtime", "posixrules", "Factory"}


def canonical_zone(name: str, field: str = "timeZone") -> str:
    """The canonical IANA name of a zone given by any of its names (Asia/Calcutta ->
    Asia/Kolkata; every UTC alias -> "UTC"); ValidationError on ``field`` when unknown."""
    text = canonical_time_zone(name.strip())
    if text == "UTC" or text in _time_zones():
        return text
    raise ValidationError(field, "Unknown time zone; use an IANA name such as America/New_York")


def shown_zone(name: str) -> str:
    """A stored zone name as it is shown: canonical when known (profiles saved before names
    were made canonical), else unchanged."""
    try:
        return canonical_zone(name)
    except ValidationError:
        return name


def parse_time_zone(value: object, field: str = "timeZone") -> str:
    """An IANA time zone name known to this machine's tz database, in its canonical form."""
    return canonical_zone(as_str(value, field), field)


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The ZoneInfo for a stored zone name, falling back to UTC for unknown names."""
    try:
        return zoneinfo.ZoneInfo(canonical_time_zone(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def parse_http_url(value: object, field: str) -> str:
    """An absolute http(s) URL without whitespace."""
    text = as_str(value, field).strip()
    if len(text) > URL_MAX:
        raise ValidationError(field, f"URL must be at most {URL_MAX} characters")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise ValidationError(field, "Enter a valid http(s) URL") from exc
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or any(ch.isspace() or ord(ch) < 32 for ch in text)
    ):
        raise ValidationError(field, "Enter a valid http(s) URL")
    return text


def parse_optional_url(value: object, field: str) -> str | None:
    """An http(s) URL, or None when the value is null or empty (clears it)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_http_url(value, field)


# --- mentoring profile --------------------------------------------------------------------
def parse_bio(value: object, field: str = "bio") -> str:
    return _text(value, field, BIO_MIN, BIO_MAX, "Bio")


def _tags(value: object, field: str, low: int, high: int, label: str) -> tuple[str, ...]:
    """A list of non-empty strings, de-duplicated case-insensitively (first spelling kept)."""
    if not isinstance(value, list):
        raise ValidationError(field, "Expected a list of strings")
    seen: set[str] = set()
    tags: list[str] = []
    for item in value:
        tag = as_str(item, field).strip()
        if not tag:
            raise ValidationError(field, f"{label} entries must not be empty")
        if len(tag) > TAG_MAX:
            raise ValidationError(field, f"{label} entries must be at most {TAG_MAX} characters")
        key = tag.casefold()
        if key not in seen:
            seen.add(key)
            tags.append(tag)
    if len(tags) < low:
        raise ValidationError(field, f"Add at least {low} {label.lower()} entry")
    if len(tags) > high:
        raise ValidationError(field, f"At most {high} {label.lower()} entries")
    return tuple(tags)


def parse_expertise(value: object, field: str = "expertise") -> tuple[str, ...]:
    return _tags(value, field, EXPERTISE_MIN, EXPERTISE_MAX, "Expertise")


def parse_languages(value: object, field: str = "languages") -> tuple[str, ...]:
    return _tags(value, field, LANGUAGES_MIN, LANGUAGES_MAX, "Language")


def split_tags(text: str) -> list[str]:
    """Comma-separated form input -> list for :func:`parse_expertise` and friends."""
    return [part for part in (p.strip() for p in text.split(",")) if part]


def parse_goals(value: object, field: str = "goals") -> str | None:
    return _optional_text(value, field, GOALS_MAX, "Goals")


def parse_hourly_rate(value: object, field: str = "hourlyRate") -> float:
    """A finite number >= 0; 0 means free. Booleans are not numbers here."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(field, "Expected a number")
    rate = float(value)
    if not math.isfinite(rate) or rate < 0:
        raise ValidationError(field, "Hourly rate must be 0 (free) or more")
    if rate > HOURLY_RATE_MAX:
        raise ValidationError(field, f"Hourly rate must be at most {HOURLY_RATE_MAX:,.0f}")
    return rate


def check_mentoring_ready(mentoring: MentoringProfile) -> None:
    """An enabled mentoring profile needs a bio, expertise and at least one language."""
    if not mentoring.enabled:
        return
    parse_bio(mentoring.bio)
    parse_expertise(list(mentoring.expertise))
    parse_languages(list(mentoring.languages))


PROFILE_FIELDS = (
    "name",
    "avatarUrl",
    "timeZone",
    "enabled",
    "bio",
    "expertise",
    "languages",
    "videoIntroUrl",
    "goals",
    "hourlyRate",
)


MENTORING_FIELDS = PROFILE_FIELDS[3:]


def _flatten_mentoring(body: Mapping[str, object]) -> Mapping[str, object]:
    """Accept the mentoring fields nested as GET returns them ({"mentoring": {...}}) too."""
    if "mentoring" not in body:
        return body
    nested = body["mentoring"]
    if not isinstance(nested, Mapping):
        raise ValidationError("mentoring", "Must be an object")
    check_fields(nested, MENTORING_FIELDS)
    flat = {key: value for key, value in body.items() if key != "mentoring"}
    for key, value in nested.items():
        if key in flat:
            raise ValidationError(key, "Given both inside and outside mentoring")
        flat[key] = value
    return flat


def apply_profile_patch(profile: Profile, body: Mapping[str, object], now: datetime) -> Profile:
    """Validate a profile update (API field names, all optional) and return the new profile.

    Fields given are always validated; the mentoring rules are then checked on the result
    whenever mentoring is enabled, so enabling with an empty bio fails on ``bio``.
    """
    body = _flatten_mentoring(body)
    check_fields(body, PROFILE_FIELDS)
    old = profile.mentoring
    mentoring = MentoringProfile(
        enabled=as_bool(body["enabled"], "enabled") if "enabled" in body else old.enabled,
        bio=parse_bio(body["bio"]) if "bio" in body else old.bio,
        expertise=parse_expertise(body["expertise"]) if "expertise" in body else old.expertise,
        languages=parse_languages(body["languages"]) if "languages" in body else old.languages,
        video_intro_url=(
            parse_optional_url(body["videoIntroUrl"], "videoIntroUrl")
            if "videoIntroUrl" in body
            else old.video_intro_url
        ),
        goals=parse_goals(body["goals"]) if "goals" in body else old.goals,
        hourly_rate=(
            parse_hourly_rate(body["hourlyRate"]) if "hourlyRate" in body else old.hourly_rate
        ),
    )
    check_mentoring_ready(mentoring)
    return replace(
        profile,
        name=parse_name(body["name"]) if "name" in body else profile.name,
        avatar_url=(
            parse_optional_url(body["avatarUrl"], "avatarUrl")
            if "avatarUrl" in body
            else profile.avatar_url
        ),
        time_zone=parse_time_zone(body["timeZone"]) if "timeZone" in body else profile.time_zone,
        mentoring=mentoring,
        updated_at=now,
    )


# --- booking ------------------------------------------------------------------------------
def parse_datetime(value: object, field: str) -> datetime:
    """ISO 8601 with an offset or ``Z`` -> aware UTC datetime."""
    text = as_str(value, field).strip()
    if len(text) > 40:
        raise ValidationError(field, "Expected an ISO 8601 date and time")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(field, "Expected an ISO 8601 date and time") from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValidationError(field, "Include a time zone offset or Z")
    if not YEAR_MIN <= parsed.year <= YEAR_MAX:
        raise ValidationError(field, f"Expected a year from {YEAR_MIN} to {YEAR_MAX}")
    return parsed.astimezone(UTC)


def parse_duration(value: object, field: str = "duration") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in DURATIONS:
        allowed = ", ".join(str(d) for d in DURATIONS)
        raise ValidationError(field, f"Duration must be one of {allowed} minutes")
    return value


def parse_topic(value: object, field: str = "topic") -> str:
    return _line(value, field, TOPIC_MIN, TOPIC_MAX, "Topic")


def check_start_time(start: datetime, now: datetime, field: str = "scheduledAt") -> None:
    """In the future and on the 30-minute grid (the grid the store claims cells on)."""
    if start <= now:
        raise ValidationError(field, "Choose a time in the future")
    utc = start.astimezone(UTC)
    if utc.minute % SLOT_MINUTES or utc.second or utc.microsecond:
        raise ValidationError(field, "Sessions start on the hour or the half hour")


@dataclass(frozen=True)
class BookingRequest:
    mentor_email: str
    scheduled_at: datetime
    duration: int
    topic: str


BOOKING_FIELDS = ("mentorEmail", "scheduledAt", "duration", "topic")


def parse_booking(body: Mapping[str, object], now: datetime) -> BookingRequest:
    """Shape, types, the future and the grid. The mentor-dependent rules (yourself, enabled,
    bookable hours) are checked by the booking service."""
    check_fields(body, BOOKING_FIELDS, required=BOOKING_FIELDS)
    mentor_email = parse_email(body["mentorEmail"], "mentorEmail")
    start = parse_datetime(body["scheduledAt"], "scheduledAt")
    duration = parse_duration(body["duration"])
    topic = parse_topic(body["topic"])
    check_start_time(start, now)
    return BookingRequest(mentor_email, start, duration, topic)


def check_not_own_booking(booking: BookingRequest, mentee_email: str) -> None:
    """Nobody books a session with themselves."""
    if booking.mentor_email == mentee_email.lower():
        raise ValidationError("mentorEmail", "You cannot book a session with yourself")


# --- session updates ----------------------------------------------------------------------
@dataclass(frozen=True)
class SessionUpdate:
    action: SessionAction
    notes: str = ""
    reason: str = ""


def parse_notes(value: object, field: str = "notes") -> str:
    text = as_str(value, field)
    if len(text) > NOTES_MAX:
        raise ValidationError(field, f"Notes must be at most {NOTES_MAX} characters")
    return text


def parse_reason(value: object, field: str = "reason") -> str:
    return _text(value, field, REASON_MIN, REASON_MAX, "Reason")


def parse_session_update(body: Mapping[str, object], session_id: str) -> SessionUpdate:
    """``{"action": "update_notes", "notes"}`` or ``{"action": "cancel", "reason"}``; an
    optional ``sessionId`` must match the session addressed."""
    if "action" not in body:
        raise ValidationError("action", "This field is required")
    action = as_str(body["action"], "action")
    if "sessionId" in body and as_str(body["sessionId"], "sessionId") != session_id:
        raise ValidationError("sessionId", "Does not match the session in the URL")
    if action == "update_notes":
        check_fields(body, ("action", "sessionId", "notes"), required=("notes",))
        return SessionUpdate("update_notes", notes=parse_notes(body["notes"]))
    if action == "cancel":
        check_fields(body, ("action", "sessionId", "reason"), required=("reason",))
        return SessionUpdate("cancel", reason=parse_reason(body["reason"]))
    raise ValidationError("action", "Action must be update_notes or cancel")


def parse_chat_text(value: object, field: str = "text") -> str:
    text = as_str(value, field).strip()
    if not text or len(text) > CHAT_TEXT_MAX:
        raise ValidationError(field, f"Message must be 1 to {CHAT_TEXT_MAX} characters")
    return text


# --- sign-in ------------------------------------------------------------------------------
def parse_next_path(value: object, field: str = "next") -> str:
    """A local path to go to after sign-in; anything that could leave the site is refused."""
    text = as_str(value, field)
    if (
        not text.startswith("/")
        or text.startswith("//")
        or "\\" in text
        or len(text) > 500
        or any(ord(ch) < 33 or ord(ch) == 127 for ch in text)
    ):
        raise ValidationError(field, "Expected a path on this site, starting with /")
    return text

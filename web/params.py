"""Reading query strings and path parameters: text from the URL in, typed values out.

The HTTP side of input handling (the JSON API and the pages): names and repeats of query
parameters, flags, page numbers, dates in the URL, the ids in paths. The mentoring rules
themselves live in :mod:`store.validation`; errors use its :class:`ValidationError` so every
400 names the parameter to blame.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from aiohttp import web

from store.validation import (
    TAG_MAX,
    YEAR_MAX,
    YEAR_MIN,
    ValidationError,
    as_str,
    parse_datetime,
    parse_duration,
)

PAGE_MAX = 10_000
LIMIT_MAX = 100

RoleName = Literal["mentor", "mentee", "all"]
StatusName = Literal["scheduled", "completed", "cancelled"]


def single_params(pairs: Sequence[tuple[str, str]], allowed: Collection[str]) -> dict[str, str]:
    """Query parameters as a dict: unknown or repeated names are rejected by name."""
    params: dict[str, str] = {}
    for key, value in pairs:
        if key not in allowed:
            raise ValidationError(key, "Unknown query parameter")
        if key in params:
            raise ValidationError(key, "Given more than once")
        params[key] = value
    return params


def parse_flag(value: str | None, field: str) -> bool:
    if value is None or value == "":
        return False
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValidationError(field, "Expected true or false")


def parse_int_param(value: str | None, field: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise ValidationError(field, f"Expected a whole number from {low} to {high}")
    number = int(text)
    if number < low or number > high:
        raise ValidationError(field, f"Expected a whole number from {low} to {high}")
    return number


def parse_tag_filter(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if len(text) > TAG_MAX:
        raise ValidationError(field, f"At most {TAG_MAX} characters")
    return text or None


@dataclass(frozen=True)
class DiscoverFilters:
    expertise: str | None
    language: str | None
    free_only: bool
    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


DISCOVER_PARAMS = ("expertise", "language", "freeOnly", "page", "limit")


def parse_discover(pairs: Sequence[tuple[str, str]]) -> DiscoverFilters:
    params = single_params(pairs, DISCOVER_PARAMS)
    return DiscoverFilters(
        expertise=parse_tag_filter(params.get("expertise"), "expertise"),
        language=parse_tag_filter(params.get("language"), "language"),
        free_only=parse_flag(params.get("freeOnly"), "freeOnly"),
        page=parse_int_param(params.get("page"), "page", 1, 1, PAGE_MAX),
        limit=parse_int_param(params.get("limit"), "limit", 20, 1, LIMIT_MAX),
    )


@dataclass(frozen=True)
class SessionFilters:
    role: RoleName
    status: StatusName | None
    """None means every status."""


def parse_session_filters(pairs: Sequence[tuple[str, str]]) -> SessionFilters:
    params = single_params(pairs, ("role", "status"))
    role = _ROLES.get(params.get("role") or "all")
    if role is None:
        raise ValidationError("role", "Role must be mentor, mentee or all")
    status_text = params.get("status") or "all"
    if status_text == "all":
        return SessionFilters(role, None)
    status = _STATUSES.get(status_text)
    if status is None:
        raise ValidationError("status", "Status must be scheduled, completed, cancelled or all")
    return SessionFilters(role, status)


_ROLES: dict[str, RoleName] = {"mentor": "mentor", "mentee": "mentee", "all": "all"}
_STATUSES: dict[str, StatusName] = {
    "scheduled": "scheduled",
    "completed": "completed",
    "cancelled": "cancelled",
}


def parse_date(value: str, field: str) -> date:
    text = value.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValidationError(field, "Expected a date as YYYY-MM-DD")
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(field, "Expected a date as YYYY-MM-DD") from exc
    if not YEAR_MIN <= day.year <= YEAR_MAX:
        raise ValidationError(field, f"Expected a year from {YEAR_MIN} to {YEAR_MAX}")
    return day


SLOTS_DAYS_MAX = 62


@dataclass(frozen=True)
class SlotsQuery:
    start: date | datetime | None
    """A date is the mentor's local day; None means now."""
    end: date | datetime | None
    """A date is inclusive (the mentor's local day); a datetime exclusive."""
    duration: int | None
    session_id: str | None


def parse_day_or_moment(value: str, field: str) -> date | datetime:
    """``YYYY-MM-DD`` or an ISO 8601 date-time with an offset."""
    if len(value.strip()) != 10:
        return parse_datetime(value, field)
    return parse_date(value, field)


def parse_slots_query(pairs: Sequence[tuple[str, str]]) -> SlotsQuery:
    params = single_params(pairs, ("from", "to", "duration", "session"))
    raw_duration = params.get("duration")
    duration = None
    if raw_duration:
        text = raw_duration.strip()
        number = int(text) if text.isascii() and text.isdigit() and len(text) < 5 else -1
        duration = parse_duration(number)
    session_id = params.get("session") or None
    if session_id is not None and not is_session_id(session_id):
        raise ValidationError("session", "Unknown session")
    return SlotsQuery(
        start=parse_day_or_moment(params["from"], "from") if params.get("from") else None,
        end=parse_day_or_moment(params["to"], "to") if params.get("to") else None,
        duration=duration,
        session_id=session_id,
    )


# --- path and link parameters ------------------------------------------------------------
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")


def parse_link_token(value: object, field: str = "token") -> str:
    text = as_str(value, field)
    if not _TOKEN_RE.fullmatch(text):
        raise ValidationError(field, "Malformed sign-in link")
    return text


_SESSION_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_session_id(value: str) -> bool:
    """Session ids are URL-safe and valid inside Pusher channel names."""
    return bool(_SESSION_ID_RE.fullmatch(value))


def query_pairs(request: web.Request) -> list[tuple[str, str]]:
    """The query string as (name, value) pairs, repeats kept (so they can be refused)."""
    return list(request.query.items())

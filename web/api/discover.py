"""Finding mentors: the discovery list and one mentor's busy times for the calendar."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from aiohttp import web

from store.base import DiscoverQuery, Store
from store.models import SLOT_MINUTES, Profile
from store.validation import parse_availability, parse_discover, parse_email, zone
from web import keys
from web.api.errors import ApiError
from web.api.jsonio import query_pairs
from web.auth import require_user
from web.serialize import iso, public_profile_json


async def discover(request: web.Request) -> web.Response:
    """GET /api/mentoring/discover: enabled mentors except yourself, filtered and paginated."""
    email = await require_user(request)
    filters = parse_discover(query_pairs(request))
    query = DiscoverQuery(
        expertise=filters.expertise,
        language=filters.language,
        free_only=filters.free_only,
        exclude_email=email,
        limit=filters.limit,
        offset=filters.offset,
    )
    page = await request.app[keys.STORE].discover(query)
    return web.json_response(
        {
            "mentors": [public_profile_json(p) for p in page.mentors],
            "total": page.total,
            "page": filters.page,
            "limit": filters.limit,
        }
    )


async def bookable_mentor(store: Store, raw_email: object) -> Profile:
    """The mentor's profile, or 404 on ``mentorEmail`` when unknown or not mentoring."""
    mentor_email = parse_email(raw_email, "mentorEmail")
    mentor = await store.get_profile(mentor_email)
    if mentor is None or not mentor.mentoring.enabled:
        raise ApiError(404, "No mentor with that address", "mentorEmail")
    return mentor


async def availability(request: web.Request) -> web.Response:
    """GET /api/mentoring/mentors/{email}/availability: when the mentor or you are busy."""
    email = await require_user(request)
    store = request.app[keys.STORE]
    mentor = await bookable_mentor(store, request.match_info["email"])
    window = parse_availability(query_pairs(request))
    tz = zone(mentor.time_zone)
    first_day = window.first_day or datetime.now(tz).date()
    start = datetime.combine(first_day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(first_day + timedelta(days=window.days), time(0), tzinfo=tz)
    busy = await store.busy_intervals(sorted({mentor.email, email}), start, end.astimezone(UTC))
    return web.json_response(
        {
            "timeZone": tz.key,
            "slotMinutes": SLOT_MINUTES,
            "busy": [{"start": iso(s), "end": iso(e)} for s, e in sorted(busy)],
        }
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/mentoring/discover", discover)
    app.router.add_get("/api/mentoring/mentors/{email}/availability", availability)

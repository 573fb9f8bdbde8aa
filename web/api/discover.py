"""Finding mentors: the discovery list and one mentor's busy times for the calendar."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from aiohttp import web

from store.base import DiscoverQuery
from store.models import SLOT_MINUTES
from store.validation import zone
from web import keys
from web.api import response_models as out
from web.api.jsonio import answer
from web.api.spec import NOT_SIGNED_IN, Operation, Param, Reply, Route, error
from web.auth import require_user
from web.params import (
    AVAILABILITY_DAYS_MAX,
    LIMIT_MAX,
    parse_availability,
    parse_discover,
    query_pairs,
)
from web.serialize import iso, public_profile_out
from web.services.sessions import bookable_mentor


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
    return answer(
        out.MentorPage(
            mentors=[public_profile_out(p) for p in page.mentors],
            total=page.total,
            page=filters.page,
            limit=filters.limit,
        )
    )


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
    return answer(
        out.Availability(
            time_zone=tz.key,
            slot_minutes=SLOT_MINUTES,
            busy=[out.BusyInterval(start=iso(s), end=iso(e)) for s, e in sorted(busy)],
        )
    )


ROUTES = (
    Route(
        Operation(
            "GET",
            "/api/mentoring/discover",
            "Enabled mentors, excluding yourself",
            params=(
                Param("expertise", {"type": "string"}, "Case-insensitive substring of a tag"),
                Param("language", {"type": "string"}, "Case-insensitive substring of a tag"),
                Param("freeOnly", {"type": "boolean"}),
                Param("page", {"type": "integer", "minimum": 1, "default": 1}),
                Param(
                    "limit", {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": 20}
                ),
            ),
            replies=(
                Reply(200, "A page of mentors", out.MentorPage),
                error(400, "Bad filter; field names the parameter"),
                NOT_SIGNED_IN,
            ),
        ),
        discover,
    ),
    Route(
        Operation(
            "GET",
            "/api/mentoring/mentors/{email}/availability",
            "Busy intervals of the mentor and of you, for the booking calendar",
            params=(
                Param("from", {"type": "string", "format": "date"}, "First day (mentor's zone)"),
                Param(
                    "days",
                    {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": AVAILABILITY_DAYS_MAX,
                        "default": 7,
                    },
                ),
            ),
            replies=(
                Reply(200, "Busy intervals", out.Availability),
                error(400, "Bad parameter"),
                error(404, "No mentor with that address (field mentorEmail)"),
                NOT_SIGNED_IN,
            ),
        ),
        availability,
    ),
)

"""A mentor's availability (their own, to read and replace) and the free slots of a mentor."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import msgspec
from aiohttp import web

from store.availability_rules import parse_availability
from store.models import SLOT_MINUTES, utcnow
from store.slots import tz_of
from store.validation import ValidationError, name_from_email
from web import keys
from web.api import response_models as out
from web.api.jsonio import answer, read_body
from web.api.limits import require_writer
from web.api.request_models import AvailabilityPut
from web.api.spec import NOT_SIGNED_IN, TOO_MANY_WRITES, Operation, Param, Reply, Route, error
from web.auth import require_user
from web.params import SLOTS_DAYS_MAX, SlotsQuery, parse_slots_query, query_pairs
from web.serialize import availability_out, iso
from web.services.free_times import Asker, free_start_times
from web.services.scheduling import keeping_duration
from web.services.sessions import bookable_mentor, session_of_participant


async def get_availability(request: web.Request) -> web.Response:
    email = await require_user(request)
    profile = await request.app[keys.STORE].ensure_profile(email, name_from_email(email))
    return answer(out.AvailabilityAnswer(availability=availability_out(profile)))


async def put_availability(request: web.Request) -> web.Response:
    email = await require_writer(request)
    body = await read_body(request, AvailabilityPut)
    availability = parse_availability(msgspec.to_builtins(body), utcnow())
    store = request.app[keys.STORE]
    await store.ensure_profile(email, name_from_email(email))
    saved = await store.set_availability(email, availability)
    return answer(out.AvailabilityAnswer(availability=availability_out(saved)))


def _window(query: SlotsQuery, zone_name: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) in UTC: dates are the mentor's local days (``to`` inclusive)."""
    tz = tz_of(zone_name)
    if query.start is None:
        start = now
    elif isinstance(query.start, datetime):
        start = query.start
    else:
        start = datetime.combine(query.start, time(0), tzinfo=tz).astimezone(UTC)
    if query.end is None:
        end = start + timedelta(days=7)
    elif isinstance(query.end, datetime):
        end = query.end
    else:
        end = datetime.combine(query.end + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    if end <= start:
        raise ValidationError("to", "Must be after from")
    if end - start > timedelta(days=SLOTS_DAYS_MAX):
        raise ValidationError("to", f"At most {SLOTS_DAYS_MAX} days after from")
    return start, end


async def get_slots(request: web.Request) -> web.Response:
    """GET /api/mentoring/mentors/{email}/slots: free start times for the signed-in person
    (or, with ``session``, for moving that session of theirs)."""
    email = await require_user(request)
    store = request.app[keys.STORE]
    query = parse_slots_query(query_pairs(request))
    now = utcnow()
    if query.session_id is not None:
        session = await session_of_participant(request, query.session_id, email)
        mentor = await store.get_profile(session.mentor_email)
        if mentor is None or mentor.email != request.match_info["email"].strip().lower():
            raise ValidationError("session", "That session is not with this mentor")
        rules = keeping_duration(mentor.effective_availability, session.duration)
        asker = Asker(session.mentee_email, moving_session_id=session.session_id)
        duration = session.duration
        if query.duration is not None and query.duration != duration:
            raise ValidationError("duration", "A moved session keeps its duration")
    else:
        mentor = await bookable_mentor(store, request.match_info["email"])
        rules = mentor.effective_availability
        asker = Asker(email)
        duration = query.duration if query.duration is not None else rules.durations[0]
        if duration not in rules.durations:
            offered = ", ".join(str(d) for d in rules.durations)
            raise ValidationError("duration", f"This mentor offers sessions of {offered} minutes")
    start, end = _window(query, rules.time_zone, now)
    found = await free_start_times(store, mentor, asker, duration, start, end, now, rules)
    return answer(
        out.FreeSlots(
            mentor_email=mentor.email,
            time_zone=rules.time_zone,
            duration=duration,
            durations=list(rules.durations),
            slot_minutes=SLOT_MINUTES,
            start=iso(start),
            end=iso(end),
            slots=[iso(s) for s in found],
        )
    )


ROUTES = (
    Route(
        Operation(
            "GET",
            "/api/mentoring/availability",
            "Your availability as a mentor (the default hours until you save your own)",
            replies=(Reply(200, "Availability", out.AvailabilityAnswer), NOT_SIGNED_IN),
        ),
        get_availability,
    ),
    Route(
        Operation(
            "PUT",
            "/api/mentoring/availability",
            "Replace your availability: weekly hours, date exceptions and booking rules",
            body=AvailabilityPut,
            replies=(
                Reply(200, "Saved availability", out.AvailabilityAnswer),
                error(400, "A rule was broken; field names the input (e.g. weekly.monday)"),
                NOT_SIGNED_IN,
                TOO_MANY_WRITES,
            ),
        ),
        put_availability,
    ),
    Route(
        Operation(
            "GET",
            "/api/mentoring/mentors/{email}/slots",
            "Free start times of a mentor for you: inside their hours, outside your and their"
            " sessions (with their buffer), past their notice, inside their horizon",
            params=(
                Param(
                    "from",
                    {"type": "string"},
                    "YYYY-MM-DD (the mentor's local day) or an ISO date-time; default now",
                ),
                Param(
                    "to",
                    {"type": "string"},
                    "YYYY-MM-DD (inclusive, mentor's local day) or an ISO date-time (exclusive);"
                    f" default from + 7 days, at most {SLOTS_DAYS_MAX} days after from",
                ),
                Param(
                    "duration",
                    {"type": "integer", "enum": [15, 30, 60, 90, 120]},
                    "Minutes; default the mentor's shortest",
                ),
                Param(
                    "session",
                    {"type": "string"},
                    "A session of yours with this mentor: free times to move it to",
                ),
            ),
            replies=(
                Reply(200, "Free start times", out.FreeSlots),
                error(400, "Bad parameter; field names it"),
                error(403, "The session is not yours (field sessionId)"),
                error(404, "No mentor with that address (field mentorEmail) or no such session"),
                NOT_SIGNED_IN,
            ),
        ),
        get_slots,
    ),
)

"""Page handlers: thin views over the store; the browser talks to the JSON API for changes."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from store import validation as rules
from store.models import Profile, utcnow
from web import keys, params
from web.pages.availability_summary import NEXT_SLOTS, summarize
from web.pages.rendering import Viewer, display_name, initials, render
from web.pages.session_details import render_session_details
from web.pages.viewer import optional_viewer, signed_in_viewer
from web.services.free_times import next_free_times


async def landing(request: web.Request) -> web.Response:
    return render(request, "landing.html", {"viewer": await optional_viewer(request)})


async def signin(request: web.Request) -> web.Response:
    raw_next = request.query.get("next", "")
    try:
        next_path = rules.parse_next_path(raw_next) if raw_next else ""
    except rules.ValidationError:
        next_path = ""
    context = {
        "viewer": await optional_viewer(request),
        "next_path": next_path,
        "link_error": request.query.get("error") == "link",
        "signed_out": "signedout" in request.query,
    }
    return render(request, "signin.html", context)


async def signout(request: web.Request) -> web.Response:
    return render(request, "signout.html", {"viewer": await optional_viewer(request)})


async def profile_view(request: web.Request) -> web.Response:
    viewer = await signed_in_viewer(request)
    profile = await _own_profile(request, viewer)
    context = {
        "viewer": viewer,
        "nav": "profile",
        "profile": profile,
        "saved": "saved" in request.query,
        "calendar_feed_since": await request.app[keys.STORE].calendar_token_created(viewer.email),
    }
    return render(request, "profile.html", context)


async def profile_edit(request: web.Request) -> web.Response:
    viewer = await signed_in_viewer(request)
    profile = await _own_profile(request, viewer)
    return render(
        request, "profile_edit.html", {"viewer": viewer, "nav": "profile", "profile": profile}
    )


async def availability(request: web.Request) -> web.Response:
    """The availability editor: the page loads and saves through the availability API."""
    viewer = await signed_in_viewer(request)
    return render(request, "availability.html", {"viewer": viewer, "nav": "availability"})


async def discover(request: web.Request) -> web.Response:
    viewer = await signed_in_viewer(request)
    context = {
        "viewer": viewer,
        "nav": "discover",
        "expertise": request.query.get("expertise", "")[: rules.TAG_MAX],
        "language": request.query.get("language", "")[: rules.TAG_MAX],
        "free_only": params.parse_flag(_flag_text(request.query.get("freeOnly")), "freeOnly"),
    }
    return render(request, "discover.html", context)


async def _listed_mentor(request: web.Request) -> Profile | None:
    """The mentor named in the path, or None when unknown or not mentoring."""
    try:
        mentor_email = rules.parse_email(request.match_info["mentor_email"], "mentorEmail")
    except rules.ValidationError:
        return None
    mentor = await request.app[keys.STORE].get_profile(mentor_email)
    return mentor if mentor is not None and mentor.mentoring.enabled else None


async def mentor_profile(request: web.Request) -> web.Response:
    """A mentor's public profile (signed-in users): who they are and a way to book them."""
    viewer = await signed_in_viewer(request)
    mentor = await _listed_mentor(request)
    if mentor is None:
        return _not_found(request, viewer, "There is no mentor with that address.")
    now = utcnow()
    starts = await next_free_times(
        request.app[keys.STORE], mentor, viewer.email, now, count=NEXT_SLOTS
    )
    context = {
        "viewer": viewer,
        "nav": "discover",
        "mentor": mentor,
        "mentor_name": display_name(mentor),
        "mentor_initials": initials(display_name(mentor)),
        "is_self": mentor.email == viewer.email,
        "availability": summarize(mentor.effective_availability, starts, viewer.time_zone, now),
    }
    return render(request, "mentor.html", context)


async def book(request: web.Request) -> web.Response:
    viewer = await signed_in_viewer(request)
    mentor = await _listed_mentor(request)
    if mentor is None:
        return _not_found(request, viewer, "That mentor is not taking bookings.")
    context = {
        "viewer": viewer,
        "nav": "discover",
        "mentor": mentor,
        "mentor_name": display_name(mentor),
        "mentor_initials": initials(display_name(mentor)),
        "is_self": mentor.email == viewer.email,
    }
    return render(request, "book.html", context)


async def schedule(request: web.Request) -> web.Response:
    """The seed's address for booking: /mentoring/schedule?mentor=<email>."""
    mentor = request.query.get("mentor", "")
    if not mentor:
        raise web.HTTPFound("/mentoring/discover")
    raise web.HTTPFound("/mentoring/book/" + quote(mentor, safe="@"))


async def mentoring_home(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/mentoring/sessions")


async def sessions(request: web.Request) -> web.Response:
    viewer = await signed_in_viewer(request)
    context = {
        "viewer": viewer,
        "nav": "sessions",
        "booked": "booked" in request.query,
        "join_lead_minutes": request.app[keys.SETTINGS].room.join_lead_minutes,
    }
    return render(request, "sessions.html", context)


async def session_details(request: web.Request) -> web.Response:
    """Details of a session (the room page shows this once the session is over)."""
    viewer = await signed_in_viewer(request)
    session_id = request.match_info["session_id"]
    store = request.app[keys.STORE]
    session = await store.get_session(session_id) if params.is_session_id(session_id) else None
    if session is None:
        return _not_found(request, viewer, "That session does not exist.")
    if not session.has_participant(viewer.email):
        context = {
            "viewer": viewer,
            "title": "Access denied",
            "message": "Only the mentor and the mentee of this session can open it.",
        }
        return render(request, "message.html", context, status=403)
    return await render_session_details(request, viewer, session)


async def _own_profile(request: web.Request, viewer: Viewer) -> Profile:
    store = request.app[keys.STORE]
    profile = await store.get_profile(viewer.email)
    return profile if profile is not None else await store.ensure_profile(viewer.email)


def _not_found(request: web.Request, viewer: Viewer, message: str) -> web.Response:
    context = {"viewer": viewer, "title": "Not found", "message": message}
    return render(request, "message.html", context, status=404)


def _flag_text(value: str | None) -> str | None:
    """Query flags from a checkbox ("on") or a link ("true"); anything odd reads as off."""
    if value is None:
        return None
    lowered = value.strip().lower()
    return lowered if lowered in ("true", "1", "yes", "on", "false", "0", "no", "off") else None

"""The operator console's API (/api/admin/...): the same views as the /admin pages, as JSON.
Operators only (``admin.emails``): 401 when not signed in, 403 for everyone else."""

from __future__ import annotations

from aiohttp import web

from web import keys
from web.admin import views
from web.admin.access import is_operator
from web.admin.search import LIMIT_MAX, PARTICIPANT_MAX, parse_search
from web.api import admin_models as out
from web.api.errors import ApiError
from web.api.jsonio import answer
from web.api.spec import NOT_SIGNED_IN, SESSION_ID, Operation, Param, Reply, Route, error
from web.auth import current_user
from web.params import is_session_id, query_pairs

NOT_OPERATOR = error(403, "Not an operator (admin.emails)")


async def require_operator(request: web.Request) -> str:
    """The operator's e-mail; 401 when not signed in, 403 when not in ``admin.emails``."""
    email = await current_user(request)
    if email is None:
        raise ApiError(401, "Not signed in")
    if not is_operator(request.app[keys.SETTINGS], email):
        raise ApiError(403, "Only operators (admin.emails) may use the console")
    return email


async def live(request: web.Request) -> web.Response:
    await require_operator(request)
    return answer(await views.live_sessions(request.app))


async def sessions(request: web.Request) -> web.Response:
    await require_operator(request)
    search, _form = parse_search(query_pairs(request))
    return answer(await views.past_sessions(request.app, search))


async def session(request: web.Request) -> web.Response:
    await require_operator(request)
    session_id = request.match_info["sessionId"]
    found = (
        await request.app[keys.STORE].get_session(session_id) if is_session_id(session_id) else None
    )
    if found is None:
        raise ApiError(404, "Session not found", "sessionId")
    return answer(await views.session_quality(request.app, found))


async def relay(request: web.Request) -> web.Response:
    await require_operator(request)
    return answer(await views.relay_overview(request.app))


SEARCH = (
    Param("participant", {"type": "string", "maxLength": PARTICIPANT_MAX}, "Part of either e-mail"),
    Param("from", {"type": "string", "format": "date", "maxLength": 10}, "First start day (UTC)"),
    Param(
        "to",
        {"type": "string", "format": "date", "maxLength": 10},
        "Last start day (UTC), inclusive",
    ),
    Param("limit", {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX}, "At most"),
)

ROUTES = (
    Route(
        Operation(
            "GET",
            "/api/admin/live",
            "Live sessions on this node with each participant's latest call quality",
            replies=(Reply(200, "Live sessions", out.LiveSessions), NOT_OPERATOR, NOT_SIGNED_IN),
        ),
        live,
    ),
    Route(
        Operation(
            "GET",
            "/api/admin/sessions",
            "Sessions by participant and start day, newest first, with their quality summaries",
            params=SEARCH,
            replies=(
                Reply(200, "Sessions", out.PastSessions),
                error(400, "A malformed parameter (field names it)"),
                NOT_OPERATOR,
                NOT_SIGNED_IN,
            ),
        ),
        sessions,
    ),
    Route(
        Operation(
            "GET",
            "/api/admin/sessions/{sessionId}",
            "One session's quality: summaries per participant and, while live, the reports",
            path_schemas=SESSION_ID,
            replies=(
                Reply(200, "The session's quality", out.SessionQuality),
                error(404, "Unknown session (field sessionId)"),
                NOT_OPERATOR,
                NOT_SIGNED_IN,
            ),
        ),
        session,
    ),
    Route(
        Operation(
            "GET",
            "/api/admin/relay",
            "Relay and TURN on this node: streams, workers, CPU, paths, activity per hour",
            replies=(Reply(200, "Overview", out.RelayOverview), NOT_OPERATOR, NOT_SIGNED_IN),
        ),
        relay,
    ),
)

"""Finding mentors: the discovery list (free times are in web/api/availability.py)."""

from __future__ import annotations

from aiohttp import web

from store.base import DiscoverQuery
from web import keys
from web.api import response_models as out
from web.api.jsonio import answer
from web.api.spec import NOT_SIGNED_IN, Operation, Param, Reply, Route, error
from web.auth import require_user
from web.params import LIMIT_MAX, parse_discover, query_pairs
from web.serialize import public_profile_out


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
)

"""The private calendar feed's token: create or rotate it, revoke it."""

from __future__ import annotations

from aiohttp import web

from store.models import utcnow
from web import keys
from web.api import response_models as out
from web.api.jsonio import answer
from web.api.limits import require_writer
from web.api.spec import NOT_SIGNED_IN, TOO_MANY_WRITES, Operation, Reply, Route, error
from web.mail.feed import feed_url, hash_feed_token, new_feed_token
from web.serialize import iso
from web.services.notify import mail_site


async def create_feed(request: web.Request) -> web.Response:
    """POST /api/calendar/token -> 201 with the new feed URL; any older URL stops working."""
    email = await require_writer(request)
    token = new_feed_token()
    now = utcnow()
    await request.app[keys.STORE].set_calendar_token(email, hash_feed_token(token), now)
    url = feed_url(mail_site(request.app[keys.SETTINGS], request), token)
    return answer(out.CalendarFeed(url=url, created_at=iso(now)), status=201)


async def revoke_feed(request: web.Request) -> web.Response:
    """DELETE /api/calendar/token -> 204; 404 when there is no feed."""
    email = await require_writer(request)
    if not await request.app[keys.STORE].delete_calendar_token(email):
        return answer(out.Error(error="You have no calendar feed", field="token"), status=404)
    return web.Response(status=204)


ROUTES = (
    Route(
        Operation(
            "POST",
            "/api/calendar/token",
            "Create (or replace) your private calendar feed address",
            replies=(
                Reply(201, "The feed address", out.CalendarFeed),
                NOT_SIGNED_IN,
                TOO_MANY_WRITES,
            ),
        ),
        create_feed,
    ),
    Route(
        Operation(
            "DELETE",
            "/api/calendar/token",
            "Revoke your calendar feed address",
            replies=(
                Reply(204, "Revoked"),
                error(404, "No feed to revoke (field token)"),
                NOT_SIGNED_IN,
                TOO_MANY_WRITES,
            ),
        ),
        revoke_feed,
    ),
)

"""Sign-in by e-mail link, the callback that sets the session cookie, sign-out and /api/me."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import structlog
from aiohttp import web

from store.base import Store
from store.models import utcnow
from store.validation import (
    ValidationError,
    name_from_email,
    parse_email,
    parse_next_path,
    parse_time_zone,
)
from web import keys
from web.api import response_models as out
from web.api.errors import ApiError
from web.api.jsonio import answer, read_body
from web.api.limits import enforce
from web.api.request_models import EmailLink
from web.api.spec import NOT_SIGNED_IN, Operation, Param, Reply, Route, error
from web.auth import (
    DEFAULT_NEXT,
    clear_session_cookie,
    create_login_link,
    deliver_login_link,
    dev_login_enabled,
    hash_link_token,
    link_base_url,
    require_user,
    revoke_current_token,
    revoke_every_token,
    session_token_for,
    set_session_cookie,
)
from web.client_address import client_address
from web.metrics import record_signin
from web.params import parse_link_token
from web.serialize import me_out

log = structlog.get_logger(__name__)

SIGNIN_ERROR_URL = "/signin?error=link"


async def request_link(request: web.Request) -> web.Response:
    """POST /api/auth/email {"email", "next"?} -> 202; the link goes by e-mail or the log."""
    body = await read_body(request, EmailLink)
    email = parse_email(body.email)
    next_path = parse_next_path(body.next) if isinstance(body.next, str) and body.next else None
    # Limits after validation: a malformed request gets its 400 and costs nothing, since it
    # sends no mail.
    await enforce(request, "signin_address", client_address(request), None)
    await enforce(request, "signin_email", email, "email")
    app = request.app
    settings = app[keys.SETTINGS]
    since = utcnow() - timedelta(hours=1)
    recent = await app[keys.STORE].count_login_tokens_since(email, since)
    if recent >= settings.auth.link_requests_per_hour:
        log.info("auth.link_throttled", email=email)
        # The oldest link of the hour may be nearly an hour old or a minute: an hour is the
        # one wait that is sure to be enough.
        raise ApiError(
            429,
            "Too many sign-in links requested; try again later",
            "email",
            headers={"Retry-After": "3600"},
        )
    zone = device_zone(body.timeZone)
    link = await create_login_link(app, email, next_path, link_base_url(request), zone)
    await deliver_login_link(app, email, link)
    sent = out.LinkSent(sent=True)
    if dev_login_enabled(settings, request):
        sent.dev_link = link
    return answer(sent, status=202)


def device_zone(value: object) -> str | None:
    """The zone a device reported, canonical, or None when it is missing or unknown. An
    unknown name is not an error: a sign-in must never fail over a browser's zone list (the
    profile then starts in UTC and the person picks their zone on the profile page)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return parse_time_zone(value.strip())
    except ValidationError:
        return None


async def first_profile(store: Store, email: str, zone: str | None) -> None:
    """Create the profile on the first sign-in, in the device's zone when one was sent:
    so a new mentor's default hours are theirs, not UTC's. An existing profile is kept."""
    if zone is None or await store.get_profile(email) is not None:
        await store.ensure_profile(email, name_from_email(email))
        return
    profile = await store.ensure_profile(email, name_from_email(email))
    if profile.time_zone == "UTC" and profile.availability is None:
        await store.save_profile(replace(profile, time_zone=zone))


def redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


async def callback(request: web.Request) -> web.StreamResponse:
    """GET /auth/callback?token=…&next=… -> session cookie and a redirect to ``next``."""
    app = request.app
    try:
        token = parse_link_token(request.query.get("token", ""))
        raw_next = request.query.get("next")
        next_path = parse_next_path(raw_next) if raw_next else DEFAULT_NEXT
    except ValidationError:
        return redirect(SIGNIN_ERROR_URL)
    store = app[keys.STORE]
    email = await store.consume_login_token(hash_link_token(token), utcnow())
    if email is None:
        log.info("auth.link_refused")
        return redirect(SIGNIN_ERROR_URL)
    await first_profile(store, email, device_zone(request.query.get("tz")))
    response = redirect(next_path)
    set_session_cookie(response, session_token_for(app, email), app[keys.SETTINGS])
    log.info("auth.signed_in", email=email)
    record_signin(app)
    return response


async def sign_out(request: web.Request) -> web.Response:
    """POST /api/auth/signout: revoke the presented token (cookie or bearer) and forget the
    cookie. Always 204, signed in or not, so a page can sign out whatever state it is in."""
    await revoke_current_token(request)
    response = web.Response(status=204)
    clear_session_cookie(response, request.app[keys.SETTINGS])
    return response


async def sign_out_everywhere(request: web.Request) -> web.Response:
    """POST /api/auth/signout-everywhere: revoke every session token of the signed-in user,
    on every device, this one included."""
    email = await require_user(request)
    await revoke_every_token(request, email)
    response = web.Response(status=204)
    clear_session_cookie(response, request.app[keys.SETTINGS])
    return response


async def me(request: web.Request) -> web.Response:
    email = await require_user(request)
    profile = await request.app[keys.STORE].ensure_profile(email, name_from_email(email))
    return answer(me_out(profile))


ROUTES = (
    Route(
        Operation(
            "POST",
            "/api/auth/email",
            "E-mail a single-use sign-in link",
            body=EmailLink,
            signed_in=False,
            replies=(
                Reply(202, "Link sent (or logged)", out.LinkSent),
                error(400, "Bad e-mail address (field email) or next path"),
                error(
                    429,
                    "Too many links requested for this e-mail address (field email) or from this"
                    " client address (no field); Retry-After says when to retry",
                ),
            ),
        ),
        request_link,
    ),
    Route(
        Operation(
            "GET",
            "/auth/callback",
            "Spend a sign-in link: sets the session cookie and redirects",
            signed_in=False,
            params=(
                Param("token", {"type": "string"}, required=True),
                Param("next", {"type": "string"}, "Local path to go to afterwards"),
                Param(
                    "tz",
                    {"type": "string"},
                    "Time zone a profile created by this sign-in starts in (ignored if unknown)",
                ),
            ),
            replies=(
                Reply(
                    302,
                    "To next (default /mentoring/sessions) with the cookie set, or to "
                    "/signin?error=link when the link is unknown, used or expired",
                ),
            ),
        ),
        callback,
    ),
    Route(
        Operation(
            "POST",
            "/api/auth/signout",
            "Sign out: the session token presented is revoked and the cookie cleared",
            signed_in=False,
            replies=(Reply(204, "Signed out"),),
        ),
        sign_out,
    ),
    Route(
        Operation(
            "POST",
            "/api/auth/signout-everywhere",
            "Sign out on every device: every session token of the user is revoked",
            replies=(Reply(204, "Signed out everywhere"), NOT_SIGNED_IN),
        ),
        sign_out_everywhere,
    ),
    Route(
        Operation(
            "GET",
            "/api/me",
            "Who is signed in",
            replies=(Reply(200, "The signed-in user", out.Me), NOT_SIGNED_IN),
        ),
        me,
    ),
)

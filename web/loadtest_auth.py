"""POST /api/auth/loadtest: session tokens for load-test users, given the operator's token.

``panamia loadtest`` signs in many synthetic users; on a server without development
sign-in links it presents ``auth.loadtest_token`` as a Bearer token and receives a session
token for each address. The route answers 404 while the setting is empty, compares the token
in constant time, and only signs addresses under the reserved ``.invalid`` test domain
(RFC 2606), so a leaked load-test token cannot impersonate a real user.

POST /api/auth/loadtest/session gives two load-test users a session starting now, so its room
is open at once (rooms open only around a session's time, and booking only offers future
times). It needs the same conditions: a load-test user signed in (possible only through the
load-test token or development sign-in, since mail to .invalid never arrives) on a server
where one of the two is enabled.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

import structlog
from aiohttp import hdrs, web

from store.base import Conflict
from store.models import Session, utcnow
from store.validation import ValidationError, name_from_email, parse_email, parse_topic
from web import keys
from web.api import response_models as out
from web.api.errors import ApiError, forbidden
from web.api.jsonio import answer, read_body
from web.api.request_models import LoadtestSession, LoadtestSignIn
from web.auth import dev_login_enabled, require_user, session_token_for
from web.metrics import record_booking
from web.services.sessions import new_session_id, sessions_out

log = structlog.get_logger(__name__)

LOADTEST_DOMAIN = "loadtest.invalid"
"""Load-test users live here; the load tester builds its addresses under this domain."""
LOADTEST_SESSION_MINUTES = 120
"""Length of a load-test session: longer than any load-test run."""


def _is_loadtest_address(email: str) -> bool:
    return email.endswith("@" + LOADTEST_DOMAIN)


def _presented_token(request: web.Request) -> str:
    scheme, _, value = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


async def loadtest_sign_in(request: web.Request) -> web.Response:
    """{"email"} with ``Authorization: Bearer <auth.loadtest_token>`` -> {"token","email"}."""
    app = request.app
    expected = app[keys.SETTINGS].auth.loadtest_token
    if not expected:
        raise ApiError(404, "Not found")
    presented = _presented_token(request)
    if not hmac.compare_digest(presented.encode(), expected.reveal().encode()):
        log.info("auth.loadtest_refused")
        raise ApiError(401, "Unauthorized")
    body = await read_body(request, LoadtestSignIn)
    email = parse_email(body.email)
    if not _is_loadtest_address(email):
        raise ValidationError("email", f"Load-test users must have an @{LOADTEST_DOMAIN} address")
    await app[keys.STORE].ensure_profile(email, name_from_email(email))
    log.info("auth.loadtest_sign_in", email=email)
    return answer(out.LoadtestToken(token=session_token_for(app, email), email=email))


async def loadtest_session(request: web.Request) -> web.Response:
    """{"mentorEmail", "topic"} from a signed-in load-test mentee -> 201 {"session"}."""
    app = request.app
    settings = app[keys.SETTINGS]
    if not settings.auth.loadtest_token and not dev_login_enabled(settings, request):
        raise ApiError(404, "Not found")
    mentee = await require_user(request)
    if not _is_loadtest_address(mentee):
        raise forbidden()
    body = await read_body(request, LoadtestSession)
    mentor = parse_email(body.mentor_email, "mentorEmail")
    if not _is_loadtest_address(mentor) or mentor == mentee:
        raise ValidationError("mentorEmail", f"Expected another @{LOADTEST_DOMAIN} address")
    topic = parse_topic(body.topic)
    store = app[keys.STORE]
    await store.ensure_profile(mentor, name_from_email(mentor))
    now = utcnow().replace(microsecond=0)
    session = Session(
        session_id=new_session_id(),
        mentor_email=mentor,
        mentee_email=mentee,
        scheduled_at=now - timedelta(minutes=1),
        duration=LOADTEST_SESSION_MINUTES,
        topic=topic,
        created_at=now,
        updated_at=now,
    )
    try:
        saved = await store.create_session(session)
    except Conflict as exc:
        raise ApiError(409, "One of the two already has a session now", "mentorEmail") from exc
    record_booking(app)
    log.info("loadtest.session", session_id=saved.session_id, mentor=mentor, mentee=mentee)
    (shown,) = await sessions_out(store, [saved], now)
    return answer(out.SessionAnswer(session=shown), status=201)


def setup_loadtest_auth(app: web.Application) -> None:
    app.router.add_post("/api/auth/loadtest", loadtest_sign_in)
    app.router.add_post("/api/auth/loadtest/session", loadtest_session)

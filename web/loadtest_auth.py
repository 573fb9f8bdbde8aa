"""POST /api/auth/loadtest: session tokens for load-test users, given the operator's token.

``panamia loadtest`` signs in many synthetic users; on a server without development
sign-in links it presents ``auth.loadtest_token`` as a Bearer token and receives a session
token for each address. The route answers 404 while the setting is empty, compares the token
in constant time, and only signs addresses under the reserved ``.invalid`` test domain
(RFC 2606), so a leaked load-test token cannot impersonate a real user.
"""

from __future__ import annotations

import hmac

import structlog
from aiohttp import hdrs, web

from store.validation import ValidationError, name_from_email, parse_email
from web import keys
from web.api import response_models as out
from web.api.errors import ApiError
from web.api.jsonio import answer, read_body
from web.api.request_models import LoadtestSignIn
from web.auth import session_token_for

log = structlog.get_logger(__name__)

LOADTEST_DOMAIN = "loadtest.invalid"
"""Load-test users live here; the load tester builds its addresses under this domain."""


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
    if not email.endswith("@" + LOADTEST_DOMAIN):
        raise ValidationError("email", f"Load-test users must have an @{LOADTEST_DOMAIN} address")
    await app[keys.STORE].ensure_profile(email, name_from_email(email))
    log.info("auth.loadtest_sign_in", email=email)
    return answer(out.LoadtestToken(token=session_token_for(app, email), email=email))


def setup_loadtest_auth(app: web.Application) -> None:
    app.router.add_post("/api/auth/loadtest", loadtest_sign_in)

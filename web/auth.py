"""Who is signed in: session JWTs, the session cookie, magic links and the CSRF check.

A session is a JWT (HS256) carrying the e-mail address as ``sub``. Its header names the
signing secret by ``kid`` (a short hash of the secret), so after a rotation tokens signed
with ``auth.previous_secrets`` keep working until they expire. Browsers hold the token in an
HttpOnly, SameSite=Lax cookie (Secure when the public URL is https); other clients may send
``Authorization: Bearer <jwt>``.

Every token carries an id (``jti``) and its issue time in milliseconds (``iat_ms``). Signing
out revokes that id in the store; "sign out everywhere" revokes every token of the person
issued until then. ``current_user`` checks both with one store lookup on every authenticated
request (no per-process cache, so a sign-out holds on every node at once).

Sign-in links carry a random token; only its SHA-256 hash is stored, and the store consumes
it atomically, so a link works once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from urllib.parse import urlencode, urlsplit

import jwt
import structlog
from aiohttp import hdrs, web

from config.settings import Settings
from store.models import utcnow
from web import keys
from web.mail.messages import signin_mail

log = structlog.get_logger(__name__)

COOKIE_NAME = "panamia_session"
ALGORITHM = "HS256"
DEFAULT_NEXT = "/mentoring/sessions"
_USER_KEY: web.RequestKey[str | None] = web.RequestKey("panamia_user")
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- settings-derived switches ------------------------------------------------------------
def dev_login_enabled(settings: Settings, request: web.Request | None = None) -> bool:
    """Show sign-in links on the page? Unset means: on for a loopback server without SMTP,
    and (given a request) only to a person on this machine."""
    if settings.auth.dev_login is not None:
        return settings.auth.dev_login
    return local_without_smtp(settings, request)


def local_without_smtp(settings: Settings, request: web.Request | None = None) -> bool:
    """A newcomer's server: on localhost with no SMTP configured. Then sign-in links show on
    the page and the Messages page shows what e-mail would have been sent. Given a request,
    also only when its peer is this machine: a reverse proxy on the same host makes a
    loopback listener reachable by anyone, who must not read everyone's sign-in links."""
    if not _is_loopback(settings.http.host) or settings.smtp.smtp_host:
        return False
    return request is None or peer_is_loopback(request)


def peer_is_loopback(request: web.Request) -> bool:
    """Whether the request comes from this machine and not through a proxy. ``remote`` is
    the TCP peer, or the client a trusted proxy named; any forwarding header means a proxy
    relayed it, whatever its own address."""
    forwarded = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
    if any(name in request.headers for name in forwarded):
        return False
    return _is_loopback(request.remote or "")


def sign_in_unreachable(settings: Settings) -> str | None:
    """Why nobody could sign in to a server with these settings, or None. Without SMTP the
    sign-in links are shown on the page and on the Messages page only on a loopback server;
    anywhere else they would go nowhere (they are secrets and never logged)."""
    if settings.smtp.smtp_host or settings.auth.dev_login or settings.auth.loadtest_token:
        return None  # mail goes out, or links show on the page, or a load-test server
    if _is_loopback(settings.http.host):
        return None
    return (
        f"http.host is {settings.http.host}, not this machine alone, and no SMTP server is set:"
        " sign-in links could reach nobody. Configure [mail] (smtp_host, from_address, ...),"
        " or serve on 127.0.0.1, or set auth.dev_login = true to show links on the page"
        " (only for a trusted test server: anyone could sign in as anyone)."
    )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def secure_cookies(settings: Settings) -> bool:
    return settings.public_url.lower().startswith("https://")


# --- session tokens -----------------------------------------------------------------------
def key_id(secret: str) -> str:
    """A short, stable name for a signing secret (never the secret itself)."""
    return hashlib.sha256(b"panamia-jwt-kid:" + secret.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TokenClaims:
    """What a valid session token says."""

    email: str
    token_id: str
    """``jti``; for a token from before ids existed, a hash of the token itself."""
    issued_at: datetime
    expires_at: datetime


def issue_token(secret: str, email: str, ttl_s: int, now: datetime | None = None) -> str:
    issued = now or utcnow()
    claims = {
        "sub": email,
        "jti": secrets.token_urlsafe(16),
        "iat": int(issued.timestamp()),
        "iat_ms": int(issued.timestamp() * 1000),
        "exp": int((issued + timedelta(seconds=ttl_s)).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": key_id(secret)})


def decode_token(token: str, candidates: Sequence[str]) -> str | None:
    """The e-mail in a valid token signed by one of ``candidates``, else None (the signature
    and expiry only: whether it was revoked is the store's to say, see ``current_user``)."""
    claims = decode_claims(token, candidates)
    return None if claims is None else claims.email


def decode_claims(token: str, candidates: Sequence[str]) -> TokenClaims | None:
    """The claims of a valid token signed by one of ``candidates``, else None."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return None
    kid = header.get("kid")
    if not isinstance(kid, str) or header.get("alg") != ALGORITHM:
        return None
    for secret in candidates:
        if secret and key_id(secret) == kid:
            try:
                claims = jwt.decode(
                    token,
                    secret,
                    algorithms=[ALGORITHM],
                    options={"require": ["sub", "iat", "exp"]},
                )
            except jwt.PyJWTError:
                return None
            return _claims(token, claims)
    return None


def _claims(token: str, claims: dict[str, object]) -> TokenClaims | None:
    subject, token_id = claims.get("sub"), claims.get("jti")
    issued_s, issued_ms, expires = claims.get("iat"), claims.get("iat_ms"), claims.get("exp")
    if not isinstance(subject, str) or not subject:
        return None
    if not isinstance(issued_s, int) or not isinstance(expires, int):
        return None
    if not isinstance(token_id, str) or not token_id:
        token_id = "sha256:" + hashlib.sha256(token.encode()).hexdigest()
    milliseconds = issued_ms if isinstance(issued_ms, int) else issued_s * 1000
    return TokenClaims(
        email=subject.lower(),
        token_id=token_id[:64],
        issued_at=datetime.fromtimestamp(milliseconds / 1000, UTC),
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


def _signing_secrets(app: web.Application) -> list[str]:
    runtime = app[keys.SECRETS]
    return [s.reveal() for s in (runtime.auth_secret, *runtime.auth_previous) if s]


def session_token_for(app: web.Application, email: str) -> str:
    settings = app[keys.SETTINGS]
    return issue_token(app[keys.SECRETS].auth_secret.reveal(), email, settings.auth.session_ttl_s)


def set_session_cookie(response: web.StreamResponse, token: str, settings: Settings) -> None:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=settings.auth.session_ttl_s,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(settings),
    )


def clear_session_cookie(response: web.StreamResponse, settings: Settings) -> None:
    response.del_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="Lax", secure=secure_cookies(settings)
    )


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


async def current_user(request: web.Request) -> str | None:
    """E-mail of the signed-in user, or None.

    An ``Authorization`` header, when present, is the only credential looked at (so a
    request carrying one is never authenticated by the cookie).
    """
    if _USER_KEY in request:
        return request[_USER_KEY]
    claims = await current_claims(request)
    email = None if claims is None else claims.email
    request[_USER_KEY] = email
    return email


def _presented_token(request: web.Request) -> str:
    bearer = _bearer(request)
    return bearer if bearer is not None else request.cookies.get(COOKIE_NAME, "")


async def current_claims(request: web.Request) -> TokenClaims | None:
    """The claims of the request's session token when it is valid and not revoked."""
    token = _presented_token(request)
    claims = decode_claims(token, _signing_secrets(request.app)) if token else None
    if claims is None:
        return None
    store = request.app[keys.STORE]
    if await store.session_revoked(claims.email, claims.token_id, claims.issued_at):
        return None
    return claims


async def revoke_current_token(request: web.Request) -> None:
    """Sign-out: the request's session token, if valid, is refused from now on."""
    claims = await current_claims(request)
    if claims is not None:
        await request.app[keys.STORE].revoke_session_token(
            claims.token_id, claims.expires_at, utcnow()
        )
        log.info("auth.signed_out", email=claims.email)


async def revoke_every_token(request: web.Request, email: str) -> None:
    """Sign out everywhere: every token of ``email`` issued until now is refused."""
    now = utcnow()
    ttl = timedelta(seconds=request.app[keys.SETTINGS].auth.session_ttl_s)
    await request.app[keys.STORE].revoke_sessions_before(email, now, now + ttl)
    log.info("auth.signed_out_everywhere", email=email)


def unauthorized() -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(
        text=json.dumps({"error": "Unauthorized"}), content_type="application/json"
    )


async def require_user(request: web.Request) -> str:
    """The signed-in user's e-mail; raises 401 with a JSON body otherwise."""
    email = await current_user(request)
    if email is None:
        raise unauthorized()
    return email


# --- CSRF ---------------------------------------------------------------------------------
def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def is_cross_site(request: web.Request) -> bool:
    """True when a browser says the request comes from another site."""
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return True
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return False  # not a browser, or a same-origin GET-like navigation
    allowed = {
        f"{request.scheme}://{request.host}".lower(),
        _origin_of(request.app[keys.SETTINGS].public_url),
    }
    return origin.strip().lower() not in allowed


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse unsafe requests a browser sent from another site.

    Cookies ride along on cross-site form posts; SameSite=Lax already stops most of them, and
    this check stops the rest (Origin and Fetch Metadata). Requests carrying an Authorization
    header are exempt: they never use the cookie and browsers cannot forge that header
    cross-site without CORS, which this server does not grant.
    """
    if (
        request.method in _UNSAFE_METHODS
        and hdrs.AUTHORIZATION not in request.headers
        and is_cross_site(request)
    ):
        log.info("auth.csrf_refused", path=request.path, origin=request.headers.get("Origin"))
        return web.json_response({"error": "Cross-site request refused"}, status=403)
    return await handler(request)


# --- magic links --------------------------------------------------------------------------
def hash_link_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_link_token() -> str:
    return secrets.token_urlsafe(32)


def link_base_url(request: web.Request) -> str:
    """Where sign-in links point: ``http.public_url`` when set. Without it, the address the
    person is browsing when that is this machine's own loopback name on the configured port
    (127.0.0.1:8080 and localhost:8080 are different origins with different cookies), else
    the default public URL. Other Host headers are never believed: a forged one must not
    steer a mailed link to someone else's server."""
    settings = request.app[keys.SETTINGS]
    if settings.http.public_url:
        return settings.public_url
    try:
        host, port = request.url.host or "", request.url.port
    except ValueError:  # a Host header that is no host at all
        return settings.public_url
    if _is_loopback(host) and port == settings.http.port:
        return f"http://{request.host}"
    return settings.public_url


def callback_url(
    base_url: str, token: str, next_path: str | None, time_zone: str | None = None
) -> str:
    query = {"token": token}
    if next_path:
        query["next"] = next_path
    if time_zone:
        query["tz"] = time_zone  # a new profile's zone (see web.api.auth.callback)
    return f"{base_url}/auth/callback?{urlencode(query)}"


async def create_login_link(
    app: web.Application,
    email: str,
    next_path: str | None,
    base_url: str | None = None,
    time_zone: str | None = None,
) -> str:
    """Store a new single-use token for ``email`` and return the link that spends it, on
    ``base_url`` (default: the public URL; see link_base_url)."""
    settings = app[keys.SETTINGS]
    token = new_link_token()
    expires = utcnow() + timedelta(seconds=settings.auth.magic_link_ttl_s)
    await app[keys.STORE].add_login_token(hash_link_token(token), email, expires)
    return callback_url(base_url or settings.public_url, token, next_path, time_zone)


async def deliver_login_link(app: web.Application, email: str, link: str) -> None:
    """Queue the sign-in e-mail in the outbox; the sender delivers it (or logs that it would
    have, without the link, when no SMTP server is configured). Never waits for SMTP."""
    settings = app[keys.SETTINGS]
    now = utcnow()
    minutes = max(1, settings.auth.magic_link_ttl_s // 60)
    message = signin_mail(email, link, hash_link_token(link), minutes, now)
    await app[keys.STORE].enqueue_mail([message])
    sender = app.get(keys.MAIL)
    if sender is not None:
        sender.kick()
    log.info("auth.link_queued", email=email)

"""create_app(settings): the one place that builds the services and picks the backends.

``create_app`` does no I/O: it fills the settings, builds the metrics registry and registers
routes. Every service is built in a ``cleanup_ctx`` here and stored under a ``web.keys`` key;
they open in order (secrets, store, mail sender, bus, hub, notes rooms, relay) and close in
reverse, so nothing outlives what it depends on. Web modules only register routes and read
those keys.
"""

from __future__ import annotations

import secrets as pysecrets
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import structlog
from aiohttp import WSCloseCode, web

from config.runtime_secrets import load_or_create
from config.settings import Settings
from panamia.backends import make_bus, make_limiter, make_store
from panamia.metrics import make_metrics
from relay.manager import RelayManager
from signaling.hub import Hub
from signaling.routes import setup_signaling_routes
from turn.stun_server import StunResponder
from web import keys
from web.api.ice import own_stun_uris
from web.body_limit import MAX_REQUEST_BODY, refuse_oversize_bodies
from web.headers import set_common_headers
from web.loadtest_auth import setup_loadtest_auth
from web.mail.routes import setup_mail_routes
from web.mail.sender import LogTransport, MailSender, SmtpTransport, Transport
from web.metrics import setup_metrics_routes
from web.notes import setup_notes
from web.notes.service import NotesService
from web.relay import relay_ice_servers, setup_relay
from web.routes import setup_routes
from web.services.notify import session_sequence
from web.session_chat import SessionChat
from web.wsmedia import MediaRooms, setup_wsmedia

log = structlog.get_logger("panamia.app")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[request_context, refuse_oversize_bodies(MAX_REQUEST_BODY)],
        client_max_size=MAX_REQUEST_BODY,
    )
    app[keys.SETTINGS] = settings
    app[keys.WEBSOCKETS] = weakref.WeakSet()
    app[keys.METRICS] = make_metrics()
    app.cleanup_ctx.extend(
        [
            _secrets_ctx,
            _store_ctx,
            _mail_ctx,
            _bus_ctx,
            _limits_ctx,
            _hub_ctx,
            _notes_ctx,
            _relay_ctx,
            _stun_ctx,
            _wsmedia_ctx,
        ]
    )
    app.on_response_prepare.append(set_common_headers)
    app.on_shutdown.append(_close_websockets)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    setup_metrics_routes(app)
    setup_notes(app)
    setup_relay(app)
    setup_wsmedia(app)
    setup_loadtest_auth(app)
    setup_routes(app)
    setup_mail_routes(app)
    setup_signaling_routes(app)
    return app


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind a request id to every log line written while handling the request."""
    request_id = request.headers.get("X-Request-Id", "")[:64] or pysecrets.token_hex(8)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        response = await handler(request)
    finally:
        structlog.contextvars.clear_contextvars()
    response.headers.setdefault("X-Request-Id", request_id)
    return response


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


_NOT_READY = {
    "store": "The database does not answer",
    "bus": "The message bus (Redis) does not answer",
}
"""What a 503 from /readyz says per network dependency: fixed texts, so the answer never shows
a host, a port or a driver's message to whoever can reach the probe (the log has the detail).
The relay's reason is kept: it names a library mismatch found at start-up, never an address."""


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    problems: dict[str, str] = {}
    try:
        await app[keys.STORE].ping()
    except Exception as exc:
        log.warning("readyz.store_down", detail=str(exc) or type(exc).__name__)
        problems["store"] = _NOT_READY["store"]
    try:
        await app[keys.BUS].ping()
    except Exception as exc:
        log.warning("readyz.bus_down", detail=str(exc) or type(exc).__name__)
        problems["bus"] = _NOT_READY["bus"]
    relay = app.get(keys.RELAY)
    if relay is not None and relay.unavailable_reason is not None:
        problems["relay"] = relay.unavailable_reason
    if problems:
        return web.json_response({"status": "unavailable", "problems": problems}, status=503)
    return web.json_response({"status": "ready"})


async def _secrets_ctx(app: web.Application) -> AsyncIterator[None]:
    app[keys.SECRETS] = load_or_create(app[keys.SETTINGS])
    yield


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    store = make_store(app[keys.SETTINGS])
    await store.open()
    app[keys.STORE] = store
    log.info("store.opened", backend=type(store).__name__)
    try:
        yield
    finally:
        await store.close()


async def _mail_ctx(app: web.Application) -> AsyncIterator[None]:
    """The outbox sender of this node: SMTP when configured, else the log."""
    mail = app[keys.SETTINGS].smtp
    transport: Transport = SmtpTransport(mail) if mail.smtp_host else LogTransport()
    sender = MailSender(app[keys.STORE], mail, transport, sequence_of=session_sequence)
    app[keys.MAIL] = sender
    app[keys.METRICS].mail_stats = sender.stats
    sender.start()
    log.info("mail.started", transport=type(transport).__name__, owner=sender.owner)
    try:
        yield
    finally:
        await sender.close()


async def _bus_ctx(app: web.Application) -> AsyncIterator[None]:
    bus = make_bus(app[keys.SETTINGS].bus)
    await bus.start()
    app[keys.BUS] = bus
    log.info("bus.started", backend=type(bus).__name__)
    try:
        yield
    finally:
        await bus.close()


async def _limits_ctx(app: web.Application) -> AsyncIterator[None]:
    """The rate limiter: in Redis (its own connection) when the bus uses Redis, so the limits
    hold for the whole cluster; in this process otherwise."""
    limiter = make_limiter(app[keys.SETTINGS].bus)
    app[keys.LIMITER] = limiter
    log.info("limits.started", backend=type(limiter).__name__)
    try:
        yield
    finally:
        await limiter.close()


async def _hub_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    hub = Hub(
        settings=settings.pusher,
        secret=app[keys.SECRETS].pusher_secret,
        bus=app[keys.BUS],
        persisted=SessionChat(app[keys.STORE]),
    )
    await hub.start()
    app[keys.HUB] = hub
    app[keys.METRICS].hub_stats = hub.stats
    try:
        yield
    finally:
        await hub.close()


async def _notes_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    service = NotesService(app[keys.STORE], Path(settings.store.data_dir) / "notes")
    app[keys.NOTES] = service
    try:
        yield
    finally:
        await service.close()


async def _relay_ctx(app: web.Application) -> AsyncIterator[None]:
    manager = RelayManager(app[keys.SETTINGS].relay, lambda: relay_ice_servers(app))
    try:
        # The self-check of aiortc's internals. It never raises: a failure disables the relay
        # (offers get 503) while the rest of the server keeps serving, and /readyz says why.
        # Inside the try, so a failed start still closes the manager.
        await manager.start()
        app[keys.RELAY] = manager
        app[keys.METRICS].relay_stats = manager.stats
        yield
    finally:
        await manager.close()


async def _stun_ctx(app: web.Application) -> AsyncIterator[None]:
    """The built-in STUN responder. A port already taken (say by coturn) is logged, not
    fatal: the web app and the relay work without it, only direct calls across NATs suffer."""
    settings = app[keys.SETTINGS]
    own_stun_uris(settings, 0)  # a bad stun.uris entry stops the start, naming the entry
    if not settings.stun.enabled:
        yield
        return
    responder = StunResponder(settings.stun.host or settings.http.host, settings.stun.port)
    try:
        await responder.start()
    except OSError as exc:
        log.warning(
            "stun.not_listening",
            port=settings.stun.port,
            error=exc.strerror or type(exc).__name__,
            hint="free the port or set stun.port (or stun.enabled = false)",
        )
        yield
        return
    app[keys.STUN] = responder
    try:
        yield
    finally:
        await responder.close()


async def _wsmedia_ctx(app: web.Application) -> AsyncIterator[None]:
    """Media over websockets: the sockets of this node's live sessions."""
    media = MediaRooms()
    app[keys.WSMEDIA] = media
    app[keys.METRICS].wsmedia_stats = media.figures
    try:
        yield
    finally:
        await media.close_all()


async def _close_websockets(app: web.Application) -> None:
    open_sockets: weakref.WeakSet[web.WebSocketResponse] = app[keys.WEBSOCKETS]
    for ws in list(open_sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

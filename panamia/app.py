"""create_app(settings): the one place that builds the services and picks the backends.

``create_app`` does no I/O: it fills the settings, builds the metrics registry and registers
routes. Every service is built in a ``cleanup_ctx`` here and stored under a ``web.keys`` key;
they open in order (secrets, store, mail sender, bus, hub, notes rooms, call quality,
relay) and close in reverse, so nothing outlives what it depends on. Web modules only register
routes and read those keys.
"""

from __future__ import annotations

import secrets as pysecrets
import sys
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import structlog
from aiohttp import WSCloseCode, web
from aiortc import RTCIceServer

from config.runtime_secrets import load_or_create
from config.settings import Settings
from panamia.backends import make_bus, make_connection_counts, make_limiter, make_store
from panamia.metrics import make_metrics
from relay.manager import RelayManager
from relay.pool import WorkerPool
from relay.service import RelayService
from signaling.hub import Hub, HubLimits
from signaling.routes import setup_signaling_routes
from turn.stun_server import StunResponder
from web import keys
from web.api.ice import own_stun_uris
from web.body_limit import MAX_REQUEST_BODY, refuse_oversize_bodies
from web.headers import set_common_headers
from web.hub_limits import AddressGate, UserEventLimit
from web.limits import Rate
from web.loadtest_auth import setup_loadtest_auth
from web.mail.routes import setup_mail_routes
from web.mail.sender import LogTransport, MailSender, SmtpTransport, Transport
from web.metrics import setup_metrics_routes
from web.node import node_name
from web.notes import setup_notes
from web.notes.service import NotesService
from web.quality.service import QualityService
from web.relay import relay_ice_servers, setup_relay
from web.rooms.forward import RoomRouter, forward_rooms
from web.rooms.lease import RoomLeases
from web.rooms.states import RedisDocumentStates
from web.routes import setup_routes
from web.services.notify import session_sequence
from web.services.recording import RecordingService
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
            _quality_ctx,
            _relay_ctx,
            _recording_ctx,
            _stun_ctx,
            _wsmedia_ctx,
        ]
    )
    if cluster_rooms(settings):
        # Room ownership: only in cluster mode, so a single node has no extra hop at all.
        app.cleanup_ctx.append(_rooms_ctx)
        app.middlewares.append(forward_rooms)
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
    body: dict[str, object] = {"status": "ready"}
    if isinstance(relay, WorkerPool):
        body["relay_workers"] = {
            "running": relay.stats()["workers_alive"],
            "configured": relay.size,
        }
    return web.json_response(body)


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
    """The hub, with the app's limits: connections per client address (counted in Redis
    when the bus uses it) and client events per user (from the shared rate limiter)."""
    settings = app[keys.SETTINGS]
    limits = settings.limits
    refused = app[keys.METRICS].rate_limited
    counts = make_connection_counts(settings.bus)
    await counts.start()
    user_rate = Rate(limits.client_events_per_user_per_second, limits.client_events_per_user_burst)
    hub = Hub(
        settings=settings.pusher,
        secret=app[keys.SECRETS].pusher_secret,
        bus=app[keys.BUS],
        limits=HubLimits(client_events_per_user_s=user_rate.per_second),
        persisted=SessionChat(app[keys.STORE]),
        gate=AddressGate(counts, limits.hub_connections_per_address, refused),
        client_event_limit=UserEventLimit(app[keys.LIMITER], user_rate, refused),
    )
    await hub.start()
    app[keys.HUB] = hub
    app[keys.METRICS].hub_stats = hub.stats
    try:
        yield
    finally:
        await hub.close()
        await counts.close()


def cluster_rooms(settings: Settings) -> bool:
    """Whether this node shares rooms with others (``cluster.internal_url`` is set). It needs
    Redis, where the leases live: without it the settings are refused."""
    if not settings.cluster.internal_url:
        return False
    if not settings.bus.redis_url:
        raise ValueError("cluster.internal_url needs bus.redis_url: room leases live in Redis")
    return True


async def _notes_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    # In a cluster the next owner of a room loads the CRDT state the last one saved.
    shared = (
        RedisDocumentStates(settings.bus.redis_url.reveal()) if cluster_rooms(settings) else None
    )
    service = NotesService(app[keys.STORE], Path(settings.store.data_dir) / "notes", states=shared)
    app[keys.NOTES] = service
    try:
        yield
    finally:
        await service.close()
        if shared is not None:
            await shared.close()


async def _quality_ctx(app: web.Application) -> AsyncIterator[None]:
    """Call-quality reports of this node; its last summaries are saved on the way out. With
    Redis (cluster mode) the live window is shared, so any node's console shows every call."""
    settings = app[keys.SETTINGS]
    histograms = app[keys.METRICS].quality
    service = QualityService(
        app[keys.STORE],
        settings.quality,
        node_name(settings),
        observe=histograms.observe if histograms is not None else None,
        redis_url=settings.bus.redis_url.reveal(),
    )
    app[keys.QUALITY] = service
    service.start()
    try:
        yield
    finally:
        await service.close()


def build_relay(app: web.Application) -> RelayService:
    """The relay of this node: worker processes (``relay.workers`` >= 0), or in this process
    (``relay.workers = -1``). Either way its server peers get fresh TURN credentials per room."""
    settings = app[keys.SETTINGS]

    def ice() -> list[RTCIceServer]:
        return relay_ice_servers(app)

    if settings.relay.workers < 0:
        return RelayManager(settings.relay, ice)
    return WorkerPool(
        settings.relay,
        ice,
        command=(sys.executable, "-m", "panamia.relay_worker"),
        log_level=settings.log.level,
        log_json=settings.log.json,
    )


async def _relay_ctx(app: web.Application) -> AsyncIterator[None]:
    manager = build_relay(app)
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


async def _rooms_ctx(app: web.Application) -> AsyncIterator[None]:
    """Leases on this node's rooms; losing one closes the room's notes and relay calls here."""
    settings = app[keys.SETTINGS]
    leases = RoomLeases(
        settings.bus.redis_url.reveal(), settings.cluster.internal_url, settings.cluster.lease_ttl_s
    )
    router = RoomRouter(leases, settings.cluster.forward_timeout_s)
    notes = app[keys.NOTES]

    def busy(session_id: str) -> bool:
        if notes.room(session_id) is not None:
            return True
        relay = app.get(keys.RELAY)
        callers = router.relay_callers(session_id)
        return relay is not None and any(relay.has_participant(session_id, c) for c in callers)

    async def lost(session_id: str) -> None:
        router.forget(session_id)
        await notes.drop(session_id)
        relay = app.get(keys.RELAY)
        if relay is not None:
            await relay.end(session_id)

    leases.busy_when(busy)
    leases.on_lost(lost)
    await router.start()
    app[keys.ROOMS] = router
    log.info("rooms.started", internal_url=leases.self_url, lease_ttl_s=leases.ttl_s)
    try:
        yield
    finally:
        await router.close()


async def _recording_ctx(app: web.Application) -> AsyncIterator[None]:
    service = RecordingService(app[keys.SETTINGS], app[keys.STORE], app[keys.RELAY], app[keys.HUB])
    app[keys.RECORDINGS] = service
    service.start()
    try:
        yield
    finally:
        await service.close()


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

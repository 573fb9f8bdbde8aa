"""Room leases in Redis: which node owns a session's room, kept alive by its owner.

The first node that needs a session's room claims it (:meth:`RoomLeases.resolve` with
``claim=True``); the lease names the owner's internal URL and a fence (see scripts.py). The
owner renews its leases every quarter of the TTL. It counts a lease as its own only until
``2/3`` of the TTL has passed since the last renewal it *sent* that Redis confirmed, which is
always before the key can expire in Redis: when renewals fail (Redis down, the node stalled),
the owner gives the room up (its ``on_lost`` listeners close the local relay and notes) before
any other node could take it. A node that stops cleanly releases its leases at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from web.rooms import scripts

log = structlog.get_logger(__name__)

LostListener = Callable[[str], Awaitable[None]]
BusyCheck = Callable[[str], bool]

VALID_FRACTION = 2 / 3
"""Share of the TTL after a confirmed renewal during which the owner still serves the room."""
IDLE_RELEASE_S = 60.0
"""A held room nobody used for this long (no open notes, no relay call) is released."""


@dataclass(frozen=True)
class Owner:
    """Who owns a room: the node's internal URL and the fence of its lease."""

    url: str
    fence: str

    @property
    def value(self) -> str:
        return f"{self.fence} {self.url}"

    @classmethod
    def parse(cls, value: str | bytes) -> Owner:
        text = value.decode() if isinstance(value, bytes) else value
        fence, _, url = text.partition(" ")
        return cls(url=url, fence=fence)


class RoomsUnavailable(Exception):
    """Redis does not answer, or a restarted Redis is still in its grace period."""


@dataclass
class _Held:
    owner: Owner
    confirmed_at: float
    last_busy_at: float


class RoomLeases:
    """This node's view of room ownership, and the leases it holds."""

    def __init__(
        self,
        redis_url: str,
        self_url: str,
        ttl_s: float,
        *,
        prefix: str = "panamia:rooms:",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.self_url = self_url.rstrip("/")
        self.ttl_s = ttl_s
        self._ttl_ms = int(ttl_s * 1000)
        self._redis: Redis = Redis.from_url(
            redis_url, socket_timeout=ttl_s / 4, socket_connect_timeout=ttl_s / 4
        )
        self._prefix = prefix
        self._epoch_key = prefix + "epoch"
        self._grace_key = prefix + "grace"
        self._clock = clock
        self._held: dict[str, _Held] = {}
        self._lost_listeners: list[LostListener] = []
        self._busy_checks: list[BusyCheck] = []
        self._claim = self._redis.register_script(scripts.CLAIM)
        self._renew = self._redis.register_script(scripts.RENEW)
        self._release = self._redis.register_script(scripts.RELEASE)
        self._open = self._redis.register_script(scripts.OPEN)
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._losing: set[asyncio.Task[None]] = set()

    # -- wiring -----------------------------------------------------------------------------

    def on_lost(self, listener: LostListener) -> None:
        """Call ``listener(session_id)`` when this node gives a room up (lost or released)."""
        self._lost_listeners.append(listener)

    def busy_when(self, check: BusyCheck) -> None:
        """A room stays held while any ``check(session_id)`` is true (else released when idle)."""
        self._busy_checks.append(check)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._renewal_loop(), name="room-leases")

    async def close(self) -> None:
        """Stop renewing and release every held lease, so another node takes over at once."""
        # The flag as well as the cancel: a cancel that lands as a Redis command's own timeout
        # fires comes back as the client's TimeoutError, which a renewal round survives.
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            # wait, not "suppress(CancelledError): await": that would also swallow a
            # cancellation of whoever is closing (a shutdown that must not wait any longer),
            # and gather would wait for a loop that ignores its cancel.
            await asyncio.wait({self._task})
        for session_id in list(self._held):
            await self.release(session_id)
        if self._losing:
            await asyncio.wait(self._losing)
        await self._redis.aclose()

    # -- queries ----------------------------------------------------------------------------

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}lease:{session_id}"

    def holds(self, session_id: str, fence: str | None = None) -> bool:
        """True while this node may serve the room (with that fence, when one is given)."""
        held = self._held.get(session_id)
        if held is None or not self._valid(held):
            return False
        return fence is None or held.owner.fence == fence

    def held(self) -> list[str]:
        return [session_id for session_id, held in self._held.items() if self._valid(held)]

    def touch(self, session_id: str) -> None:
        """The room was used just now (keeps an otherwise idle room from being released)."""
        held = self._held.get(session_id)
        if held is not None:
            held.last_busy_at = self._clock()

    def _valid(self, held: _Held) -> bool:
        return self._clock() - held.confirmed_at < self.ttl_s * VALID_FRACTION

    async def resolve(
        self, session_id: str, *, claim: bool, wait_s: float | None = None
    ) -> Owner | None:
        """The room's owner; with ``claim``, this node claims a free room and becomes it.

        Without ``claim`` a free room has no owner (None). A restarted Redis's grace period is
        waited out (at most ``wait_s``, default 1.5 TTL); raises RoomsUnavailable when Redis
        does not answer or the wait would be longer.
        """
        held = self._held.get(session_id)
        if held is not None and self._valid(held):
            return held.owner
        deadline = self._clock() + (self.ttl_s * 1.5 if wait_s is None else wait_s)
        failures = 0
        while True:
            try:
                found, wait = await self._resolve_once(session_id, claim)
            except RedisError as exc:
                # One retry: the first command after a Redis restart fails on a pooled
                # connection that died with the old server.
                failures += 1
                log.warning("rooms.redis_error", session_id=session_id, error=type(exc).__name__)
                if failures > 1:
                    raise RoomsUnavailable("the room directory (Redis) does not answer") from exc
                continue
            if wait is None:
                return found
            if self._clock() + wait > deadline:
                raise RoomsUnavailable("the room directory restarted; try again shortly")
            await asyncio.sleep(min(wait, 0.5))

    async def _resolve_once(
        self, session_id: str, claim: bool
    ) -> tuple[Owner | None, float | None]:
        """``(owner, None)`` when settled, ``(None, seconds)`` to ask again after a wait."""
        if not claim:
            value = await self._redis.get(self._key(session_id))
            if value is None:
                return None, None
            owner = await self._adopt(session_id, value)
            return (owner, None) if owner is not None else (None, 0.05)
        sent_at = self._clock()
        status, payload = await self._claim(
            keys=[self._key(session_id), self._epoch_key, self._grace_key],
            args=[self.self_url, self._ttl_ms],
        )
        if int(status) == 2:
            return None, int(payload) / 1000
        owner = Owner.parse(payload)
        if owner.url != self.self_url:
            return owner, None
        if int(status) == 0:
            self._held[session_id] = _Held(owner, sent_at, sent_at)
            log.info("rooms.claimed", session_id=session_id, fence=owner.fence)
            return owner, None
        if await self._reassert(session_id, owner):
            return owner, None
        return None, 0.05

    async def _adopt(self, session_id: str, value: str | bytes) -> Owner | None:
        owner = Owner.parse(value)
        if owner.url != self.self_url:
            return owner
        return owner if await self._reassert(session_id, owner) else None

    async def _reassert(self, session_id: str, owner: Owner) -> bool:
        """A lease in Redis names this node but the node no longer counts it as held (its
        renewals lapsed locally): take it back by compare-and-set, or not at all."""
        sent_at = self._clock()
        result = await self._renew(
            keys=[self._key(session_id), self._epoch_key, self._grace_key],
            args=[owner.value, self._ttl_ms],
        )
        if int(result) == 0:
            return False
        self._held[session_id] = _Held(owner, sent_at, sent_at)
        log.info("rooms.reasserted", session_id=session_id, fence=owner.fence)
        return True

    # -- giving up --------------------------------------------------------------------------

    async def release(self, session_id: str) -> None:
        """Give a held room up: delete its lease if it is still ours, tell the listeners."""
        held = self._held.pop(session_id, None)
        if held is None:
            return
        with contextlib.suppress(RedisError):
            await self._release(keys=[self._key(session_id)], args=[held.owner.value])
        log.info("rooms.released", session_id=session_id)
        await self._notify_lost(session_id)

    def _drop(self, session_id: str, why: str) -> None:
        if self._held.pop(session_id, None) is None:
            return
        log.warning("rooms.lost", session_id=session_id, why=why)
        task = asyncio.create_task(self._notify_lost(session_id))
        self._losing.add(task)
        task.add_done_callback(self._losing.discard)

    async def _notify_lost(self, session_id: str) -> None:
        for listener in self._lost_listeners:
            try:
                await listener(session_id)
            except Exception as exc:
                log.error("rooms.lost_listener_failed", session_id=session_id, error=repr(exc))

    # -- renewal ----------------------------------------------------------------------------

    async def _renewal_loop(self) -> None:
        interval = self.ttl_s / 4
        while not self._closing:
            started = self._clock()
            await self.renew_all()
            await asyncio.sleep(max(0.05, interval - (self._clock() - started)))

    async def renew_all(self) -> None:
        """One renewal round: renew, re-assert after a Redis restart, drop what is lost or
        expired locally, release what is idle."""
        with contextlib.suppress(RedisError):
            # Opens a restarted Redis's grace period even while this node holds no room.
            await self._open(keys=[self._epoch_key, self._grace_key], args=[self._ttl_ms])
        for session_id, held in list(self._held.items()):
            if not self._valid(held):
                self._drop(session_id, "renewals failed for too long")
                continue
            now = self._clock()
            if any(check(session_id) for check in self._busy_checks):
                held.last_busy_at = now
            elif now - held.last_busy_at > IDLE_RELEASE_S:
                await self.release(session_id)
                continue
            try:
                result = await self._renew(
                    keys=[self._key(session_id), self._epoch_key, self._grace_key],
                    args=[held.owner.value, self._ttl_ms],
                )
            except RedisError as exc:
                log.warning("rooms.renew_failed", session_id=session_id, error=type(exc).__name__)
                continue
            if int(result) == 0:
                self._drop(session_id, "another node holds the lease")
            elif self._held.get(session_id) is held:
                held.confirmed_at = now
                if int(result) == 2:
                    log.info("rooms.reasserted", session_id=session_id)

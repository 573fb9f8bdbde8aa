"""The Redis bus: pub/sub for messages, Redis hashes (updated by Lua scripts) for cluster state.

Redis runs without persistence (compose.yaml), so a restart loses everything. Each node
therefore keeps its own share of the cluster state in memory — its presence connections and
its subscription counts — and writes it back whenever it reconnects or finds itself missing
from the node list:

- while Redis is down or the node is still recovering, :attr:`RedisBus.available` is False,
  :meth:`RedisBus.ping` raises (so ``/readyz`` says "bus") and :meth:`publish_confirmed`
  raises :class:`BusUnavailable`;
- the listener notices the lost connection, then retries: it opens a new pub/sub connection,
  subscribes to every topic and waits for Redis to confirm each subscription, refreshes the
  heartbeat, re-asserts presence and occupancy, and only then marks the bus available again.

Connections that left during the outage are removed from Redis during the re-assert, and
reported through ``on_node_lost`` (as a loss of this node's share) so other nodes' clients
get ``member_removed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import deque
from typing import Any

import structlog

from signaling import redis_scripts as scripts
from signaling.bus import (
    BusUnavailable,
    MessageHandler,
    NodeLoss,
    NodeLossHandler,
    PresenceJoin,
    RecoveryHandler,
)

log = structlog.get_logger(__name__)

_SEP = "\x1f"
CLOSE_TIMEOUT_S = 5.0
"""Closing never waits longer than this on Redis."""
RETRY_S = 0.25
"""Pause between two attempts to reach Redis again after an outage."""
CONFIRM_TIMEOUT_S = 5.0
"""How long a confirmed publish (or the subscribe confirmation) may take before it fails."""
UNLIMITED = 1 << 30
"""Member limit for re-asserted members: they were admitted before the outage."""


class RedisBus:
    """Redis pub/sub for messages; Redis hashes (updated by Lua scripts) for cluster state."""

    def __init__(
        self,
        url: str,
        node_timeout_s: float = 15.0,
        prefix: str = "panamia:",
        max_outbound: int = 100_000,
    ) -> None:
        import redis.asyncio as aioredis

        self.node_id = secrets.token_hex(6)
        self._redis: Any = aioredis.Redis.from_url(url, decode_responses=False)
        self._timeout = node_timeout_s
        self._p = prefix
        self._pubsub: Any = None
        self._handlers: dict[str, list[MessageHandler]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._loss_handlers: list[NodeLossHandler] = []
        self._recovery_handlers: list[RecoveryHandler] = []
        self._background: set[asyncio.Task[None]] = set()
        self._origin = self.node_id.encode() + b"|"
        self._outbound: deque[tuple[str, bytes, asyncio.Future[None] | None]] = deque()
        self._outbound_ready = asyncio.Event()
        self._max_outbound = max_outbound
        self.dropped = 0
        self._stopping = False
        self._ready = False
        self._down_since: float | None = None
        self._ready_since = 0.0
        self.recoveries: list[float] = []
        """Seconds from losing Redis to being available again, per outage (for metrics/tests)."""
        self._local_presence: dict[tuple[str, str], tuple[str, str]] = {}
        """(channel, socket_id) -> (user_id, user_info) of this node's presence connections."""
        self._local_occupancy: dict[str, int] = {}
        """channel -> this node's subscription count."""
        self._departed: dict[tuple[str, str], str] = {}
        """(channel, socket_id) -> user_id of presence connections closed while Redis was
        down: once every node had time to re-assert, users left with no connection are
        reported gone (``member_removed``)."""
        self._peers: dict[str, float] = {}
        """Other live nodes -> when last seen alive (monotonic). A confirmed publish must reach
        each of them: fewer pub/sub receivers means one is not listening (yet)."""
        self._join: Any = self._redis.register_script(scripts.JOIN)
        self._leave: Any = self._redis.register_script(scripts.LEAVE)
        self._occ: Any = self._redis.register_script(scripts.OCCUPANCY)
        self._reset_occ: Any = self._redis.register_script(scripts.RESET_OCCUPANCY)

    # keys
    def _k(self, *parts: str) -> str:
        return self._p + ":".join(parts)

    async def start(self) -> None:
        await self._redis.ping()
        await self._connect()
        self._tasks.append(asyncio.create_task(self._heartbeat(), name="bus-heartbeat"))
        self._tasks.append(asyncio.create_task(self._publisher(), name="bus-publisher"))
        self._tasks.append(asyncio.create_task(self._listen(), name="bus-listen"))

    async def close(self) -> None:
        """Leave the cluster cleanly: our state goes now instead of after the timeout."""
        await self._stop_tasks()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._leave_cluster(), CLOSE_TIMEOUT_S)
        await self._close_connections()

    async def _leave_cluster(self) -> None:
        await self._reap(self.node_id)
        await self._redis.delete(self._k("alive", self.node_id))

    async def abandon(self) -> None:
        """Stop without cleaning up, as a crashed process would (used by tests)."""
        await self._stop_tasks()
        await self._close_connections()

    async def _stop_tasks(self) -> None:
        # redis-py's internal timeouts can swallow a cancellation, so the loops also watch
        # ``_stopping``, and we never wait on them for long.
        self._stopping = True
        self._ready = False
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=CLOSE_TIMEOUT_S)
        self._tasks.clear()
        self._fail_outbound()

    async def _close_connections(self) -> None:
        with contextlib.suppress(Exception):
            if self._pubsub is not None:
                await asyncio.wait_for(self._pubsub.aclose(), CLOSE_TIMEOUT_S)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._redis.aclose(), CLOSE_TIMEOUT_S)

    # --- availability and recovery ---------------------------------------------------
    @property
    def available(self) -> bool:
        return self._ready

    async def ping(self) -> None:
        if not self._ready:
            raise BusUnavailable("not subscribed to Redis pub/sub (recovering)")
        await self._redis.ping()

    def _mark_down(self, where: str, exc: BaseException | None = None) -> None:
        if self._ready:
            self._ready = False
            self._down_since = time.monotonic()
            log.warning("bus.down", where=where, error=str(exc) if exc else "")
            self._fail_outbound()

    async def _connect(self) -> None:
        """A fresh pub/sub connection with every topic, the heartbeat, and our state."""
        old, self._pubsub = self._pubsub, None
        if old is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(old.aclose(), 1.0)
        await self._redis.ping()
        pubsub = self._redis.pubsub()
        self._pubsub = pubsub
        topics = [self._k("t", topic) for topic in self._handlers]
        if topics:
            await pubsub.subscribe(*topics)
            await asyncio.wait_for(self._confirm_subscribed(pubsub, len(topics)), CONFIRM_TIMEOUT_S)
        await self._beat()
        await self._reassert()
        self._ready = True
        now = self._ready_since = time.monotonic()
        for peer in self._peers:
            # Give every peer known before the outage node_timeout_s to listen again.
            self._peers[peer] = now
        if self._down_since is not None:
            took = time.monotonic() - self._down_since
            self.recoveries.append(took)
            self._down_since = None
            log.warning("bus.recovered", after_s=round(took, 3))
            for handler in self._recovery_handlers:
                task = asyncio.create_task(self._run_recovery_handler(handler))
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    async def _run_recovery_handler(self, handler: RecoveryHandler) -> None:
        try:
            await handler()
        except Exception:
            log.exception("bus.recovery_handler_failed")

    def on_recovered(self, handler: RecoveryHandler) -> None:
        self._recovery_handlers.append(handler)

    async def _confirm_subscribed(self, pubsub: Any, expected: int) -> None:
        """Wait until Redis confirmed every subscription: from then on we hear everything."""
        confirmed = 0
        while confirmed < expected:
            message = await pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            if message.get("type") == "subscribe":
                confirmed += 1
            else:
                self._dispatch(message)

    async def _reassert(self) -> None:
        """Write this node's presence connections and occupancy back; drop what left."""
        pres_key = self._k("node", self.node_id, "pres")
        for (channel, socket_id), (user_id, info) in list(self._local_presence.items()):
            await self._join(
                keys=self._presence_keys(channel),
                args=[socket_id, user_id, info, UNLIMITED, f"{channel}{_SEP}{socket_id}"],
            )
        loss = NodeLoss(node_id=self.node_id)
        for raw_field in await self._redis.hkeys(pres_key):
            channel, _sep, socket_id = raw_field.decode().partition(_SEP)
            if (channel, socket_id) in self._local_presence:
                continue
            self._departed.pop((channel, socket_id), None)  # reported here, if last
            user = await self._leave(keys=self._presence_keys(channel), args=[socket_id, raw_field])
            if user:
                loss.removed_members.append((channel, user.decode()))
        args: list[Any] = []
        for channel, count in self._local_occupancy.items():
            args += [channel, count]
        vacated = await self._reset_occ(
            keys=[self._k("occ"), self._k("node", self.node_id, "occ")], args=args
        )
        loss.vacated.extend(raw.decode() for raw in vacated)
        if loss.removed_members or loss.vacated:
            await self._report_loss(loss)

    # --- messages --------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes) -> None:
        if len(self._outbound) >= self._max_outbound:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("bus.publish_dropped", dropped=self.dropped)
            return
        self._outbound.append((self._k("t", topic), self._origin + payload, None))
        self._outbound_ready.set()

    async def publish_confirmed(self, topic: str, payloads: list[bytes]) -> None:
        if not self._ready:
            raise BusUnavailable("Redis is unavailable")
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = []
        for payload in payloads:
            future: asyncio.Future[None] = loop.create_future()
            futures.append(future)
            self._outbound.append((self._k("t", topic), self._origin + payload, future))
        self._outbound_ready.set()
        try:
            await asyncio.wait_for(asyncio.gather(*futures), CONFIRM_TIMEOUT_S)
        except TimeoutError:
            raise BusUnavailable("Redis did not confirm the publish in time") from None

    def _fail_outbound(self) -> None:
        """Fail the confirmed publishes still queued: their callers answer 503 at once."""
        for _channel, _data, future in self._outbound:
            if future is not None and not future.done():
                future.set_exception(BusUnavailable("Redis is unavailable"))

    async def _publisher(self) -> None:
        """Send queued messages in order, many per round trip."""
        while not self._stopping:
            await self._outbound_ready.wait()
            self._outbound_ready.clear()
            while self._outbound:
                batch = [self._outbound.popleft() for _ in range(min(len(self._outbound), 500))]
                try:
                    pipe = self._redis.pipeline(transaction=False)
                    for channel, data, _future in batch:
                        pipe.publish(channel, data)
                    receivers = await pipe.execute()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.dropped += len(batch)
                    log.warning("bus.publish_failed", error=str(exc), dropped=len(batch))
                    for _channel, _data, future in batch:
                        if future is not None and not future.done():
                            future.set_exception(BusUnavailable("Redis is unavailable"))
                    self._mark_down("publish", exc)
                    await asyncio.sleep(0.2)
                    continue
                expected = self._expected_receivers()
                for (_channel, _data, future), heard in zip(batch, receivers, strict=True):
                    if future is None or future.done():
                        continue
                    if int(heard) < expected:
                        future.set_exception(
                            BusUnavailable(f"{heard} of {expected} other nodes listening")
                        )
                    else:
                        future.set_result(None)

    def _expected_receivers(self) -> int:
        """Other nodes seen alive within node_timeout_s: each must hear a confirmed publish."""
        horizon = time.monotonic() - self._timeout
        return sum(1 for seen in self._peers.values() if seen >= horizon)

    async def subscribe(self, topic: str, handler: MessageHandler) -> None:
        new = topic not in self._handlers
        self._handlers.setdefault(topic, []).append(handler)
        if new and self._ready and self._pubsub is not None:
            try:
                await self._pubsub.subscribe(self._k("t", topic))
            except Exception as exc:
                self._mark_down("subscribe", exc)

    def on_node_lost(self, handler: NodeLossHandler) -> None:
        self._loss_handlers.append(handler)

    async def _listen(self) -> None:
        failures = 0
        while not self._stopping:
            if not self._ready:
                try:
                    await self._connect()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    if failures % 40 == 1:  # about every 10 s
                        log.info(
                            "bus.reconnect_failed",
                            attempts=failures,
                            error=str(exc) or type(exc).__name__,
                        )
                    await asyncio.sleep(RETRY_S)
                    continue
                failures = 0
            pubsub = self._pubsub
            if pubsub is None or not pubsub.subscribed:
                await asyncio.sleep(0.1)
                continue
            try:
                message = await pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._mark_down("listen", exc)
                continue
            if message is not None:
                self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message":
            return
        data: bytes = message["data"]
        if data.startswith(self._origin):
            return
        _node, _sep, payload = data.partition(b"|")
        topic = message["channel"].decode()[len(self._k("t", "")) :]
        for handler in self._handlers.get(topic, ()):
            try:
                handler(payload)
            except Exception:
                log.exception("bus.handler_failed", topic=topic)

    # --- liveness ------------------------------------------------------------------
    async def _beat(self) -> bool:
        """Refresh our heartbeat; return whether Redis still knew this node."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.sismember(self._k("nodes"), self.node_id)
        pipe.sadd(self._k("nodes"), self.node_id)
        pipe.set(self._k("alive", self.node_id), b"1", px=int(self._timeout * 1000))
        known, _added, _set = await pipe.execute()
        return bool(known)

    async def _heartbeat(self) -> None:
        interval = max(self._timeout / 3, 0.05)
        while not self._stopping:
            await asyncio.sleep(interval)
            if not self._ready:
                continue
            try:
                if not await self._beat():
                    # Redis restarted (or reaped us) without the listener noticing.
                    self._mark_down("heartbeat: node unknown to Redis")
                    continue
                await self._reap_dead()
                if self._departed and time.monotonic() - self._ready_since > self._timeout:
                    await self._report_departed()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bus.heartbeat_failed", error=str(exc))
                self._mark_down("heartbeat", exc)

    async def _reap_dead(self) -> None:
        nodes = await self._redis.smembers(self._k("nodes"))
        if time.monotonic() - self._ready_since > self._timeout:
            # Peers that left cleanly (or were reaped elsewhere) are no longer waited for;
            # right after an outage, peers get node_timeout_s to come back first.
            names = {raw.decode() for raw in nodes}
            for peer in [peer for peer in self._peers if peer not in names]:
                del self._peers[peer]
        for raw in nodes:
            node = raw.decode()
            if node == self.node_id:
                continue
            if await self._redis.exists(self._k("alive", node)):
                self._peers[node] = time.monotonic()
                continue
            self._peers.pop(node, None)
            loss = await self._reap(node)
            if loss is None:
                continue
            log.warning(
                "bus.node_lost",
                node=node,
                members=len(loss.removed_members),
                vacated=len(loss.vacated),
            )
            await self._report_loss(loss)

    async def _report_departed(self) -> None:
        """Report users whose connections closed during the outage and who have none left."""
        departed, self._departed = self._departed, {}
        loss = NodeLoss(node_id=self.node_id)
        for channel, user_id in sorted(set(((c, u) for (c, _s), u in departed.items()))):
            if not await self._redis.hexists(self._k("pres", channel, "info"), user_id):
                loss.removed_members.append((channel, user_id))
        if loss.removed_members:
            await self._report_loss(loss)

    async def _report_loss(self, loss: NodeLoss) -> None:
        for handler in self._loss_handlers:
            try:
                await handler(loss)
            except Exception:
                log.exception("bus.node_loss_handler_failed")

    async def _reap(self, node: str) -> NodeLoss | None:
        """Remove a node's state; only the caller whose SREM succeeds does it."""
        if not await self._redis.srem(self._k("nodes"), node):
            return None
        loss = NodeLoss(node_id=node)
        pres_key = self._k("node", node, "pres")
        for raw_field in await self._redis.hkeys(pres_key):
            channel, _sep, socket_id = raw_field.decode().partition(_SEP)
            user = await self._leave(
                keys=self._presence_keys(channel, node), args=[socket_id, raw_field]
            )
            if user:
                loss.removed_members.append((channel, user.decode()))
        occ_key = self._k("node", node, "occ")
        for raw_channel, raw_count in (await self._redis.hgetall(occ_key)).items():
            channel = raw_channel.decode()
            left = await self._occ(keys=[self._k("occ"), occ_key], args=[channel, -int(raw_count)])
            if int(left) == 0:
                loss.vacated.append(channel)
        await self._redis.delete(pres_key, occ_key)
        return loss

    # --- presence and occupancy ------------------------------------------------------
    def _presence_keys(self, channel: str, node: str | None = None) -> list[str]:
        return [
            self._k("pres", channel, "conns"),
            self._k("pres", channel, "users"),
            self._k("pres", channel, "info"),
            self._k("node", node or self.node_id, "pres"),
        ]

    async def _state_call(self, where: str, call: Any) -> Any:
        """Run a state command; a failure marks the bus down so the state is re-asserted.

        While the bus is down or recovering nothing is sent: the re-assert writes this
        node's state from memory, and a command racing with it could count twice."""
        if not self._ready:
            call.close()
            raise BusUnavailable(f"Redis is unavailable ({where})")
        try:
            return await call
        except Exception as exc:
            self._mark_down(where, exc)
            raise BusUnavailable(f"Redis is unavailable ({where})") from exc

    async def presence_join(
        self, channel: str, socket_id: str, user_id: str, user_info: str, max_members: int
    ) -> PresenceJoin:
        result = await self._state_call(
            "presence_join",
            self._join(
                keys=self._presence_keys(channel),
                args=[socket_id, user_id, user_info, max_members, f"{channel}{_SEP}{socket_id}"],
            ),
        )
        if int(result) != -1:
            self._local_presence[(channel, socket_id)] = (user_id, user_info)
        return PresenceJoin(added=int(result) == 1, full=int(result) == -1)

    async def presence_leave(self, channel: str, socket_id: str) -> str | None:
        mine = self._local_presence.pop((channel, socket_id), None)
        if mine is not None and not self._ready:
            self._departed[(channel, socket_id)] = mine[0]
        user = await self._state_call(
            "presence_leave",
            self._leave(
                keys=self._presence_keys(channel), args=[socket_id, f"{channel}{_SEP}{socket_id}"]
            ),
        )
        return user.decode() if user else None

    async def presence_members(self, channel: str) -> dict[str, str]:
        raw = await self._state_call(
            "presence_members", self._redis.hgetall(self._k("pres", channel, "info"))
        )
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def occupancy_add(self, channel: str, delta: int) -> int:
        mine = self._local_occupancy.get(channel, 0) + delta
        if mine > 0:
            self._local_occupancy[channel] = mine
        else:
            self._local_occupancy.pop(channel, None)
        count = await self._state_call(
            "occupancy_add",
            self._occ(
                keys=[self._k("occ"), self._k("node", self.node_id, "occ")], args=[channel, delta]
            ),
        )
        return int(count)

    async def occupancy(self) -> dict[str, int]:
        raw = await self._state_call("occupancy", self._redis.hgetall(self._k("occ")))
        return {k.decode(): int(v) for k, v in raw.items() if int(v) > 0}

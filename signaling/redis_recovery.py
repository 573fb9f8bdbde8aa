"""Reconnecting, the heartbeat, and writing the node's state back after Redis lost it.

A part of :class:`signaling.redis_bus.RedisBus`; the module docstring of ``signaling.redis_bus``
tells the recovery story. Nodes that stop beating are reaped by whichever peer removes them
from the node set first, and their members and channels are reported lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import structlog

from signaling.bus import NodeLoss, NodeLossHandler, RecoveryHandler
from signaling.redis_base import FIELD_SEP, presence_field
from signaling.redis_messages import CONFIRM_TIMEOUT_S, RedisMessages

log = structlog.get_logger(__name__)

RETRY_S = 0.25
"""Pause between two attempts to reach Redis again after an outage."""
UNLIMITED = 1 << 30
"""Member limit for re-asserted members: they were admitted before the outage."""


class RedisRecovery(RedisMessages):
    # --- reconnecting ------------------------------------------------------------------
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

    async def _reassert(self) -> None:
        """Write this node's presence connections and occupancy back; drop what left."""
        pres_key = self._k("node", self.node_id, "pres")
        for (channel, socket_id), (user_id, info) in list(self._local_presence.items()):
            await self._join(
                keys=self._presence_keys(channel),
                args=[socket_id, user_id, info, UNLIMITED, presence_field(channel, socket_id)],
            )
        loss = NodeLoss(node_id=self.node_id)
        for raw_field in await self._redis.hkeys(pres_key):
            channel, _sep, socket_id = raw_field.decode().partition(FIELD_SEP)
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
            channel, _sep, socket_id = raw_field.decode().partition(FIELD_SEP)
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

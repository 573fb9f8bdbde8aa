"""Presence members and channel occupancy in Redis hashes, updated by Lua scripts.

A part of :class:`signaling.redis_bus.RedisBus`. Every change is also kept in the node's own
share in memory, so it can be written back after Redis lost it (see ``signaling.redis_recovery``).
"""

from __future__ import annotations

from typing import Any

from signaling.bus import BusUnavailable, PresenceJoin
from signaling.redis_base import RedisBusBase, presence_field


class RedisPresence(RedisBusBase):
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
                args=[
                    socket_id,
                    user_id,
                    user_info,
                    max_members,
                    presence_field(channel, socket_id),
                ],
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
                keys=self._presence_keys(channel),
                args=[socket_id, presence_field(channel, socket_id)],
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

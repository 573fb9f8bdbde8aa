"""The notes' CRDT state in Redis, which every node of a cluster reads and writes.

On a single node the state lives in files (web/notes/document.py). In a cluster the next owner
of a room must start from the state the previous owner saved, or a browser that reconnects
with its own copy of the document would see its text twice (see document.py for why). Kept
for ``KEEP_S`` after the last save; when it is gone the room starts from the store's text.
"""

from __future__ import annotations

from redis.asyncio import Redis

KEEP_S = 30 * 24 * 3600
"""How long a session's notes state is kept after its last save."""


class RedisDocumentStates:
    """``StateStore`` over Redis: one key per session."""

    def __init__(self, redis_url: str, prefix: str = "panamia:notes-state:") -> None:
        self._redis: Redis = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        self._prefix = prefix

    async def load(self, session_id: str) -> bytes | None:
        value = await self._redis.get(self._prefix + session_id)
        return value.encode() if isinstance(value, str) else value

    async def save(self, session_id: str, state: bytes) -> None:
        await self._redis.set(self._prefix + session_id, state, ex=KEEP_S)

    async def close(self) -> None:
        await self._redis.aclose()

"""The live window in Redis, for a cluster: every node writes the reports it receives, and
any node's console reads them all, so an operator behind a load balancer sees every call.

Used when ``bus.redis_url`` is set (the composition root decides). Keys, all expiring after
the window (``quality.window_minutes``):

- ``panamia:quality:live``: sorted set of ``<session id>|<e-mail>`` scored by the last report
  (Unix seconds); a participant who hung up is removed.
- ``panamia:quality:samples:<session id>:<e-mail>``: list of the reports (JSON), capped.
- ``panamia:quality:who:<session id>:<e-mail>``: hash of ``since`` (first report) and ``node``.
- ``panamia:quality:people:<session id>``: set of the session's reporting e-mails.

Session ids never contain ``|``, so a member splits unambiguously. The per-participant
summary is still computed by the node that receives the reports and written to the store.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import cast

from redis.asyncio import Redis

from web.quality.sample import Sample, sample_from_json, sample_to_json
from web.quality.window import LiveCall, LiveEntry

LIVE = "panamia:quality:live"


def _samples(session_id: str, email: str) -> str:
    return f"panamia:quality:samples:{session_id}:{email}"


def _who(session_id: str, email: str) -> str:
    return f"panamia:quality:who:{session_id}:{email}"


def _people(session_id: str) -> str:
    return f"panamia:quality:people:{session_id}"


class SharedWindow:
    def __init__(self, redis_url: str, window: timedelta, max_samples: int) -> None:
        self._redis: Redis = Redis.from_url(
            redis_url, socket_timeout=2.0, socket_connect_timeout=2.0
        )
        self.window = window
        self.max_samples = max_samples

    async def close(self) -> None:
        await self._redis.aclose()

    async def publish(
        self, session_id: str, email: str, node: str, sample: Sample, left: bool
    ) -> None:
        ttl = int(self.window.total_seconds()) + 60
        member = f"{session_id}|{email}"
        oldest = (sample.at - self.window).timestamp()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(_samples(session_id, email), json.dumps(sample_to_json(sample)))
            pipe.ltrim(_samples(session_id, email), -self.max_samples, -1)
            pipe.expire(_samples(session_id, email), ttl)
            pipe.hsetnx(_who(session_id, email), "since", sample.at.isoformat())
            pipe.hset(_who(session_id, email), "node", node)
            pipe.expire(_who(session_id, email), ttl)
            pipe.sadd(_people(session_id), email)
            pipe.expire(_people(session_id), ttl)
            if left:
                pipe.zrem(LIVE, member)
            else:
                pipe.zadd(LIVE, {member: sample.at.timestamp()})
            pipe.zremrangebyscore(LIVE, "-inf", oldest)
            await pipe.execute()

    async def live(self, now: datetime, live_after: timedelta) -> list[LiveCall]:
        members = await self._redis.zrangebyscore(LIVE, (now - live_after).timestamp(), "+inf")
        people: dict[str, list[str]] = {}
        for raw in members:
            session_id, _, email = _text(cast(bytes, raw)).partition("|")
            people.setdefault(session_id, []).append(email)
        calls: list[LiveCall] = []
        for session_id, emails in people.items():
            entries = []
            for email in sorted(emails):
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.lindex(_samples(session_id, email), -1)
                    pipe.hgetall(_who(session_id, email))
                    last, who = await pipe.execute()
                if last is None:
                    continue
                fields = {_text(k): _text(v) for k, v in (who or {}).items()}
                latest = sample_from_json(json.loads(last))
                since = datetime.fromisoformat(fields.get("since", latest.at.isoformat()))
                entries.append(LiveEntry(email, fields.get("node", "?"), since, latest))
            if entries:
                calls.append(LiveCall(session_id, tuple(entries)))
        return sorted(calls, key=lambda call: call.since, reverse=True)

    async def series(self, session_id: str) -> dict[str, list[Sample]]:
        emails = sorted(_text(e) for e in await self._redis.smembers(_people(session_id)))
        found: dict[str, list[Sample]] = {}
        for email in emails:
            raw = await self._redis.lrange(_samples(session_id, email), 0, -1)
            found[email] = [sample_from_json(json.loads(item)) for item in raw]
        return found


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

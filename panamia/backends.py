"""Which store and bus a node uses, decided from its settings and nowhere else.

The backends themselves live with their protocols (``store/``, ``signaling/bus.py``); the
choice between them is the composition root's, so it sits here beside ``panamia/app.py``.
Concrete stores are imported only when chosen, so an embedded node never loads pymongo.
"""

from __future__ import annotations

from pathlib import Path

from config.settings import BusSettings, Settings
from signaling.bus import Bus, InMemoryBus
from signaling.redis_bus import RedisBus
from store.base import Store
from web.connection_counts import ConnectionCounts, LocalConnectionCounts, RedisConnectionCounts
from web.limits import Limiter, LocalLimiter, RedisLimiter


def make_store(settings: Settings) -> Store:
    """MongoDB when a URI is configured, else the embedded SQLite file."""
    if settings.store.mongodb_uri:
        from store.mongo import MongoStore

        return MongoStore(settings.store.mongodb_uri.reveal(), settings.store.mongodb_database)
    from store.sqlite import SqliteStore

    path = settings.store.sqlite_path or str(Path(settings.store.data_dir) / "panamia.sqlite3")
    return SqliteStore(path)


def make_bus(settings: BusSettings) -> Bus:
    """Redis pub/sub (cluster mode) when a Redis URL is configured, else in-process."""
    if settings.redis_url:
        return RedisBus(settings.redis_url.reveal(), node_timeout_s=settings.node_timeout_s)
    return InMemoryBus()


def make_limiter(settings: BusSettings) -> Limiter:
    """Rate-limit buckets in Redis when the bus uses Redis (shared by the cluster), else in
    this process."""
    if settings.redis_url:
        return RedisLimiter(settings.redis_url.reveal())
    return LocalLimiter()


def make_connection_counts(settings: BusSettings) -> ConnectionCounts:
    """Hub connections per address counted in Redis (for the cluster) when the bus uses
    Redis, else in this process."""
    if settings.redis_url:
        return RedisConnectionCounts(settings.redis_url.reveal())
    return LocalConnectionCounts()

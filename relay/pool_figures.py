"""The worker pool's figures: per worker slot, and the workers' counters summed.

Pure functions of what :class:`relay.pool.WorkerPool` knows (its slots, placements, restart
and recycle counts, and each worker's last report), kept apart so the pool is about running
the workers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from relay import ipc
from relay.worker_process import WorkerProcess


def worker_rows(
    workers: Sequence[WorkerProcess | None],
    placed: Counter[WorkerProcess],
    restarts: Sequence[int],
    recycles: Sequence[int],
) -> list[dict[str, Any]]:
    """One row per slot (see :meth:`relay.pool.WorkerPool.worker_stats`)."""
    rows = []
    for index, worker in enumerate(workers):
        stats = worker.figures.stats if worker is not None else {}
        rows.append(
            {
                "worker": index,
                "alive": worker is not None and worker.alive,
                "pid": worker.pid if worker is not None else None,
                "sessions": placed[worker] if worker is not None else 0,
                "streams": stats.get("streams", 0),
                "peer_connections": stats.get("peer_connections", 0),
                "cpu_seconds": worker.figures.cpu_seconds if worker is not None else 0.0,
                "cpu_load": worker.figures.cpu_load if worker is not None else 0.0,
                "rss_bytes": worker.figures.rss_bytes if worker is not None else 0,
                "media_stack": bool(stats.get(ipc.MEDIA_STACK_FIGURE, False)),
                "restarts": restarts[index],
                "recycles": recycles[index],
            }
        )
    return rows


def summed(retired: dict[str, float], alive: Iterable[WorkerProcess]) -> dict[str, float]:
    """The numeric figures of the running workers' last reports, added to ``retired`` (the
    counters of workers that died or were recycled)."""
    totals = dict(retired)
    for worker in alive:
        for key, value in worker.figures.stats.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + value
    return totals

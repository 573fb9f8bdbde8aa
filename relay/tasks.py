"""The tasks the relay starts: one name prefix, kept referenced until they finish."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine

TASK_PREFIX = "relay-"
"""Every task this package starts is named with this prefix (tests count them)."""


def spawn(
    tasks: set[asyncio.Task[None]], coro: Coroutine[object, object, None], name: str
) -> asyncio.Task[None]:
    """Start ``coro`` as a task named ``TASK_PREFIX + name``, held in ``tasks`` until done."""
    task = asyncio.get_running_loop().create_task(coro, name=f"{TASK_PREFIX}{name}")
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task

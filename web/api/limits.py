"""Rate limits in the API: a refusal is a 429 with Retry-After, counted in /metrics."""

from __future__ import annotations

import math

import structlog
from aiohttp import web

from web import keys
from web.api.errors import ApiError
from web.auth import require_user
from web.limits import rates_from

log = structlog.get_logger(__name__)


def retry_after(wait_s: float) -> str:
    """The Retry-After value for a wait: whole seconds, at least one."""
    return str(max(1, math.ceil(wait_s)))


async def enforce(request: web.Request, limit: str, subject: str, field: str | None) -> None:
    """Count a request against ``limit`` for ``subject``; over the limit raise a 429 with
    Retry-After (blaming ``field``) and count it in the metrics. No limiter (an app built
    without the composition root) or a disabled limit: always allowed."""
    app = request.app
    limiter = app.get(keys.LIMITER)
    rate = rates_from(app[keys.SETTINGS].limits)[limit]
    if limiter is None or not rate.enabled:
        return
    wait = await limiter.hit(limit, subject.lower(), rate)
    if wait <= 0:
        return
    metrics = app.get(keys.METRICS)
    if metrics is not None:
        metrics.rate_limited.labels(limit=limit).inc()
    log.info("limits.refused", limit=limit, path=request.path)
    raise ApiError(
        429,
        "Too many requests; try again later",
        field,
        headers={"Retry-After": retry_after(wait)},
    )


async def require_writer(request: web.Request) -> str:
    """The signed-in user's e-mail (401 otherwise), counted against their ``writes`` limit."""
    email = await require_user(request)
    await enforce(request, "writes", email, None)
    return email

"""A live server on a real port for the load-test and metrics tests (the load tester talks
HTTP and websockets to it like any outside client)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from config.settings import Settings
from panamia.app import create_app
from tests.support.procs import free_port

LOADTEST_TOKEN = "operator-loadtest-token"


def build_app(settings: Settings) -> web.Application:
    """The production app, exactly as ``panamia serve`` builds it."""
    return create_app(settings)


@asynccontextmanager
async def live_server(
    make_settings: Callable[..., Settings], **sections: dict[str, Any]
) -> AsyncIterator[tuple[str, web.Application]]:
    port = free_port()
    sections.setdefault("http", {}).update({"host": "127.0.0.1", "port": port})
    app = build_app(make_settings(**sections))
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        await runner.cleanup()

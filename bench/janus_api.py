"""Janus's HTTP API, as much as the relay bench needs: a session, handles, plugin messages.

Requests are POSTs; asynchronous answers (a plugin's events with their JSEP) arrive on the
session's long poll, which routes them to the waiting request by transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

from aiohttp import ClientSession, ClientTimeout

PLUGIN_NAME = "janus.plugin.videoroom"


class JanusError(RuntimeError):
    """Janus answered a request with an error."""


class JanusSession:
    """A Janus API session over HTTP, with one long poll routing events by transaction."""

    def __init__(self, http: ClientSession, url: str) -> None:
        self._http = http
        self._url = url
        self._session_url = ""
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._poller: asyncio.Task[None] | None = None

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        transaction = uuid.uuid4().hex
        async with self._http.post(url, json={**body, "transaction": transaction}) as response:
            reply: dict[str, Any] = await response.json(content_type=None)
        if reply.get("janus") == "error":
            raise JanusError(str(reply.get("error")))
        return reply

    async def open(self) -> None:
        reply = await self._post(self._url, {"janus": "create"})
        self._session_url = f"{self._url}/{reply['data']['id']}"
        self._poller = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            try:
                async with self._http.get(
                    f"{self._session_url}?maxev=20", timeout=ClientTimeout(total=60)
                ) as response:
                    events = await response.json(content_type=None)
            except (OSError, TimeoutError, ValueError):
                await asyncio.sleep(0.2)
                continue
            for event in events if isinstance(events, list) else [events]:
                waiter = self._waiting.pop(str(event.get("transaction")), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(event)

    async def attach(self) -> str:
        reply = await self._post(self._session_url, {"janus": "attach", "plugin": PLUGIN_NAME})
        return f"{self._session_url}/{reply['data']['id']}"

    async def request(self, handle: str, body: dict[str, Any]) -> dict[str, Any]:
        """A synchronous plugin request (create a room): the plugin's data."""
        reply = await self._post(handle, {"janus": "message", "body": body})
        data: dict[str, Any] = reply["plugindata"]["data"]
        if "error" in data:
            raise JanusError(str(data["error"]))
        return data

    async def message(
        self, handle: str, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """An asynchronous plugin request: Janus acks it, then the answer arrives as an event."""
        transaction = uuid.uuid4().hex
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[transaction] = waiter
        payload: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            payload["jsep"] = jsep
        async with self._http.post(handle, json=payload) as response:
            reply = await response.json(content_type=None)
        if reply.get("janus") == "error":
            self._waiting.pop(transaction, None)
            raise JanusError(str(reply.get("error")))
        event = await asyncio.wait_for(waiter, 30)
        data = event.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(str(data["error"]))
        return event

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        with contextlib.suppress(Exception):
            await self._post(self._session_url, {"janus": "destroy"})

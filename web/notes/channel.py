"""A pycrdt ``Channel`` over an aiohttp websocket, so a ``YRoom`` can serve it.

The room sends to every client from background tasks; a failed send must never raise there
(it would tear the whole room down), so a send to a closed socket is dropped quietly.
"""

from __future__ import annotations

import asyncio

import structlog
from aiohttp import WSMsgType, web

log = structlog.get_logger(__name__)


class SocketChannel:
    """Binary Yjs protocol messages in and out of one accepted websocket."""

    def __init__(self, ws: web.WebSocketResponse, path: str) -> None:
        self._ws = ws
        self._path = path
        self._send_lock = asyncio.Lock()

    @property
    def path(self) -> str:
        return self._path

    def __aiter__(self) -> SocketChannel:
        return self

    async def __anext__(self) -> bytes:
        message = await self.recv_or_none()
        if message is None:
            raise StopAsyncIteration
        return message

    async def send(self, message: bytes) -> None:
        if self._ws.closed:
            return
        try:
            async with self._send_lock:
                await self._ws.send_bytes(message)
        except (ConnectionError, RuntimeError) as exc:
            log.debug("notes.send_dropped", path=self._path, error=type(exc).__name__)

    async def recv(self) -> bytes:
        message = await self.recv_or_none()
        if message is None:
            raise ConnectionError("the notes websocket is closed")
        return message

    async def recv_or_none(self) -> bytes | None:
        """The next binary message, or None once the socket is closing.

        Text frames and empty frames are not Yjs messages and are skipped.
        """
        while True:
            msg = await self._ws.receive()
            if msg.type is WSMsgType.BINARY:
                if msg.data:
                    return bytes(msg.data)
                continue  # an empty frame carries no Yjs message
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return None

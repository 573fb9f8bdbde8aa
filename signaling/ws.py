"""The websocket endpoint ``/app/{key}?protocol=7``: a pump between a socket and the hub.

The reader hands each text frame to :meth:`Hub.handle`; a writer task drains the connection's
bounded outbox. When the hub closes a connection (slow client, pong timeout, ...) the writer is
cancelled and the socket closed with the hub's code; a client that cannot even take the close
frame is cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable

import structlog
from aiohttp import WSMsgType, web

from config.settings import PusherSettings
from signaling import protocol as p
from signaling.connection import Connection
from signaling.hub import Hub

log = structlog.get_logger(__name__)

MAX_FRAME_BYTES = 256 * 1024
"""Frames above this are cut off by the websocket layer (1009); smaller frames that break a
protocol limit get a pusher:error and the connection lives on."""
CLOSE_TIMEOUT_S = 2.0
HIGH_WATER = 256 * 1024
"""Bytes waiting in a socket's send buffer beyond which frames queue in the outbox instead."""


async def _refuse(ws: web.WebSocketResponse, code: p.CloseCode, message: str) -> None:
    with contextlib.suppress(Exception):
        await ws.send_str(p.error(message, code))
        await ws.close(code=code, message=message.encode()[:120])


def text_frame(payload: bytes) -> bytes:
    """An unmasked, uncompressed, final websocket text frame (RFC 6455 section 5.2)."""
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 1 << 16:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


def direct_writer(request: web.Request) -> Callable[[str], bool]:
    """Write a frame straight to the transport while its buffer is below HIGH_WATER.

    This is the fast path of fan-out: no task switch per subscriber. The socket is opened
    without compression, and every write here happens synchronously on the event loop, as
    aiohttp's own writes do, so frames never interleave.
    """
    transport = request.transport

    def write(frame: str) -> bool:
        if (
            transport is None
            or transport.is_closing()
            or transport.get_write_buffer_size() > HIGH_WATER
        ):
            return False
        transport.write(text_frame(frame.encode()))
        return True

    return write


async def _writer(ws: web.WebSocketResponse, conn: Connection) -> None:
    outbox = conn.outbox
    while not conn.closed:
        if not outbox:
            conn.wakeup.clear()
            await conn.wakeup.wait()
            continue
        await ws.send_str(outbox.popleft())


async def serve_websocket(
    request: web.Request,
    hub: Hub,
    settings: PusherSettings,
    sockets: weakref.WeakSet[web.WebSocketResponse],
) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, autoping=True, compress=False)
    await ws.prepare(request)
    sockets.add(ws)
    if request.match_info.get("key") != settings.key:
        await _refuse(ws, p.CloseCode.APP_NOT_FOUND, "Application does not exist")
        return ws
    version = p.parse_protocol_version(request.query.get("protocol"))
    if isinstance(version, p.CloseCode):
        await _refuse(ws, version, f"Unsupported protocol version: {version.name.lower()}")
        return ws

    ticket = None
    if hub.gate is not None:
        ticket = await hub.gate.admit(request)
        if ticket is None:
            await _refuse(
                ws, p.CloseCode.OVER_CAPACITY, "Over capacity: too many connections, retry later"
            )
            return ws
    try:
        await _serve(ws, request, hub)
    finally:
        if ticket is not None:
            await ticket.release()
    return ws


async def _serve(ws: web.WebSocketResponse, request: web.Request, hub: Hub) -> None:
    conn = hub.connect()
    writer = asyncio.create_task(_writer(ws, conn), name=f"ws-writer-{conn.socket_id}")
    closer: list[asyncio.Task[None]] = []

    async def close_socket(code: int, reason: str) -> None:
        await hub.disconnect(conn)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer
        try:
            await asyncio.wait_for(
                ws.close(code=code, message=reason.encode()[:120]), CLOSE_TIMEOUT_S
            )
        except (TimeoutError, Exception):
            log.info(
                "ws.cut_off", socket_id=conn.socket_id, transport=request.transport is not None
            )
            if request.transport is not None:
                request.transport.abort()

    def on_close(closed: Connection) -> None:
        if closed.close_code is not None and closed.close_code != 1000 and not closer:
            log.info("ws.closing", socket_id=closed.socket_id, code=closed.close_code)
            closer.append(asyncio.create_task(close_socket(closed.close_code, closed.close_reason)))

    conn.on_close(on_close)
    conn.direct = direct_writer(request)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await hub.handle(conn, msg.data)
            elif msg.type == WSMsgType.BINARY:
                conn.push(p.error("Binary frames are not supported"))
            if conn.closed:
                break
    finally:
        await hub.disconnect(conn)
        if closer:
            with contextlib.suppress(Exception):
                await closer[0]
        else:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await ws.close()

"""Hub fan-out benchmark: throughput and delivery latency against a bare websocket broadcast.

The server under test runs in its own process: either our hub (``signaling``: Pusher protocol,
bounded outboxes, per-connection writers) or a baseline: a bare aiohttp websocket server that
relays each published message to the other subscribers of its channel with ``send_str`` in a
loop. The same clients, in this process, drive both. Subscribers spread evenly over 1, 100 and
1000 channels; a publisher sends client events (rate limit lifted for the run) round-robin
over the channels.

- throughput: deliveries per second with a bounded number of deliveries in flight;
- latency: p50/p99 from send to receipt at a paced rate (same clock: both ends are here);
- idle: RSS of the hub process holding 10,000 idle connections.

    python -m bench.hub [--subscribers 1000] [--seconds 4] [--idle 10000]

Prints figures and the hub/baseline ratios; never fails on time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

KEY = "bench-key"
SECRET = "bench-secret"  # noqa: S105 - a throwaway secret for a local run
CHANNEL_COUNTS = (1, 100, 1000)
LATENCY_DELIVERIES = 2000


# --- servers (run in a child process) --------------------------------------------------


def hub_app() -> web.Application:
    from config.loader import build_settings
    from signaling.bus import InMemoryBus
    from signaling.hub import Hub, HubLimits
    from signaling.routes import setup_signaling_routes
    from web import keys

    data_dir = tempfile.mkdtemp(prefix="bench-hub-")
    settings = build_settings(
        {
            "store": {"data_dir": data_dir},
            "pusher": {"key": KEY, "secret": SECRET, "max_outbox": 4096},
        }
    )
    limits = HubLimits(
        client_events_per_s=1e12,
        client_event_burst=10**12,
        max_channels_per_connection=10**6,
    )
    app = web.Application()
    app[keys.SETTINGS] = settings
    app[keys.WEBSOCKETS] = weakref.WeakSet()

    async def resources(app: web.Application) -> AsyncIterator[None]:
        bus = InMemoryBus()
        await bus.start()
        hub = Hub(settings.pusher, settings.pusher.secret, bus, limits)
        await hub.start()
        app[keys.HUB] = hub
        yield
        await hub.close()

    app.cleanup_ctx.append(resources)
    setup_signaling_routes(app)
    return app


def baseline_app() -> web.Application:
    """A bare broadcast server: the least a websocket fan-out can do in aiohttp."""
    channels: dict[str, set[web.WebSocketResponse]] = {}

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        mine: set[str] = set()
        try:
            async for msg in ws:
                message = json.loads(msg.data)
                if "sub" in message:
                    channels.setdefault(message["sub"], set()).add(ws)
                    mine.add(message["sub"])
                    await ws.send_str('{"event":"subscribed"}')
                else:
                    channel = message["channel"]
                    frame = json.dumps(
                        {"event": message["event"], "channel": channel, "data": message["data"]}
                    )
                    for other in list(channels.get(channel, ())):
                        if other is not ws:
                            await other.send_str(frame)
        finally:
            for channel in mine:
                channels[channel].discard(ws)
        return ws

    app = web.Application()
    app.router.add_get("/ws", socket)
    return app


def serve(kind: str, port: int) -> None:
    app = hub_app() if kind == "hub" else baseline_app()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


@contextlib.contextmanager
def server_process(kind: str) -> Iterator[tuple[int, int]]:
    from bench.ports import free_port, wait_for_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.hub", "--serve", kind, "--port", str(port)],
        cwd=Path(__file__).parents[1],
        env={**os.environ, "PANAMIA_LOG__LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=30)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- clients ------------------------------------------------------------------------------


@dataclass
class Tally:
    received: int = 0
    latencies_us: list[float] = field(default_factory=list)
    record_from: int = 1 << 62
    """Only messages with a sequence number from here on count for latency."""
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0
    window: int = 2000

    def got(self, sent_ns: int, seq: int) -> None:
        self.received += 1
        self.in_flight -= 1
        if seq >= self.record_from:
            self.latencies_us.append((time.perf_counter_ns() - sent_ns) / 1000)
        if self.in_flight <= self.window // 2:
            self.drained.set()


class Client:
    """One websocket speaking either the Pusher protocol (hub) or the baseline's."""

    def __init__(self, kind: str, http: aiohttp.ClientSession, port: int) -> None:
        self.kind = kind
        self.http = http
        self.port = port
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.socket_id = ""
        self.reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        path = f"/app/{KEY}?protocol=7" if self.kind == "hub" else "/ws"
        self.ws = await self.http.ws_connect(f"http://127.0.0.1:{self.port}{path}")
        if self.kind == "hub":
            frame = json.loads((await self.ws.receive()).data)
            self.socket_id = json.loads(frame["data"])["socket_id"]

    async def subscribe(self, channel: str) -> None:
        assert self.ws is not None
        if self.kind == "hub":
            from signaling.auth import sign_channel

            auth = sign_channel(KEY, SECRET, self.socket_id, channel)
            data = {"channel": channel, "auth": auth}
            await self.ws.send_str(json.dumps({"event": "pusher:subscribe", "data": data}))
        else:
            await self.ws.send_str(json.dumps({"sub": channel}))
        await self.ws.receive()  # subscription_succeeded / subscribed

    def listen(self, tally: Tally) -> None:
        async def run() -> None:
            assert self.ws is not None
            async for msg in self.ws:
                frame = json.loads(msg.data)
                data = frame.get("data")
                if isinstance(data, dict) and "t" in data:
                    tally.got(data["t"], data["i"])

        self.reader = asyncio.create_task(run())

    async def publish(self, channel: str, seq: int) -> None:
        assert self.ws is not None
        event = {
            "event": "client-tick",
            "channel": channel,
            "data": {"t": time.perf_counter_ns(), "i": seq, "pad": "x" * 64},
        }
        await self.ws.send_str(json.dumps(event))

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            await self.ws.close()


async def gather_limited(coros: list, limit: int = 200) -> None:  # type: ignore[type-arg]
    semaphore = asyncio.Semaphore(limit)

    async def one(coro: object) -> None:
        async with semaphore:
            await coro  # type: ignore[misc]

    await asyncio.gather(*(one(c) for c in coros))


@dataclass
class Result:
    throughput: float
    p50_us: float
    p99_us: float
    dropped: int
    """Subscribers the server disconnected during the run (too slow)."""


async def run_scenario(
    kind: str, port: int, channels: int, subscribers: int, seconds: float
) -> Result:
    subscribers = max(subscribers, channels)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        names = [f"private-bench-{n}" for n in range(channels)]
        subs = [Client(kind, http, port) for _ in range(subscribers)]
        await gather_limited([c.open() for c in subs])
        await gather_limited([c.subscribe(names[i % channels]) for i, c in enumerate(subs)])
        publisher = Client(kind, http, port)
        await publisher.open()
        for name in names:
            await publisher.subscribe(name)
        per_channel = [0] * channels
        for i in range(subscribers):
            per_channel[i % channels] += 1
        tally = Tally(window=max(2000, 4 * max(per_channel)))
        for c in subs:
            c.listen(tally)

        # Throughput: keep about `window` deliveries in flight.
        seq = 0
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            if tally.in_flight >= tally.window:
                tally.drained.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(tally.drained.wait(), 5)
                continue
            channel = seq % channels
            tally.in_flight += per_channel[channel]
            await publisher.publish(names[channel], seq)
            seq += 1
            if seq % 50 == 0:
                await asyncio.sleep(0)
        with contextlib.suppress(TimeoutError):
            while tally.in_flight > 0:
                tally.drained.clear()
                await asyncio.wait_for(tally.drained.wait(), 5)
        throughput = tally.received / (time.perf_counter() - start)

        # Latency: the same paced load on both servers (LATENCY_DELIVERIES per second).
        tally.record_from = seq
        interval = max(per_channel) / LATENCY_DELIVERIES
        next_at = time.perf_counter()
        end = next_at + seconds / 2
        while time.perf_counter() < end:
            channel = seq % channels
            tally.in_flight += per_channel[channel]
            await publisher.publish(names[channel], seq)
            seq += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        await asyncio.sleep(0.5)
        lat = sorted(tally.latencies_us)
        p50 = statistics.median(lat) if lat else float("nan")
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")

        dropped = sum(1 for c in subs if c.ws is None or c.ws.closed)
        await publisher.close()
        await gather_limited([c.close() for c in subs])
        return Result(throughput, p50, p99, dropped)


async def idle_connections(count: int) -> None:
    with server_process("hub") as (port, pid):
        await asyncio.sleep(0.5)
        before = rss_mb(pid)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            clients = [Client("hub", http, port) for _ in range(count)]
            started = time.perf_counter()
            await gather_limited([c.open() for c in clients], limit=500)
            took = time.perf_counter() - started
            await asyncio.sleep(1.0)
            after = rss_mb(pid)
            print(
                f"idle: {count} connections held by one hub process; RSS {before:.0f} MB -> "
                f"{after:.0f} MB ({(after - before) * 1024 / count:.1f} KB per connection); "
                f"opened in {took:.1f} s"
            )
            await gather_limited([c.close() for c in clients], limit=500)


async def main(subscribers: int, seconds: float, idle: int) -> None:
    print(
        f"hub fan-out vs bare aiohttp broadcast: {subscribers} subscribers, "
        f"{seconds:g} s throughput + {seconds / 2:g} s latency per run"
    )
    print(
        f"{'channels':>8} {'server':>9} {'deliveries/s':>13} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'dropped':>8}   (latency at {LATENCY_DELIVERIES} deliveries/s)"
    )
    ratios = []
    for channels in CHANNEL_COUNTS:
        results: dict[str, Result] = {}
        for kind in ("baseline", "hub"):
            with server_process(kind) as (port, _pid):
                results[kind] = await run_scenario(kind, port, channels, subscribers, seconds)
            r = results[kind]
            print(
                f"{channels:>8} {kind:>9} {r.throughput:>13,.0f} "
                f"{r.p50_us / 1000:>8.2f} {r.p99_us / 1000:>8.2f} {r.dropped:>8}"
            )
        ratio = results["hub"].throughput / results["baseline"].throughput
        ratios.append(ratio)
        print(f"{channels:>8} {'ratio':>9} {ratio:>13.2f}  (hub / baseline throughput)")
    print(f"throughput ratio hub/baseline: min {min(ratios):.2f}, target >= 0.80")
    if idle:
        await idle_connections(idle)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--idle", type=int, default=10_000, help="0 to skip")
    parser.add_argument("--serve", choices=("hub", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    asyncio.run(main(args.subscribers, args.seconds, args.idle))


if __name__ == "__main__":
    cli()

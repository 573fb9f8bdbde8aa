"""Serve an in-memory MongoDB wire-protocol server (``mongoeco``) for the store contract suite.

MongoDB itself cannot be installed everywhere the tests run; ``mongoeco`` speaks the wire
protocol, so the real ``pymongo`` client talks to it unchanged. It needs Python >= 3.13, so
the tests start this script from a separate venv:

    python3.13 scripts/mongo_sidecar.py --port 27099

The server prints its URI on stdout once it listens and runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys


async def serve(host: str, port: int) -> None:
    from mongoeco.engines import MemoryEngine
    from mongoeco.wire.proxy import AsyncMongoEcoProxyServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = AsyncMongoEcoProxyServer(engine=MemoryEngine(), host=host, port=port)
    await server.start()
    try:
        sys.stdout.write(server.address.uri + "\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()

"""The ``panamia`` command line: serve, demo, create-indexes."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import replace

from config.loader import ConfigError, load_settings
from config.settings import Settings
from panamia.log import configure_logging


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"panamia: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log)
    command: str = args.command
    if command == "serve":
        return _serve(settings, host=args.host, port=args.port)
    if command == "demo":
        return asyncio.run(_demo(settings))
    if command == "create-indexes":
        return asyncio.run(_create_indexes(settings))
    parser.print_help()
    return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="panamia", description="Pana Mia Live: self-hosted video mentoring."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the web app, signaling hub and relay")
    serve.add_argument("--host", help="override http.host")
    serve.add_argument("--port", type=int, help="override http.port")
    sub.add_parser("demo", help="fill an empty store with demo mentors, mentees and sessions")
    sub.add_parser("create-indexes", help="create the MongoDB indexes (MongoDB store only)")
    return parser


def _serve(settings: Settings, host: str | None, port: int | None) -> int:
    from aiohttp import web

    from panamia.app import create_app

    if host or port:
        settings = replace(
            settings,
            http=replace(
                settings.http, host=host or settings.http.host, port=port or settings.http.port
            ),
        )
    app = create_app(settings)
    url = settings.public_url
    print(f"Pana Mia Live is starting at {url}  (Ctrl+C to stop)", flush=True)  # noqa: T201
    web.run_app(
        app,
        host=settings.http.host,
        port=settings.http.port,
        print=None,
        shutdown_timeout=5,
    )
    return 0


async def _demo(settings: Settings) -> int:
    from panamia.app import make_store
    from panamia.demo import seed_demo

    store = make_store(settings)
    await store.open()
    try:
        created = await seed_demo(store)
    finally:
        await store.close()
    print(created if created else "The store is not empty; demo data was not added.")  # noqa: T201
    return 0


async def _create_indexes(settings: Settings) -> int:
    if not settings.store.mongodb_uri:
        print("store.mongodb_uri is not set: the embedded SQLite store needs no indexes step.")  # noqa: T201
        return 0
    from store.mongo import MongoStore

    store = MongoStore(settings.store.mongodb_uri.reveal(), settings.store.mongodb_database)
    await store.create_indexes()
    await store.close()
    print("MongoDB indexes are in place.")  # noqa: T201
    return 0

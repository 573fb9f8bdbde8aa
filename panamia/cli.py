"""The ``panamia`` command line: serve, demo, create-indexes, turn-config, doctor."""

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
    if command == "turn-config":
        return _turn_config(settings, args.output, args.cert, args.key, args.external_ip)
    if command == "loadtest":
        from loadtest.cli import main_from_args

        return main_from_args(args)
    if command == "doctor":
        return _doctor(settings, args.timeout)
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
    turn_config = sub.add_parser("turn-config", help="print coturn's config from [turn] settings")
    turn_config.add_argument("--output", help="write to this file (mode 600) instead of stdout")
    turn_config.add_argument("--cert", help="override turn.tls_cert_file")
    turn_config.add_argument("--key", help="override turn.tls_key_file")
    turn_config.add_argument("--external-ip", help="override turn.external_ip")
    from loadtest.cli import add_arguments

    add_arguments(sub.add_parser("loadtest", help="drive real sessions with headless peers"))
    doctor = sub.add_parser("doctor", help="check that STUN and TURN answer and credentials work")
    doctor.add_argument("--timeout", type=float, default=3.0, help="seconds to wait per check")
    return parser


def _serve(settings: Settings, host: str | None, port: int | None) -> int:
    from aiohttp import web

    from panamia.app import create_app
    from web.access_log import RedactingAccessLogger
    from web.auth import sign_in_unreachable

    if host or port:
        settings = replace(
            settings,
            http=replace(
                settings.http, host=host or settings.http.host, port=port or settings.http.port
            ),
        )
    problem = sign_in_unreachable(settings)
    if problem is not None:
        print(f"panamia serve: refusing to start: {problem}", file=sys.stderr)
        return 2
    app = create_app(settings)
    url = settings.public_url
    print(f"Pana Mia Live is starting at {url}  (Ctrl+C to stop)", flush=True)
    web.run_app(
        app,
        host=settings.http.host,
        port=settings.http.port,
        print=None,
        shutdown_timeout=5,
        access_log_class=RedactingAccessLogger,
    )
    return 0


async def _demo(settings: Settings) -> int:
    from panamia.backends import make_store
    from panamia.demo import seed_demo

    store = make_store(settings)
    await store.open()
    try:
        created = await seed_demo(store)
    finally:
        await store.close()
    print(created if created else "The store is not empty; demo data was not added.")
    return 0


async def _create_indexes(settings: Settings) -> int:
    if not settings.store.mongodb_uri:
        print("store.mongodb_uri is not set: the embedded SQLite store needs no indexes step.")
        return 0
    from store.mongo import MongoStore

    store = MongoStore(settings.store.mongodb_uri.reveal(), settings.store.mongodb_database)
    await store.create_indexes()
    await store.close()
    print("MongoDB indexes are in place.")
    return 0


def _turn_config(
    settings: Settings,
    output: str | None,
    cert: str | None,
    key: str | None,
    external_ip: str | None,
) -> int:
    from turn.render import RenderError, render_config, write_config

    try:
        text = render_config(settings.turn, cert_file=cert, key_file=key, external_ip=external_ip)
    except RenderError as exc:
        print(f"panamia turn-config: {exc}", file=sys.stderr)
        return 2
    if output is None:
        sys.stdout.write(text)
    else:
        write_config(output, text)
        print(f"coturn config written to {output} (readable by its owner only)", file=sys.stderr)
    return 0


def _doctor(settings: Settings, timeout: float) -> int:
    from turn.doctor import run_doctor

    own = [settings.builtin_stun_uri] if settings.builtin_stun_uri else []
    return run_doctor(settings.turn, timeout=timeout, own_stun=[*own, *settings.stun.uris])

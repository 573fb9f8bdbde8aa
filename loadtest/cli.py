"""``panamia loadtest``: the arguments and the entry point the main CLI mounts."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from loadtest.options import PROCESSES_PER_CORE, SESSIONS_PER_PROCESS, Options
from loadtest.peer_figures import MEDIA_MODES
from loadtest.report import summary_table

TOKEN_ENV = "PANAMIA_LOADTEST_TOKEN"  # noqa: S105 - a variable name, not a secret
SERVER_TOKEN_ENV = "PANAMIA_AUTH__LOADTEST_TOKEN"  # noqa: S105 - a variable name


def _resolution(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    try:
        if not sep:
            raise ValueError
        return int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError("expected WIDTHxHEIGHT, e.g. 320x240") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Options(url="http://127.0.0.1:8080")
    add = parser.add_argument
    add("--url", default=defaults.url, help="server under test (default %(default)s)")
    add("--sessions", type=int, default=defaults.sessions, help="direct (P2P) sessions")
    add(
        "--relay-sessions",
        type=int,
        default=defaults.relay_sessions,
        help="sessions forced through the server's media relay",
    )
    add(
        "--ramp",
        type=float,
        default=defaults.ramp_per_s,
        metavar="PER_S",
        help="sessions started per second (default %(default)s)",
    )
    add(
        "--hold",
        type=float,
        default=defaults.hold_s,
        metavar="SECONDS",
        help="how long to keep every session up after the ramp (default %(default)s)",
    )
    add(
        "--video",
        type=_resolution,
        default=(defaults.width, defaults.height),
        metavar="WxH",
        help="synthetic video size (default 320x240)",
    )
    add("--fps", type=int, default=defaults.fps, help="video frame rate (default %(default)s)")
    add("--no-audio", action="store_true", help="send video only")
    add(
        "--media",
        choices=MEDIA_MODES,
        default=defaults.media,
        help="replay: pre-encoded VP8/Opus out, received frames counted from RTP without "
        "decoding (cheap); synthetic: live-encoded pictures out, every frame decoded (for "
        "end-to-end quality checks; far more CPU). Default %(default)s",
    )
    add(
        "--audio-packet-ms",
        type=int,
        choices=(20, 40, 60),
        default=defaults.audio_packet_ms,
        help="Opus packet length in replay mode (default %(default)s, as browsers send; 60 "
        "sends a third of the audio packets)",
    )
    add(
        "--token-env",
        default=None,
        metavar="VAR",
        help=f"environment variable holding the server's auth.loadtest_token (default "
        f"{TOKEN_ENV}, else {SERVER_TOKEN_ENV}); without a token the development sign-in "
        "links are used",
    )
    add("--pusher-key", default=defaults.pusher_key, help="the server's pusher.key")
    add(
        "--connect-timeout",
        type=float,
        default=defaults.connect_timeout_s,
        metavar="SECONDS",
        help="a session not showing video on both sides by then fails (default %(default)s)",
    )
    add(
        "--max-duration",
        type=float,
        default=defaults.max_duration_s,
        metavar="SECONDS",
        help="hard limit on the whole run (default %(default)s)",
    )
    add("--sample-interval", type=float, default=defaults.sample_interval_s, metavar="SECONDS")
    add(
        "--output",
        default="loadtest-report",
        metavar="DIR",
        help="folder for report.json and report.html (default %(default)s)",
    )
    add(
        "--loopback-candidates",
        action="store_true",
        help="offer 127.0.0.1 as the only ICE host candidate: for single-machine runs against "
        "a server on loopback (aiortc never offers loopback addresses by itself)",
    )
    add(
        "--processes",
        type=int,
        default=defaults.processes,
        help="load-generating processes; each drives its share of the sessions (default 0: "
        f"one per {SESSIONS_PER_PROCESS} sessions, at most {PROCESSES_PER_CORE} per CPU core)",
    )
    add("--no-metrics", action="store_true", help="do not sample the server's /metrics")
    add("--quiet", action="store_true", help="no live progress")
    add("--run-id", default="", help="tag in the test users' addresses (default random)")


def _token(variable: str | None) -> str:
    """The named variable; by default PANAMIA_LOADTEST_TOKEN, else the server's own
    PANAMIA_AUTH__LOADTEST_TOKEN (handy when both run on one machine)."""
    if variable:
        return os.environ.get(variable, "")
    return os.environ.get(TOKEN_ENV) or os.environ.get(SERVER_TOKEN_ENV, "")


def options_from_args(args: argparse.Namespace) -> Options:
    width, height = args.video
    return Options(
        url=args.url,
        sessions=args.sessions,
        relay_sessions=args.relay_sessions,
        ramp_per_s=args.ramp,
        hold_s=args.hold,
        width=width,
        height=height,
        fps=args.fps,
        audio=not args.no_audio,
        media=args.media,
        audio_packet_ms=args.audio_packet_ms,
        token=_token(args.token_env),
        pusher_key=args.pusher_key,
        connect_timeout_s=args.connect_timeout,
        max_duration_s=args.max_duration,
        sample_interval_s=args.sample_interval,
        output_dir=args.output,
        loopback_candidates=args.loopback_candidates,
        progress=not args.quiet,
        run_id=args.run_id,
        processes=args.processes,
        scrape_metrics=not args.no_metrics,
    )


def main_from_args(args: argparse.Namespace) -> int:
    """Run, print the summary table; exit 0 when every session succeeded, 1 otherwise."""
    from loadtest.runner import run_loadtest

    try:
        options = options_from_args(args)
        options.validate()
    except ValueError as exc:
        print(f"panamia loadtest: {exc}", file=sys.stderr)
        return 2
    report = asyncio.run(run_loadtest(options))
    print(summary_table(report))
    if options.output_dir:
        print(f"reports: {options.output_dir}/report.json, {options.output_dir}/report.html")
    return 0 if report.failed == 0 and report.sessions else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="panamia loadtest", description="Drive real sessions with headless peers."
    )
    add_arguments(parser)
    return main_from_args(parser.parse_args(argv))

"""Relay CPU side by side: several relays at once on one pinned core, fed by one generator.

``python -m bench.relay_ab`` answers "is this change cheaper?" on a machine too busy for
back-to-back runs to compare: every variant's relay (``bench.relay serve``) runs at the same
time, all pinned to one CPU with ``--pin``, and one load generator (this process, on another
CPU) wires the same number of streams through each. Whatever else the machine does then hits
all variants alike. Each round starts fresh relays, wires them (in a rotated order), warms up
and measures one window; per variant it prints the CPU per forwarded packet (the relay's CPU
time over the packets its subscribers received) and per stream, and the ratio to the
reference variant. After all rounds: the median of each.

Variants:

* ``current`` - this checkout as configured by default;
* ``--variant NAME=ARGS`` - this checkout with other ``serve`` arguments, e.g.
  ``--variant asyncio="--event-loop asyncio"`` or ``--variant nogso=--no-udp-gso``;
* ``--baseline PATH`` - another checkout's code (``baseline``): its ``bench.relay serve``
  run by its own ``.venv/bin/python`` in its own directory, with only the arguments every
  version accepts (``--mode passthrough --port N``). It is the reference when given;
  otherwise ``current`` is. Repeat it to run more checkouts (named after their
  directories), e.g. the session's start and the last commit before a change.

A ratio below 1 means the variant costs less CPU per packet than the reference.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from aiortc import RTCConfiguration, RTCPeerConnection

from bench.media import PacketLoopTrack, encode_vp8_loop, loopback_only
from bench.ports import free_port
from bench.procstat import pin_process, process_cpu_seconds
from bench.relay import RelayProcess, stop_serve
from bench.relay_load import CONNECT_CONCURRENCY

REPOSITORY = Path(__file__).resolve().parent.parent
RELAY_CPU = 0
"""The CPU every variant's relay is pinned to with ``--pin``; the generator takes another."""


@dataclass(frozen=True)
class Variant:
    """One relay to run: which interpreter, in which checkout, with which serve arguments."""

    name: str
    python: str
    checkout: str
    serve_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sample:
    """One variant's figures in one round's window."""

    variant: str
    round: int
    streams: int
    seconds: float
    cpu_seconds: float
    packets: int
    frames: int

    @property
    def cpu_us_per_packet(self) -> float:
        return self.cpu_seconds / self.packets * 1e6 if self.packets else float("inf")

    @property
    def cpu_per_stream(self) -> float:
        """CPU-seconds per second per stream."""
        return self.cpu_seconds / self.seconds / self.streams

    @property
    def fps(self) -> float:
        return self.frames / self.seconds / self.streams


def parse_variant(text: str) -> tuple[str, tuple[str, ...]]:
    """``NAME=ARGS`` (ARGS split as a shell would) as (name, serve arguments)."""
    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not name or not name.replace("-", "").replace("_", "").isalnum():
        raise argparse.ArgumentTypeError(f"expected NAME=SERVE-ARGS, got {text!r}")
    if name in ("current", "baseline"):
        raise argparse.ArgumentTypeError(f"{name!r} is a reserved variant name")
    return name, tuple(shlex.split(rest))


def build_variants(
    baselines: Sequence[str], extra: Sequence[tuple[str, tuple[str, ...]]], python: str
) -> list[Variant]:
    """The variants in run order; the first one is the reference for the ratios.

    The first checkout in ``baselines`` is ``baseline``; any further one is named after its
    directory.
    """
    variants: list[Variant] = []
    for number, baseline in enumerate(baselines):
        checkout = Path(baseline).resolve()
        name = "baseline" if number == 0 else checkout.name
        if name in {variant.name for variant in variants} | {"current"}:
            raise ValueError(f"two variants would be called {name!r}")
        variants.append(Variant(name, str(checkout / ".venv/bin/python"), str(checkout)))
    variants.append(Variant("current", python, str(REPOSITORY)))
    names = {variant.name for variant in variants}
    for name, serve_args in extra:
        if name in names:
            raise ValueError(f"variant {name!r} given twice")
        names.add(name)
        variants.append(Variant(name, python, str(REPOSITORY), serve_args))
    return variants


def summarise(rounds: Sequence[Sequence[Sample]], reference: str) -> dict[str, dict[str, Any]]:
    """Per variant: each round's CPU per packet and ratio to ``reference``, and their medians.

    The median of the per-round ratios, not the ratio of the medians: each ratio compares
    relays that shared the same window, which is what cancels the machine's noise.
    """
    summary: dict[str, dict[str, Any]] = {}
    for samples in rounds:
        by_name = {sample.variant: sample for sample in samples}
        ref = by_name.get(reference)
        for sample in samples:
            row = summary.setdefault(
                sample.variant, {"us_per_packet": [], "cpu_per_stream": [], "ratios": []}
            )
            row["us_per_packet"].append(sample.cpu_us_per_packet)
            row["cpu_per_stream"].append(sample.cpu_per_stream)
            if ref is not None and ref.packets and sample.packets:
                row["ratios"].append(sample.cpu_us_per_packet / ref.cpu_us_per_packet)
    for row in summary.values():
        row["median_us_per_packet"] = statistics.median(row["us_per_packet"])
        row["median_cpu_per_stream"] = statistics.median(row["cpu_per_stream"])
        row["median_ratio"] = statistics.median(row["ratios"]) if row["ratios"] else None
    return summary


def format_summary(summary: dict[str, dict[str, Any]], reference: str) -> list[str]:
    lines = [
        f"{'variant':<14}{'us/packet':>11}{'cpu/stream':>12}{'ratio':>8}   per round vs {reference}"
    ]
    for name, row in summary.items():
        ratio = row["median_ratio"]
        rounds = " ".join(f"{value:.3f}" for value in row["ratios"])
        lines.append(
            f"{name:<14}{row['median_us_per_packet']:>11.1f}{row['median_cpu_per_stream']:>12.4f}"
            f"{(f'{ratio:.3f}' if ratio is not None else 'n/a'):>8}   {rounds}"
        )
    return lines


# --- running the relays -------------------------------------------------------------


@contextlib.asynccontextmanager
async def running_relay(
    variant: Variant, http: ClientSession, pin: bool
) -> AsyncIterator[tuple[RelayProcess, int]]:
    """``variant``'s ``bench.relay serve`` until the block ends (closing stdin stops it)."""
    port = free_port()
    args = ["-m", "bench.relay", "serve", "--mode", "passthrough", "--port", str(port)]
    proc = await asyncio.create_subprocess_exec(
        variant.python,
        *args,
        *variant.serve_args,
        cwd=variant.checkout,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        if b"ready" not in line:
            raise RuntimeError(f"the relay of {variant.name} did not start")
        if pin:
            pin_process(proc.pid, RELAY_CPU)
        yield RelayProcess(http, f"http://127.0.0.1:{port}"), proc.pid
    finally:
        await stop_serve(proc)


class Counts:
    """Packets and frames (marker bits) the subscribers of one variant received."""

    def __init__(self, streams: int) -> None:
        self.packets = 0
        self.frames = 0
        self.silent = set(range(streams))
        """Streams whose subscriber has had no frame yet (the keyframe gate is still shut)."""
        self.flowing = asyncio.Event()

    def counter(self, index: int) -> Callable[[Any, int], Any]:
        async def count(packet: Any, arrival_time_ms: int) -> None:
            self.packets += 1
            if packet.marker:
                self.frames += 1
                self.silent.discard(index)
                if not self.silent:
                    self.flowing.set()

        return count


async def run_round(
    number: int,
    variants: Sequence[Variant],
    streams: int,
    frames: list[bytes],
    args: argparse.Namespace,
    note: Callable[[str], None],
) -> list[Sample]:
    """Fresh relays for every variant, the same load through each, one shared window."""
    order = list(variants[number % len(variants) :]) + list(variants[: number % len(variants)])
    pcs: list[RTCPeerConnection] = []
    counts = {variant.name: Counts(streams) for variant in variants}
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(ClientSession())
        relays = {}
        for variant in order:
            relays[variant.name] = await stack.enter_async_context(
                running_relay(variant, http, args.pin)
            )

        async def wire(variant: Variant, index: int) -> None:
            publisher = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            publisher.addTransceiver(PacketLoopTrack(frames, 30), direction="sendonly")
            subscriber = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pcs.extend((publisher, subscriber))
            async with limit:
                await relays[variant.name][0].connect(index, publisher, subscriber)
            receiver = subscriber.getTransceivers()[0].receiver
            receiver._handle_rtp_packet = counts[variant.name].counter(index)  # type: ignore[method-assign,assignment]

        try:
            await asyncio.gather(
                *(wire(variant, index) for index in range(streams) for variant in order)
            )
            note(f"round {number + 1}: {streams} streams wired through each relay")
            flowing = asyncio.gather(*(count.flowing.wait() for count in counts.values()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(flowing, 20 + streams * len(variants) / 5)
            note(f"round {number + 1}: media flowing, warming up")
            await asyncio.sleep(args.warmup)
            cpu_before = {name: process_cpu_seconds(pid) for name, (_, pid) in relays.items()}
            start_counts = {name: (c.packets, c.frames) for name, c in counts.items()}
            started = time.monotonic()
            await asyncio.sleep(args.window)
            elapsed = time.monotonic() - started
            samples = []
            for variant in variants:
                pid = relays[variant.name][1]
                packets0, frames0 = start_counts[variant.name]
                count = counts[variant.name]
                samples.append(
                    Sample(
                        variant=variant.name,
                        round=number + 1,
                        streams=streams,
                        seconds=elapsed,
                        cpu_seconds=process_cpu_seconds(pid) - cpu_before[variant.name],
                        packets=count.packets - packets0,
                        frames=count.frames - frames0,
                    )
                )
        finally:
            for pc in pcs:
                await pc.close()
    return samples


def _note(text: str) -> None:
    print(f"  .. {text}", flush=True)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    variants = args.variants
    reference = variants[0].name
    args.pin = args.pin and (os.cpu_count() or 1) >= 2
    if args.pin:
        os.sched_setaffinity(0, {RELAY_CPU + 1})
    frames = encode_vp8_loop()
    print(
        f"{len(variants)} relays side by side ({', '.join(v.name for v in variants)}), "
        f"{args.streams} streams each, {args.rounds} rounds of {args.window}s; "
        f"relays pinned to CPU{RELAY_CPU} together, load on CPU{RELAY_CPU + 1}: {args.pin}",
        flush=True,
    )
    print(f"{'round':<7}{'variant':<14}{'us/packet':>11}{'cpu/stream':>12}{'fps':>7}{'ratio':>8}")
    rounds: list[list[Sample]] = []
    with loopback_only():
        for number in range(args.rounds):
            samples = await run_round(number, variants, args.streams, frames, args, _note)
            rounds.append(samples)
            ref = samples[0]
            for sample in samples:
                ratio = sample.cpu_us_per_packet / ref.cpu_us_per_packet if ref.packets else 0
                print(
                    f"{number + 1:<7}{sample.variant:<14}{sample.cpu_us_per_packet:>11.1f}"
                    f"{sample.cpu_per_stream:>12.4f}{sample.fps:>7.1f}{ratio:>8.3f}",
                    flush=True,
                )
    summary = summarise(rounds, reference)
    print()
    for line in format_summary(summary, reference):
        print(line)
    print("(ratio = CPU per forwarded packet / the reference's in the same window; median)")
    return {
        "variants": [asdict(variant) for variant in variants],
        "samples": [asdict(sample) for samples in rounds for sample in samples],
        "summary": summary,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_ab", description=__doc__)
    parser.add_argument(
        "--baseline",
        action="append",
        default=[],
        help="another checkout (with its own .venv) to run as the reference; repeatable "
        "(further checkouts run beside it, named after their directories)",
    )
    parser.add_argument(
        "--variant",
        type=parse_variant,
        action="append",
        default=[],
        help="NAME=SERVE-ARGS: this checkout with other serve arguments, e.g. "
        'asyncio="--event-loop asyncio"; repeatable',
    )
    parser.add_argument("--streams", type=int, default=16, help="streams through each relay")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument(
        "--pin",
        action="store_true",
        help=f"pin every relay to CPU{RELAY_CPU}, the load to the next",
    )
    parser.add_argument("--json", help="also write the samples and summary to this file")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.streams < 1 or args.rounds < 1:
        raise SystemExit("--streams and --rounds must be at least 1")
    try:
        args.variants = build_variants(args.baseline, args.variant, sys.executable)
    except ValueError as error:
        raise SystemExit(str(error)) from error
    for variant in args.variants:
        if not Path(variant.python).exists():
            raise SystemExit(f"{variant.name}: no interpreter at {variant.python}")
    results = asyncio.run(run(args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Run one matrix cell (two peer drivers in two lab hosts) and collect the table."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
STEP_TIMEOUT_S = 40.0
"""Bound on each protocol step (sign-in, booking, a result line); far above the normal."""


@dataclass
class CaseResult:
    cell_a: str
    cell_b: str
    turn: bool
    path: str
    connect_ms: float | None
    """The slower side's time from "go" to ICE connected."""
    frame_ms: float | None
    """The slower side's time from "go" to its first remote video frame."""
    error: str
    sides: list[dict[str, Any]]
    reported_ms: float | None = None
    """When a side gave up: the slower side's time from "go" to its failure report."""

    @property
    def name(self) -> str:
        return f"{self.cell_a} <-> {self.cell_b}"


RESULTS: list[CaseResult] = []


class Driver:
    """One ``peer_driver`` process in a namespace, spoken to line by line."""

    def __init__(self, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.proc = proc
        self.log = log

    @classmethod
    async def start(cls, ns: str, module: str, args: list[str], log: Path) -> Driver:
        with log.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                "ip",
                "netns",
                "exec",
                ns,
                sys.executable,
                "-m",
                module,
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
                cwd=str(REPO),
            )
        return cls(proc, log)

    async def line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), STEP_TIMEOUT_S)
            if not raw:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"peer driver exited early; its log ends with:\n{tail}")
            with contextlib.suppress(ValueError):
                data = json.loads(raw)
                if isinstance(data, dict) and "event" in data:
                    return data

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.send("leave")
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 15)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()


def slowest(sides: list[dict[str, Any]], key: str) -> float | None:
    """The larger of both sides' figures (None unless both have one)."""
    values = [s.get(key) for s in sides]
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    return max(numbers) if len(numbers) == len(values) and numbers else None


def combined_path(sides: list[dict[str, Any]]) -> str:
    """The session's path from both sides' selected pairs."""
    paths = {str(s.get("path", "")) for s in sides}
    if "relay" in paths:
        return "relay"
    if "turn-tcp" in paths:
        return "turn-tcp"
    if "turn-udp" in paths:
        return "turn-udp"
    if paths == {"direct"}:
        return "direct"
    return "/".join(sorted(paths))


def driver_arguments(
    url: str, token: str, tag: str, timeout_s: float, extra: tuple[str, ...] = ()
) -> list[str]:
    """The drivers' common command line. Each value is joined to its option ("--token=..."):
    a random token may begin with "-", which argparse would otherwise take for an option
    (1 lab in 64 then failed every cell)."""
    return [f"--url={url}", f"--token={token}", f"--tag={tag}", f"--timeout={timeout_s}", *extra]


async def run_case(
    *,
    host_a: str,
    host_b: str,
    url: str,
    token: str,
    tag: str,
    timeout_s: float,
    logs: Path,
    module: str = "tests.nat.peer_driver",
    extra: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Mentor in ``host_a``, mentee in ``host_b``; both results (mentor first)."""
    common = driver_arguments(url, token, tag, timeout_s, extra)
    mentor = await Driver.start(
        host_a, module, [*common, "--role", "mentor"], logs / f"{tag}-mentor.log"
    )
    mentee = await Driver.start(
        host_b, module, [*common, "--role", "mentee"], logs / f"{tag}-mentee.log"
    )
    try:
        first, second = await asyncio.gather(mentor.line(), mentee.line())
        for data in (first, second):
            if data["event"] == "result":  # setup failed
                raise RuntimeError(f"peer driver setup failed: {data.get('error')}")
        mentee.send(str(first["sessionId"]))
        mentor.send("go")
        results = await asyncio.gather(mentor.line(), mentee.line())
        return list(results)
    finally:
        await asyncio.gather(mentor.stop(), mentee.stop())


def matrix_markdown(results: list[CaseResult]) -> str:
    rows = [
        "| cell (mentor <-> mentee) | TURN | path | ICE connected ms | first frame ms"
        " | failure reported ms | outcome |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(results, key=lambda r: (not r.turn, r.cell_a, r.cell_b)):
        outcome = r.error or "connected"
        rows.append(
            f"| {r.name} | {'yes' if r.turn else 'no'} | {r.path or '-'} | "
            f"{'-' if r.connect_ms is None else f'{r.connect_ms:.0f}'} | "
            f"{'-' if r.frame_ms is None else f'{r.frame_ms:.0f}'} | "
            f"{'-' if r.reported_ms is None else f'{r.reported_ms:.0f}'} | {outcome} |"
        )
    return "\n".join(rows)

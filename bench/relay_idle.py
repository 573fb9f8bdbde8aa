"""Idle memory of a relay process: ``python -m bench.relay_idle``.

Starts a bare interpreter that imports the relay and starts a
:class:`relay.manager.RelayManager` (what a relay worker process holds before its first
session), and prints its resident set size, proportional (PSS: shared library pages divided
among the processes mapping them) and unique (USS) memory, with the RSS each import step
added. The breakdown says what a smaller worker would have to leave out: most of it is
native libraries that aiortc imports unconditionally (PyAV's FFmpeg, pyOpenSSL's
cryptography bindings, libsrtp).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from pathlib import Path

STEPS = (
    "asyncio",
    "structlog",
    "OpenSSL",
    "pylibsrtp",
    "aioice",
    "av",
    "aiortc",
    "relay.manager",
)
"""Imported in this order, each on top of the previous ones."""


def _memory() -> dict[str, float]:
    """RSS, PSS and USS (private pages) of this process, in MB."""
    values: dict[str, float] = {}
    for line in Path("/proc/self/smaps_rollup").read_text(encoding="ascii").splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
            values[key] = int(rest.split()[0]) / 1024
    return {
        "rss_mb": values.get("Rss", 0.0),
        "pss_mb": values.get("Pss", 0.0),
        "uss_mb": values.get("Private_Clean", 0.0) + values.get("Private_Dirty", 0.0),
    }


def probe() -> dict[str, object]:
    """Run inside the measured process: import step by step, then start a manager."""
    steps: list[tuple[str, float]] = [("interpreter", _memory()["rss_mb"])]
    for module in STEPS:
        __import__(module)
        steps.append((module, _memory()["rss_mb"]))
    from config.settings import RelaySettings
    from relay.manager import RelayManager

    async def start() -> dict[str, float]:
        manager = RelayManager(RelaySettings(), [])
        await manager.start()
        await asyncio.sleep(0.5)
        memory = _memory()
        await manager.close()
        return memory

    return {"steps": steps, "idle": asyncio.run(start())}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_idle", description=__doc__)
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(probe()))
        return
    done = subprocess.run(
        [sys.executable, "-m", "bench.relay_idle", "--probe"],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    previous = 0.0
    print(f"{'import step':<16}{'RSS MB':>8}{'added':>8}")
    for name, rss in result["steps"]:
        print(f"{name:<16}{rss:>8.1f}{rss - previous:>8.1f}")
        previous = rss
    idle = result["idle"]
    print(
        f"idle relay process (RelayManager started): RSS {idle['rss_mb']:.1f} MB, "
        f"PSS {idle['pss_mb']:.1f} MB, USS {idle['uss_mb']:.1f} MB"
    )


if __name__ == "__main__":
    main()

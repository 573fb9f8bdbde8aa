"""``python -m relay.selfcheck``: the relay's compatibility check, in a process of its own.

A relay worker imports aiortc (with its DTLS, SRTP and ICE libraries) only when its first
session arrives, so that an idle worker stays small. The check that the installed aiortc and
aioice still have every private name the relay uses (:func:`relay.compat.self_check`) needs
them imported, so a fresh worker runs it here, in a short-lived interpreter of the same
installation, and reports the outcome when it starts. Prints a JSON list of problems (empty
when the relay can serve).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from relay import lazy_av

MODULE = "relay.selfcheck"


def problems() -> list[str]:
    lazy_av.defer()
    from relay import compat

    return compat.self_check()


def unavailable_reason(problems: list[str]) -> str | None:
    """Why the relay is disabled, from the check's problems (None when there are none)."""
    return "the media relay is disabled: " + "; ".join(problems) if problems else None


async def check_in_child(timeout_s: float = 60.0) -> list[str]:
    """Run the check in a child interpreter of this installation; its problems.

    The child sees this process's import path. A child that fails or prints nothing
    readable is itself a problem (reported as one)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(path for path in sys.path if path)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        MODULE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        return [f"the relay's compatibility check did not finish in {timeout_s:.0f} s"]
    try:
        found = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        detail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return [f"the relay's compatibility check failed: {detail[0]}"]
    return [str(problem) for problem in found]


if __name__ == "__main__":
    print(json.dumps(problems()))

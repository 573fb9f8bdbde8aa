"""Helpers to run real services (redis-server, coturn, sidecars) for tests."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from bench.ports import free_port as free_port
from bench.ports import wait_for_port as wait_for_port


def find_tool(name: str, *extra_dirs: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/bin", "/usr/local/bin", *extra_dirs):
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    return None


@contextlib.contextmanager
def running(
    args: list[str], port: int, cwd: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a process, wait until it listens on ``port``, stop it afterwards."""
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            wait_for_port(port)
        except TimeoutError:
            proc.kill()
            _out, err = proc.communicate(timeout=5)
            raise RuntimeError(f"{args[0]} did not start: {err.decode(errors='replace')}") from None
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

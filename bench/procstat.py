"""CPU time and memory of a process, read from /proc, and pinning all of its threads."""

from __future__ import annotations

import contextlib
import os
import resource
from pathlib import Path


def process_cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU seconds of every thread of ``pid`` so far."""
    text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """User + system CPU seconds of this process so far, from getrusage (finer than /proc's
    clock ticks, which matters for the load generator's short windows)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_memory_mb(pid: int | str = "self") -> tuple[float, float]:
    """(resident set size, its high-water mark) of ``pid`` in MB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def pin_process(pid: int, cpu: int) -> None:
    """Pin every thread of ``pid`` (not only its main thread) to ``cpu``."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(task.name), {cpu})

"""This process's CPU time and memory, as a relay worker reports them."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path


def cpu_seconds() -> float:
    """User plus system CPU time of this process (all threads) so far."""
    return time.process_time()


def rss_bytes() -> int:
    """Resident memory now (``/proc/self/statm``); the peak where /proc is missing."""
    try:
        resident_pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

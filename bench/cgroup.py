"""A fixed CPU budget per process, with a Linux cgroup: how the scaling bench caps a worker.

:func:`open_cpu_caps` makes a cgroup of its own under the machine's CPU controller (cgroup v1's
``cpu`` hierarchy with ``cpu.cfs_quota_us``/``cpu.cfs_period_us``, else cgroup v2's
``cpu.max``), and :meth:`CpuCaps.add` puts a process (all of its threads) in a child group
of its own. :meth:`CpuCaps.limit` then sets every child's budget: ``cpus`` cores' worth of
time in each period (0.25: a quarter of a core). A short period (10 ms by default) keeps the
pauses of a process that used up its budget short, and where the kernel has it, the burst
setting lets a process spend time it left unused in a quiet period in a busy one (media comes
in bursts), while its average stays at the budget.

When cgroups cannot be written (not root, no CPU controller, a read-only mount), opening
raises :class:`CgroupUnavailable` with the reason, and the bench says so and carries on
without the cap.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

V1_ROOT = Path("/sys/fs/cgroup/cpu")
DEFAULT_PERIOD_US = 10_000
MIN_QUOTA_US = 1_000
"""The kernel refuses a quota under a millisecond."""


NICE_0_WEIGHT = 1024


def nice_weight(nice: int) -> int:
    """The scheduler weight of a task at ``nice`` (each step about 1.25 times the next)."""
    return round(NICE_0_WEIGHT / 1.25**nice)


class CgroupUnavailable(Exception):
    """No cgroup with a CPU controller can be made here; the message says why."""


@dataclass(frozen=True)
class Throttling:
    """A group's throttling counters so far (``cpu.stat``)."""

    periods: int
    throttled_periods: int
    throttled_s: float

    def since(self, earlier: Throttling) -> float:
        """Share of the periods between ``earlier`` and now in which the group hit its cap."""
        periods = self.periods - earlier.periods
        return (self.throttled_periods - earlier.throttled_periods) / periods if periods else 0.0


def _v2_root(mounts: str) -> Path | None:
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "cgroup2":
            return Path(fields[1])
    return None


class CpuCaps:
    """Child cgroups with a CPU budget each, under one parent made for this run."""

    def __init__(self, parent: Path, version: int, period_us: int) -> None:
        self.parent = parent
        self.version = version
        self.period_us = period_us
        self._groups: dict[str, Path] = {}
        self._capped: set[str] = set()

    @property
    def description(self) -> str:
        return f"cgroup v{self.version} at {self.parent}, period {self.period_us / 1000:g} ms"

    def add(self, name: str, pid: int, weight: int = NICE_0_WEIGHT, capped: bool = True) -> None:
        """Put process ``pid`` (every thread) in child group ``name``, not limited yet
        (:meth:`limit` limits the ``capped`` groups).

        ``weight`` is the group's share against other work on the machine when CPU is
        scarce (the weight of a task at nice 0 is 1024; see :func:`nice_weight`). A group
        of its own also takes a process out of its session's autogroup, where the kernel
        ignores nice against other sessions."""
        group = self.parent / name
        group.mkdir(exist_ok=True)
        self._groups[name] = group
        if capped:
            self._capped.add(name)
        self._write_budget(group, None)
        self.weigh(group, weight)
        (group / "cgroup.procs").write_text(str(pid))

    def weigh(self, group: Path, weight: int) -> None:
        """Set a group's scheduler weight (1024: a task at nice 0)."""
        if self.version == 1:
            (group / "cpu.shares").write_text(str(max(2, min(262_144, weight))))
        else:  # cgroup v2 weights run from 1 to 10000, 100 for nice 0
            (group / "cpu.weight").write_text(str(max(1, min(10_000, weight * 100 // 1024))))

    def limit(self, cpus: float | None) -> None:
        """Give every capped group ``cpus`` cores' worth of time per period (None: no limit)."""
        for name in self._capped:
            self._write_budget(self._groups[name], cpus)

    def _write_budget(self, group: Path, cpus: float | None) -> None:
        quota = -1 if cpus is None else max(MIN_QUOTA_US, round(cpus * self.period_us))
        burst = group / ("cpu.cfs_burst_us" if self.version == 1 else "cpu.max.burst")
        if burst.exists() and quota < 0:
            burst.write_text("0")  # before the quota goes: a burst needs a quota
        if self.version == 1:
            (group / "cpu.cfs_period_us").write_text(str(self.period_us))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            (group / "cpu.max").write_text(f"{'max' if quota < 0 else quota} {self.period_us}")
        if burst.exists() and quota > 0:
            # Time left unused in quiet periods may be spent in a busy one (up to one period's
            # quota): media arrives in bursts, and the average stays at the budget.
            burst.write_text(str(quota))

    def throttling(self, name: str) -> Throttling:
        values: dict[str, int] = {}
        for line in (self._groups[name] / "cpu.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                values[key] = int(value)
        if self.version == 1:
            throttled = values.get("throttled_time", 0) / 1e9
        else:
            throttled = values.get("throttled_usec", 0) / 1e6
        return Throttling(values.get("nr_periods", 0), values.get("nr_throttled", 0), throttled)

    def close(self) -> None:
        """Move what still runs in the groups back to the parent's parent and remove them."""
        for group in [*self._groups.values(), self.parent]:
            _empty_into(group, self.parent.parent)
            with contextlib.suppress(OSError):
                group.rmdir()
        self._groups.clear()
        self._capped.clear()


def _empty_into(group: Path, target: Path) -> None:
    with contextlib.suppress(OSError):
        for pid in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):
                (target / "cgroup.procs").write_text(pid)


def open_cpu_caps(
    period_us: int = DEFAULT_PERIOD_US,
    name: str | None = None,
    v1_root: Path = V1_ROOT,
    mounts: Path = Path("/proc/self/mounts"),
) -> CpuCaps:
    """A parent cgroup for this run (v1's cpu hierarchy first, then v2), or
    :class:`CgroupUnavailable` saying why neither could be used."""
    name = name or f"panamia-bench-{os.getpid()}"
    problems: list[str] = []
    if (v1_root / "cpu.cfs_quota_us").exists():
        try:
            parent = v1_root / name
            parent.mkdir(exist_ok=True)
            return CpuCaps(parent, 1, period_us)
        except OSError as exc:
            problems.append(f"cgroup v1 {v1_root}: {exc.strerror or exc}")
    else:
        problems.append(f"no cgroup v1 cpu controller at {v1_root}")
    try:
        root = _v2_root(mounts.read_text())
    except OSError:
        root = None
    if root is None:
        problems.append("no cgroup v2 mount")
    elif "cpu" not in (root / "cgroup.controllers").read_text().split():
        problems.append(f"cgroup v2 at {root} has no cpu controller (it is bound to v1)")
    else:
        try:
            (root / "cgroup.subtree_control").write_text("+cpu")
            parent = root / name
            parent.mkdir(exist_ok=True)
            (parent / "cgroup.subtree_control").write_text("+cpu")
            return CpuCaps(parent, 2, period_us)
        except OSError as exc:
            problems.append(f"cgroup v2 {root}: {exc.strerror or exc}")
    raise CgroupUnavailable("; ".join(problems))

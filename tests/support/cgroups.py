"""Whether this machine lets the benches cap CPU with a cgroup, for tests that need one."""

from __future__ import annotations

import os

import pytest

from bench.cgroup import CgroupUnavailable, open_cpu_caps


def _cgroups_reason() -> str | None:
    """Why no cgroup with a CPU controller can be written here (not root, no controller), or
    None when a probe group could be made and removed."""
    try:
        open_cpu_caps(name=f"panamia-test-probe-{os.getpid()}").close()
    except CgroupUnavailable as exc:
        return str(exc)
    return None


CGROUPS_MISSING = _cgroups_reason()
needs_cgroups = pytest.mark.skipif(
    CGROUPS_MISSING is not None, reason=f"no writable cgroup: {CGROUPS_MISSING}"
)

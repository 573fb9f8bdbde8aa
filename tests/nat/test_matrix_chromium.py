"""The hardest NAT cells with the real room page in Debian Chromium, one browser per host.

symmetric <-> symmetric and UDP-blocked <-> symmetric: with TURN the call runs over TURN;
without TURN the symmetric pair moves to our media relay, while the UDP-blocked page says
plainly, within 10 s, that its network blocks UDP.
"""

from __future__ import annotations

import importlib.util
import secrets
from pathlib import Path

import pytest

from tests.nat.conftest import Services
from tests.nat.matrix import RESULTS, CaseResult, run_case, slowest

pytestmark = [pytest.mark.nat, pytest.mark.timeout(120)]

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_S = 20.0
REPORT_WITHIN_MS = 10_000
BLOCKED_UDP = "This network blocks UDP; ask the operator to enable TURN over TCP/TLS."
CELLS = [("symmetric", "symmetric"), ("udp-blocked", "symmetric")]


@pytest.fixture(scope="module")
def chromium_ready() -> None:
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("playwright is not installed (pip install playwright)")


@pytest.mark.parametrize("turn", [True, False], ids=["turn", "no-turn"])
@pytest.mark.parametrize(("cell_a", "cell_b"), CELLS, ids=[f"{a}-{b}" for a, b in CELLS])
async def test_chromium_cell(
    chromium_ready: None, nat_services: Services, cell_a: str, cell_b: str, turn: bool
) -> None:
    lab = nat_services.lab
    expect_failure = not turn and cell_a == "udp-blocked"
    tag = f"chromium-{cell_a}-{cell_b}-{'turn' if turn else 'relay'}-{secrets.token_hex(3)}"
    sides = await run_case(
        host_a=lab.site("a", cell_a).host,
        host_b=lab.site("b", cell_b).host,
        url=nat_services.url_with_turn if turn else nat_services.url_without_turn,
        token=nat_services.token,
        tag=tag,
        # where failure is expected the other page need not wait for long
        timeout_s=REPORT_WITHIN_MS / 1000 if expect_failure else TIMEOUT_S,
        logs=nat_services.logs,
        module="tests.nat.browser_driver",
    )
    errors = "; ".join(f"{s.get('role')}: {s['error']}" for s in sides if s.get("error"))
    paths = {str(s.get("path")) for s in sides}
    ok = all(s.get("ok") for s in sides)
    RESULTS.append(
        CaseResult(
            cell_a=f"{cell_a} (Chromium)",
            cell_b=f"{cell_b} (Chromium)",
            turn=turn,
            path="/".join(sorted(paths)) if ok else "",
            connect_ms=slowest(sides, "connectedMs"),
            frame_ms=slowest(sides, "frameMs"),
            error=errors,
            sides=sides,
            reported_ms=None if ok else float(sides[0]["elapsedMs"]),
        )
    )
    if turn:
        assert ok, sides
        assert paths == {"turn"}, sides  # no direct path exists through a symmetric NAT
    elif not expect_failure:
        assert ok, sides
        assert paths == {"relay"}, sides
    else:
        blocked = sides[0]
        assert not blocked["ok"], sides
        assert blocked["error"] == BLOCKED_UDP, sides
        assert float(blocked["elapsedMs"]) < REPORT_WITHIN_MS, sides

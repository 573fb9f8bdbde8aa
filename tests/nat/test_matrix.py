"""The NAT matrix with headless aiortc peers: every pair of cells, with and without TURN.

With TURN (UDP and TCP URIs) every cell connects, by the path its networks allow. Without
TURN the peers go through our media relay; a host whose network blocks UDP cannot reach it
(aiortc has no TCP candidates) and must say so plainly within 10 s.
"""

from __future__ import annotations

import itertools
import secrets

import pytest

from tests.nat.conftest import Services
from tests.nat.lab import CELLS
from tests.nat.matrix import RESULTS, CaseResult, combined_path, run_case, slowest
from tests.nat.peer_driver import BLOCKED_UDP

pytestmark = [pytest.mark.nat, pytest.mark.timeout(120)]

PAIRS = list(itertools.combinations_with_replacement(CELLS, 2))
TIMEOUT_S = 8.0
"""Each peer's own limit: a cell that cannot connect reports before 10 s."""
CONNECT_TIMEOUT_S = 20.0
"""Each peer's limit in a cell that connects: a sanity bound (the slowest first frame was
3.6 s under two CPU hogs), not the promise about reporting a failure."""
REPORT_WITHIN_MS = 10_000


def expected_turn_paths(a: str, b: str) -> set[str]:
    """The paths ICE may pick with STUN and TURN (aiortc nominates the first pair that
    works, so where a direct pair exists a TURN pair may still win the race)."""
    if "udp-blocked" in (a, b):
        return {"turn-tcp"}  # that side reaches anything only through TURN over TCP
    if {a, b} in ({"symmetric"}, {"cone", "symmetric"}):
        return {"turn-udp"}  # no hole punching through a symmetric NAT facing a filter
    return {"direct", "turn-udp"}


@pytest.mark.parametrize("turn", [True, False], ids=["turn", "no-turn"])
@pytest.mark.parametrize(("cell_a", "cell_b"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
async def test_cell(nat_services: Services, cell_a: str, cell_b: str, turn: bool) -> None:
    lab = nat_services.lab
    tag = f"{cell_a}-{cell_b}-{'turn' if turn else 'relay'}-{secrets.token_hex(3)}"
    blocked = "udp-blocked" in (cell_a, cell_b)
    connects = turn or not blocked
    sides = await run_case(
        host_a=lab.site("a", cell_a).host,
        host_b=lab.site("b", cell_b).host,
        url=nat_services.url_with_turn if turn else nat_services.url_without_turn,
        token=nat_services.token,
        extra=("--mode", "direct" if turn else "relay"),
        tag=tag,
        timeout_s=CONNECT_TIMEOUT_S if connects else TIMEOUT_S,
        logs=nat_services.logs,
    )
    errors = "; ".join(f"{s.get('role')}: {s['error']}" for s in sides if s.get("error"))
    path = combined_path(sides) if all(s.get("ok") for s in sides) else ""
    RESULTS.append(
        CaseResult(
            cell_a=cell_a,
            cell_b=cell_b,
            turn=turn,
            path=path,
            connect_ms=slowest(sides, "iceConnectedMs"),
            frame_ms=slowest(sides, "firstFrameMs"),
            error=errors,
            sides=sides,
            reported_ms=slowest(sides, "elapsedMs") if errors else None,
        )
    )
    if connects:
        assert all(s.get("ok") for s in sides), sides
        if turn:
            assert path in expected_turn_paths(cell_a, cell_b), sides
        else:
            assert path == "relay", sides
            for side in sides:  # the media relay in pub answered, nothing else
                assert str(side["remote"]).split()[-1].startswith("203.0.113.1:"), sides
        return
    # Without TURN a UDP-blocked host cannot reach the relay: it says so, in time.
    for side, cell in zip(sides, (cell_a, cell_b), strict=True):
        assert not side.get("ok"), sides
        assert float(side["elapsedMs"]) < REPORT_WITHIN_MS, sides
        if cell == "udp-blocked":
            assert side["error"] == BLOCKED_UDP, sides

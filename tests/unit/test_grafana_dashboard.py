"""docs/grafana/panamia.json charts every figure the server exposes at /metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

from panamia.metrics import make_metrics
from web.metrics import HUB_METRICS

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana" / "panamia.json"


def test_the_dashboard_queries_every_metric_of_the_server() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = " ".join(
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", ())
    )
    queried = set(re.findall(r"[a-z_]+", expressions))
    state = make_metrics()
    state.hub_stats = lambda: {key: 0 for key, *_ in HUB_METRICS}  # the hub's figures show too
    registry = state.registry
    exposed = {family.name for family in registry.collect()}
    missing = {
        name
        for name in exposed
        if not {name, f"{name}_total", f"{name}_bucket", f"{name}_count"} & queried
    }
    assert missing == set()
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))

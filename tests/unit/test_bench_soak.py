"""bench.soak's reading of /metrics: per-worker figures are added up, CPU counters kept."""

from __future__ import annotations

import argparse

from bench.soak import loadtest_args, parse_metrics


def test_relay_worker_figures_are_summed_and_cpu_counters_read() -> None:
    text = (
        "# HELP process_cpu_seconds_total Total user and system CPU time.\n"
        "process_cpu_seconds_total 12.5\n"
        'panamia_relay_worker_cpu_seconds_total{worker="0"} 1.5\n'
        'panamia_relay_worker_cpu_seconds_total{worker="1"} 2.0\n'
        'panamia_relay_worker_resident_memory_bytes{worker="0"} 1048576\n'
        'panamia_relay_worker_resident_memory_bytes{worker="1"} 1048576\n'
    )
    figures = parse_metrics(text)
    assert figures["cpu_s"] == 12.5 and figures["workers_cpu_s"] == 3.5
    assert figures["workers_mb"] == 2.0 and figures["hub_conns"] == 0.0


def test_the_soak_passes_its_media_choice_to_the_load_tester() -> None:
    args = argparse.Namespace(
        sessions=3, relay_sessions=2, minutes=1.0, ramp=2.0, video="160x120", fps=15,
        processes=0, media="replay", audio_packet_ms=60,
    )  # fmt: skip
    argv = loadtest_args(args, "http://127.0.0.1:1", "/tmp/out")
    assert argv[argv.index("--media") + 1] == "replay"
    assert argv[argv.index("--audio-packet-ms") + 1] == "60"
    assert argv[argv.index("--processes") + 1] == "0"

"""The side-by-side relay bench's arguments and summary (no relays are started)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench.relay_ab import Sample, build_parser, build_variants, parse_variant, summarise


def sample(variant: str, round_: int, cpu: float, packets: int) -> Sample:
    return Sample(
        variant, round_, streams=4, seconds=10.0, cpu_seconds=cpu, packets=packets, frames=1200
    )


def test_variant_arguments_are_split_like_a_shell() -> None:
    assert parse_variant("asyncio=--event-loop asyncio") == ("asyncio", ("--event-loop", "asyncio"))
    assert parse_variant("nogso=--no-udp-gso") == ("nogso", ("--no-udp-gso",))
    for bad in ("no-equals", "=--x", "current=--x", "bad name=--x"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_variant(bad)


def test_the_baseline_checkout_runs_its_own_interpreter_and_is_the_reference(
    tmp_path: Path,
) -> None:
    args = build_parser().parse_args(
        ["--baseline", str(tmp_path), "--variant", "nogso=--no-udp-gso", "--rounds", "2"]
    )
    variants = build_variants(args.baseline, args.variant, "/usr/bin/python3")
    assert [v.name for v in variants] == ["baseline", "current", "nogso"]
    assert variants[0].python == str(tmp_path / ".venv/bin/python")
    assert variants[0].checkout == str(tmp_path) and variants[0].serve_args == ()
    assert variants[1].python == "/usr/bin/python3"
    assert variants[2].serve_args == ("--no-udp-gso",)
    assert build_variants([], [], "py")[0].name == "current"
    with pytest.raises(ValueError):
        build_variants([], [("x", ()), ("x", ())], "py")
    more = build_variants([str(tmp_path / "before"), str(tmp_path / "head")], [], "py")
    assert [v.name for v in more] == ["baseline", "head", "current"]
    with pytest.raises(ValueError):
        build_variants([str(tmp_path), str(tmp_path / "current")], [], "py")


def test_summary_takes_the_median_of_per_round_ratios() -> None:
    rounds = [
        [sample("baseline", 1, 1.0, 10_000), sample("current", 1, 0.8, 10_000)],
        [sample("baseline", 2, 2.0, 10_000), sample("current", 2, 1.4, 10_000)],
        [sample("baseline", 3, 1.0, 10_000), sample("current", 3, 0.9, 10_000)],
    ]
    summary = summarise(rounds, "baseline")
    assert summary["baseline"]["median_ratio"] == pytest.approx(1.0)
    assert summary["current"]["ratios"] == pytest.approx([0.8, 0.7, 0.9])
    assert summary["current"]["median_ratio"] == pytest.approx(0.8)
    assert summary["current"]["median_us_per_packet"] == pytest.approx(90.0)
    assert rounds[0][1].cpu_per_stream == pytest.approx(0.02)
    assert rounds[0][1].fps == pytest.approx(30.0)


def test_a_variant_that_forwarded_nothing_has_no_ratio() -> None:
    summary = summarise([[sample("current", 1, 1.0, 0), sample("x", 1, 1.0, 100)]], "current")
    assert summary["x"]["median_ratio"] is None

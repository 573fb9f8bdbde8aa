"""The fast path's reception statistics match aiortc's own for the same packets."""

from __future__ import annotations

import random

import pytest
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RtpPacket

from relay import compat


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_count_received_keeps_the_figures_aiortc_keeps(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    now = [1000.0]
    monkeypatch.setattr("aiortc.rtcrtpreceiver.time.time", lambda: now[0])
    ours, theirs = StreamStatistics(90000), StreamStatistics(90000)
    sequence, timestamp = rng.randrange(65536), rng.randrange(1 << 32)
    for _ in range(3000):  # wraps the sequence number; some loss, reordering and repeats
        step = rng.choice([1, 1, 1, 1, 2, 0, -3])
        sequence = (sequence + step) & 0xFFFF
        if rng.random() < 0.25:
            timestamp = (timestamp + 3000) & 0xFFFFFFFF
        now[0] += rng.random() / 100
        compat.count_received(ours, sequence, timestamp, lambda: now[0])
        theirs.add(RtpPacket(sequence_number=sequence, timestamp=timestamp))
    assert vars(ours) == vars(theirs)
    assert ours.packets_lost == theirs.packets_lost and ours.jitter == theirs.jitter

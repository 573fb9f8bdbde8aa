"""Bounded per-stream state: the send history ring, the loss window and their settings."""

from __future__ import annotations

import random

import pytest

from config.settings import RelaySettings
from relay.history import SendHistory
from relay.limits import StreamLimits
from relay.nack import LossTracker


def _packet(sequence: int, size: int = 100) -> bytes:
    return b"\x80\x60" + sequence.to_bytes(2, "big") + bytes(8) + bytes(size)


def test_the_history_keeps_only_the_last_packets_by_sequence_number() -> None:
    history = SendHistory(16)
    for sequence in range(65530, 65536 + 40):
        history.packets[(sequence & 0xFFFF) % history.size] = _packet(sequence & 0xFFFF)
    newest = (65536 + 39) & 0xFFFF
    assert history.find(newest) == _packet(newest)
    assert history.find((newest - 15) & 0xFFFF) is not None
    assert history.find((newest - 16) & 0xFFFF) is None  # overwritten: too old to resend
    assert sum(len(packet) for packet in history.packets) == 16 * len(_packet(0))


class _PruneEveryPacket:
    """What aiortc's NackGenerator holds: every gap, pruned on every packet."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.highest: int | None = None
        self.missing: set[int] = set()

    def add(self, sequence: int) -> None:
        highest = self.highest
        if highest is None:
            self.highest = sequence
            return
        ahead = (sequence - highest) & 0xFFFF
        if ahead == 0:
            return
        if ahead >= 0x8000:
            self.missing.discard(sequence)
            return
        window = self.window
        first = highest + 1 if ahead <= window else highest + ahead - window
        self.missing.update(value & 0xFFFF for value in range(first, highest + ahead))
        self.highest = sequence
        self.missing = {v for v in self.missing if (sequence - v) & 0xFFFF <= window}


@pytest.mark.parametrize("seed", range(5))
def test_the_loss_tracker_prunes_lazily_but_holds_what_pruning_every_packet_would(
    seed: int,
) -> None:
    rng = random.Random(seed)
    window = 32
    sequence = rng.randrange(0x10000)
    tracker = LossTracker(window)
    reference = _PruneEveryPacket(window)
    for _ in range(3000):
        step = rng.choice([1] * 30 + [2, 3, 5, 40, -3])
        sequence = (sequence + step) & 0xFFFF
        tracker.add(sequence)
        reference.add(sequence)
        assert tracker.missing == reference.missing
        assert len(tracker.missing) <= window


def test_stream_limits_come_from_the_relay_settings() -> None:
    settings = RelaySettings(
        send_history_packets=64,
        nack_window_packets=96,
        video_queue_frames=10,
        audio_queue_frames=20,
    )
    limits = StreamLimits.from_settings(settings)
    assert limits.send_history_packets == 64
    assert limits.nack_window_packets == 96
    assert limits.queue_frames("video") == 10
    assert limits.queue_frames("audio") == 20


@pytest.mark.parametrize(
    "field", ["send_history_packets", "nack_window_packets", "video_queue_frames"]
)
def test_unbounded_or_empty_limits_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match=f"relay.{field}"):
        RelaySettings(**{field: 0})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=f"relay.{field}"):
        RelaySettings(**{field: 1_000_000})  # type: ignore[arg-type]

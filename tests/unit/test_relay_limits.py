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


def _send(history: SendHistory, first: int, count: int) -> int:
    for sequence in range(first, first + count):
        history.packets[(sequence & 0xFFFF) % history.size] = _packet(sequence & 0xFFFF)
    return first + count


def test_the_history_is_sized_to_the_time_window_at_the_streams_rate() -> None:
    history = SendHistory(128)
    sent = _send(history, 65500, 128)  # across the sequence number wrap
    history.fit(0, 0.0, 300)  # the first call only starts counting
    assert history.size == 128
    history.fit(110, 1.0, 300)  # 110 packets a second: 300 ms hold 33, with headroom 42
    assert history.size == 42
    newest = (sent - 1) & 0xFFFF
    # The newest packets moved into the smaller ring; older ones are gone.
    assert all(history.find((newest - age) & 0xFFFF) is not None for age in range(42))
    assert history.find((newest - 42) & 0xFFFF) is None
    sent = _send(history, sent, 100)
    assert history.find((sent - 1) & 0xFFFF) is not None
    # A quiet stream keeps the minimum; a fast one at most send_history_packets.
    history.fit(120, 2.0, 300)
    assert history.size == 16
    history.fit(10_120, 3.0, 300)
    assert history.size == 128
    # A change of less than a quarter does not resize.
    history.fit(10_120 + 293, 4.0, 300)  # wants 110 slots
    assert history.size == 128


def test_a_resized_history_still_answers_for_the_latest_packets_after_a_wrap() -> None:
    history = SendHistory(64)
    sent = _send(history, 65536 - 20, 64)
    history.resize(16)
    assert history.size == 16
    newest = (sent - 1) & 0xFFFF
    assert [history.find((newest - age) & 0xFFFF) is not None for age in range(17)] == [
        *[True] * 16,
        False,
    ]


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
        send_history_ms=500,
        nack_window_packets=96,
        video_queue_frames=10,
        audio_queue_frames=20,
    )
    limits = StreamLimits.from_settings(settings)
    assert limits.send_history_packets == 64
    assert limits.send_history_ms == 500
    assert limits.nack_window_packets == 96
    assert limits.queue_frames("video") == 10
    assert limits.queue_frames("audio") == 20


@pytest.mark.parametrize(
    "field",
    ["send_history_packets", "send_history_ms", "nack_window_packets", "video_queue_frames"],
)
def test_unbounded_or_empty_limits_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match=f"relay.{field}"):
        RelaySettings(**{field: 0})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=f"relay.{field}"):
        RelaySettings(**{field: 1_000_000})  # type: ignore[arg-type]

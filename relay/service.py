"""What the web layer needs from a node's relay, whichever shape it takes.

Two implementations satisfy :class:`RelayService`: :class:`relay.manager.RelayManager` runs the
server peers inside the calling process, and :class:`relay.pool.WorkerPool` spreads sessions
over relay worker processes (``relay.workers``). The HTTP routes (:mod:`relay.api`), the web
layer and the composition root only use these members, so either can stand behind them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from relay.recording.writer import PartResult


@runtime_checkable
class RelayService(Protocol):
    """The relayed sessions of one node: answer offers, leave, end, report."""

    async def start(self) -> None:
        """Get ready to serve; a failed self-check disables the relay (never raises)."""

    @property
    def unavailable_reason(self) -> str | None:
        """Why the relay cannot serve right now (None when it can)."""

    async def answer(
        self, session_id: str, participant_id: str, offer_sdp: str, offer_type: str = "offer"
    ) -> tuple[str, str]:
        """Answer a complete (non-trickle) offer: ``(sdp, type)``. Raises the
        :mod:`relay.errors` errors."""

    async def leave(self, session_id: str, participant_id: str) -> bool:
        """Close one participant's connection; False when it had none."""

    async def end(self, session_id: str) -> bool:
        """Close every connection of the session; False when it had none."""

    async def close(self) -> None:
        """Close everything (application shutdown)."""

    def has_participant(self, session_id: str, participant_id: str) -> bool:
        """Whether the participant has a relay connection in the session."""

    async def start_recording(
        self, session_id: str, path: str, on_failed: Callable[[str], None] | None = None
    ) -> None:
        """Record the relayed session into a new file at ``path``; raises
        :class:`relay.errors.RecordingRefused`. ``on_failed(reason)`` runs if writing fails."""

    async def stop_recording(self, session_id: str) -> PartResult | None:
        """Stop the session's recording and describe the part written; None when none ran."""

    def is_recording(self, session_id: str) -> bool:
        """Whether the session is being recorded."""

    def stats(self) -> dict[str, Any]:
        """Gauges and totals for metrics (see :meth:`relay.manager.RelayManager.stats`)."""

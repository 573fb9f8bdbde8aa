"""Recording one relayed session: the room's publications feed the file directly.

:class:`SessionRecorder` taps every publication of the room (:meth:`Publication.add_tap`),
turns each one's packets into frames (:mod:`relay.recording.frames`) and writes them into one
part (:mod:`relay.recording.writer`). A participant who reconnects gets new publications; the
room calls :meth:`SessionRecorder.link` again after every join, so the recording carries on
in the same streams of the same file. The recorder runs on the relay's event loop and touches
no decoded media: its cost per packet is a parse, a depayload copy and a container write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Protocol

import structlog

from relay.recording.frames import Frame, FrameAssembler
from relay.recording.writer import PartResult, PartWriter

log = structlog.get_logger(__name__)

KINDS = ("audio", "video")


class Tappable(Protocol):
    """What the recorder needs of a publication."""

    @property
    def kind(self) -> str: ...

    def add_tap(self, tap: Callable[[bytes, str], None]) -> None: ...

    def remove_tap(self, tap: Callable[[bytes, str], None]) -> None: ...

    def request_keyframe(self) -> None: ...


class Publisher(Protocol):
    """What the recorder needs of a participant."""

    @property
    def id(self) -> str: ...

    @property
    def publications(self) -> Mapping[str, Tappable]: ...


class SessionRecorder:
    """One part of one session's recording, from start to stop (or a write failure)."""

    def __init__(
        self,
        session_id: str,
        path: Path,
        participants: Iterable[Publisher],
        on_failed: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.session_id = session_id
        self.path = path
        self._on_failed_outside = on_failed
        participants = list(participants)
        expected = {(p.id, kind) for p in participants for kind in p.publications if kind in KINDS}
        self.writer = PartWriter(path, expected, self._failed)
        self._taps: dict[int, tuple[Tappable, Callable[[bytes, str], None]]] = {}
        self._assemblers: dict[tuple[str, str], FrameAssembler] = {}
        self.result: PartResult | None = None
        self.link(participants)

    @property
    def running(self) -> bool:
        return self.result is None and self.writer.error is None

    def link(self, participants: Iterable[Publisher]) -> None:
        """Tap every publication not tapped yet (new participants, reconnections)."""
        if not self.running:
            return
        for participant in participants:
            for kind, publication in participant.publications.items():
                if kind not in KINDS or id(publication) in self._taps:
                    continue
                tap = self._tap_for(participant.id, publication)
                publication.add_tap(tap)
                self._taps[id(publication)] = (publication, tap)
                publication.request_keyframe()  # the file starts with a whole picture

    def _tap_for(self, participant: str, publication: Tappable) -> Callable[[bytes, str], None]:
        key = (participant, publication.kind)

        def tap(plain: bytes, mime: str) -> None:
            assembler = self._assemblers.get(key)
            if assembler is None or assembler.mime != mime:
                assembler = FrameAssembler(
                    mime,
                    lambda frame: self._frame(key, assembler_mime(key), frame),
                    publication.request_keyframe,
                )
                self._assemblers[key] = assembler
            assembler.push(plain)

        def assembler_mime(k: tuple[str, str]) -> str:
            return self._assemblers[k].mime

        return tap

    def _frame(self, key: tuple[str, str], mime: str, frame: Frame) -> None:
        participant, kind = key
        self.writer.write(participant, kind, mime, frame)

    def _failed(self, reason: str) -> None:
        self._untap()
        log.warning("recording.failed", session_id=self.session_id, reason=reason)
        self._on_failed_outside(reason)

    def _untap(self) -> None:
        for publication, tap in self._taps.values():
            publication.remove_tap(tap)
        self._taps.clear()

    def stop(self) -> PartResult:
        """Stop tapping and finish the file; returns what it holds."""
        if self.result is None:
            self._untap()
            self.result = self.writer.close()
            log.info(
                "recording.stopped",
                session_id=self.session_id,
                duration_s=self.result.duration_s,
                size_bytes=self.result.size_bytes,
                error=self.result.error,
            )
        return self.result

"""Live notes rooms: one shared document per session while anyone has the notes open.

A room opens when the first participant connects (document loaded from the store's notes, see
document.py), stays while clients are connected and closes after the last one leaves. Every
change is mirrored to the store's ``notes`` 1 s after the last edit (debounced), on the last
leave and on shutdown.

Save confirmations travel on the Yjs awareness channel, which y-websocket already carries:
the server's own awareness state is ``{"notes": {"saved": <fingerprint of the stored text>,
"savedAt": <ISO time>, "problem": null | "too-long" | "store"}}``. A browser shows "Saved"
exactly when the fingerprint of the text it shows equals the stored one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import structlog
from aiohttp import web
from pycrdt import Doc, Subscription, Text, TransactionEvent, create_awareness_message
from pycrdt.websocket import YRoom

from store.base import NotFound, Store
from store.models import Session, utcnow
from store.validation import NOTES_MAX
from web.notes.channel import SocketChannel
from web.notes.document import (
    DocumentStates,
    StateStore,
    build_document,
    fingerprint,
    notes_text,
    replace_text,
)

log = structlog.get_logger(__name__)
_room_log = logging.getLogger("web.notes.yroom")

SAVE_DELAY_S = 1.0
"""Quiet time after the last edit before the text is written to the store."""
RETRY_DELAY_S = 5.0
"""Wait before writing again after the store refused a write."""


def _room_exception(exc: Exception, logger: logging.Logger) -> bool:
    log.warning("notes.room_error", error=str(exc) or type(exc).__name__)
    return True  # keep the room alive; the failing client is dropped by its own handler


class NotesRoom:
    """One session's live document, its connected clients and its debounced saver."""

    def __init__(
        self,
        session_id: str,
        doc: Doc[Text],
        stored_text: str,
        store: Store,
        states: StateStore,
        save_delay_s: float,
    ) -> None:
        self.session_id = session_id
        self.doc = doc
        self.text = notes_text(doc)
        self.clients = 0
        self.sockets: set[web.WebSocketResponse] = set()
        self._store = store
        self._states = states
        self._save_delay_s = save_delay_s
        self._saved_text = stored_text
        self._state_dirty = False
        self._problem: str | None = None
        self._yroom = YRoom(ready=True, ydoc=doc, exception_handler=_room_exception, log=_room_log)
        self._changed = asyncio.Event()
        """Something is not saved yet."""
        self._edited = asyncio.Event()
        """An edit happened since the debounce timer last restarted."""
        self._save_lock = asyncio.Lock()
        self._room_task: asyncio.Task[None] | None = None
        self._saver_task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self._closed = False

    async def start(self) -> None:
        self._room_task = asyncio.create_task(self._yroom.start())
        await self._yroom.started.wait()
        self._subscription = self.doc.observe(self._on_change)
        self._saver_task = asyncio.create_task(self._saver())
        self._announce()

    def _on_change(self, _event: TransactionEvent) -> None:
        self._state_dirty = True
        self._edited.set()
        self._changed.set()

    async def serve(self, ws: web.WebSocketResponse, path: str) -> None:
        """Sync one client until its socket closes."""
        self.sockets.add(ws)
        channel = SocketChannel(ws, path)
        # A newcomer learns the saved state at once, not at the next awareness renewal.
        awareness = self._yroom.awareness
        await channel.send(
            create_awareness_message(awareness.encode_awareness_update([awareness.client_id]))
        )
        try:
            await self._yroom.serve(channel)
        finally:
            self.sockets.discard(ws)

    def replace(self, new_text: str) -> None:
        """Replace the whole text in one transaction; connected clients receive the edit."""
        with self.doc.transaction(origin="server"):
            replace_text(self.text, str(self.text), new_text)

    async def _saver(self) -> None:
        while True:
            await self._changed.wait()
            await self._quiet(self._save_delay_s)
            self._changed.clear()
            try:
                await self.save()
            except Exception as exc:
                log.warning(
                    "notes.save_failed",
                    session_id=self.session_id,
                    error=str(exc) or type(exc).__name__,
                )
                self._problem = "store"
                self._announce()
                await asyncio.sleep(RETRY_DELAY_S)
                self._changed.set()

    async def _quiet(self, seconds: float) -> None:
        """Return once no edit has happened for ``seconds``."""
        while True:
            self._edited.clear()
            try:
                await asyncio.wait_for(self._edited.wait(), seconds)
            except TimeoutError:
                return

    async def save(self, force: bool = False) -> Session | None:
        """Write the current text to the store (when it changed, or always with ``force``)
        and the CRDT state to disk. Returns the stored session when the store was written."""
        async with self._save_lock:
            text = str(self.text)
            state = self.doc.get_update()
            if len(text) > NOTES_MAX:
                self._problem = "too-long"
                self._announce()
                log.info("notes.too_long", session_id=self.session_id, length=len(text))
                return None
            # Edits made while this write is under way set the flag again.
            state_dirty, self._state_dirty = self._state_dirty, False
            try:
                session: Session | None = None
                if force or text != self._saved_text:
                    session = await self._store.update_notes(self.session_id, text, utcnow())
                    self._saved_text = text
                if state_dirty or session is not None:
                    await self._states.save(self.session_id, state)
            except BaseException:
                self._state_dirty = self._state_dirty or state_dirty
                raise
            self._problem = None
            self._announce()
            return session

    def _announce(self) -> None:
        """Publish what is stored, as the server's awareness state."""
        if self._closed:
            return
        self._yroom.awareness.set_local_state(
            {
                "notes": {
                    "saved": fingerprint(self._saved_text),
                    "savedAt": utcnow().isoformat().replace("+00:00", "Z"),
                    "problem": self._problem,
                }
            }
        )

    async def close(self) -> None:
        """Flush what is unsaved, then stop the room. Safe to call twice."""
        if self._closed:
            return
        if self._saver_task is not None:
            self._saver_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._saver_task
        try:
            await self.save()
        except Exception as exc:
            log.error("notes.flush_failed", session_id=self.session_id, error=str(exc) or repr(exc))
        self._closed = True
        if self._subscription is not None:
            self.doc.unobserve(self._subscription)
        with contextlib.suppress(RuntimeError):
            await self._yroom.stop()
        if self._room_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._room_task


class NotesService:
    """Opens, shares and closes the notes rooms of one server process."""

    def __init__(
        self,
        store: Store,
        state_dir: Path,
        save_delay_s: float = SAVE_DELAY_S,
        *,
        states: StateStore | None = None,
    ) -> None:
        """``states`` keeps the CRDT state (default: files under ``state_dir``); a cluster
        passes a store every node shares, since the next owner of a room loads it."""
        self._store = store
        self._states: StateStore = states if states is not None else DocumentStates(state_dir)
        self._save_delay_s = save_delay_s
        self._rooms: dict[str, NotesRoom] = {}
        self._lock = asyncio.Lock()

    def room(self, session_id: str) -> NotesRoom | None:
        """The open room of a session, if anyone has its notes open."""
        return self._rooms.get(session_id)

    async def serve(self, session_id: str, ws: web.WebSocketResponse, path: str) -> None:
        """Join the session's room (opening it if needed) until the socket closes."""
        room = await self._join(session_id)
        try:
            await room.serve(ws, path)
        finally:
            await self._leave(room)

    async def _join(self, session_id: str) -> NotesRoom:
        async with self._lock:
            room = self._rooms.get(session_id)
            if room is None:
                session = await self._store.get_session(session_id)
                if session is None:
                    raise NotFound(session_id)
                state = await self._states.load(session_id)
                doc = build_document(session.notes, state)
                room = NotesRoom(
                    session_id,
                    doc,
                    session.notes,
                    self._store,
                    self._states,
                    self._save_delay_s,
                )
                await room.start()
                self._rooms[session_id] = room
                log.info("notes.room_opened", session_id=session_id)
            room.clients += 1
            return room

    async def _leave(self, room: NotesRoom) -> None:
        async with self._lock:
            room.clients -= 1
            if room.clients > 0 or self._rooms.get(room.session_id) is not room:
                return
            del self._rooms[room.session_id]
            await room.close()
            log.info("notes.room_closed", session_id=room.session_id)

    async def set_notes_text(self, session_id: str, text: str) -> Session:
        """Set a session's notes (the REST API's ``update_notes``).

        With the room open, the text is replaced in the live document in one transaction, so
        everyone connected sees it, and stored at once; otherwise it goes straight to the
        store (the next room reconciles its saved CRDT state with it). Raises NotFound.
        """
        async with self._lock:
            room = self._rooms.get(session_id)
            if room is None:
                return await self._store.update_notes(session_id, text, utcnow())
            room.replace(text)
        session = await room.save(force=True)
        if session is None:  # only when the text is over the limit, which callers validate
            return await self._store.update_notes(session_id, text, utcnow())
        return session

    async def drop(self, session_id: str, code: int = 1012) -> None:
        """Flush and close a session's room and its sockets (this node no longer owns the
        room). The clients reconnect, and reach the room's new owner."""
        async with self._lock:
            room = self._rooms.pop(session_id, None)
        if room is None:
            return
        await room.close()
        for ws in list(room.sockets):
            await ws.close(code=code, message=b"the session's room moved")
        log.info("notes.room_dropped", session_id=session_id)

    async def close(self) -> None:
        """Flush and close every room (server shutdown)."""
        async with self._lock:
            rooms = list(self._rooms.values())
            self._rooms.clear()
        for room in rooms:
            await room.close()

"""Collaborative notes over the real websocket: Python Yjs clients (pycrdt) speaking the
y-websocket sync protocol to the real app on a real SQLite store."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pycrdt import (
    Awareness,
    Doc,
    Text,
    TransactionEvent,
    YMessageType,
    YSyncMessageType,
    create_sync_message,
    create_update_message,
    handle_sync_message,
    read_message,
)

from config.settings import Settings
from panamia.app import create_app
from store.base import StoreUnavailable
from store.models import Session
from store.validation import NOTES_MAX
from tests.conftest import SettingsFactory
from tests.support.sessions import LONG_LEAD_MINUTES, open_room_start
from web import keys
from web.auth import COOKIE_NAME, session_token_for
from web.keys import NOTES
from web.notes import service as service_module
from web.notes.document import fingerprint, notes_text

MENTOR = "mentor@example.org"
MENTEE = "mentee@example.org"
STRANGER = "stranger@example.org"
WAIT_S = 15.0
"""Upper bound for waiting on something that normally happens within about a second."""


def build_app(settings: Settings) -> web.Application:
    return create_app(settings)


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        await asyncio.sleep(0.05)


class NotesClient:
    """A minimal y-websocket client: sync protocol plus awareness, over aiohttp."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, doc: Doc[Text] | None = None):
        self.ws = ws
        self.doc: Doc[Text] = doc if doc is not None else Doc()
        self.text = notes_text(self.doc)
        self.awareness = Awareness(self.doc)
        self.synced = asyncio.Event()
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._subscription = self.doc.observe(self._on_update)
        self._tasks = [asyncio.create_task(self._receive()), asyncio.create_task(self._send())]
        self._outbox.put_nowait(create_sync_message(self.doc))

    def _on_update(self, event: TransactionEvent) -> None:
        self._outbox.put_nowait(create_update_message(event.update))

    async def _send(self) -> None:
        while True:
            message = await self._outbox.get()
            if self.ws.closed:
                return
            await self.ws.send_bytes(message)
            self._outbox.task_done()

    async def sent(self) -> None:
        """Until every update made so far has been written to the socket."""
        await asyncio.wait_for(self._outbox.join(), WAIT_S)

    async def _receive(self) -> None:
        async for msg in self.ws:
            if msg.type is not aiohttp.WSMsgType.BINARY:
                continue
            data = bytes(msg.data)
            if data[0] == YMessageType.SYNC:
                reply = handle_sync_message(data[1:], self.doc)
                if data[1] == YSyncMessageType.SYNC_STEP2:
                    self.synced.set()
                if reply is not None:
                    self._outbox.put_nowait(reply)
            elif data[0] == YMessageType.AWARENESS:
                self.awareness.apply_awareness_update(read_message(data[1:]), "remote")

    def server_state(self) -> dict[str, Any]:
        """What the server announced about the stored notes (its awareness state)."""
        for state in self.awareness.states.values():
            notes = state.get("notes") if isinstance(state, dict) else None
            if isinstance(notes, dict):
                return notes
        return {}

    def server_saved(self) -> str | None:
        """The stored text's fingerprint the server announced, if any."""
        saved = self.server_state().get("saved")
        return saved if isinstance(saved, str) else None

    def value(self) -> str:
        return str(self.text)

    async def type(self, chunks: str, at: Callable[[], int], pause_s: float = 0.01) -> None:
        """Type ``chunks`` one character at a time at the index ``at()`` (in characters)."""
        for char in chunks:
            index = len(self.value()[: at()].encode())
            self.text.insert(index, char)
            await asyncio.sleep(pause_s)

    async def close(self) -> None:
        self.doc.unobserve(self._subscription)
        await self.ws.close()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                await task


class NotesServer:
    """The real app on a real port, with helpers to book sessions and connect clients."""

    def __init__(self, settings: Settings) -> None:
        self.app = build_app(settings)
        self.booked = 0
        self.server = TestServer(self.app)
        self.http = aiohttp.ClientSession()

    async def start(self) -> None:
        await self.server.start_server()

    async def close(self) -> None:
        await self.http.close()
        await self.server.close()

    async def book(self, notes: str = "") -> str:
        store = self.app[keys.STORE]
        for email in (MENTOR, MENTEE, STRANGER):
            await store.ensure_profile(email, email.split("@")[0].title())
        self.booked += 1
        session_id = uuid.uuid4().hex
        await store.create_session(
            Session(
                session_id=session_id,
                mentor_email=MENTOR,
                mentee_email=MENTEE,
                scheduled_at=open_room_start(self.booked - 1),
                duration=30,
                topic="Shared notes",
                notes=notes,
            )
        )
        return session_id

    async def stored_notes(self, session_id: str) -> str:
        session = await self.app[keys.STORE].get_session(session_id)
        assert session is not None
        return session.notes

    def cookie(self, email: str) -> dict[str, str]:
        return {"Cookie": f"{COOKIE_NAME}={session_token_for(self.app, email)}"}

    async def socket(
        self, session_id: str, headers: dict[str, str] | None = None
    ) -> aiohttp.ClientWebSocketResponse:
        return await self.http.ws_connect(
            self.server.make_url(f"/ws/notes/{session_id}"), headers=headers or {}
        )

    async def connect(
        self, session_id: str, email: str, doc: Doc[Text] | None = None
    ) -> NotesClient:
        client = NotesClient(await self.socket(session_id, self.cookie(email)), doc)
        await asyncio.wait_for(client.synced.wait(), WAIT_S)
        return client


@pytest.fixture
async def notes_server(make_settings: SettingsFactory) -> AsyncIterator[NotesServer]:
    # Several rooms of the same two people open at once: see open_room_start.
    server = NotesServer(make_settings(room={"join_lead_minutes": LONG_LEAD_MINUTES}))
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def test_two_people_typing_at_once_keep_both_texts_and_the_store_follows(
    notes_server: NotesServer,
) -> None:
    session_id = await notes_server.book(notes="\n")
    mentor = await notes_server.connect(session_id, MENTOR)
    mentee = await notes_server.connect(session_id, MENTEE)
    assert mentor.value() == mentee.value() == "\n"

    mentor_line = "Agenda: portfolio review, interview practice"
    mentee_line = "Questions: how to price freelance work?"
    typed = {"mentor": 0}

    def mentor_caret() -> int:  # the mentor writes the first line
        return typed["mentor"]

    async def mentor_types() -> None:
        for char in mentor_line:
            await mentor.type(char, mentor_caret)
            typed["mentor"] += 1

    await asyncio.gather(
        mentor_types(),
        mentee.type(mentee_line, lambda: len(mentee.value())),  # the mentee, the last one
    )
    expected = f"{mentor_line}\n{mentee_line}"

    async def converged() -> bool:
        return mentor.value() == mentee.value() == expected

    await eventually(converged, "both documents hold both lines")

    async def stored() -> bool:
        return await notes_server.stored_notes(session_id) == expected

    await eventually(stored, "the store holds the merged notes after typing stops")

    async def confirmed() -> bool:
        return mentor.server_saved() == mentee.server_saved() == fingerprint(expected)

    await eventually(confirmed, "the server confirms the saved text to both clients")
    await mentor.close()
    await mentee.close()


async def test_the_rest_update_edits_the_live_document(notes_server: NotesServer) -> None:
    session_id = await notes_server.book(notes="Draft from earlier")
    mentee = await notes_server.connect(session_id, MENTEE)
    assert mentee.value() == "Draft from earlier"

    session = await notes_server.app[NOTES].set_notes_text(session_id, "Final notes, from REST")
    assert session.notes == "Final notes, from REST"
    assert await notes_server.stored_notes(session_id) == "Final notes, from REST"

    async def received() -> bool:
        return mentee.value() == "Final notes, from REST"

    await eventually(received, "the connected client sees the REST edit")

    async def confirmed() -> bool:
        return mentee.server_saved() == fingerprint("Final notes, from REST")

    await eventually(confirmed, "the server confirms the REST text as saved")
    await mentee.close()


async def test_the_rest_update_without_anyone_connected_reaches_the_next_visitor(
    notes_server: NotesServer,
) -> None:
    session_id = await notes_server.book(notes="")
    first = await notes_server.connect(session_id, MENTOR)
    await first.type("typed live", lambda: len(first.value()))

    async def stored() -> bool:
        return await notes_server.stored_notes(session_id) == "typed live"

    await eventually(stored, "the live text is stored")
    await first.close()

    async def room_closed() -> bool:
        return notes_server.app[NOTES].room(session_id) is None

    await eventually(room_closed, "the room closes after the last client leaves")
    await notes_server.app[NOTES].set_notes_text(session_id, "typed live, then edited by REST")
    again = await notes_server.connect(session_id, MENTEE)
    assert again.value() == "typed live, then edited by REST"
    await again.close()


async def test_typing_then_leaving_at_once_is_still_stored(notes_server: NotesServer) -> None:
    session_id = await notes_server.book()
    client = await notes_server.connect(session_id, MENTEE)
    await client.type("left in a hurry", lambda: len(client.value()), pause_s=0)
    await client.sent()  # then the socket closes behind the last frames
    await client.close()

    async def stored() -> bool:
        return await notes_server.stored_notes(session_id) == "left in a hurry"

    await eventually(stored, "the last leave flushes the notes")


async def test_notes_over_the_limit_are_not_stored_and_the_page_is_told(
    notes_server: NotesServer,
) -> None:
    session_id = await notes_server.book(notes="kept")
    client = await notes_server.connect(session_id, MENTOR)
    client.text.insert(len(client.value()), " " + "x" * NOTES_MAX)

    async def told() -> bool:
        return client.server_state().get("problem") == "too-long"

    await eventually(told, "the server reports the notes as too long")
    assert await notes_server.stored_notes(session_id) == "kept"
    assert client.server_saved() == fingerprint("kept")
    await client.close()


async def test_a_store_outage_is_reported_and_the_save_retried(
    notes_server: NotesServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = await notes_server.book()
    client = await notes_server.connect(session_id, MENTEE)
    store = notes_server.app[keys.STORE]
    monkeypatch.setattr(service_module, "RETRY_DELAY_S", 0.2)

    async def unavailable(*_args: object) -> Session:  # fault injection: the database is down
        raise StoreUnavailable("database is not answering")

    monkeypatch.setattr(store, "update_notes", unavailable)
    await client.type("written during an outage", lambda: len(client.value()), pause_s=0)

    async def told() -> bool:
        return client.server_state().get("problem") == "store"

    await eventually(told, "the server reports that it could not store the notes")
    monkeypatch.undo()

    async def saved() -> bool:
        return (
            client.server_saved() == fingerprint("written during an outage")
            and client.server_state().get("problem") is None
        )

    await eventually(saved, "the retried save succeeds once the store is back")
    assert await notes_server.stored_notes(session_id) == "written during an outage"
    await client.close()


@pytest.mark.parametrize(
    ("who", "session", "code"),
    [
        (STRANGER, "booked", 4403),
        (None, "booked", 4401),
        (MENTOR, "unknown", 4404),
    ],
)
async def test_the_socket_refuses_anyone_but_the_participants(
    notes_server: NotesServer, who: str | None, session: str, code: int
) -> None:
    session_id = await notes_server.book(notes="private notes")
    target = session_id if session == "booked" else "no-such-session"
    ws = await notes_server.socket(target, notes_server.cookie(who) if who else None)
    frames: list[Any] = [msg async for msg in ws]
    assert ws.close_code == code
    assert not any(f.type is aiohttp.WSMsgType.BINARY for f in frames)
    assert notes_server.app[NOTES].room(session_id) is None


async def test_a_page_on_another_site_is_refused(notes_server: NotesServer) -> None:
    session_id = await notes_server.book()
    headers = {**notes_server.cookie(MENTOR), "Origin": "https://elsewhere.example"}
    ws = await notes_server.socket(session_id, headers)
    async for _ in ws:
        pass
    assert ws.close_code == 4403


async def test_a_plain_request_is_a_bad_request(notes_server: NotesServer) -> None:
    session_id = await notes_server.book()
    response = await notes_server.http.get(
        notes_server.server.make_url(f"/ws/notes/{session_id}"),
        headers=notes_server.cookie(MENTOR),
    )
    assert response.status == 400
    assert "error" in await response.json()


async def test_notes_survive_a_restart_without_duplicating_for_an_open_page(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings()
    first = NotesServer(settings)
    await first.start()
    try:
        session_id = await first.book(notes="Kick-off\n")
        mentor = await first.connect(session_id, MENTOR)
        await mentor.type("goals agreed", lambda: len(mentor.value()), pause_s=0)

        async def arrived() -> bool:
            room = first.app[NOTES].room(session_id)
            return room is not None and str(notes_text(room.doc)) == "Kick-off\ngoals agreed"

        await eventually(arrived, "the typing reaches the server before it stops")
    finally:
        await first.close()  # shutdown flushes the open room
    survivor = mentor.doc  # a page left open across the restart keeps its document
    await mentor.close()

    second = NotesServer(settings)
    await second.start()
    try:
        assert await second.stored_notes(session_id) == "Kick-off\ngoals agreed"
        fresh = await second.connect(session_id, MENTEE)
        assert fresh.value() == "Kick-off\ngoals agreed"
        reconnected = await second.connect(session_id, MENTOR, doc=survivor)
        assert reconnected.value() == "Kick-off\ngoals agreed"

        async def same() -> bool:
            return fresh.value() == reconnected.value() == "Kick-off\ngoals agreed"

        await eventually(same, "the reconnected page merges without duplicates")
        await fresh.close()
        await reconnected.close()
    finally:
        await second.close()

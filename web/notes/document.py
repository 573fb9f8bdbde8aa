"""The notes document: one pycrdt ``Doc`` per session holding a ``Text`` named ``notes``.

The browser binds the same name (``doc.getText("notes")`` in web/static/js/room/notes.js).

Why the CRDT state is kept on disk as well as the plain text in the store: a browser that stays
open across a server restart reconnects with its old Yjs document. If the server rebuilt the
document from the plain text alone, the rebuilt insertion would be *new* CRDT content and the
merge would show the text twice. Restoring the saved CRDT state makes the merge a no-op. The
store's plain text stays the source of truth: when it differs from the restored state (the
REST API edited the notes while no room was open) the difference is applied as an edit.

In a cluster the state must outlive the node: the next owner of the session's room loads it,
so there it lives in Redis (web/rooms/states.py) instead of the files of :class:`DocumentStates`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Protocol

import structlog
from pycrdt import Doc, Text

log = structlog.get_logger(__name__)

NOTES_TEXT = "notes"
"""Name of the shared text in every session's notes document (client and server)."""


def notes_text(doc: Doc[Text]) -> Text:
    text: Text = doc.get(NOTES_TEXT, type=Text)
    return text


def fingerprint(text: str) -> str:
    """A short fingerprint of ``text`` that the browser computes identically.

    ``"<length>:<FNV-1a 32-bit hex>"`` over UTF-16 code units, which is what JavaScript
    strings are made of (see ``fingerprint`` in notes.js).
    """
    units = text.encode("utf-16-le")
    value = 0x811C9DC5
    for i in range(0, len(units), 2):
        value ^= units[i] | (units[i + 1] << 8)
        value = (value * 0x01000193) & 0xFFFFFFFF
    return f"{len(units) // 2}:{value:08x}"


def replace_text(text: Text, old: str, new: str) -> None:
    """Turn ``old`` (the current content of ``text``) into ``new`` with one delete and one
    insert around their common prefix and suffix, so concurrent edits elsewhere in the text
    and other people's carets are left alone. Call it inside a transaction.

    pycrdt indexes text by UTF-8 bytes, hence the encoding of the offsets.
    """
    if old == new:
        return
    limit = min(len(old), len(new))
    prefix = 0
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    start = len(old[:prefix].encode())
    removed = old[prefix : len(old) - suffix]
    inserted = new[prefix : len(new) - suffix]
    if removed:
        del text[start : start + len(removed.encode())]
    if inserted:
        text.insert(start, inserted)


def _seed_client_id(text: str) -> int:
    """Client id of the content seeded from plain text: derived from the text, so seeding the
    same text twice produces identical CRDT content, which merges without duplicates."""
    digest = hashlib.sha256(b"panamia-notes-seed:" + text.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 0xFFFFFFFE + 1


def build_document(stored_text: str, saved_state: bytes | None) -> Doc[Text]:
    """The live document for a session: the saved CRDT state when there is one, brought in
    line with the stored text."""
    doc: Doc[Text] = Doc()
    if saved_state:
        try:
            doc.apply_update(saved_state)
        except Exception as exc:  # a damaged state file must not block the notes
            log.warning("notes.state_unreadable", error=str(exc) or type(exc).__name__)
            doc = Doc()
    text = notes_text(doc)
    current = str(text)
    if current == stored_text:
        return doc
    if not current:
        seed: Doc[Text] = Doc(client_id=_seed_client_id(stored_text))
        notes_text(seed).insert(0, stored_text)
        doc.apply_update(seed.get_update())
    else:
        with doc.transaction():
            replace_text(text, current, stored_text)
    return doc


class StateStore(Protocol):
    """Where the CRDT state of each session's notes is kept between rooms."""

    async def load(self, session_id: str) -> bytes | None: ...

    async def save(self, session_id: str, state: bytes) -> None: ...


class DocumentStates:
    """The CRDT state of each session's notes, one file per session under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def _path(self, session_id: str) -> Path:
        name = hashlib.sha256(session_id.encode()).hexdigest()[:40]
        return self._folder / f"{name}.ydoc"

    async def load(self, session_id: str) -> bytes | None:
        return await asyncio.to_thread(self._read, self._path(session_id))

    async def save(self, session_id: str, state: bytes) -> None:
        await asyncio.to_thread(self._write, self._path(session_id), state)

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def _write(self, path: Path, state: bytes) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        with partial.open("wb") as handle:
            handle.write(state)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(path)

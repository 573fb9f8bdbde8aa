"""Consented recording in real Chromium: the mentor asks, the mentee declines once, then
accepts; the direct call moves onto the relay, both see REC, ten seconds later the mentor stops;
the file holds both participants' audio and video (read back with PyAV), and someone outside
the session gets 403 for it.

Set PANAMIA_SCREENSHOTS_DIR=docs/images/room to refresh the docs' screenshots."""

from __future__ import annotations

import asyncio
import re

import av
import pytest
from playwright.async_api import Browser, expect

from tests.browser.room_support import (
    OUTSIDER,
    eventually,
    leave_and_close,
    room_server_fixture,
    room_url,
    signed_in_context,
    two_participants,
    wait_for_remote_video,
)
from tests.browser.scheduling_support import DocShots
from tests.browser.support import LiveServer, PageErrors, Shots
from web import keys

pytestmark = pytest.mark.browser

RECORD_SECONDS = 10
MAX_SECONDS = RECORD_SECONDS + 3
"""The stop button is clicked on time, but a loaded machine may take a few seconds to act on it."""


room_server = room_server_fixture("room_server")


async def test_a_consented_recording_holds_both_sides_and_stays_private(
    browser: Browser, room_server: LiveServer, page_errors: PageErrors, shots: Shots
) -> None:
    server = room_server
    room = await two_participants(browser, server, page_errors, topic="Recorded session")
    session_id, mentor, mentee = room.session_id, room.mentor, room.mentee
    url = room_url(server, session_id)
    await asyncio.gather(mentor.goto(url), mentee.goto(url))
    for page in (mentor, mentee):
        await wait_for_remote_video(page)
    await expect(mentor.locator("#path-badge")).to_have_attribute("data-path", "direct")
    doc_shots = DocShots(shots.folder)
    loop = asyncio.get_running_loop()

    # Asked and declined: nothing is recorded, the asker is told.
    record = mentor.get_by_role("button", name="Record")
    await record.click()
    prompt = mentee.get_by_role("alertdialog")
    await expect(prompt).to_contain_text("Ana Ruiz asks to record this session.")
    await mentee.get_by_role("button", name="Decline").click()
    await expect(mentor.locator("#record-notice")).to_have_text(
        "Ben Okafor declined the recording."
    )
    await expect(record).to_be_enabled()

    # Asked again and accepted: the call moves onto the relay and both see REC.
    await record.click()
    await expect(prompt).to_be_visible()
    await doc_shots(mentee, "recording-consent-prompt")
    await mentee.get_by_role("button", name="Allow recording").click()
    store = server.store
    service = server.app[keys.RECORDINGS]

    async def writing() -> bool:
        # The file is created once media from both sides reaches the recorder.
        parts = await store.list_recordings(session_id)
        return bool(parts) and service.path_of(parts[0]).exists()

    assert await eventually(writing, timeout_s=30)
    started = loop.time()

    async def stop_on_time() -> None:
        await asyncio.sleep(max(0.0, RECORD_SECONDS - (loop.time() - started)))
        await mentor.get_by_role("button", name="Stop recording").click()

    # The checks below may take a while on a busy machine: the stop does not wait for them.
    stopping = asyncio.ensure_future(stop_on_time())
    for page in (mentor, mentee):
        await expect(page.locator("#rec-badge")).to_be_visible()
        await expect(page.locator("#path-badge")).to_have_attribute("data-path", "relay")
    await wait_for_remote_video(mentee)
    await doc_shots(mentee, "recording-in-progress")
    await stopping
    for page in (mentor, mentee):
        await expect(page.locator("#rec-badge")).to_be_hidden()

    async def finished() -> bool:
        parts = await store.list_recordings(session_id)
        return bool(parts) and parts[0].ended_at is not None

    assert await eventually(finished)
    (part,) = await store.list_recordings(session_id)
    assert part.status.value == "done", part
    path = server.app[keys.RECORDINGS].path_of(part)
    with av.open(str(path)) as container:
        kinds = sorted((s.type, s.codec_context.name) for s in container.streams)
        assert kinds == [("audio", "opus"), ("audio", "opus"), ("video", "vp8"), ("video", "vp8")]
        assert container.duration is not None
        duration = container.duration / av.time_base
        assert 9.0 <= duration <= MAX_SECONDS, duration
        decoded = {stream.index: 0 for stream in container.streams}
        for packet in container.demux():
            if packet.size and packet.stream.type == "video":
                decoded[packet.stream.index] += len(packet.decode())
    video_streams = [s.index for s in av.open(str(path)).streams if s.type == "video"]
    assert all(decoded[i] > 30 for i in video_streams), decoded
    assert 9.0 <= part.duration_s <= MAX_SECONDS and part.size_bytes == path.stat().st_size

    # Listed on the session's page with its length and size, playable there.
    details = await room.mentee_ctx.new_page()
    await details.goto(f"{server.url}/mentoring/sessions/{session_id}")
    item = details.locator(f"[data-recording='{part.recording_id}']")
    await expect(item.locator("[data-duration]")).to_have_text(re.compile(r"^0:(09|1[0-3])$"))
    await expect(item.locator("[data-size]")).to_contain_text("KB")
    await details.wait_for_function(
        "() => document.querySelector('[data-recording] video').readyState >= 1"
    )
    await doc_shots(details, "session-recordings")

    # Downloadable by the participants, refused to anyone else.
    file_url = (
        f"{server.url}/api/mentoring/sessions/{session_id}/recordings/{part.recording_id}/file"
    )
    assert (await mentee.request.get(file_url)).status == 200
    outsider_ctx = await signed_in_context(browser, server, page_errors, OUTSIDER)
    assert (await outsider_ctx.request.get(file_url)).status == 403
    assert (await outsider_ctx.request.get(f"{file_url}?download=1")).status == 403
    await leave_and_close(room.mentor_ctx, room.mentee_ctx, outsider_ctx)
    assert page_errors.messages == []

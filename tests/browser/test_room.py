"""The session room in real Chromium: two participants with fake cameras see and hear each
other peer to peer, chat, write notes together, survive reloads and hub reconnections, and
nobody else gets in."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.room_support import (
    MENTEE,
    MENTOR,
    NAMES,
    OUTSIDER,
    book_session,
    eventually,
    leave_and_close,
    room_server_fixture,
    room_url,
    signed_in_context,
    two_participants,
    wait_for_remote_video,
)
from tests.browser.support import LiveServer, PageErrors, Shots, sign_in
from web import keys

pytestmark = pytest.mark.browser

BLUE = "rgb(37, 99, 235)"
GREY = "rgb(229, 231, 235)"
RED = "rgb(185, 28, 28)"


room_server = room_server_fixture(
    "room_server", auth={"dev_login": True, "link_requests_per_hour": 50}
)


async def background(page: Page, selector: str) -> str:
    return str(
        await page.locator(selector).evaluate("(el) => getComputedStyle(el).backgroundColor")
    )


async def send_chat(page: Page, text: str, *, press_enter: bool) -> None:
    await page.locator("#chat-input").fill(text)
    if press_enter:
        await page.locator("#chat-input").press("Enter")
    else:
        await page.get_by_role("button", name="Send").click()
    await expect(page.locator(".chat__msg--mine").last).to_contain_text(text)
    await expect(page.locator(".chat__msg--pending")).to_have_count(0)


async def test_two_participants_see_each_other_chat_and_write_notes(
    browser: Browser, room_server: LiveServer, page_errors: PageErrors, shots: Shots
) -> None:
    server = room_server
    session_id = await book_session(server)
    url = room_url(server, session_id)

    # The mentee follows the room link signed out, signs in, and lands in the empty room.
    mentee_ctx = await signed_in_context(browser, server, page_errors, None)
    mentee = await mentee_ctx.new_page()
    await sign_in(mentee, server, MENTEE, url.removeprefix(server.url), shots, "mentee")
    await expect(mentee.locator("#signal-status")).to_have_text("Connected")
    await mentee.wait_for_function("() => document.querySelector('#local-video').videoWidth > 0")
    await expect(mentee.locator("#remote-status")).to_have_text(
        f"Waiting for {NAMES[MENTOR]} to join..."
    )
    await expect(mentee.locator(f'#presence-list [data-email="{MENTOR}"]')).to_contain_text(
        "not here yet"
    )
    await shots(mentee, "mentee-alone")

    # The mentor joins: both decode the other's video, peer to peer.
    mentor_ctx = await signed_in_context(browser, server, page_errors, MENTOR)
    mentor = await mentor_ctx.new_page()
    await mentor.goto(url)
    for page in (mentor, mentee):
        await wait_for_remote_video(page)
        await expect(page.locator("#remote-overlay")).to_be_hidden()
        await expect(page.locator("#path-badge")).to_have_attribute("data-path", "direct")
        await expect(page.locator("#path-name")).to_have_text("direct")
        await expect(page.locator('#presence-list [data-here="true"]')).to_have_count(2)
        assert await page.locator("#local-video").evaluate("(v) => v.videoWidth > 0")
    await expect(mentee.locator("#presence-event")).to_contain_text(f"{NAMES[MENTOR]} joined")

    # Chat both ways; Enter and the Send button both send; mine blue, theirs grey.
    await send_chat(mentee, "Hi Ana, thanks for making time!", press_enter=True)
    await send_chat(mentor, "Hello Ben, happy to help.", press_enter=False)
    await expect(mentor.locator(".chat__msg--theirs")).to_contain_text(
        ["Hi Ana, thanks for making time!"]
    )
    await expect(mentee.locator(".chat__msg--theirs")).to_contain_text(
        ["Hello Ben, happy to help."]
    )
    assert await background(mentee, ".chat__msg--mine") == BLUE
    assert await background(mentee, ".chat__msg--theirs") == GREY
    stored_chat = await eventually(lambda: _chat_texts(server, session_id, 2), timeout_s=10)
    assert stored_chat == ["Hi Ana, thanks for making time!", "Hello Ben, happy to help."]

    # Both type into the notes at the same time: both texts survive, on both pages and stored.
    mentor_line = "Mentor: review the portfolio"
    mentee_line = "Mentee: ask about rates"
    await expect(mentor.locator("#notes")).to_be_editable()
    await expect(mentee.locator("#notes")).to_be_editable()
    await mentor.locator("#notes").click()
    await mentee.locator("#notes").click()
    await asyncio.gather(
        mentor.keyboard.type(mentor_line, delay=20),
        mentee.keyboard.type(mentee_line, delay=20),
    )
    for page in (mentor, mentee):
        await expect(page.locator("#notes")).to_have_value(re.compile(re.escape(mentor_line)))
        await expect(page.locator("#notes")).to_have_value(re.compile(re.escape(mentee_line)))
        await expect(page.locator("#notes-status")).to_have_text("Saved")
    final = await mentor.locator("#notes").input_value()
    assert await mentee.locator("#notes").input_value() == final

    async def stored_notes() -> str | None:
        session = await server.store.get_session(session_id)
        return session.notes if session is not None and session.notes == final else None

    assert await eventually(stored_notes) == final

    # Mute and camera off: the buttons turn red and say what a click does next.
    await mentee.locator("#btn-mic").click()
    await expect(mentee.locator("#btn-mic")).to_have_attribute("aria-pressed", "true")
    await expect(mentee.locator("#btn-mic")).to_have_text(re.compile("Unmute"))
    assert await background(mentee, "#btn-mic") == RED
    await mentee.locator("#btn-camera").click()
    await expect(mentee.locator("#btn-camera")).to_have_attribute("aria-pressed", "true")
    assert await background(mentee, "#btn-camera") == RED
    enabled = await mentee.evaluate(
        "() => panamiaRoom.call.localStream.getTracks().map((t) => t.enabled)"
    )
    assert enabled == [False, False]
    await shots(mentee, "mentee-muted-camera-off")
    await mentee.locator("#btn-mic").click()
    await mentee.locator("#btn-camera").click()
    await expect(mentee.locator("#btn-mic")).to_have_attribute("aria-pressed", "false")
    await expect(mentee.locator("#btn-camera")).to_have_attribute("aria-pressed", "false")
    await shots(mentor, "mentor-in-call")
    await shots(mentee, "mentee-in-call")

    # Both reload at the same moment (offers may cross): the call comes back by itself and
    # the chat history loads.
    await asyncio.gather(mentor.reload(), mentee.reload())
    for page in (mentor, mentee):
        await wait_for_remote_video(page)
        await expect(page.locator(".chat__msg")).to_have_count(2)
    await expect(mentor.locator(".chat__msg--mine")).to_have_text(re.compile("Hello Ben"))
    await expect(mentor.locator(".chat__msg--theirs")).to_have_text(re.compile("Hi Ana"))

    # End Call stops every track and returns to My Sessions; the other side sees them go.
    # (What the room left behind is written to sessionStorage as the page goes.)
    await mentee.evaluate(
        """() => {
            const call = panamiaRoom.call;
            const tracks = [...call.localStream.getTracks(), ...call.remoteStream.getTracks()];
            window.addEventListener("pagehide", () => sessionStorage.setItem("endState",
                JSON.stringify({
                    tracks: tracks.map((t) => t.kind + ":" + t.readyState),
                    connections: [call.pc, call.relayPc].filter(Boolean).length,
                })));
        }"""
    )
    await mentee.get_by_role("button", name="End call").click()
    await expect(mentee).to_have_url(re.compile(r"/mentoring/sessions$"))
    end_state = json.loads(await mentee.evaluate("() => sessionStorage.getItem('endState')"))
    assert sorted(end_state["tracks"]) == [
        "audio:ended",
        "audio:ended",
        "video:ended",
        "video:ended",
    ]
    assert end_state["connections"] == 0
    await expect(mentor.locator("#remote-overlay")).to_be_visible()
    await expect(mentor.locator("#remote-status")).to_have_text(f"{NAMES[MENTEE]} left the room")
    await expect(mentor.locator(f'#presence-list [data-email="{MENTEE}"]')).to_contain_text("left")
    await expect(mentor.locator("#presence-event")).to_contain_text(f"{NAMES[MENTEE]} left")
    await shots(mentor, "mentor-after-mentee-left")

    await leave_and_close(mentor_ctx, mentee_ctx)
    assert page_errors.messages == []


async def _chat_texts(server: LiveServer, session_id: str, count: int) -> list[str] | None:
    messages = await server.store.list_chat(session_id)
    texts = [m.text for m in messages]
    return texts if len(texts) >= count else None


async def test_the_call_resumes_after_the_hub_connection_drops(
    browser: Browser, room_server: LiveServer, page_errors: PageErrors
) -> None:
    server = room_server
    room = await two_participants(browser, server, page_errors)
    mentor, mentee = room.mentor, room.mentee
    url = room_url(server, room.session_id)
    await asyncio.gather(mentor.goto(url), mentee.goto(url))  # both join at the same moment
    for page in (mentor, mentee):
        await wait_for_remote_video(page)

    # The server drops every websocket, as a restart would; nobody reloads.
    open_sockets = server.app[keys.WEBSOCKETS]
    for ws in list(open_sockets):
        await ws.close(code=1001, message=b"going away")
    for page in (mentor, mentee):
        await page.wait_for_function("() => panamiaRoom.signaling.readyCount >= 2")
        await expect(page.locator("#signal-status")).to_have_text("Connected")
        await wait_for_remote_video(page)
    await send_chat(mentor, "Still here after the hiccup?", press_enter=True)
    await expect(mentee.locator(".chat__msg--theirs")).to_contain_text(
        ["Still here after the hiccup?"]
    )

    # An ICE restart renegotiates over the rejoined hub and the video keeps flowing.
    ufrags = """() => {
        const pc = panamiaRoom.call.pc;
        const ufrag = (d) => d.sdp.match(/a=ice-ufrag:(\\S+)/)[1];
        return [ufrag(pc.localDescription), ufrag(pc.remoteDescription), pc.signalingState];
    }"""
    before = await mentor.evaluate(ufrags)
    await mentor.evaluate("() => panamiaRoom.call.pc.restartIce()")
    await mentor.wait_for_function(
        f"""() => {{
            const [local, remote, state] = ({ufrags})();
            return state === 'stable' && local !== {before[0]!r} && remote !== {before[1]!r};
        }}"""
    )
    for page in (mentor, mentee):
        await wait_for_remote_video(page)
        await expect(page.locator("#path-badge")).to_have_attribute("data-path", "direct")
    await room.leave()
    assert page_errors.messages == []


async def test_nobody_else_gets_into_the_room(
    browser: Browser, room_server: LiveServer, page_errors: PageErrors, shots: Shots
) -> None:
    server = room_server
    session_id = await book_session(server)
    url = room_url(server, session_id)

    # Signed out: sent to sign in and brought back afterwards.
    anonymous = await signed_in_context(browser, server, None, None)
    page = await anonymous.new_page()
    await page.goto(url)
    next_path = re.escape(f"mentoring/session/{session_id}").replace("/", "(/|%2F)")
    await expect(page).to_have_url(re.compile(rf"/signin\?next=(/|%2F){next_path}$"))
    await anonymous.close()

    context = await signed_in_context(browser, server, None, OUTSIDER)
    page = await context.new_page()
    response = await page.goto(url)
    assert response is not None and response.status == 403
    await expect(page.get_by_role("heading", name="Access denied")).to_be_visible()
    await expect(page.locator("#remote-video")).to_have_count(0)
    await shots(page, "outsider-access-denied")

    # The hub refuses to sign either channel for them.
    for channel in (f"private-session-{session_id}", f"presence-session-{session_id}"):
        refused = await page.request.post(
            server.url + "/api/pusher/auth",
            form={"socket_id": "123.456", "channel_name": channel},
            headers={"Origin": server.url},
        )
        assert refused.status == 403, channel
        assert (await refused.json())["error"] == "Access denied"

    # The notes socket closes on them with "not a participant".
    close_code = await page.evaluate(
        """(sessionId) => new Promise((resolve) => {
            const ws = new WebSocket(`ws://${location.host}/ws/notes/${sessionId}`);
            ws.onclose = (event) => resolve(event.code);
        })""",
        session_id,
    )
    assert close_code == 4403

    response = await page.goto(room_url(server, "0" * 32))
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    await context.close()

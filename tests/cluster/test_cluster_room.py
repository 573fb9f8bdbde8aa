"""A session works whichever node each participant reaches, directly or through HAProxy.

Two ``panamia serve`` nodes share a redis-server; HAProxy (config/haproxy.cfg) spreads
requests round-robin with no stickiness. The session's room (relay + live notes) lives on the
node holding its lease; the other node forwards to it. Killing that node with SIGKILL moves
the room to the survivor: the call recovers without a reload and the notes are intact.
"""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect
from redis.asyncio import Redis

from bench.cluster_nodes import AUTH_SECRET, LEASE_PREFIX, Cluster
from tests.browser.room_support import (
    MENTEE,
    MENTOR,
    OUTSIDER,
    leave_and_close,
    wait_for_remote_video,
)
from tests.browser.support import PageErrors
from tests.cluster.conftest import book, logs
from web.auth import COOKIE_NAME, issue_token
from web.rooms.hop import HOP_HEADER
from web.rooms.lease import Owner

pytestmark = [pytest.mark.browser, pytest.mark.redis]

MARK_RELAY_CONNECTION = "() => { window.panamiaRoom.call.relayPc.fromOldOwner = true; }"
RELAY_FRAMES = """async () => {
  const pc = window.panamiaRoom.call.relayPc;
  if (!pc || pc.fromOldOwner) return 0;
  let frames = 0;
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
  });
  return frames;
}"""


async def _open_room(
    browser: Browser, errors: PageErrors, base_url: str, email: str, session_id: str, query: str
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-US")
    context.set_default_timeout(20_000)
    errors.watch(context)
    token = issue_token(AUTH_SECRET, email, 3600)
    await context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": base_url}])
    page = await context.new_page()
    await page.goto(f"{base_url}/mentoring/session/{session_id}{query}")
    return context, page


async def _owner(cluster: Cluster, session_id: str) -> str | None:
    client = Redis.from_url(cluster.redis.url, socket_timeout=5, socket_connect_timeout=5)
    try:
        value = await client.get(LEASE_PREFIX + session_id)
    finally:
        await client.aclose()
    return None if value is None else Owner.parse(value).url


async def _chat(sender: Page, receiver: Page, text: str) -> None:
    await sender.locator("#chat-input").fill(text)
    await sender.locator("#chat-input").press("Enter")
    await expect(receiver.locator(".chat__msg--theirs").last).to_contain_text(text)


async def _type_notes_together(
    mentor: Page, mentee: Page, mentor_line: str, mentee_line: str
) -> str:
    for page in (mentor, mentee):
        await expect(page.locator("#notes")).to_be_editable()
    await mentor.locator("#notes").click()
    await mentor.keyboard.press("Control+Home")
    await mentee.locator("#notes").click()
    await mentee.keyboard.press("Control+End")
    await asyncio.gather(
        mentor.keyboard.type(mentor_line, delay=20), mentee.keyboard.type(mentee_line, delay=20)
    )
    merged = f"{mentor_line}\n{mentee_line}"
    for page in (mentor, mentee):
        await expect(page.locator("#notes")).to_have_value(merged)
        await expect(page.locator("#notes-status")).to_have_text("Saved")
    return merged


async def _new_relay_frames(page: Page, timeout_s: float) -> None:
    """Until a relay connection other than the marked one has decoded a few video frames."""
    deadline = time.monotonic() + timeout_s
    while int(await page.evaluate(RELAY_FRAMES)) <= 2:
        assert time.monotonic() < deadline, "no frames on a new relay connection"
        await asyncio.sleep(0.1)


async def test_call_chat_and_notes_with_each_person_on_another_node(
    cluster: Cluster, browser: Browser, page_errors: PageErrors
) -> None:
    session_id = await book(cluster, slot=0, topic="Two nodes, peer to peer")
    node1, node2 = cluster.nodes
    contexts: list[BrowserContext] = []
    try:
        ctx1, mentor = await _open_room(browser, page_errors, node1.url, MENTOR, session_id, "")
        ctx2, mentee = await _open_room(browser, page_errors, node2.url, MENTEE, session_id, "")
        contexts = [ctx1, ctx2]
        for page in (mentor, mentee):
            await wait_for_remote_video(page, timeout_ms=30_000)
            await expect(page.locator("#path-name")).not_to_have_text("relay")
        await _chat(mentee, mentor, "Hello from node 2")
        await _chat(mentor, mentee, "Hello from node 1")
        merged = await _type_notes_together(
            mentor, mentee, "Mentor on node one: plan", "Mentee on node two: questions"
        )
        owner = await _owner(cluster, session_id)
        assert owner in (node1.url, node2.url), logs(cluster)
        # The same two people on the relay: one of them reaches it through the other node.
        await asyncio.gather(
            mentor.goto(f"{node1.url}/mentoring/session/{session_id}?relay=always"),
            mentee.goto(f"{node2.url}/mentoring/session/{session_id}?relay=always"),
        )
        for page in (mentor, mentee):
            await wait_for_remote_video(page, timeout_ms=30_000)
            await expect(page.locator("#path-name")).to_have_text("relay")
            await expect(page.locator("#notes")).to_have_value(merged)
        assert await _owner(cluster, session_id) == owner  # relay and notes: one room
    except Exception:
        print(logs(cluster))
        raise
    finally:
        await leave_and_close(*contexts)
    assert merged


def _cookie(email: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE_NAME}={issue_token(AUTH_SECRET, email, 3600)}"}


async def test_forwarded_requests_are_checked_by_the_owner_as_if_direct(cluster: Cluster) -> None:
    session_id = await book(cluster, slot=4, topic="Forwarding rules")
    node1, node2 = cluster.nodes
    offer = f"/api/relay/sessions/{session_id}/offer"
    async with aiohttp.ClientSession() as http:
        # Someone who is not a participant can neither create nor move the room.
        async with http.post(
            node2.url + offer, json={"sdp": "v=0"}, headers=_cookie(OUTSIDER)
        ) as r:
            assert r.status in (403, 404)
        assert await _owner(cluster, session_id) is None
        # The first node asked claims the room (the offer itself is refused as malformed).
        async with http.post(node1.url + offer, json={"sdp": "v=0"}, headers=_cookie(MENTOR)) as r:
            assert r.status == 400
        assert await _owner(cluster, session_id) == node1.url
        # Through the other node: the same answers, in the same shape.
        async with http.post(node2.url + offer, json={"sdp": "v=0"}) as r:
            assert r.status == 401  # not signed in: refused where it arrived, nothing forwarded
        async with http.post(
            node2.url + offer, json={"sdp": "v=0"}, headers=_cookie(OUTSIDER)
        ) as r:
            assert r.status in (403, 404) and "error" in await r.json()
        async with http.post(node2.url + offer, json={"sdp": "v=0"}, headers=_cookie(MENTOR)) as r:
            body = await r.json()
            assert r.status == 400 and body["field"] == "sdp", body
        # Only the cluster's nodes can sign the internal hop.
        forged = {**_cookie(MENTOR), HOP_HEADER: f"{session_id} 1 {int(time.time())} 00"}
        async with http.post(node1.url + offer, json={"sdp": "v=0"}, headers=forged) as r:
            assert r.status == 403 and (await r.json())["code"] == "bad_hop"
        # The notes socket, proxied: refusals keep their close code, a participant syncs.
        notes = f"/ws/notes/{session_id}"
        async with http.ws_connect(node2.url + notes, headers=_cookie(OUTSIDER)) as ws:
            await ws.receive(timeout=10)
            assert ws.close_code == 4403
        async with http.ws_connect(node2.url + notes, headers=_cookie(MENTEE)) as ws:
            first = await ws.receive(timeout=10)
            assert first.type is aiohttp.WSMsgType.BINARY and first.data
            # A REST edit through the other node lands in the owner's live document.
            bearer = {"Authorization": f"Bearer {issue_token(AUTH_SECRET, MENTOR, 3600)}"}
            edit = {"action": "update_notes", "notes": "Edited over REST"}
            async with http.patch(
                f"{node2.url}/api/mentoring/sessions/{session_id}", json=edit, headers=bearer
            ) as r:
                assert r.status == 200, await r.text()
            deadline = time.monotonic() + 10
            while True:
                message = await ws.receive(timeout=10)
                if b"Edited over REST" in bytes(message.data):
                    break
                assert time.monotonic() < deadline, "the live document never got the edit"
        assert await _owner(cluster, session_id) == node1.url


async def test_calls_through_the_proxy_and_the_owner_node_dying(
    cluster: Cluster, browser: Browser, page_errors: PageErrors
) -> None:
    session_id = await book(cluster, slot=2, topic="Relay through the proxy")
    proxy = cluster.proxy.url
    contexts: list[BrowserContext] = []
    try:
        ctx1, mentor = await _open_room(browser, page_errors, proxy, MENTOR, session_id, "")
        ctx2, mentee = await _open_room(browser, page_errors, proxy, MENTEE, session_id, "")
        contexts = [ctx1, ctx2]
        pages = (mentor, mentee)
        for page in pages:  # peer to peer first, each page loaded through the proxy
            await wait_for_remote_video(page, timeout_ms=30_000)
            await expect(page.locator("#path-name")).not_to_have_text("relay")
        relayed = f"{proxy}/mentoring/session/{session_id}?relay=always"
        await asyncio.gather(*(page.goto(relayed) for page in pages))
        for page in pages:
            await wait_for_remote_video(page, timeout_ms=30_000)
            await expect(page.locator("#path-name")).to_have_text("relay")
            await page.evaluate("() => { window.sameDocument = true; }")
        await _chat(mentor, mentee, "Through the proxy")
        merged = await _type_notes_together(
            mentor, mentee, "Mentor through the proxy", "Mentee through the proxy"
        )
        owner_url = await _owner(cluster, session_id)
        assert owner_url is not None
        owner = cluster.node_at(owner_url)
        survivor = next(node for node in cluster.nodes if node is not owner)

        for page in pages:
            await page.evaluate(MARK_RELAY_CONNECTION)
        owner.stop(signal.SIGKILL)
        killed_at = time.monotonic()
        await asyncio.gather(*(_new_relay_frames(page, 60.0) for page in pages))
        recovered_s = time.monotonic() - killed_at
        print(f"\nowner killed: relayed video flows again on both pages after {recovered_s:.1f} s")
        for page in pages:
            await wait_for_remote_video(page, timeout_ms=20_000)
            await expect(page.locator("#path-name")).to_have_text("relay", timeout=20_000)
            assert await page.evaluate("() => window.sameDocument === true")  # no reload
            await expect(page.locator("#notes")).to_have_value(merged, timeout=20_000)
            await expect(page.locator("#notes-status")).to_have_text("Saved", timeout=20_000)
        assert await _owner(cluster, session_id) == survivor.url
        # The notes still merge on the new owner, and nothing typed before is lost.
        await mentee.locator("#notes").click()
        await mentee.keyboard.press("Control+End")
        await mentee.keyboard.type(" after", delay=20)
        for page in pages:
            await expect(page.locator("#notes")).to_have_value(merged + " after")
        await _chat(mentee, mentor, "Still here")
    except Exception:
        print(logs(cluster))
        raise
    finally:
        await leave_and_close(*contexts)

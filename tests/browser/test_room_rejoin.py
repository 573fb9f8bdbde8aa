"""Joining a room someone waits in, again and again, in real Chromium: the waiting page sends
nothing to an empty room (no offer, no candidates), so the newcomer's hello is answered at
once instead of queueing behind them for the hub's client-event budget."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page

from tests.browser.room_support import (
    MENTEE,
    MENTOR,
    book_session,
    leave_and_close,
    room_server_fixture,
    room_url,
    signed_in_context,
    wait_for_remote_video,
)
from tests.browser.support import LiveServer, PageErrors
from web import keys

pytestmark = pytest.mark.browser

RECORD_SIGNALS = """() => {
  window.sentSignals = [];
  const signaling = panamiaRoom.signaling;
  const send = signaling.signal.bind(signaling);
  signaling.signal = (event, data, isStale) => {
    window.sentSignals.push([event, data.seen ?? null]);
    return send(event, data, isStale);
  };
}"""


room_server = room_server_fixture("room_server", auth={"dev_login": True}, relay={"mode": "never"})


async def gone(waiting: Page) -> None:
    await waiting.wait_for_function(
        "() => panamiaRoom.call.remoteEpoch === null && panamiaRoom.call.pc !== null"
        " && panamiaRoom.call.pc.iceGatheringState === 'complete'"
    )


async def test_a_waiting_mentor_stays_quiet_and_answers_each_newcomer_at_once(
    browser: Browser, room_server: LiveServer, page_errors: PageErrors
) -> None:
    server = room_server
    url = room_url(server, await book_session(server))
    mentor_ctx = await signed_in_context(browser, server, page_errors, MENTOR)
    mentee_ctx = await signed_in_context(browser, server, page_errors, MENTEE)
    mentor = await mentor_ctx.new_page()
    await mentor.goto(url)
    await mentor.wait_for_function("() => panamiaRoom.signaling.isReady()")
    await gone(mentor)  # alone, its offer prepared and its candidates gathered
    await mentor.evaluate(RECORD_SIGNALS)

    for _ in range(2):  # the second join is the first one's reload, at once
        mentee = await mentee_ctx.new_page()
        await mentee.goto(url)
        await wait_for_remote_video(mentee)
        await wait_for_remote_video(mentor)
        await mentee.close(run_before_unload=True)
        await gone(mentor)

    sent = await mentor.evaluate("window.sentSignals")
    # Per newcomer: a hello that says it has seen them, and the offer prepared while alone
    # (with every candidate in it). Nothing while alone.
    assert [event for event, _ in sent] == ["client-hello", "client-offer"] * 2, sent
    assert None not in [seen for event, seen in sent if event == "client-hello"], sent
    assert server.app[keys.HUB].stats()["client_events_rejected"] == 0
    await leave_and_close(mentor_ctx, mentee_ctx)
    assert page_errors.messages == []

"""The stock pusher-js (the vendored npm bundle) in headless Chromium against our hub, with
the official ``pusher`` Python SDK triggering events: private and presence channels through a
channel-authorization endpoint, client events between two browsers, member_added/removed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pusher
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright

from tests.browser.support import CHROMIUM, LAUNCH_ARGS
from tests.integration.conftest import APP_ID, KEY, SECRET, WAIT_S
from tests.integration.test_redis_outage import redis_proc as redis_proc

pytestmark = pytest.mark.browser

VENDOR = Path(__file__).parents[2] / "web" / "static" / "vendor" / "pusher-js" / "pusher.min.js"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>pusher-js test</title></head><body>
<script src="/test/pusher.min.js"></script>
<script>
window.log = [];
const q = new URLSearchParams(location.search);
const client = new Pusher(q.get("key"), {
  cluster: "",
  wsHost: "127.0.0.1",
  wsPort: Number(location.port),
  forceTLS: false,
  enabledTransports: ["ws"],
  disableStats: true,
  channelAuthorization: {
    endpoint: "/test/pusher/auth",
    transport: "ajax",
    params: { user_id: q.get("user"), name: q.get("name") },
  },
});
window.client = client;
client.connection.bind("connected", () => log.push(["connected", client.connection.socket_id]));
client.connection.bind("error", (e) => log.push(["error", JSON.stringify(e)]));
const call = client.subscribe("private-call");
call.bind("pusher:subscription_succeeded", () => log.push(["private-ok"]));
call.bind("pusher:subscription_error", (e) => log.push(["private-error", e]));
call.bind("client-offer", (data) => log.push(["client-offer", data]));
call.bind("server-note", (data) => log.push(["server-note", data]));
const room = client.subscribe("presence-room");
room.bind("pusher:subscription_succeeded", (members) =>
  log.push(["presence-ok", members.count, members.me && members.me.id]));
room.bind("pusher:member_added", (m) => log.push(["member_added", m.id, m.info]));
room.bind("pusher:member_removed", (m) => log.push(["member_removed", m.id]));
room.bind("client-chat-message", (data, meta) => log.push(["chat", data, meta.user_id]));
</script></body></html>
"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    if not VENDOR.exists():
        pytest.skip("pusher-js is not vendored (run scripts/vendor.sh pusher_js)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


def add_page_routes(app: web.Application) -> None:
    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def bundle(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(VENDOR)

    app.router.add_get("/test/page", page)
    app.router.add_get("/test/pusher.min.js", bundle)


async def open_page(browser: Browser, server: TestServer, user: str, name: str) -> Page:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(str(server.make_url(f"/test/page?key={KEY}&user={user}&name={name}")))
    return page


async def wait_log(page: Page, predicate_js: str) -> Any:
    """Wait until an entry of ``window.log`` satisfies ``predicate_js`` (a JS arrow function)."""
    handle = await page.wait_for_function(
        f"() => window.log.find({predicate_js}) || null", timeout=WAIT_S * 1000
    )
    return await handle.json_value()


async def test_pusher_js_talks_to_the_hub(hub_server: Any, browser: Browser) -> None:
    server = await hub_server(routes=add_page_routes)
    ana = await open_page(browser, server, "ana@example.org", "Ana")
    await wait_log(ana, "e => e[0] === 'private-ok'")
    joined = await wait_log(ana, "e => e[0] === 'presence-ok'")
    assert joined == ["presence-ok", 1, "ana@example.org"]

    ken = await open_page(browser, server, "ken@example.org", "Ken")
    await wait_log(ken, "e => e[0] === 'private-ok'")
    assert (await wait_log(ken, "e => e[0] === 'presence-ok'"))[1] == 2
    added = await wait_log(ana, "e => e[0] === 'member_added'")
    assert added == ["member_added", "ken@example.org", {"name": "Ken"}]

    # Server event from the official Python SDK reaches both browsers.
    sdk = pusher.Pusher(
        app_id=APP_ID, key=KEY, secret=SECRET, host="127.0.0.1", port=server.port, ssl=False
    )
    await asyncio.to_thread(sdk.trigger, "private-call", "server-note", {"hi": "from python"})
    for page in (ana, ken):
        note = await wait_log(page, "e => e[0] === 'server-note'")
        assert note[1] == {"hi": "from python"}

    # Client events go browser to browser, never back to the sender.
    await ana.evaluate(
        "() => window.client.channel('private-call').trigger('client-offer', {sdp: 'v=0'})"
    )
    offer = await wait_log(ken, "e => e[0] === 'client-offer'")
    assert offer[1] == {"sdp": "v=0"}
    await ken.evaluate(
        "() => window.client.channel('presence-room')"
        ".trigger('client-chat-message', {text: 'hola'})"
    )
    chat = await wait_log(ana, "e => e[0] === 'chat'")
    assert chat == ["chat", {"text": "hola"}, "ken@example.org"]
    assert not [e for e in await ana.evaluate("window.log") if e[0] == "client-offer"]

    # Ken leaves: Ana sees member_removed.
    await ken.context.close()
    removed = await wait_log(ana, "e => e[0] === 'member_removed'")
    assert removed == ["member_removed", "ken@example.org"]
    errors = [e for e in await ana.evaluate("window.log") if e[0].endswith("error")]
    assert errors == [], json.dumps(errors)
    await ana.context.close()


async def test_pusher_js_keeps_its_connection_through_a_redis_outage(
    hub_server: Any, browser: Browser, redis_proc: Any
) -> None:
    """A subscribe while Redis is down: pusher-js gets pusher:subscription_error (503), stays
    connected, and the subscription completes by itself once Redis is back."""
    from tests.integration.test_redis_outage import bus_down, is_ready, until

    bus = {"redis_url": redis_proc.url, "node_timeout_s": 1.0}
    server = await hub_server(bus=bus, routes=_page_and_readyz)
    ana = await open_page(browser, server, "ana@example.org", "Ana")
    await wait_log(ana, "e => e[0] === 'presence-ok'")
    await ana.evaluate(
        "() => window.client.connection.bind('state_change', (s) => log.push(['state', s.current]))"
    )
    redis_proc.kill()
    await until(lambda: bus_down(server), "/readyz reporting the bus")
    await ana.evaluate(
        """() => {
          const late = window.client.subscribe('private-late');
          late.bind('pusher:subscription_error', (e) => log.push(['late-error', e.status]));
          late.bind('pusher:subscription_succeeded', () => log.push(['late-ok']));
        }"""
    )
    assert await wait_log(ana, "e => e[0] === 'late-error'") == ["late-error", 503]
    redis_proc.start()
    await until(lambda: is_ready(server), "the node ready again")
    await wait_log(ana, "e => e[0] === 'late-ok'")
    states = [e for e in await ana.evaluate("window.log") if e[0] == "state"]
    assert states == [], states  # never disconnected, never reconnected
    await ana.context.close()


def _page_and_readyz(app: web.Application) -> None:
    from panamia.app import readyz

    add_page_routes(app)
    app.router.add_get("/readyz", readyz)


async def test_pusher_js_backs_off_when_over_capacity_and_comes_back(
    browser: Browser, make_settings: Any
) -> None:
    """One hub connection per address: pusher-js, refused with 4100, retries by itself after
    a pause and connects once the place is free."""
    from panamia.app import create_app
    from tests.integration.conftest import PusherWS, hub_settings

    app = create_app(hub_settings(make_settings, limits={"hub_connections_per_address": 1}))
    add_page_routes(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    holder = await (await PusherWS.open(server)).connected()
    try:
        ana = await open_page(browser, server, "ana@example.org", "Ana")
        refused = await wait_log(ana, "e => e[0] === 'error' && e[1].includes('4100')")
        assert "Over capacity" in refused[1]
        assert not [e for e in await ana.evaluate("window.log") if e[0] == "connected"]
        await holder.close()
        await wait_log(ana, "e => e[0] === 'connected'")
        await ana.context.close()
    finally:
        await holder.close()
        await server.close()

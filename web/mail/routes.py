"""Mail's pages: the Messages page of a local server without SMTP, and the calendar feed.

``GET /calendar/{token}.ics`` is authenticated by its secret token alone (calendar apps
send no cookie); an unknown or revoked token is a 404.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from store.models import MailStatus, OutboxMessage, utcnow
from web import keys
from web.auth import local_without_smtp
from web.mail.feed import feed_calendar, hash_feed_token
from web.pages.rendering import TEMPLATES, render
from web.pages.viewer import signed_in_viewer
from web.serialize import iso
from web.services.notify import mail_site

MESSAGES_SHOWN = 100
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_STATUS_TEXT = {
    MailStatus.PENDING: "waiting to be sent",
    MailStatus.SENT: "sent (to the log)",
    MailStatus.SKIPPED: "not sent: the session changed",
    MailStatus.FAILED: "failed",
    MailStatus.HELD: "held",
}


def setup_mail_routes(app: web.Application) -> None:
    app.router.add_get("/messages", messages_page, name="page_messages")
    app.router.add_get("/calendar/{token}.ics", calendar_feed, name="calendar_feed")
    templates = app.get(TEMPLATES)
    if templates is not None:
        templates.globals["messages_page"] = local_without_smtp(app[keys.SETTINGS])


def _shown(m: OutboxMessage, now_iso: str) -> dict[str, Any]:
    return {
        "subject": m.subject,
        "kind": m.kind.value,
        "kind_label": m.kind.value.replace("signin", "sign-in").capitalize(),
        "status": m.status.value,
        "status_label": _STATUS_TEXT.get(m.status, m.status.value),
        "created_iso": iso(m.created_at),
        "created_text": m.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        "due_later": iso(m.due_at) > now_iso,
        "due_iso": iso(m.due_at),
        "due_text": m.due_at.strftime("%Y-%m-%d %H:%M UTC"),
        "text": m.text,
        "ics": m.ics,
        "ics_method": m.ics_method,
    }


async def messages_page(request: web.Request) -> web.Response:
    """What e-mail would have been sent to the signed-in person; only on a local server
    without SMTP (elsewhere mail really goes out, and this page does not exist)."""
    if not local_without_smtp(request.app[keys.SETTINGS], request):
        raise web.HTTPNotFound()
    viewer = await signed_in_viewer(request)
    found = await request.app[keys.STORE].list_mail_for(viewer.email, MESSAGES_SHOWN)
    now_iso = iso(utcnow())
    context = {
        "viewer": viewer,
        "nav": "messages",
        "messages": [_shown(m, now_iso) for m in found],
    }
    return render(request, "messages.html", context)


async def calendar_feed(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    if not 20 <= len(token) <= 100 or not set(token) <= _TOKEN_CHARS:
        raise web.HTTPNotFound()
    store = request.app[keys.STORE]
    email = await store.calendar_owner(hash_feed_token(token))
    if email is None:
        raise web.HTTPNotFound()
    site = mail_site(request.app[keys.SETTINGS], request)
    body = await feed_calendar(store, email, site, utcnow())
    return web.Response(
        body=body.encode(),
        headers={
            "Content-Type": "text/calendar; charset=utf-8",
            "Content-Disposition": 'inline; filename="panamia.ics"',
            "Cache-Control": "private, max-age=300",
            "Referrer-Policy": "no-referrer",
        },
    )

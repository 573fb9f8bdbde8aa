"""A cancel that loses a race with a move: the real app, a real SQLite store.

The move is a real reschedule request by the mentor, let in (a fault injected into the
store) between the handler's read of the session and its cancel write: exactly the window
in which the CANCEL notices built from the read would carry the old time and the move's own
SEQUENCE. The cancel must answer 409 naming the field, store nothing, and a retry must
cancel with notices for the new time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import icalendar
import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from panamia.app import create_app
from store.models import MailKind, SessionStatus
from tests.conftest import SettingsFactory
from tests.integration.test_mail import MENTEE, MENTOR, booked_pair
from tests.support.apiclient import slot
from web import keys


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_cancel_overtaken_by_a_move_is_409_and_sends_nothing(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    make_settings: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = await aiohttp_server(create_app(make_settings()))
    ana, ben, session_id = await booked_pair(aiohttp_client, server, slot(10))
    store = server.app[keys.STORE]
    one = f"/api/mentoring/sessions/{session_id}"
    cancel_for_real = store.cancel_session

    async def moved_in_between(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(store, "cancel_session", cancel_for_real)  # once
        moved = await ana.post(f"{one}/reschedule", json={"scheduledAt": slot(12)})
        assert moved.status == 200, await moved.text()
        return await cancel_for_real(*args, **kwargs)

    monkeypatch.setattr(store, "cancel_session", moved_in_between)
    lost = await ben.patch(one, json={"action": "cancel", "reason": "Ill"})
    assert lost.status == 409
    body = await lost.json()
    assert body["field"] == "scheduledAt" and body["code"] == "session_changed"
    assert slot(12) in body["error"]

    # Nothing was cancelled and no CANCEL notice was stored: the move stands.
    shown = await (await ben.get(one)).json()
    assert shown["session"]["status"] == SessionStatus.SCHEDULED.value
    assert shown["session"]["sequence"] == 1
    assert utc(shown["session"]["scheduledAt"]) == utc(slot(12))
    queued = await store.list_mail_for(MENTEE, 200)
    assert MailKind.CANCELLED not in {m.kind for m in queued}

    # Cancelling again (now from the moved session) works, and its notice has the new time.
    again = await ben.patch(one, json={"action": "cancel", "reason": "Ill"})
    assert again.status == 200, await again.text()
    notices = [m for m in await store.list_mail_for(MENTOR, 200) if m.kind is MailKind.CANCELLED]
    assert len(notices) == 1 and notices[0].ics is not None
    cal = icalendar.Calendar.from_ical(notices[0].ics)
    events: list[Any] = list(cal.walk("VEVENT"))
    [event] = events
    assert cal["METHOD"] == "CANCEL" and int(event["SEQUENCE"]) == 2
    assert event.decoded("DTSTART") == utc(slot(12))

    # And a cancel of a cancelled session is the other 409.
    twice = await ana.patch(one, json={"action": "cancel", "reason": "Again"})
    assert twice.status == 409 and (await twice.json())["field"] == "action"

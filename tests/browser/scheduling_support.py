"""Helpers for the scheduling journey: a live server that mails through an in-process SMTP
server, screenshots for the docs, and the received mail and invitations rendered as pages
(an inbox, and an agenda the way a calendar client lists the events)."""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import Page

from tests.integration.test_mail import invitation, kind_of, only_event

SCREENSHOTS_ENV = "PANAMIA_SCREENSHOTS_DIR"


@dataclass
class DocShots:
    """Named screenshots: into $PANAMIA_SCREENSHOTS_DIR when set (the docs' images), else
    into the test's artifacts folder."""

    fallback: Path

    @property
    def folder(self) -> Path:
        chosen = os.environ.get(SCREENSHOTS_ENV)
        folder = Path(chosen) if chosen else self.fallback
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    async def __call__(self, page: Page, name: str, *, full_page: bool = True) -> Path:
        path = self.folder / f"{name}.png"
        await page.evaluate("window.scrollTo(0, 0)")
        await page.screenshot(path=str(path), full_page=full_page)
        return path


def next_monday(today: date) -> date:
    """The Monday of next week (1 to 7 days ahead), whatever day today is."""
    return today + timedelta(days=7 - today.weekday())


_PAGE_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1f2937; margin: 24px; background: #f6f7f9; }
h1 { font-size: 20px; margin: 0 0 4px; } p.lead { margin: 0 0 16px; color: #4b5563; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid #e5e7eb; }
th { background: #f0fdfa; font-size: 13px; text-transform: uppercase; letter-spacing: .03em; }
.mail { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px 16px;
  margin-bottom: 14px; }
.mail dl { display: grid; grid-template-columns: 90px 1fr; gap: 2px 8px; margin: 0 0 8px; }
.mail dt { color: #6b7280; } .mail dd { margin: 0; }
pre { white-space: pre-wrap; font: 13px/1.4 ui-monospace, monospace; margin: 0;
  background: #f9fafb; padding: 8px; border-radius: 6px; }
td:nth-child(-n+2) { white-space: nowrap; }
.cancelled td { color: #9ca3af; text-decoration: line-through; }
.pill { display: inline-block; padding: 0 8px; border-radius: 999px; background: #ccfbf1;
  font-size: 12px; font-weight: 600; }
"""


def _page(title: str, lead: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_PAGE_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p class='lead'>{html.escape(lead)}</p>{body}</body></html>"
    )


def inbox_html(person: str, messages: Iterable[EmailMessage]) -> str:
    """The mail one person received, as an inbox page (headers, text, attachment)."""
    cards = []
    for message in messages:
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        method, _cal = invitation(message)
        cards.append(
            "<div class='mail'><dl>"
            f"<dt>From</dt><dd>{html.escape(str(message['From']))}</dd>"
            f"<dt>To</dt><dd>{html.escape(str(message['To']))}</dd>"
            f"<dt>Subject</dt><dd><strong>{html.escape(str(message['Subject']))}</strong></dd>"
            f"<dt>Attached</dt><dd>invite.ics <span class='pill'>METHOD:{method}</span></dd>"
            f"</dl><pre>{html.escape(text.strip())}</pre></div>"
        )
    return _page(
        f"Mail received by {person}",
        "As delivered to the test SMTP server, oldest first.",
        "".join(cards),
    )


def agenda_rows(messages: Iterable[EmailMessage], zone: str) -> list[dict[str, Any]]:
    """One row per invitation received: what a calendar client reads from its ICS."""
    tz = ZoneInfo(zone)
    rows = []
    for message in messages:
        method, cal = invitation(message)
        event = only_event(cal)
        start: datetime = event.decoded("DTSTART")
        end: datetime = event.decoded("DTEND")
        rows.append(
            {
                "kind": kind_of(message),
                "method": method,
                "uid": str(event["UID"]),
                "sequence": int(event["SEQUENCE"]),
                "status": str(event["STATUS"]),
                "summary": str(event["SUMMARY"]),
                "start": start.astimezone(tz),
                "end": end.astimezone(tz),
            }
        )
    return rows


def agenda_html(person: str, zone: str, rows: list[dict[str, Any]]) -> str:
    """The invitations as a calendar client lists them: every update received, then the
    entry it keeps (the highest SEQUENCE of each UID)."""

    def row(r: dict[str, Any]) -> str:
        css = " class='cancelled'" if r["status"] == "CANCELLED" else ""
        return (
            f"<tr{css}><td>{r['start']:%a %d %b %Y}</td>"
            f"<td>{r['start']:%H:%M}&ndash;{r['end']:%H:%M}</td>"
            f"<td>{html.escape(r['summary'])}</td><td>{r['status']}</td>"
            f"<td>{r['method']}</td><td>{r['sequence']}</td>"
            f"<td><code>{html.escape(r['uid'][:12])}…</code></td></tr>"
        )

    head = (
        "<tr><th>Date</th><th>Time</th><th>Summary</th><th>Status</th><th>Method</th>"
        "<th>Sequence</th><th>UID</th></tr>"
    )
    latest: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["uid"] not in latest or r["sequence"] >= latest[r["uid"]]["sequence"]:
            latest[r["uid"]] = r
    body = (
        "<h2>Invitations received, in order</h2>"
        f"<table>{head}{''.join(row(r) for r in rows)}</table>"
        "<h2>The calendar entry (highest SEQUENCE per UID)</h2>"
        f"<table>{head}{''.join(row(r) for r in latest.values())}</table>"
    )
    return _page(
        f"{person}'s calendar",
        f"Times in {zone}, read from the ICS attachments with icalendar.",
        body,
    )

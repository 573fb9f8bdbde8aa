"""`panamia serve` writes an access log without bearer secrets (calendar feeds, sign-in links)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.support.procs import free_port, wait_for_port
from web.access_log import redact_url

ROOT = Path(__file__).resolve().parents[2]
FEED_TOKEN = "FeedSecret" + "x" * 33
LINK_TOKEN = "LinkSecret" + "y" * 33


def test_urls_lose_their_secrets() -> None:
    assert redact_url(f"/calendar/{FEED_TOKEN}.ics") == "/calendar/[redacted]"
    assert redact_url(f"/auth/callback?token={LINK_TOKEN}&next=/x") == (
        "/auth/callback?token=[redacted]&next=/x"
    )
    assert redact_url(f"http://h/auth/callback?next=/a&token={LINK_TOKEN}") == (
        "http://h/auth/callback?next=/a&token=[redacted]"
    )
    assert redact_url("/mentoring/sessions?status=all") == "/mentoring/sessions?status=all"


async def test_the_served_access_log_hides_feed_and_sign_in_tokens(tmp_path: Path) -> None:
    port = free_port()
    log_file = tmp_path / "serve.log"
    env = {
        **os.environ,
        "PANAMIA_STORE__DATA_DIR": str(tmp_path / "var"),
        "PANAMIA_RELAY__MODE": "never",
        "PANAMIA_LOG__LEVEL": "INFO",
        "PANAMIA_LOG__JSON": "true",
    }
    with log_file.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "panamia", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
        try:
            await asyncio.to_thread(wait_for_port, port, "127.0.0.1", 60.0)
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as http:
                feed = await http.get(f"{base}/calendar/{FEED_TOKEN}.ics")
                assert feed.status == 404
                link = await http.get(
                    f"{base}/auth/callback?token={LINK_TOKEN}",
                    headers={"Referer": f"{base}/calendar/{FEED_TOKEN}.ics"},
                    allow_redirects=False,
                )
                assert link.status < 500
            for _ in range(100):  # the line is written after the response
                text = log_file.read_text()
                if text.count("[redacted]") >= 3:
                    break
                await asyncio.sleep(0.1)
        finally:
            proc.terminate()
            await asyncio.to_thread(proc.wait, 20)
    text = log_file.read_text()
    assert "GET /calendar/[redacted]" in text
    assert "GET /auth/callback?token=[redacted]" in text
    assert FEED_TOKEN not in text and LINK_TOKEN not in text

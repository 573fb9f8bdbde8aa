"""Property-based test of every documented route: generated requests against the live app.

Schemathesis reads the app's own /api/openapi.json and, for every operation, sends generated
requests (valid ones and deliberately invalid ones) to a real server, once anonymous and once
with the cookie of a real sign-in. Every answer must be a non-5xx, documented for its
operation, with the documented content type and a body that matches the documented schema.

The app runs with its rate limits turned off (``limits.*_burst = 0``): generated traffic is far
above what one user sends, and a 429 would hide the answer under test. The limits have their
own tests (test_rate_limits.py, test_api_responses.py).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err, Ok
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from panamia.app import create_app
from tests.conftest import SettingsFactory
from tests.support.apiclient import MENTOR_PROFILE, local_path
from tests.support.procs import free_port

EXAMPLES_PER_OPERATION = 15
NO_LIMITS = {
    "signin_address_burst": 0,
    "signin_email_burst": 0,
    "writes_burst": 0,
    "quality_burst": 0,
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def base_url(make_settings: SettingsFactory) -> Iterator[str]:
    """The production app on a real port, served from its own thread and event loop (the
    generated requests are made synchronously from the test)."""
    port = free_port()
    app = create_app(make_settings(limits=NO_LIMITS, auth={"loadtest_token": "props-token"}))
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, handle_signals=False)
    started = threading.Event()
    stop: asyncio.Event | None = None

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        started.set()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(30), "the app did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


def signed_in_token(base_url: str, email: str) -> str:
    """Sign in the way a browser does (request a link, follow it); a mentor, so that the
    mentor-only routes answer more than 403."""
    with requests.Session() as http:
        link = http.post(f"{base_url}/api/auth/email", json={"email": email}, timeout=10)
        assert link.status_code == 202, link.text
        answer = http.get(
            base_url + local_path(link.json()["devLink"]), allow_redirects=False, timeout=10
        )
        assert answer.status_code == 302, answer.text
        profile = http.patch(f"{base_url}/api/mentoring/profile", json=MENTOR_PROFILE, timeout=10)
        assert profile.status_code == 200, profile.text
        return str(http.cookies["panamia_session"])


def exercise(
    operation: Any, headers: dict[str, str], failures: list[str], statuses: list[int]
) -> None:
    """Run generated cases (valid and invalid) of one operation; record what fails."""
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        try:
            run_cases(operation, mode, headers, failures, statuses)
        except Unsatisfiable:
            # Nothing to break: an operation with no parameters and no body has no invalid
            # requests to generate.
            assert mode is GenerationMode.NEGATIVE, operation.label


def run_cases(
    operation: Any,
    mode: GenerationMode,
    headers: dict[str, str],
    failures: list[str],
    statuses: list[int],
) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        try:
            response = case.call_and_validate(headers=headers, checks=CHECKS, timeout=10)
            statuses.append(response.status_code)
        except FailureGroup as group:
            failures.append(f"{operation.label} [{mode.value}] {group}")
        except AssertionError as exc:
            failures.append(f"{operation.label} [{mode.value}] {exc}")

    run()


@pytest.mark.timeout(300)  # grows with the number of operations (about 5 s each here)
def test_every_documented_route_holds_up_to_generated_requests(base_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    schema.config.base_url = base_url
    failures: list[str] = []
    signed_in_statuses: list[int] = []
    results = list(schema.get_all_operations())
    invalid = [result.err() for result in results if isinstance(result, Err)]
    assert not invalid, invalid
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert operations, "the document lists no operations"
    for number, operation in enumerate(operations):
        exercise(operation, {}, failures, [])
        # A user of its own for each operation: the sign-out operations revoke the session.
        token = signed_in_token(base_url, f"props-{number}@example.org")
        signed_in = {"Cookie": f"panamia_session={token}", "Authorization": f"Bearer {token}"}
        exercise(operation, signed_in, failures, signed_in_statuses)
    # The signed-in runs must reach past authentication, or they would check nothing new.
    assert any(200 <= status < 300 for status in signed_in_statuses), signed_in_statuses
    assert not failures, "\n\n".join(failures[:20])

"""The cluster under test: redis-server, two ``panamia serve`` nodes and HAProxy, started once
per module (process start-up is the slow part), plus the browser fixtures."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cluster_nodes import Cluster, start_cluster
from store.models import Session
from store.sqlite import SqliteStore
from tests.browser.conftest import browser, page_errors
from tests.browser.room_support import MENTEE, MENTOR, NAMES
from tests.support.sessions import open_room_start

__all__ = ["book", "browser", "cluster", "page_errors"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("cluster")
    try:
        running = start_cluster(folder)
    except LookupError as exc:
        pytest.skip(str(exc))
    try:
        yield running
    finally:
        running.stop()


async def book(cluster: Cluster, slot: int, topic: str, notes: str = "\n") -> str:
    """A session between MENTOR and MENTEE whose room is open now, in the shared store."""
    store = SqliteStore(str(cluster.sqlite_path))
    await store.open()
    try:
        for email, name in NAMES.items():
            await store.ensure_profile(email, name)
        session_id = uuid.uuid4().hex
        await store.create_session(
            Session(
                session_id=session_id,
                mentor_email=MENTOR,
                mentee_email=MENTEE,
                scheduled_at=open_room_start(slot),
                duration=60,
                topic=topic,
                notes=notes,
            )
        )
    finally:
        await store.close()
    return session_id


def logs(cluster: Cluster) -> str:
    """Every process's log, for a failing test's report."""
    parts = []
    for path in sorted(Path(cluster.folder).glob("*.log")):
        parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
    return "\n".join(parts)

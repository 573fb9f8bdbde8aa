"""The ``store`` fixture: every test in tests/contract/test_store_*.py runs on every backend.

- ``sqlite``: a fresh file under the test's tmp_path.
- ``mongo``: the real PyMongo client against ``mongoeco``, an in-memory MongoDB wire-protocol
  server. mongoeco needs Python >= 3.13, so it runs as a sidecar process
  (scripts/mongo_sidecar.py) from its own venv, created once under ``<repo>/.cache/``.
  The interpreter is ``$PANAMIA_TEST_PYTHON313``, else ``python3.13`` on PATH, else pyenv's.
- ``mongodb``: a real MongoDB server when ``PANAMIA_TEST_MONGODB_URI`` is set.

Every Mongo test gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from store.base import Store
from store.models import MentoringProfile, Profile, Session
from tests.support.procs import free_port, running

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache"
MONGOECO_REQUIREMENT = "mongoeco[wire]>=4.11,<5"
"""The ``wire`` extra brings the BSON codec the wire server needs."""

BASE = datetime(2031, 3, 4, 10, 0, tzinfo=UTC)
"""A fixed instant on the 30-minute grid, well in the future of any test run."""

BACKENDS = [
    "sqlite",
    pytest.param("mongo", marks=pytest.mark.mongo),
]
if os.environ.get("PANAMIA_TEST_MONGODB_URI"):
    # A real server is optional; without it the whole parameter is left out (one test in
    # test_store_mongo_specifics.py says so) instead of skipping every contract test.
    BACKENDS.append(pytest.param("mongodb", marks=pytest.mark.mongo))


# --- finding Python 3.13 and mongoeco ---------------------------------------------------
def _works(python: str) -> bool:
    """True when ``python`` runs and is at least 3.13 (pyenv shims may exist but fail)."""
    try:
        done = subprocess.run(
            [python, "-c", "import sys; sys.exit(0 if sys.version_info >= (3, 13) else 1)"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def find_python313() -> str | None:
    candidates: list[str] = []
    if explicit := os.environ.get("PANAMIA_TEST_PYTHON313"):
        candidates.append(explicit)
    if on_path := shutil.which("python3.13"):
        candidates.append(on_path)
    for versions in (Path.home() / ".pyenv" / "versions", Path("/root/.pyenv/versions")):
        found = versions.glob("3.13*/bin/python3.13") if versions.is_dir() else []
        candidates += sorted((str(p) for p in found), reverse=True)
    return next((c for c in candidates if _works(c)), None)


def mongoeco_python() -> str:
    """The Python of a venv that has mongoeco; created on first use. Skips when impossible."""
    venv = CACHE / "mongoeco-venv"
    python = venv / "bin" / "python"
    marker = venv / ".panamia-installed"
    if python.exists() and marker.exists() and marker.read_text() == MONGOECO_REQUIREMENT:
        return str(python)
    base = find_python313()
    if base is None:
        pytest.skip(
            "the mongo contract tests need Python >= 3.13 for the mongoeco server: set"
            " PANAMIA_TEST_PYTHON313 or put python3.13 on PATH"
        )
    shutil.rmtree(venv, ignore_errors=True)
    steps = [
        [base, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", MONGOECO_REQUIREMENT],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            pytest.skip(f"could not install mongoeco ({' '.join(step[2:4])}): {done.stderr[-500:]}")
    marker.write_text(MONGOECO_REQUIREMENT)
    return str(python)


@pytest.fixture(scope="session")
def mongoeco_uri() -> Iterator[str]:
    """A mongoeco wire server (in-memory engine) for the whole test session."""
    python = mongoeco_python()
    port = free_port()
    args = [python, str(ROOT / "scripts" / "mongo_sidecar.py"), "--port", str(port)]
    with running(args, port):
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true"


@pytest.fixture(scope="session")
def mongodb_uri() -> str:
    uri = os.environ.get("PANAMIA_TEST_MONGODB_URI", "")
    if not uri:
        pytest.skip("PANAMIA_TEST_MONGODB_URI is not set: no real MongoDB server to test against")
    return uri


# --- the store ----------------------------------------------------------------------------
@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend: str = request.param
    if backend == "sqlite":
        from store.sqlite import SqliteStore

        sqlite_store = SqliteStore(str(tmp_path / "db" / "panamia.sqlite3"))
        await sqlite_store.open()
        try:
            yield sqlite_store
        finally:
            await sqlite_store.close()
        return

    from store.mongo import MongoStore

    uri: str = request.getfixturevalue("mongoeco_uri" if backend == "mongo" else "mongodb_uri")
    database = f"contract_{uuid.uuid4().hex[:16]}"
    mongo_store = MongoStore(uri, database)
    await mongo_store.open()
    try:
        yield mongo_store
    finally:
        await mongo_store.close()
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri)
        try:
            await client.drop_database(database)
        finally:
            await client.close()


# --- builders -----------------------------------------------------------------------------
def mentor(
    email: str,
    name: str,
    expertise: tuple[str, ...] = ("Python",),
    languages: tuple[str, ...] = ("English",),
    rate: float = 0.0,
    enabled: bool = True,
) -> Profile:
    return Profile(
        email=email,
        name=name,
        mentoring=MentoringProfile(
            enabled=enabled,
            bio="Ten years of shipping software.",
            expertise=expertise,
            languages=languages,
            hourly_rate=rate,
        ),
    )


def booking(
    mentor_email: str,
    mentee_email: str,
    start: datetime = BASE,
    duration: int = 60,
    session_id: str | None = None,
    topic: str = "Career advice",
) -> Session:
    return Session(
        session_id=session_id or uuid.uuid4().hex,
        mentor_email=mentor_email,
        mentee_email=mentee_email,
        scheduled_at=start,
        duration=duration,
        topic=topic,
    )


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)

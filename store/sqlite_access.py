"""What every SQLite mixin of :class:`store.sqlite.SqliteStore` relies on, declared once.

The store is split by concept (people, sessions, chat, schedule, outbox and more); each part
runs its statements through the host's store thread, which :class:`~store.sqlite.SqliteStore`
provides.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class SqliteAccess(ABC):
    @abstractmethod
    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read on the store thread."""

    @abstractmethod
    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one write transaction on the store thread."""

"""What every MongoDB mixin of :class:`store.mongo.MongoStore` relies on, declared once."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection


class MongoAccess(ABC):
    @abstractmethod
    def _col(self, name: str) -> AsyncCollection[dict[str, Any]]:
        """The named collection of the store's database."""

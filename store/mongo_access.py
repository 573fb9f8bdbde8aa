"""What every MongoDB mixin of :class:`store.mongo.MongoStore` relies on, declared once."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pymongo.asynchronous.collection import AsyncCollection

if TYPE_CHECKING:
    from store.models import OutboxMessage


class MongoAccess(ABC):
    @abstractmethod
    def _col(self, name: str) -> AsyncCollection[dict[str, Any]]:
        """The named collection of the store's database."""


class MongoHeldMail(MongoAccess):
    """For the mixins that change a session and queue its mail: the mail is written held and
    released once the change is made (dropped if it fails)."""

    if TYPE_CHECKING:  # from store.outbox_mongo.MongoOutbox, later in the store's bases

        async def hold_mail(
            self, messages: Sequence[OutboxMessage], session_id: str, expect: Mapping[str, Any]
        ) -> list[str]: ...

        async def release_mail(self, message_ids: Sequence[str]) -> None: ...

        async def drop_held_mail(self, message_ids: Sequence[str]) -> None: ...

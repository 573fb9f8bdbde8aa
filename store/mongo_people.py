"""Profiles and mentor discovery on MongoDB: a mixin of :class:`store.mongo.MongoStore`."""

from __future__ import annotations

import re

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from store.base import DiscoverPage, DiscoverQuery, NotFound
from store.codec import email_key, fold
from store.models import MentoringProfile, Profile, utcnow
from store.mongo_access import MongoAccess
from store.mongo_docs import PROFILES, Doc, mentoring_doc, profile_doc, profile_from_doc
from store.mongo_errors import reachable as _reachable

PROFILE_INDEXES = [
    IndexModel([("email", ASCENDING)], unique=True, name="email_unique"),
    IndexModel([("mentoring.enabled", ASCENDING)], name="mentoring_enabled"),
    IndexModel([("mentoring.expertise", ASCENDING)], name="mentoring_expertise"),
    IndexModel(
        [("mentoring.enabled", ASCENDING), ("nameKey", ASCENDING), ("email", ASCENDING)],
        name="mentors_by_name",
    ),
]


class MongoPeople(MongoAccess):
    @_reachable
    async def ensure_profile(self, email: str, name: str = "") -> Profile:
        fresh = profile_doc(Profile(email=email_key(email), name=name))
        try:
            doc = await self._col(PROFILES).find_one_and_update(
                {"email": fresh["email"]},
                {"$setOnInsert": fresh},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # a concurrent first sign-in inserted it
            doc = await self._col(PROFILES).find_one({"email": fresh["email"]})
        assert doc is not None
        return profile_from_doc(doc)

    @_reachable
    async def get_profile(self, email: str) -> Profile | None:
        doc = await self._col(PROFILES).find_one({"email": email_key(email)})
        return None if doc is None else profile_from_doc(doc)

    @_reachable
    async def save_profile(self, profile: Profile) -> Profile:
        doc = profile_doc(profile)
        try:
            await self._col(PROFILES).replace_one({"email": doc["email"]}, doc, upsert=True)
        except DuplicateKeyError:  # lost an insert race: the document exists now
            await self._col(PROFILES).replace_one({"email": doc["email"]}, doc)
        return profile_from_doc(doc)

    @_reachable
    async def update_mentoring(self, email: str, mentoring: MentoringProfile) -> Profile:
        doc = await self._col(PROFILES).find_one_and_update(
            {"email": email_key(email)},
            {"$set": {"mentoring": mentoring_doc(mentoring), "updatedAt": utcnow()}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise NotFound(f"no profile for {email_key(email)}")
        return profile_from_doc(doc)

    @_reachable
    async def discover(self, query: DiscoverQuery) -> DiscoverPage:
        where: Doc = {"mentoring.enabled": True}
        for field, text in (
            ("mentoring.expertiseSearch", query.expertise),
            ("mentoring.languagesSearch", query.language),
        ):
            if text:
                # Tags are stored case-folded; the typed text is folded and escaped, so it
                # matches literally as a substring of any tag.
                # MongoDB refuses a literal NUL in a pattern; the \x00 escape means the same.
                pattern = re.escape(fold(text)).replace("\x00", r"\x00")
                where[field] = {"$regex": pattern}
        if query.free_only:
            where["mentoring.hourlyRate"] = 0
        if query.exclude_email:
            where["email"] = {"$ne": email_key(query.exclude_email)}
        profiles = self._col(PROFILES)
        total = await profiles.count_documents(where)
        cursor = (
            profiles.find(where)
            .sort([("nameKey", ASCENDING), ("email", ASCENDING)])
            .skip(max(query.offset, 0))
            .limit(max(query.limit, 0))
        )
        mentors = [profile_from_doc(doc) async for doc in cursor] if query.limit > 0 else []
        return DiscoverPage(mentors=mentors, total=total)

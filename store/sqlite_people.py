"""Profiles and mentor discovery on SQLite: a mixin of :class:`store.sqlite.SqliteStore`."""

# S608: SQL text here is assembled from constant fragments only (column lists, "?" marks,
# fixed WHERE clauses); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from typing import Any

from store.base import DiscoverPage, DiscoverQuery, NotFound
from store.codec import email_key, fold, to_text
from store.models import MentoringProfile, Profile, utcnow
from store.sqlite_access import SqliteAccess
from store.sqlite_rows import (
    PROFILE_COLUMNS,
    marks,
    mentoring_values,
    profile_from_row,
    profile_row,
)


class SqlitePeople(SqliteAccess):
    async def ensure_profile(self, email: str, name: str = "") -> Profile:
        fresh = profile_row(Profile(email=email_key(email), name=name))

        def ensure(conn: sqlite3.Connection) -> Profile:
            conn.execute(
                f"INSERT INTO profiles ({PROFILE_COLUMNS}) VALUES ({marks(17)})"
                " ON CONFLICT(email) DO NOTHING",
                fresh,
            )
            row = conn.execute(
                f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE email = ?", (fresh[0],)
            ).fetchone()
            return profile_from_row(row)

        return await self._write(ensure)

    async def get_profile(self, email: str) -> Profile | None:
        key = email_key(email)

        def get(conn: sqlite3.Connection) -> Profile | None:
            row = conn.execute(
                f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE email = ?", (key,)
            ).fetchone()
            return None if row is None else profile_from_row(row)

        return await self._run(get)

    async def save_profile(self, profile: Profile) -> Profile:
        values = profile_row(profile)
        updates = ", ".join(
            f"{col.strip()} = excluded.{col.strip()}" for col in PROFILE_COLUMNS.split(",")[1:]
        )

        def save(conn: sqlite3.Connection) -> Profile:
            row = conn.execute(
                f"INSERT INTO profiles ({PROFILE_COLUMNS}) VALUES ({marks(17)})"
                f" ON CONFLICT(email) DO UPDATE SET {updates} RETURNING {PROFILE_COLUMNS}",
                values,
            ).fetchone()
            return profile_from_row(row)

        return await self._write(save)

    async def update_mentoring(self, email: str, mentoring: MentoringProfile) -> Profile:
        key = email_key(email)
        m = mentoring_values(mentoring)
        now = to_text(utcnow())

        def update(conn: sqlite3.Connection) -> Profile:
            row = conn.execute(
                "UPDATE profiles SET mentoring_enabled = ?, bio = ?, expertise = ?, languages = ?,"
                " expertise_search = ?, languages_search = ?, video_intro_url = ?, goals = ?,"
                f" hourly_rate = ?, updated_at = ? WHERE email = ? RETURNING {PROFILE_COLUMNS}",
                (*m, now, key),
            ).fetchone()
            if row is None:
                raise NotFound(f"no profile for {key}")
            return profile_from_row(row)

        return await self._write(update)

    async def discover(self, query: DiscoverQuery) -> DiscoverPage:
        where = ["mentoring_enabled = 1"]
        params: list[Any] = []
        for column, text in (
            ("expertise_search", query.expertise),
            ("languages_search", query.language),
        ):
            if text:
                # Tags are stored case-folded as a JSON array: any tag containing the folded
                # needle matches. instr() compares exactly, so nothing needs escaping.
                where.append(
                    f"EXISTS (SELECT 1 FROM json_each(profiles.{column}) AS tag"
                    " WHERE instr(tag.value, ?) > 0)"
                )
                params.append(fold(text))
        if query.free_only:
            where.append("hourly_rate = 0")
        if query.exclude_email:
            where.append("email <> ?")
            params.append(email_key(query.exclude_email))
        clause = " AND ".join(where)
        limit, offset = max(query.limit, 0), max(query.offset, 0)

        def find(conn: sqlite3.Connection) -> DiscoverPage:
            total = conn.execute(f"SELECT count(*) FROM profiles WHERE {clause}", params).fetchone()
            rows = conn.execute(
                f"SELECT {PROFILE_COLUMNS} FROM profiles WHERE {clause}"
                " ORDER BY name_key, email LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
            return DiscoverPage(mentors=[profile_from_row(r) for r in rows], total=int(total[0]))

        return await self._run(find)

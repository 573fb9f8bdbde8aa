"""SQLite schema, as an append-only list of migrations.

``MIGRATIONS[i]`` brings the schema from version ``i`` to ``i + 1`` (``PRAGMA user_version``).
Never edit a released migration: append a new one.

Conventions: datetimes are fixed-width ISO-8601 UTC text ('2026-11-23T09:00:00.000Z'), so
text order is time order; e-mails are lower-case; ``*_search`` columns hold case-folded JSON
arrays of tags, because SQLite's ``LIKE`` folds ASCII letters only.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, ...]] = [
    # 1: profiles, sessions with their slot claims, chat, sign-in tokens
    (
        """
        CREATE TABLE profiles (
            email             TEXT PRIMARY KEY,
            name              TEXT NOT NULL DEFAULT '',
            name_key          TEXT NOT NULL DEFAULT '',
            avatar_url        TEXT,
            time_zone         TEXT NOT NULL DEFAULT 'UTC',
            mentoring_enabled INTEGER NOT NULL DEFAULT 0,
            bio               TEXT NOT NULL DEFAULT '',
            expertise         TEXT NOT NULL DEFAULT '[]',
            languages         TEXT NOT NULL DEFAULT '[]',
            expertise_search  TEXT NOT NULL DEFAULT '[]',
            languages_search  TEXT NOT NULL DEFAULT '[]',
            video_intro_url   TEXT,
            goals             TEXT,
            hourly_rate       REAL NOT NULL DEFAULT 0,
            created_at        TEXT NOT NULL,
            updated_at        TEXT NOT NULL
        )
        """,
        "CREATE INDEX profiles_mentors ON profiles (mentoring_enabled, name_key, email)",
        """
        CREATE TABLE sessions (
            session_id    TEXT PRIMARY KEY,
            mentor_email  TEXT NOT NULL,
            mentee_email  TEXT NOT NULL,
            scheduled_at  TEXT NOT NULL,
            ends_at       TEXT NOT NULL,
            duration      INTEGER NOT NULL,
            topic         TEXT NOT NULL,
            status        TEXT NOT NULL
                          CHECK (status IN ('scheduled', 'completed', 'cancelled')),
            notes         TEXT NOT NULL DEFAULT '',
            cancelled_by  TEXT,
            cancel_reason TEXT,
            created_at    TEXT NOT NULL,
            updated_at    TEXT NOT NULL
        )
        """,
        "CREATE INDEX sessions_by_mentor ON sessions (mentor_email, scheduled_at DESC)",
        "CREATE INDEX sessions_by_mentee ON sessions (mentee_email, scheduled_at DESC)",
        # One row per (person, 30-minute cell) a scheduled session occupies: the primary key
        # is what makes double booking impossible.
        """
        CREATE TABLE slot_claims (
            email      TEXT NOT NULL,
            cell       TEXT NOT NULL,
            session_id TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
            PRIMARY KEY (email, cell)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX slot_claims_by_session ON slot_claims (session_id)",
        """
        CREATE TABLE chat_messages (
            seq         INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id  TEXT NOT NULL UNIQUE,
            session_id  TEXT NOT NULL,
            sender      TEXT NOT NULL,
            sender_name TEXT NOT NULL DEFAULT '',
            text        TEXT NOT NULL,
            sent_at     TEXT NOT NULL
        )
        """,
        "CREATE INDEX chat_by_session ON chat_messages (session_id, sent_at, seq)",
        """
        CREATE TABLE login_tokens (
            token_hash TEXT PRIMARY KEY,
            email      TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            used       INTEGER NOT NULL DEFAULT 0
        )
        """,
        "CREATE INDEX login_tokens_by_email ON login_tokens (email, created_at)",
    ),
    # 2: scheduling. A mentor's availability as JSON (NULL: the default hours, Monday to
    # Friday 09:00-17:00 in the profile's zone, so existing mentors keep weekday hours);
    # a session's change counter (the calendar invite's SEQUENCE) and its move history.
    (
        "ALTER TABLE profiles ADD COLUMN availability TEXT",
        "ALTER TABLE sessions ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE sessions ADD COLUMN history TEXT NOT NULL DEFAULT '[]'",
    ),
    # 3: the mail outbox (docs/mail.md)
    (
        """
        CREATE TABLE mail_outbox (
            message_id       TEXT PRIMARY KEY,
            recipient        TEXT NOT NULL,
            subject          TEXT NOT NULL,
            body_text        TEXT NOT NULL,
            body_html        TEXT,
            ics              TEXT,
            ics_method       TEXT,
            kind             TEXT NOT NULL,
            session_id       TEXT,
            sequence         INTEGER NOT NULL DEFAULT 0,
            session_start    TEXT,
            due_at           TEXT NOT NULL,
            status           TEXT NOT NULL
                             CHECK (status IN ('held', 'pending', 'sent', 'skipped', 'failed')),
            attempts         INTEGER NOT NULL DEFAULT 0,
            last_error       TEXT,
            next_attempt_at  TEXT NOT NULL,
            lease_owner      TEXT,
            lease_expires_at TEXT NOT NULL,
            created_at       TEXT NOT NULL,
            sent_at          TEXT
        )
        """,
        "CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at)",
        "CREATE INDEX mail_outbox_by_recipient ON mail_outbox (recipient, created_at DESC)",
    ),
    # 4: private calendar feed tokens, one per person (only the hash is kept)
    (
        """
        CREATE TABLE calendar_tokens (
            email      TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        )
        """,
    ),
    # 5: revoked session tokens (one per signed-out token, one per "sign out everywhere")
    (
        """
        CREATE TABLE session_revocations (
            key            TEXT PRIMARY KEY,
            revoked_before TEXT,
            expires_at     TEXT NOT NULL
        )
        """,
        "CREATE INDEX session_revocations_expiry ON session_revocations (expires_at)",
    ),
    # 6: call-quality summaries, one per participant of a session (the operator console)
    (
        """
        CREATE TABLE quality_summaries (
            session_id TEXT NOT NULL,
            email      TEXT NOT NULL,
            body       TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (session_id, email)
        )
        """,
    ),
    # 7: session recordings' metadata (docs/recording.md); the files live under the data dir
    (
        """
        CREATE TABLE recordings (
            recording_id TEXT PRIMARY KEY,
            session_id   TEXT NOT NULL,
            started_by   TEXT NOT NULL,
            file_name    TEXT NOT NULL,
            started_at   TEXT NOT NULL,
            ended_at     TEXT,
            duration_s   REAL NOT NULL DEFAULT 0,
            size_bytes   INTEGER NOT NULL DEFAULT 0,
            status       TEXT NOT NULL CHECK (status IN ('recording', 'done', 'failed')),
            error        TEXT
        )
        """,
        "CREATE INDEX recordings_by_session ON recordings (session_id, started_at)",
        "CREATE INDEX recordings_by_start ON recordings (started_at)",
    ),
]

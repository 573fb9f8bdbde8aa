"""Secrets the server needs even when the operator set none.

Lives in ``config`` (not ``panamia``) because the web app reads :class:`RuntimeSecrets`
through ``web.keys`` and must not import the composition root.

In development, an empty ``auth.secret`` or ``pusher.secret`` is generated once and kept in
the data folder (mode 0600) so sessions and channel signatures survive restarts.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from config.settings import Secret, Settings


@dataclass(frozen=True)
class RuntimeSecrets:
    auth_secret: Secret
    auth_previous: tuple[Secret, ...]
    pusher_secret: Secret


def load_or_create(settings: Settings) -> RuntimeSecrets:
    data_dir = Path(settings.store.data_dir)
    auth = settings.auth.secret or _kept_secret(data_dir / "auth-secret")
    pusher = settings.pusher.secret or _kept_secret(data_dir / "pusher-secret")
    return RuntimeSecrets(auth, settings.auth.previous_secrets, pusher)


def _kept_secret(path: Path) -> Secret:
    if path.exists():
        return Secret(path.read_text(encoding="utf-8").strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    return Secret(value)

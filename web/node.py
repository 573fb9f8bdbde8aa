"""The name of this server node as the operator console shows it: the one place it is made.

``hostname:port`` tells two processes on one machine apart and matches what a proxy's
back-end list names. A cluster setting naming nodes explicitly would replace it here.
"""

from __future__ import annotations

import socket

from config.settings import Settings


def node_name(settings: Settings) -> str:
    return f"{socket.gethostname()}:{settings.http.port}"

"""The name of this server node as the operator console shows it: the one place it is made.

In cluster mode the node's ``cluster.internal_url`` names it, since that is the address the
room leases record as a room's owner, so the console and the leases agree. Otherwise
``hostname:port`` tells two processes on one machine apart and matches what a proxy's
back-end list names.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from config.settings import Settings


def node_name(settings: Settings) -> str:
    if settings.cluster.internal_url:
        return urlsplit(settings.cluster.internal_url).netloc
    return f"{socket.gethostname()}:{settings.http.port}"

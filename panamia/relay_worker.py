"""``python -m panamia.relay_worker FD``: a relay worker process with the app's logging.

The relay package cannot import the app's logging set-up, so the composition root starts its
relay workers through this wrapper (see :func:`panamia.app.build_relay`)."""

from __future__ import annotations

from config.settings import LogSettings
from panamia.log import configure_logging
from relay.worker import main as worker_main


def _setup_logging(level: str, json: bool | None) -> None:
    configure_logging(LogSettings(level=level, json=json))


def main() -> None:
    worker_main(setup_logging=_setup_logging)


if __name__ == "__main__":
    main()

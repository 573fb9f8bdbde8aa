"""Typed settings for every part of Pana Mia Live.

`load_settings()` layers defaults < TOML file (``PANAMIA_CONFIG``) < environment
(``PANAMIA_SECTION__FIELD``). This package imports nothing else of ours.
"""

from config.loader import ConfigError, load_settings
from config.settings import (
    AuthSettings,
    BusSettings,
    HttpSettings,
    LogSettings,
    PusherSettings,
    RelaySettings,
    Secret,
    Settings,
    StoreSettings,
    TurnSettings,
)

__all__ = [
    "AuthSettings",
    "BusSettings",
    "ConfigError",
    "HttpSettings",
    "LogSettings",
    "PusherSettings",
    "RelaySettings",
    "Secret",
    "Settings",
    "StoreSettings",
    "TurnSettings",
    "load_settings",
]

"""Build :class:`Settings` from defaults, a TOML file and the environment.

Order (later wins): dataclass defaults < TOML file named by ``PANAMIA_CONFIG`` <
``PANAMIA_<SECTION>__<FIELD>`` environment variables. ``<field>_file`` (TOML) or
``PANAMIA_<SECTION>__<FIELD>_FILE`` (env) reads the value from a file, for secrets mounted
by an orchestrator. Unknown keys and bad values raise :class:`ConfigError` naming the key path.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from config.settings import Secret, Settings

ENV_PREFIX = "PANAMIA_"
NOT_SETTINGS = frozenset({"PANAMIA_CONFIG", "PANAMIA_LOADTEST_TOKEN"})
"""Variables under the prefix that name no setting: the config file and the load tester's token."""


class ConfigError(ValueError):
    """A setting is unknown or has a bad value; the message names the key path."""


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: str | os.PathLike[str] | None = None
) -> Settings:
    env = os.environ if environ is None else environ
    path = config_file if config_file is not None else env.get("PANAMIA_CONFIG") or None
    raw: dict[str, dict[str, Any]] = {}
    if path is not None:
        raw = _read_toml(Path(path))
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key in NOT_SETTINGS:
            continue
        rest = key[len(ENV_PREFIX) :]
        if "__" not in rest:
            if rest.startswith("TEST_"):
                continue  # test-suite switches such as PANAMIA_TEST_MONGODB_URI
            raise ConfigError(f"{key}: expected PANAMIA_<SECTION>__<FIELD>")
        section, name = rest.split("__", 1)
        raw.setdefault(section.lower(), {})[name.lower()] = _EnvText(value)
    return build_settings(raw)


class _EnvText(str):
    """A value that came from the environment as text and still needs parsing."""


def _read_toml(path: Path) -> dict[str, dict[str, Any]]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"PANAMIA_CONFIG: file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    for section, body in data.items():
        if not isinstance(body, dict):
            raise ConfigError(f"{section}: expected a [section] table")
    return data


def build_settings(raw: Mapping[str, Mapping[str, Any]]) -> Settings:
    sections = {f.name: f for f in dataclasses.fields(Settings)}
    built: dict[str, Any] = {}
    for section_name, values in raw.items():
        if section_name not in sections:
            raise ConfigError(f"{section_name}: unknown settings section")
        section_type = sections[section_name].type
        cls = _resolve(Settings, section_name) if isinstance(section_type, str) else section_type
        built[section_name] = _build_section(section_name, cls, values)
    return Settings(**built)


def _resolve(owner: type, name: str) -> Any:
    return typing.get_type_hints(owner)[name]


def _build_section(section: str, cls: Any, values: Mapping[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        target = name
        from_file = False
        if name not in fields and name.endswith("_file") and name[: -len("_file")] in fields:
            target, from_file = name[: -len("_file")], True
        if target not in fields:
            raise ConfigError(f"{section}.{name}: unknown setting")
        key = f"{section}.{target}"
        if from_file:
            if not isinstance(value, str):
                raise ConfigError(f"{section}.{name}: expected a file path")
            try:
                value = _EnvText(Path(value).read_text(encoding="utf-8").strip())
            except OSError as exc:
                raise ConfigError(f"{section}.{name}: cannot read {value}: {exc.strerror}") from exc
        kwargs[target] = _coerce(key, hints[target], value)
    try:
        return cls(**kwargs)
    except ValueError as exc:  # a section's own range check (__post_init__)
        raise ConfigError(str(exc)) from exc


def _coerce(key: str, annotation: Any, value: Any) -> Any:
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if isinstance(value, _EnvText) and value.strip() == "":
            return None
        return _coerce(key, args[0], value)
    if origin is Literal:
        choices = get_args(annotation)
        if value not in choices:
            raise ConfigError(
                f"{key}: must be one of {', '.join(map(str, choices))}, got {value!r}"
            )
        return str(value)
    if origin is tuple:
        (item_type, _ellipsis) = get_args(annotation)
        items: list[Any]
        if isinstance(value, _EnvText):
            text = value.strip()
            if text.startswith("["):
                try:
                    items = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{key}: invalid JSON list: {exc}") from exc
            else:
                items = [part.strip() for part in text.split(",") if part.strip()]
        elif isinstance(value, list):
            items = value
        else:
            raise ConfigError(f"{key}: expected a list")
        return tuple(_coerce(f"{key}[{i}]", item_type, item) for i, item in enumerate(items))
    if annotation is Secret:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string")
        return Secret(str(value))
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, _EnvText):
            lowered = value.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, _EnvText):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, _EnvText):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if annotation is str:
        if isinstance(value, str):
            return str(value)
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    raise ConfigError(f"{key}: unsupported setting type {annotation!r}")

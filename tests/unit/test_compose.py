"""compose.yaml: every PANAMIA_ variable is a real setting and every named service exists.

There is no container engine here, so the file's structure is what can be checked: names that
refer to each other, settings that load, secrets that are mounted where the settings read them.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.loader import load_settings
from config.settings import Settings
from web.auth import sign_in_unreachable

COMPOSE = Path(__file__).parents[2] / "compose.yaml"
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def _interpolate(value: str) -> str:
    """Resolve ``${VAR:-default}`` to its default (and a bare ``${VAR}`` to a placeholder)."""

    def replace(match: re.Match[str]) -> str:
        name, operator, default = match.groups()
        if operator in (":-", "-"):
            return default or ""
        return f"placeholder-{name.lower()}"

    return _INTERPOLATION.sub(replace, value).replace("$$", "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = compose["services"]
    assert isinstance(services, dict) and services
    return services


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): _interpolate(str(v)) for k, v in env.items()}


def _setting_fields() -> dict[str, set[str]]:
    defaults = Settings()
    return {
        section.name: {f.name for f in dataclasses.fields(getattr(defaults, section.name))}
        for section in dataclasses.fields(defaults)
    }


def _reads_a_file(key: str) -> bool:
    """PANAMIA_S__F_FILE reads setting s.f from a file, unless f_file is itself a setting."""
    section, _, field = key.removeprefix("PANAMIA_").lower().partition("__")
    return field.endswith("_file") and field not in _setting_fields().get(section, set())


def test_every_panamia_variable_is_a_real_setting(compose: dict[str, Any]) -> None:
    fields = _setting_fields()
    checked = 0
    for name, service in _services(compose).items():
        env = {k: v for k, v in _environment(service).items() if k.startswith("PANAMIA_")}
        loadable: dict[str, str] = {}
        for key, value in env.items():
            section, sep, field = key.removeprefix("PANAMIA_").lower().partition("__")
            assert sep, f"{name}: {key} is not PANAMIA_<SECTION>__<FIELD>"
            assert section in fields, f"{name}: {key} names no settings section"
            if field in fields[section]:
                loadable[key] = value
            else:
                base = field.removesuffix("_file")
                assert field.endswith("_file") and base in fields[section], (
                    f"{name}: {key} is not a setting"
                )
            checked += 1
        load_settings(environ=loadable)  # raises ConfigError naming a bad value
    assert checked > 10


def test_secret_files_are_mounted_where_the_settings_read_them(compose: dict[str, Any]) -> None:
    declared = set(compose.get("secrets") or {})
    for name, service in _services(compose).items():
        mounted = {s if isinstance(s, str) else s["source"] for s in service.get("secrets", [])}
        assert mounted <= declared, f"{name} uses undeclared secrets {mounted - declared}"
        for key, value in _environment(service).items():
            if key.startswith("PANAMIA_") and _reads_a_file(key):
                match = re.fullmatch(r"/run/secrets/([a-z0-9_]+)", value)
                assert match, f"{name}: {key} should point into /run/secrets"
                assert match.group(1) in mounted, f"{name}: {key} reads a secret it is not given"


def test_every_service_named_exists(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name, service in services.items():
        depends = service.get("depends_on") or []
        named = list(depends) if isinstance(depends, (list, dict)) else []
        named += [link.split(":")[0] for link in service.get("links", [])]
        named += [str(v).split(":")[0] for v in service.get("volumes_from", [])]
        mode = str(service.get("network_mode", ""))
        if mode.startswith("service:"):
            named.append(mode.removeprefix("service:"))
        for other in named:
            assert other in services, f"{name} refers to a service {other!r} that does not exist"


def test_named_volumes_and_networks_are_declared(compose: dict[str, Any]) -> None:
    volumes = set(compose.get("volumes") or {})
    networks = set(compose.get("networks") or {}) | {"default"}
    for name, service in _services(compose).items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source and not source.startswith((".", "/", "~")):
                assert source in volumes, f"{name} mounts an undeclared volume {source!r}"
        attached = service.get("networks") or []
        for network in attached:
            assert network in networks, f"{name} joins an undeclared network {network!r}"


def test_two_app_nodes_form_one_cluster(compose: dict[str, Any]) -> None:
    services = _services(compose)
    nodes = {n: s for n, s in services.items() if s.get("command") == ["panamia", "serve"]}
    assert len(nodes) >= 2
    envs = [_environment(s) for s in nodes.values()]
    own = "PANAMIA_CLUSTER__INTERNAL_URL"
    shared = [{k: v for k, v in env.items() if k != own} for env in envs]
    assert all(env == shared[0] for env in shared), "app nodes must share their settings"
    for name, env in zip(nodes, envs, strict=True):
        # Each node advertises its own address, where the others forward the rooms it owns.
        assert env[own] == f"http://{name}:8080", f"{name}: {own} must name the node itself"
    settings = load_settings(environ={k: v for k, v in envs[0].items() if not _reads_a_file(k)})
    assert settings.bus.redis_url.reveal().startswith("redis://redis:")
    assert settings.store.mongodb_uri.reveal().startswith("mongodb://mongo:")
    assert {"redis", "mongo"} <= set(services)
    published = [port for s in nodes.values() for port in s.get("ports", [])]
    assert len(published) == len(set(published)) == len(nodes), "each node needs its own port"


def test_app_nodes_start_only_once_mail_is_configured(compose: dict[str, Any]) -> None:
    """They listen on 0.0.0.0, so without SMTP nobody could sign in: `panamia serve` refuses
    to start until the operator sets PANAMIA_SMTP_HOST, which compose passes on."""
    node = _services(compose)["app1"]
    raw = node["environment"] if isinstance(node["environment"], dict) else {}
    assert "PANAMIA_SMTP_HOST" in str(raw.get("PANAMIA_MAIL__SMTP_HOST", ""))
    env = {k: v for k, v in _environment(node).items() if not _reads_a_file(k)}
    assert sign_in_unreachable(load_settings(environ=env)) is not None
    configured = {**env, "PANAMIA_MAIL__SMTP_HOST": "smtp.example.org"}
    assert sign_in_unreachable(load_settings(environ=configured)) is None


def test_coturn_runs_the_config_rendered_from_our_settings(compose: dict[str, Any]) -> None:
    services = _services(compose)
    (renderer,) = [
        s for s in services.values() if s.get("command", [])[:2] == ["panamia", "turn-config"]
    ]
    command = renderer["command"]
    output = command[command.index("--output") + 1]
    renderer_mounts = {v.split(":")[1]: v.split(":")[0] for v in renderer["volumes"]}
    volume = renderer_mounts[str(Path(output).parent)]

    coturn = services["coturn"]
    config_arg = coturn["command"][coturn["command"].index("-c") + 1]
    coturn_mounts = {v.split(":")[1]: v.split(":")[0] for v in coturn["volumes"]}
    assert coturn_mounts[str(Path(config_arg).parent)] == volume
    assert Path(config_arg).name == Path(output).name
    assert "turn_shared_secret" in renderer["secrets"]
    # the app and coturn read the same secret
    app_env = _environment(services["app1"])
    assert (
        app_env["PANAMIA_TURN__SHARED_SECRET_FILE"]
        == _environment(renderer)["PANAMIA_TURN__SHARED_SECRET_FILE"]
    )


def test_haproxy_spreads_requests_over_every_node_with_the_shipped_config(
    compose: dict[str, Any],
) -> None:
    services = _services(compose)
    proxy = services["proxy"]
    assert str(proxy["image"]).startswith("haproxy:")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in proxy["volumes"]}
    shipped = mounts["/usr/local/etc/haproxy/haproxy.cfg"]
    assert (COMPOSE.parent / shipped).resolve() == (COMPOSE.parent / "config/haproxy.cfg").resolve()
    config = (COMPOSE.parent / "config/haproxy.cfg").read_text(encoding="utf-8")
    assert "balance roundrobin" in config
    assert "cookie" not in config and "balance source" not in config, "no stickiness"
    env = _environment(proxy)
    nodes = [n for n, s in services.items() if s.get("command") == ["panamia", "serve"]]
    targets = {v.split(":")[0] for k, v in env.items() if k.startswith("APP_NODE")}
    assert targets == set(nodes)
    for variable in re.findall(r"\$\{(\w+)\}", config):
        assert variable in env, f"haproxy.cfg reads {variable}, which compose does not set"
    # The nodes believe the proxy's X-Forwarded-For.
    address = proxy["networks"]["backend"]["ipv4_address"]
    trusted = _environment(services[nodes[0]])["PANAMIA_HTTP__TRUSTED_PROXIES"]
    assert address in trusted.split(",")

"""Settings layering, validation, secrets and the example file."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from config.loader import ConfigError, build_settings, load_settings
from config.settings import Secret, Settings

EXAMPLE = Path(__file__).parents[2] / "config" / "panamia.example.toml"


def test_defaults_need_no_file_or_environment() -> None:
    settings = load_settings(environ={})
    assert settings.http.port == 8080
    assert settings.relay.mode == "auto"
    assert settings.public_url == "http://localhost:8080"


def test_environment_overrides_toml_which_overrides_defaults(tmp_path: Path) -> None:
    config_file = tmp_path / "panamia.toml"
    config_file.write_text('[http]\nport = 9000\nhost = "0.0.0.0"\n[relay]\nmode = "never"\n')
    settings = load_settings(
        environ={"PANAMIA_CONFIG": str(config_file), "PANAMIA_HTTP__PORT": "9100"}
    )
    assert settings.http.port == 9100
    assert settings.http.host == "0.0.0.0"
    assert settings.relay.mode == "never"


@pytest.mark.parametrize(
    ("environ", "key_path"),
    [
        ({"PANAMIA_HTTP__PORTT": "1"}, "http.portt"),
        ({"PANAMIA_NOPE__PORT": "1"}, "nope"),
        ({"PANAMIA_HTTP__PORT": "eighty"}, "http.port"),
        ({"PANAMIA_RELAY__MODE": "sometimes"}, "relay.mode"),
        ({"PANAMIA_LOG__JSON": "maybe"}, "log.json"),
        ({"PANAMIA_RELAY__CONNECT_TIMEOUT_S": "soon"}, "relay.connect_timeout_s"),
    ],
)
def test_unknown_keys_and_bad_values_name_the_key_path(
    environ: dict[str, str], key_path: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(key_path)):
        load_settings(environ=environ)


def test_unknown_key_in_toml_names_section_and_key(tmp_path: Path) -> None:
    config_file = tmp_path / "bad.toml"
    config_file.write_text("[store]\nsqlite_pth = 'x'\n")
    with pytest.raises(ConfigError, match=r"store\.sqlite_pth"):
        load_settings(environ={"PANAMIA_CONFIG": str(config_file)})


def test_bad_type_in_toml_is_refused(tmp_path: Path) -> None:
    config_file = tmp_path / "bad.toml"
    config_file.write_text("[http]\nport = '8080'\n")
    with pytest.raises(ConfigError, match=r"http\.port"):
        load_settings(environ={"PANAMIA_CONFIG": str(config_file)})


def test_secret_is_read_from_a_file_and_never_shown(tmp_path: Path) -> None:
    secret_file = tmp_path / "turn-secret"
    secret_file.write_text("s3cr3t-value\n")
    settings = load_settings(environ={"PANAMIA_TURN__SHARED_SECRET_FILE": str(secret_file)})
    assert settings.turn.shared_secret.reveal() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(settings)
    assert "s3cr3t-value" not in str(settings.turn)


def test_missing_secret_file_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"auth\.secret_file"):
        load_settings(environ={"PANAMIA_AUTH__SECRET_FILE": str(tmp_path / "absent")})


def test_lists_from_environment_accept_commas_and_json() -> None:
    by_commas = load_settings(environ={"PANAMIA_TURN__URIS": "turn:a:3478, turn:b:3478"})
    by_json = load_settings(environ={"PANAMIA_TURN__URIS": '["turn:a:3478","turn:b:3478"]'})
    assert by_commas.turn.uris == by_json.turn.uris == ("turn:a:3478", "turn:b:3478")


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.http.port = 1  # type: ignore[misc]


def test_secret_equality_and_truthiness() -> None:
    assert Secret("a") == Secret("a")
    assert not Secret("")
    assert repr(Secret("abc")) == "Secret('********')"


def _uncommented_example() -> str:
    """The example with every '# key = value' line switched on."""
    lines = []
    for line in EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"# ([a-z_]+) = (.*)", line)
        if match and "(unset)" not in match.group(2):
            lines.append(f"{match.group(1)} = {match.group(2)}")
        else:
            lines.append(line)
    return "\n".join(lines)


def test_example_file_documents_every_option() -> None:
    text = EXAMPLE.read_text()
    defaults = Settings()
    for section in dataclasses.fields(defaults):
        assert f"[{section.name}]" in text
        for option in dataclasses.fields(getattr(defaults, section.name)):
            assert re.search(rf"^# {option.name} = ", text, re.MULTILINE), (
                f"{section.name}.{option.name} is missing from {EXAMPLE.name}"
            )


def test_example_file_loads_and_matches_the_defaults(tmp_path: Path) -> None:
    enabled = tmp_path / "example.toml"
    enabled.write_text(_uncommented_example())
    raw = tomllib.loads(enabled.read_text())
    assert sum(len(v) for v in raw.values()) > 20
    assert load_settings(environ={"PANAMIA_CONFIG": str(enabled)}) == Settings()
    assert build_settings(raw) == Settings()


@pytest.mark.parametrize("lead", ["-1", "1441", "soon"])
def test_room_join_lead_is_checked(lead: str) -> None:
    with pytest.raises(ConfigError, match=r"room\.join_lead_minutes"):
        load_settings(environ={"PANAMIA_ROOM__JOIN_LEAD_MINUTES": lead})


def test_the_load_testers_token_variable_is_not_a_setting() -> None:
    settings = load_settings({"PANAMIA_LOADTEST_TOKEN": "abc", "PANAMIA_HTTP__PORT": "8123"})
    assert settings.http.port == 8123
    with pytest.raises(ConfigError, match="PANAMIA_LOADTEST_TOKENS"):
        load_settings({"PANAMIA_LOADTEST_TOKENS": "abc"})

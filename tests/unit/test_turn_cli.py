"""`panamia turn-config` and `panamia doctor` from the command line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from panamia.cli import main
from tests.support.procs import free_port


def test_turn_config_writes_a_private_file_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "turn_secret"
    secret_file.write_text("from-a-file\n")
    monkeypatch.setenv("PANAMIA_TURN__SHARED_SECRET_FILE", str(secret_file))
    monkeypatch.setenv("PANAMIA_TURN__RELAY_MIN_PORT", "49100")
    output = tmp_path / "turnserver.conf"
    output.write_text("old")
    output.chmod(0o644)
    assert main(["turn-config", "--output", str(output), "--external-ip", "203.0.113.9"]) == 0
    text = output.read_text()
    assert "static-auth-secret=from-a-file\n" in text
    assert "min-port=49100\n" in text
    assert "external-ip=203.0.113.9\n" in text
    assert stat.S_IMODE(output.stat().st_mode) == 0o600


def test_turn_config_without_a_secret_says_what_to_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PANAMIA_TURN__SHARED_SECRET", raising=False)
    monkeypatch.delenv("PANAMIA_TURN__SHARED_SECRET_FILE", raising=False)
    monkeypatch.delenv("PANAMIA_CONFIG", raising=False)
    assert main(["turn-config"]) == 2
    assert "turn.shared_secret is empty" in capsys.readouterr().err


def test_doctor_exits_non_zero_and_explains(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("PANAMIA_TURN__URIS", f"turn:127.0.0.1:{port}")
    monkeypatch.setenv("PANAMIA_TURN__SHARED_SECRET", "s")
    assert main(["doctor", "--timeout", "1"]) == 1
    out = capsys.readouterr().out
    assert f"Nothing accepts connections at 127.0.0.1 on TCP port {port}" in out

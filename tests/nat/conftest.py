"""The NAT lab for the whole tests/nat run: namespaces, NAT routers, coturn and two servers.

Root only (network namespaces and iptables); skipped with the reason elsewhere. In CI (root,
every tool installed) a skip is turned into a failure by tests/conftest.py.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from config.loader import build_settings
from tests.nat import lab as nat_lab
from tests.nat.matrix import RESULTS, matrix_markdown
from turn.render import render_config, write_config

REPO = Path(__file__).resolve().parents[2]
TURN_PORT = 3478
PORT_WITH_TURN = 8080
PORT_WITHOUT_TURN = 8081
PORT_WRONG_SECRET = 8082
"""A server whose TURN shared secret is not coturn's (the operator's mistake to tell apart)."""
STUN_PORTS = {PORT_WITH_TURN: 3480, PORT_WITHOUT_TURN: 3481, PORT_WRONG_SECRET: 3482}
"""Each server's built-in STUN responder (they share the pub namespace with coturn's 3478)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "nat: network-namespace NAT matrix (root only; tests/nat)")


@dataclass(frozen=True)
class Services:
    lab: nat_lab.Lab
    token: str
    url_with_turn: str
    url_without_turn: str
    url_wrong_secret: str
    logs: Path


def _skip_reason() -> str | None:
    if sys.platform != "linux":
        return "the NAT lab needs Linux network namespaces"
    if os.geteuid() != 0:
        return "the NAT lab needs root (network namespaces, iptables); CI runs it as root"
    missing = nat_lab.missing_tools()
    if missing:
        return (
            f"{', '.join(missing)} not installed "
            "(CI installs them: apt-get install iproute2 iptables coturn)"
        )
    return None


def _server_env(
    data_dir: Path, port: int, token: str, turn_secret: str, turn: bool, fast_fallback: bool
) -> dict[str, str]:
    env = {
        "PANAMIA_HTTP__HOST": nat_lab.PUB_IP,
        "PANAMIA_HTTP__PORT": str(port),
        "PANAMIA_HTTP__PUBLIC_URL": f"http://{nat_lab.PUB_IP}:{port}",
        "PANAMIA_STORE__DATA_DIR": str(data_dir),
        "PANAMIA_AUTH__LOADTEST_TOKEN": token,
        "PANAMIA_AUTH__DEV_LOGIN": "false",
        # The room's fallback timer (Chromium cases). With TURN: long, so that a slow CI
        # machine still shows the TURN path rather than a fallback. Without (and with the
        # wrong secret): short, as no direct path exists across these NATs and the relay or
        # the websocket should take over at once.
        "PANAMIA_RELAY__CONNECT_TIMEOUT_S": "1.5" if fast_fallback else "10",
        "PANAMIA_LOG__LEVEL": "WARNING",
        "PANAMIA_TURN__URIS": f"turn:{nat_lab.PUB_IP}:{TURN_PORT}" if turn else "",
        "PANAMIA_TURN__SHARED_SECRET": turn_secret if turn else "",
        "PANAMIA_STUN__PORT": str(STUN_PORTS[port]),
        "PYTHONPATH": str(REPO),
    }
    return env


@pytest.fixture(scope="session")
def nat_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    for name in nat_lab.stale_namespaces("pm"):
        nat_lab.sh("ip", "netns", "del", name)
    work = tmp_path_factory.mktemp("natlab")
    lab = nat_lab.Lab(prefix=f"pm{os.getpid()}x", workdir=work)
    token = secrets.token_urlsafe(16)
    turn_secret = secrets.token_urlsafe(16)
    try:
        lab.build()
        turn = build_settings(
            {
                "turn": {
                    "uris": [f"turn:{nat_lab.PUB_IP}:{TURN_PORT}"],
                    "shared_secret": turn_secret,
                    "realm": "nat.lab",
                    "listening_port": TURN_PORT,
                    "listening_ips": [nat_lab.PUB_IP],
                    "relay_ips": [nat_lab.PUB_IP],
                    "relay_min_port": 49160,
                    "relay_max_port": 49400,
                    "log_file": str(work / "turn.log"),
                    "pidfile": str(work / "turn.pid"),
                    "userdb": str(work / "turndb"),
                }
            }
        ).turn
        config = work / "turnserver.conf"
        write_config(config, render_config(turn))
        binary = nat_lab.which("turnserver") or "turnserver"
        lab.spawn(lab.pub, [binary, "-c", str(config)], log=work / "turn.out")
        python = sys.executable
        servers = (
            (PORT_WITH_TURN, True, turn_secret),
            (PORT_WITHOUT_TURN, False, ""),
            (PORT_WRONG_SECRET, True, "not-" + turn_secret),
        )
        for port, with_turn, secret in servers:
            data = work / f"data{port}"
            data.mkdir()
            fast = port != PORT_WITH_TURN
            env = _server_env(data, port, token, secret, with_turn, fast)
            lab.spawn(
                lab.pub,
                [python, "-m", "panamia", "serve"],
                env=env,
                log=work / f"serve{port}.log",
            )
        for port in (TURN_PORT, PORT_WITH_TURN, PORT_WITHOUT_TURN, PORT_WRONG_SECRET):
            if not lab.wait_for_port(lab.pub, nat_lab.PUB_IP, port):
                logs = "\n".join(
                    f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}"
                    for p in sorted(work.glob("*.log")) + sorted(work.glob("*.out"))
                )
                raise nat_lab.LabError(f"nothing listens on {nat_lab.PUB_IP}:{port}\n{logs}")
        yield Services(
            lab=lab,
            token=token,
            url_with_turn=f"http://{nat_lab.PUB_IP}:{PORT_WITH_TURN}",
            url_without_turn=f"http://{nat_lab.PUB_IP}:{PORT_WITHOUT_TURN}",
            url_wrong_secret=f"http://{nat_lab.PUB_IP}:{PORT_WRONG_SECRET}",
            logs=work,
        )
    finally:
        lab.teardown()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    text = matrix_markdown(RESULTS)
    terminalreporter.write_sep("=", "NAT matrix")
    terminalreporter.write_line(text)
    artifacts = os.environ.get("PANAMIA_TEST_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        (Path(artifacts) / "nat-matrix.md").write_text(text + "\n", encoding="utf-8")

"""A two-node cluster as processes: redis-server, two ``panamia serve`` and HAProxy in front,
with the shipped config/haproxy.cfg. Used by the cluster tests and bench/cluster.py.

The nodes share one SQLite file (WAL with a busy timeout serialises writers across processes)
so no MongoDB is needed here; production clusters use MongoDB (docs/deploy.md).
"""

from __future__ import annotations

import abc
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.ports import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
HAPROXY_CONFIG = ROOT / "config" / "haproxy.cfg"
AUTH_SECRET = secrets.token_hex(32)
"""Shared by every node (the cluster's nodes must sign and check with the same secrets)."""
PUSHER_SECRET = secrets.token_hex(16)
LEASE_PREFIX = "panamia:rooms:lease:"


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/bin", "/usr/local/bin"):
        if (Path(folder) / name).exists():
            return str(Path(folder) / name)
    return None


class Process(abc.ABC):
    """A child process on a known port, to start, kill and start again."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @abc.abstractmethod
    def command(self) -> tuple[list[str], dict[str, str]]:
        """The child's argument list and environment."""

    def start(self) -> None:
        args, env = self.command()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class RedisServer(Process):
    def __init__(self, binary: str, folder: Path) -> None:
        super().__init__(free_port(), folder / "redis.log")
        self.binary = binary
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> tuple[list[str], dict[str, str]]:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        return [*args, "--save", "", "--appendonly", "no"], dict(os.environ)

    def start(self) -> None:
        super().start()
        wait_for_port(self.port)


class Node(Process):
    """``panamia serve`` as one cluster node."""

    def __init__(self, name: str, folder: Path, redis_url: str, public_url: str) -> None:
        super().__init__(free_port(), folder / f"{name}.log")
        self.name = name
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PANAMIA_STORE__DATA_DIR": str(folder / name),
            "PANAMIA_STORE__SQLITE_PATH": str(folder / "shared.sqlite3"),
            "PANAMIA_AUTH__SECRET": AUTH_SECRET,
            "PANAMIA_PUSHER__SECRET": PUSHER_SECRET,
            "PANAMIA_HTTP__PUBLIC_URL": public_url,
            "PANAMIA_HTTP__TRUSTED_PROXIES": "127.0.0.1",
            "PANAMIA_BUS__REDIS_URL": redis_url,
            "PANAMIA_BUS__NODE_TIMEOUT_S": "5",
            "PANAMIA_CLUSTER__INTERNAL_URL": self.url,
            "PANAMIA_CLUSTER__LEASE_TTL_S": "4",
            "PANAMIA_ROOM__JOIN_LEAD_MINUTES": str(24 * 60),
            "PANAMIA_LOG__LEVEL": "INFO",
            "PANAMIA_LOG__JSON": "true",
        }

    def command(self) -> tuple[list[str], dict[str, str]]:
        args = [sys.executable, "-m", "panamia", "serve", "--host", "127.0.0.1"]
        return [*args, "--port", str(self.port)], self.env


class Proxy(Process):
    """HAProxy with the shipped config, round-robin over the nodes."""

    def __init__(self, binary: str, folder: Path, nodes: list[Node]) -> None:
        super().__init__(free_port(), folder / "haproxy.log")
        self.binary = binary
        self.url = f"http://127.0.0.1:{self.port}"
        self.nodes = nodes

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = {
            **os.environ,
            "PROXY_BIND": f"127.0.0.1:{self.port}",
            "APP_NODE1": f"127.0.0.1:{self.nodes[0].port}",
            "APP_NODE2": f"127.0.0.1:{self.nodes[1].port}",
        }
        return [self.binary, "-db", "-f", str(HAPROXY_CONFIG)], env

    def start(self) -> None:
        super().start()
        wait_for_port(self.port)


def wait_ready(url: str, timeout_s: float = 60.0) -> None:
    """Until ``url``/readyz answers 200."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not become ready")
        time.sleep(0.1)


@dataclass
class Cluster:
    redis: RedisServer
    nodes: list[Node]
    proxy: Proxy
    folder: Path
    stopped: list[Process] = field(default_factory=list)

    @property
    def sqlite_path(self) -> Path:
        return self.folder / "shared.sqlite3"

    def node_at(self, url: str) -> Node:
        return next(node for node in self.nodes if node.url == url)

    def stop(self) -> None:
        for process in (self.proxy, *self.nodes, self.redis):
            process.stop()


def start_cluster(folder: Path) -> Cluster:
    """redis-server, two nodes, HAProxy; returns once the nodes are ready and the proxy is up.
    Raises LookupError naming a missing tool."""
    redis_binary, haproxy_binary = find_binary("redis-server"), find_binary("haproxy")
    if redis_binary is None:
        raise LookupError("redis-server is not installed (apt-get install redis-server)")
    if haproxy_binary is None:
        raise LookupError("haproxy is not installed (apt-get install haproxy)")
    folder.mkdir(parents=True, exist_ok=True)
    redis = RedisServer(redis_binary, folder)
    redis.start()
    proxy_port = free_port()
    public_url = f"http://127.0.0.1:{proxy_port}"
    nodes = [Node(name, folder, redis.url, public_url) for name in ("node1", "node2")]
    proxy = Proxy(haproxy_binary, folder, nodes)
    proxy.port, proxy.url = proxy_port, public_url
    cluster = Cluster(redis, nodes, proxy, folder)
    try:
        nodes[0].start()  # the first creates the shared database; the second then opens it
        wait_ready(nodes[0].url)
        nodes[1].start()
        wait_ready(nodes[1].url)
        proxy.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster

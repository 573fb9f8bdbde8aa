"""The NAT lab: network namespaces, veth, a bridge and iptables NAT routers (root only).

Topology (every namespace is ours; none has a link to the root namespace, so no packet
leaves the machine)::

    host a-<cell> ── router a-<cell> ──┐
                                       br0 in pub 203.0.113.1: coturn :3478, two servers
    host b-<cell> ── router b-<cell> ──┘

There is one host/router pair per cell type on each side (a and b), all on one "public"
bridge, so one topology serves every pair of cells: side a's host of cell X talks to
side b's host of cell Y. Cells:

- ``open``: a plain router, the host has a public address (routed by pub);
- ``cone``: MASQUERADE keeping ports, unsolicited inbound dropped (endpoint-independent
  mapping, so STUN hole punching works);
- ``symmetric``: MASQUERADE ``--random-fully`` (a new port per destination);
- ``udp-blocked``: the cone router that drops every UDP packet from its LAN.

pub's default route points at a black hole so coturn can always "send" towards the hosts'
private addresses (coturn 4.6 otherwise drops the allocation on ENETUNREACH; it also denies
private peers in our rendered config).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

CELLS: tuple[str, ...] = ("open", "cone", "symmetric", "udp-blocked")
PUB_IP = "203.0.113.1"
PUB_NET = "203.0.113.0/24"
BLACKHOLE_GW = "203.0.113.254"
TOOLS = ("ip", "iptables-restore", "turnserver")

WAIT_PORT = """
import socket, sys, time
host, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
"""


class LabError(RuntimeError):
    """A lab command failed; the message has the command and its error output."""


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if which(tool) is None]


def which(tool: str) -> str | None:
    found = shutil.which(tool)
    if found:
        return found
    for folder in ("/usr/sbin", "/sbin", "/usr/bin"):
        candidate = Path(folder) / tool
        if candidate.exists():
            return str(candidate)
    return None


def sh(*args: str, stdin: str | None = None) -> None:
    """Run one command; raise LabError with its stderr when it fails."""
    proc = subprocess.run(
        [which(args[0]) or args[0], *args[1:]],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if proc.returncode != 0:
        raise LabError(f"{' '.join(args)}: {proc.stderr.strip() or proc.returncode}")


def router_rules(cell: str) -> str:
    """iptables-restore input for a router of this cell type (none for ``open``)."""
    if cell == "open":
        return ""
    random_fully = " --random-fully" if cell == "symmetric" else ""
    udp_block = "-A FORWARD -i lan0 -p udp -j DROP\n" if cell == "udp-blocked" else ""
    return (
        "*nat\n"
        ":PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n"
        ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
        f"-A POSTROUTING -o wan0 -j MASQUERADE{random_fully}\n"
        "COMMIT\n"
        "*filter\n"
        ":INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
        f"{udp_block}"
        "-A FORWARD -i lan0 -o wan0 -j ACCEPT\n"
        "-A FORWARD -i wan0 -o lan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n"
        # Without this a peer's early check leaves an unreplied conntrack entry on the router
        # and the host's own outgoing packet gets another port: no hole punching.
        "-A INPUT -i wan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n"
        "-A INPUT -i wan0 -j DROP\n"
        "COMMIT\n"
    )


@dataclass(frozen=True)
class Site:
    """One host behind one router."""

    side: str
    cell: str
    router: str
    host: str
    wan_ip: str
    lan_net: str
    gateway: str
    host_ip: str


@dataclass
class Lab:
    prefix: str
    workdir: Path
    namespaces: list[str] = field(default_factory=list)
    sites: dict[tuple[str, str], Site] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def pub(self) -> str:
        return f"{self.prefix}pub"

    def site(self, side: str, cell: str) -> Site:
        return self.sites[(side, cell)]

    # --- building -----------------------------------------------------------------------
    def _netns(self, name: str) -> None:
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        self.sysctl(
            name, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"
        )

    def sysctl(self, ns: str, *settings: str) -> None:
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", *settings)

    def build(self) -> None:
        pub = self.pub
        self._netns(pub)
        sh("ip", "-n", pub, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", pub, "addr", "add", f"{PUB_IP}/24", "dev", "br0")
        sh("ip", "-n", pub, "link", "set", "br0", "up")
        sh("ip", "-n", pub, "route", "add", "default", "via", BLACKHOLE_GW, "dev", "br0", "onlink")
        self.sysctl(pub, "net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0")
        for s, side in enumerate(("a", "b")):
            for k, cell in enumerate(CELLS):
                self._site(side, s, cell, k)

    def _site(self, side: str, s: int, cell: str, k: int) -> None:
        router, host = f"{self.prefix}{side}{k}r", f"{self.prefix}{side}{k}h"
        wan_ip = f"203.0.113.{10 * (s + 1) + k}"
        if cell == "open":  # a public subnet: TEST-NET-2 split in two
            base = 128 * s
            lan_net, gateway, host_ip = (
                f"198.51.100.{base}/25",
                f"198.51.100.{base + 1}",
                f"198.51.100.{base + 2}",
            )
            prefix_len = 25
        else:
            net = f"10.{10 * (s + 1) + k}.0"
            lan_net, gateway, host_ip = f"{net}.0/24", f"{net}.1", f"{net}.2"
            prefix_len = 24
        self._netns(router)
        self._netns(host)
        port = f"v{side}{k}"
        sh(
            "ip",
            "link",
            "add",
            "wan0",
            "netns",
            router,
            "type",
            "veth",
            "peer",
            "name",
            port,
            "netns",
            self.pub,
        )
        sh("ip", "-n", self.pub, "link", "set", port, "master", "br0")
        sh("ip", "-n", self.pub, "link", "set", port, "up")
        sh(
            "ip",
            "link",
            "add",
            "lan0",
            "netns",
            router,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            host,
        )
        sh("ip", "-n", router, "addr", "add", f"{wan_ip}/24", "dev", "wan0")
        sh("ip", "-n", router, "addr", "add", f"{gateway}/{prefix_len}", "dev", "lan0")
        sh("ip", "-n", router, "link", "set", "wan0", "up")
        sh("ip", "-n", router, "link", "set", "lan0", "up")
        sh("ip", "-n", router, "route", "add", "default", "via", PUB_IP)
        self.sysctl(router, "net.ipv4.ip_forward=1")
        sh("ip", "-n", host, "addr", "add", f"{host_ip}/{prefix_len}", "dev", "eth0")
        sh("ip", "-n", host, "link", "set", "eth0", "up")
        sh("ip", "-n", host, "route", "add", "default", "via", gateway)
        if cell == "open":
            sh("ip", "-n", self.pub, "route", "add", lan_net, "via", wan_ip)
        rules = router_rules(cell)
        if rules:
            sh("ip", "netns", "exec", router, "iptables-restore", stdin=rules)
        self.sites[(side, cell)] = Site(side, cell, router, host, wan_ip, lan_net, gateway, host_ip)

    # --- processes ----------------------------------------------------------------------
    def spawn(
        self, ns: str, args: list[str], *, env: dict[str, str] | None = None, log: Path
    ) -> subprocess.Popen[bytes]:
        """A long-running process inside ``ns`` (stopped by :meth:`teardown`)."""
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [which("ip") or "ip", "netns", "exec", ns, *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def wait_for_port(self, ns: str, host: str, port: int, limit_s: float = 20.0) -> bool:
        proc = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                sys.executable,
                "-c",
                WAIT_PORT,
                host,
                str(port),
                str(limit_s),
            ],
            capture_output=True,
            timeout=limit_s + 10,
            check=False,
        )
        return proc.returncode == 0

    # --- teardown -----------------------------------------------------------------------
    def teardown(self) -> None:
        """Stop our processes (by pid) and delete our namespaces; never raises."""
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
        self.procs.clear()
        for ns in reversed(self.namespaces):
            with contextlib.suppress(LabError, subprocess.TimeoutExpired):
                sh("ip", "netns", "del", ns)
        self.namespaces.clear()


def stale_namespaces(prefix: str) -> list[str]:
    """Our namespaces left by a run whose process is gone (e.g. killed with SIGKILL)."""
    proc = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    names = [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]
    stale = []
    for name in names:
        if not name.startswith(prefix):
            continue
        # names are <prefix><pid>x<...>; the pid runs up to the 'x'
        pid_text, sep, _rest = name[len(prefix) :].partition("x")
        if not sep or not pid_text.isdigit():
            continue
        if not Path(f"/proc/{pid_text}").exists():
            stale.append(name)
    return stale

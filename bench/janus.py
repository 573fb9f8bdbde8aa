"""Janus 1.1.2 (VideoRoom) as the relay bench's second baseline.

:class:`JanusServer` runs ``/usr/bin/janus`` from a generated configuration folder: only the
VideoRoom plugin and the HTTP transport (on 127.0.0.1), no loggers, no event handlers, no
session timeout, and ``event_loops`` shared loops instead of a thread per handle (the bench
pins the server to one core, where one loop thread is the fair match for our one asyncio
loop; ``--janus-event-loops`` changes it).

Janus never gathers ICE candidates on loopback interfaces, and a loopback-only bench has
nothing else. So a tiny preload library, compiled here with the system C compiler, clears
``IFF_LOOPBACK`` in what ``getifaddrs`` returns, for the janus process only, and the
configuration restricts gathering to ``lo`` (``ice_enforce_list``).

:class:`JanusTarget` wires one stream the VideoRoom way: the publisher offers to Janus
(``joinandconfigure``), and Janus offers to the subscriber, which answers (``start``):
the reverse of our relay, where both sides offer. aiortc negotiates no transport-cc, so both
servers run on REMB only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout
from aiortc import RTCPeerConnection, RTCSessionDescription

from bench.janus_api import JanusError, JanusSession
from bench.media import offer
from bench.ports import free_port
from bench.procstat import pin_process, process_cpu_seconds, process_memory_mb

JANUS_BINARY = "/usr/bin/janus"
JANUS_LIBRARIES = Path("/usr/lib/x86_64-linux-gnu/janus")
PLUGIN = "libjanus_videoroom.so"
TRANSPORT = "libjanus_http.so"

SHIM_SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>

/* Hide the loopback flag from the caller: Janus skips loopback interfaces when it
   gathers ICE candidates, and a loopback-only benchmark has no other interface. */
int getifaddrs(struct ifaddrs **result) {
    static int (*real_getifaddrs)(struct ifaddrs **) = 0;
    if (!real_getifaddrs)
        real_getifaddrs = (int (*)(struct ifaddrs **))dlsym(RTLD_NEXT, "getifaddrs");
    int status = real_getifaddrs(result);
    if (status == 0)
        for (struct ifaddrs *entry = *result; entry; entry = entry->ifa_next)
            entry->ifa_flags &= ~IFF_LOOPBACK;
    return status;
}
"""


def missing_reason() -> str | None:
    """Why Janus cannot run here (None when it can)."""
    if not Path(JANUS_BINARY).exists():
        return f"{JANUS_BINARY} not found: install Debian's janus package (1.1.2)"
    for folder, name in (("plugins", PLUGIN), ("transports", TRANSPORT)):
        if not (JANUS_LIBRARIES / folder / name).exists():
            return f"{JANUS_LIBRARIES / folder / name} not found (janus package incomplete)"
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        return "no C compiler to build the loopback shim (apt-get install gcc)"
    return None


def build_shim(folder: Path) -> Path:
    """Compile the getifaddrs shim into ``folder``; returns the library's path."""
    source = folder / "loopback_shim.c"
    library = folder / "loopback_shim.so"
    source.write_text(SHIM_SOURCE, encoding="ascii")
    compiler = shutil.which("gcc") or shutil.which("cc") or "cc"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(source), "-ldl"],
        check=True,
        capture_output=True,
    )
    return library


def write_config(folder: Path, http_port: int, event_loops: int) -> Path:
    """The three configuration files and folders holding only the libraries we load."""
    for kind, keep in (("plugins", PLUGIN), ("transports", TRANSPORT), ("events", None)):
        target = folder / kind
        target.mkdir(exist_ok=True)
        if keep is not None:
            link = target / keep
            if not link.exists():
                link.symlink_to(JANUS_LIBRARIES / kind / keep)
    (folder / "loggers").mkdir(exist_ok=True)
    main = folder / "janus.jcfg"
    main.write_text(
        f"""general: {{
\tconfigs_folder = "{folder}"
\tplugins_folder = "{folder / "plugins"}"
\ttransports_folder = "{folder / "transports"}"
\tevents_folder = "{folder / "events"}"
\tloggers_folder = "{folder / "loggers"}"
\tdebug_level = 3
\tsession_timeout = 0
\tevent_loops = {event_loops}
}}
media: {{
\tipv6 = false
}}
nat: {{
\tnice_debug = false
\tice_enforce_list = "lo"
\tignore_mdns = true
}}
plugins: {{
}}
transports: {{
}}
loggers: {{
}}
events: {{
\tbroadcast = false
}}
""",
        encoding="ascii",
    )
    (folder / "janus.transport.http.jcfg").write_text(
        f"""general: {{
\tjson = "plain"
\tbase_path = "/janus"
\thttp = true
\tport = {http_port}
\tip = "127.0.0.1"
\thttps = false
}}
admin: {{
\tadmin_http = false
\tadmin_https = false
}}
""",
        encoding="ascii",
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n", encoding="ascii")
    return main


class JanusServer:
    """One janus process for one measurement, from a fresh configuration folder."""

    def __init__(self, event_loops: int = 1, pin: bool = False) -> None:
        self.event_loops = event_loops
        self.pin = pin
        self.port = 0
        self.pid = 0
        self.url = ""
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="bench-janus-")
        folder = Path(self._folder.name)
        shim = build_shim(folder)
        self.port = free_port()
        config = write_config(folder, self.port, self.event_loops)
        environment = dict(os.environ, LD_PRELOAD=str(shim))
        log = (folder / "janus.log").open("wb")
        pin = self.pin

        def pin_before_exec() -> None:  # every thread janus starts inherits it
            if pin:
                os.sched_setaffinity(0, {0})

        self._process = await asyncio.create_subprocess_exec(
            JANUS_BINARY,
            "-C",
            str(config),
            "-F",
            str(folder),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env=environment,
            preexec_fn=pin_before_exec,
        )
        log.close()
        self.pid = self._process.pid
        self.url = f"http://127.0.0.1:{self.port}/janus"
        async with ClientSession(timeout=ClientTimeout(total=2)) as http:
            for _ in range(100):
                if self._process.returncode is not None:
                    break
                with contextlib.suppress(OSError, TimeoutError):
                    async with http.get(f"{self.url}/info") as response:
                        if response.status == 200:
                            if pin:
                                pin_process(self.pid, 0)
                            return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"janus did not start; its log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        if self._folder is None:
            return ""
        path = Path(self._folder.name) / "janus.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stats(self) -> dict[str, float]:
        rss, hwm = process_memory_mb(self.pid)
        return {"cpu": process_cpu_seconds(self.pid), "rss_mb": rss, "hwm_mb": hwm}

    async def stop(self) -> None:
        process = self._process
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None


def _plain_sdp(sdp: str) -> dict[str, Any]:
    return {"type": "offer", "sdp": sdp, "trickle": False}


class JanusTarget:
    """The bench's load wired to a Janus VideoRoom: one room per stream."""

    def __init__(self, server: JanusServer) -> None:
        self.server = server
        self._http: ClientSession | None = None
        self._session: JanusSession | None = None

    async def __aenter__(self) -> JanusTarget:
        self._http = ClientSession()
        self._session = JanusSession(self._http, self.server.url)
        await self._session.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
        if self._http is not None:
            await self._http.close()

    async def stats(self) -> dict[str, float]:
        return self.server.stats()

    async def connect(
        self, index: int, publisher: RTCPeerConnection, subscriber: RTCPeerConnection
    ) -> None:
        """Publish ``publisher``'s offer in a new room and subscribe ``subscriber`` to it."""
        session = self._session
        assert session is not None
        room = 1000 + index
        publisher_handle = await session.attach()
        await session.request(
            publisher_handle,
            {
                "request": "create",
                "room": room,
                "publishers": 1,
                "bitrate": 0,
                "videocodec": "vp8",
                "transport_wide_cc_ext": False,
            },
        )
        sdp, _ = await offer(publisher)
        joined = await session.message(
            publisher_handle,
            {"request": "joinandconfigure", "room": room, "ptype": "publisher"},
            jsep=_plain_sdp(sdp),
        )
        answer = joined["jsep"]
        await publisher.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        feed = joined["plugindata"]["data"]["id"]
        subscriber_handle = await session.attach()
        join = {"request": "join", "room": room, "ptype": "subscriber", "streams": [{"feed": feed}]}
        for attempt in range(100):
            # VideoRoom knows a feed only once the publisher's PeerConnection is up.
            try:
                attached = await session.message(subscriber_handle, join)
                break
            except JanusError as error:
                if "No such feed" not in str(error) or attempt == 99:
                    raise
                await asyncio.sleep(0.1)
        await subscriber.setRemoteDescription(
            RTCSessionDescription(attached["jsep"]["sdp"], "offer")
        )
        await subscriber.setLocalDescription(await subscriber.createAnswer())
        await session.message(
            subscriber_handle,
            {"request": "start"},
            jsep={"type": "answer", "sdp": subscriber.localDescription.sdp, "trickle": False},
        )


@contextlib.asynccontextmanager
async def running_janus(event_loops: int, pin: bool) -> AsyncIterator[JanusServer]:
    server = JanusServer(event_loops=event_loops, pin=pin)
    try:
        await server.start()
        yield server
    finally:
        await server.stop()

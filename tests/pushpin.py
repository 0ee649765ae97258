"""Pushpin from Debian's package, started by a test on ports and in a folder of its own.

Debian's pushpin sends its requests to the backend through a `zurl` process it expects as a
system service under /var/run/zurl/; that service is not running here, so each Pushpin gets a
zurl of its own (with loopback allowed: zurl's shipped configuration denies 127.*). Every
instance has its own rundir, ipc_prefix and ports, so tests (and two Pushpins) never meet."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.servers import free_port

PUSHPIN = "/usr/bin/pushpin"
ZURL = "/usr/bin/zurl"
INTERNAL = "/usr/lib/pushpin/internal.conf"
ROUTES = Path(__file__).resolve().parents[1] / "deploy" / "pushpin.routes"


def listening_port() -> int:
    """A free port for Pushpin's readers below the range the kernel gives outgoing connections:
    condure binds 0.0.0.0 without SO_REUSEADDR, so a port that a closed outgoing connection
    still holds in TIME_WAIT (thousands, after a load run) cannot be its listening port."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return free_port()
    for _ in range(200):
        port = random.randrange(10_000, max(10_001, low))
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    return free_port()


class Pushpin:
    def __init__(
        self, folder: Path, *, key: str, name: str = "t", log_level: int = 2,
        preexec: Callable[[], None] | None = None, id_cache_ttl: int = 60,
    ) -> None:  # fmt: skip
        self.folder, self.key, self.name = folder, key, name
        self.id_cache_ttl = id_cache_ttl  # Pushpin's default: a repeated id is dropped for 60 s
        self.log_level, self.preexec = log_level, preexec
        self.run = folder / "run"
        self.http_port = listening_port()
        self.publish_port = free_port()
        self.push_port, self.sub_port, self.command_port = free_port(), free_port(), free_port()
        self.backends: list[int] = []
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def publish_url(self) -> str:
        return f"http://127.0.0.1:{self.publish_port}/publish/"

    def _write_config(self) -> None:
        self.run.mkdir(parents=True, exist_ok=True)
        (self.folder / "log").mkdir(exist_ok=True)
        ipc = f"ipc://{self.run}/{self.name}-"
        (self.folder / "zurl.conf").write_text(
            "[General]\n"
            f"instance_id={self.name}-zurl\n"
            f"in_spec={ipc}zurl-in\nin_stream_spec={ipc}zurl-in-stream\n"
            f"out_spec={ipc}zurl-out\nin_req_spec={ipc}zurl-req\n"
            "defpolicy=allow\nallow=\ndeny=\n"
            "max_open_requests=50000\nbuffer_size=200000\ntimeout=600\nin_hwm=100000\nout_hwm=100000\n"
        )
        # The routes file we ship, with this test's nodes in it.
        targets = ",".join(f"127.0.0.1:{p}" for p in self.backends)
        routes = ROUTES.read_text().replace("127.0.0.1:8001,127.0.0.1:8002", targets)
        assert targets in routes
        (self.folder / "routes").write_text(routes)
        (self.folder / "pushpin.conf").write_text(
            "[global]\n"
            f"include={INTERNAL}\nrundir={self.run}\nipc_prefix={self.name}-\nport_offset=0\n"
            "[runner]\n"
            "services=condure,pushpin-proxy,pushpin-handler\n"
            f"http_port={self.http_port}\nlogdir={self.folder / 'log'}\nlog_level={self.log_level}\n"
            "client_maxconn=50000\ncondure_bin=condure\n"
            "[proxy]\n"
            f"routesfile={self.folder / 'routes'}\n"
            f"sig_iss=pushpin\nsig_key={self.key}\n"
            f"zurl_out_specs={ipc}zurl-in\nzurl_out_stream_specs={ipc}zurl-in-stream\n"
            f"zurl_in_specs={ipc}zurl-out\n"
            "[handler]\n"
            f"push_in_spec=tcp://127.0.0.1:{self.push_port}\n"
            f"push_in_sub_specs=tcp://127.0.0.1:{self.sub_port}\n"
            f"push_in_http_addr=127.0.0.1\npush_in_http_port={self.publish_port}\n"
            f"stats_spec={ipc}stats\ncommand_spec=tcp://127.0.0.1:{self.command_port}\n"
            "message_rate=100000\nmessage_hwm=200000\nmessage_wait=5000\n"
            f"id_cache_ttl={self.id_cache_ttl}\n"
            "connection_subscription_max=20\nsubscription_linger=60\n"
        )

    def start(self, backends: list[int] | None = None) -> None:
        """Start zurl and Pushpin in front of `backends` (ports on 127.0.0.1)."""
        if backends is not None:
            self.backends = backends
        for _ in range(5):
            self._write_config()
            if self._launch():
                return
            # The readers' port was taken meanwhile (an outgoing connection's local port counts):
            # another one, and again.
            self.stop()
            self.http_port = listening_port()
        raise RuntimeError(f"pushpin did not start:\n{self.log()}")

    def _launch(self) -> bool:
        """Start zurl and Pushpin; False if Pushpin could not bind its readers' port."""
        logfile = self.folder / "log" / "processes.log"
        start = logfile.stat().st_size if logfile.exists() else 0
        with logfile.open("ab") as log:
            for argv in (
                [ZURL, f"--config={self.folder / 'zurl.conf'}"],
                [PUSHPIN, f"--config={self.folder / 'pushpin.conf'}", "-m"],
            ):
                self.procs.append(
                    subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True, preexec_fn=self.preexec)
                )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._listening(self.http_port) and self._listening(self.publish_port):
                return True
            with logfile.open("rb") as log:
                log.seek(start)
                if b"failed to bind" in log.read():  # the runner may live on without condure
                    return False
            if any(proc.poll() is not None for proc in self.procs):
                raise RuntimeError(f"pushpin stopped at start:\n{self.log()}")
            time.sleep(0.05)
        raise RuntimeError(f"pushpin did not start:\n{self.log()}")

    def wait_ready(self, hold: str) -> None:
        """Wait until a GRIP hold goes through (zurl connected, routes loaded, and the handler's
        accept socket up: until then the proxy answers 500 "Accept service unavailable").
        `hold` is a path whose answer is a hold."""
        deadline = time.monotonic() + 20
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                with (
                    contextlib.suppress(httpx.HTTPError),
                    client.stream("GET", self.base_url + hold) as answer,
                ):
                    if answer.status_code == 200:
                        return
                time.sleep(0.05)
        raise RuntimeError(f"nothing goes through pushpin:\n{self.log()}")

    async def ready(self, hold: str) -> None:
        """`wait_ready` off the event loop, which may be serving the backend meanwhile."""
        await asyncio.to_thread(self.wait_ready, hold)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.procs = []

    def restart(self) -> None:
        self.stop()
        self.start()

    def publish(self, items: list[dict[str, object]]) -> None:
        httpx.post(self.publish_url, json={"items": items}, timeout=5).raise_for_status()

    def next_link_requests(self) -> int:
        """How many next-link requests (recoveries, more of a backlog) the edge has sent to its
        nodes so far, from its log (log_level 2 or more)."""
        text = (self.folder / "log" / "processes.log").read_text(errors="replace")
        return sum(1 for line in text.splitlines() if "[handler]" in line and "continued=1" in line)

    def log(self) -> str:
        found = [p.read_text(errors="replace")[-4000:] for p in (self.folder / "log").glob("*")]
        return "\n".join(found)

    @staticmethod
    def _listening(port: int) -> bool:
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", port)) == 0

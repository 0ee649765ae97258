"""Dateline nodes as separate processes (`dateline serve`, as in production), the command line,
and the nginx configuration we ship in front of them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.servers import free_port

SEED = (
    Path(__file__).resolve().parents[1] / "dateline" / "demo" / "cnn-2023-03-20-xi-putin-moscow.txt"
)

CONF = Path(__file__).resolve().parents[1] / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DATELINE_")}


def cli(*args: str, db: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "dateline.cli", *args, "--db", db],
        capture_output=True, text=True, timeout=60, env=_env(), check=True,
    )  # fmt: skip
    return out.stdout


@contextlib.contextmanager
def two_nodes(
    db: str, bus_url: str, logs: Path, slug: str, env: dict[str, str] | None = None
) -> Iterator[tuple[Node, Node, str]]:
    """The seed blog imported as `slug` into `db`, an editor of it (their API token is the
    third item), and two nodes sharing the store and the bus."""
    cli("import", str(SEED), "--slug", slug, db=db)
    token = cli(
        "user", "create", "ed@example.org", "--name", "Ed", "--role", "editor", "--blog", slug,
        "--token", db=db,
    ).strip().splitlines()[-1]  # fmt: skip
    a = Node(db, bus_url, logs / "node-a.log", env=env)
    b = Node(db, bus_url, logs / "node-b.log", env=env)
    try:
        yield a, b, token
    finally:
        a.stop()
        b.stop()


class Node:
    """`dateline serve` on a port of its own (or `port`, to come back where it was)."""

    def __init__(
        self, db: str, bus: str, log: Path, *extra: str, port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.db, self.bus, self.extra = db, bus, extra
        self.env = {**_env(), **(env or {})}  # DATELINE_* settings of its own
        self.port = port or free_port()
        self.log = log.open("ab")
        self.folder = log.parent
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dateline.cli", "serve", "--db", self.db, "--bus", self.bus,
             "--port", str(self.port), *self.extra],
            stdout=self.log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
            cwd=self.folder,  # its media folder (a relative path by default) goes there
        )  # fmt: skip
        for _ in range(300):
            try:
                httpx.get(f"{self.base}/healthz", timeout=2)
                return proc
            except httpx.TransportError:
                time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        self.log.close()
        raise AssertionError("node did not start")

    def kill(self) -> None:
        """SIGKILL, the whole process group (with --workers, uvicorn's workers are children)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def start_again(self) -> None:
        self.proc = self._start()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        self.log.close()


class Nginx:
    """deploy/nginx.conf, run for real, in front of the given upstreams."""

    def __init__(self, upstreams: list[str], media_dir: str, tmp: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        tmp.mkdir(parents=True, exist_ok=True)
        servers = "".join(f"    server {u};\n" for u in upstreams)
        site = CONF.read_text()
        site = site.replace("    server 127.0.0.1:8001;\n    server 127.0.0.1:8002;\n", servers)
        site = site.replace("/var/cache/nginx/dateline", str(tmp / "cache"))
        site = site.replace("listen 80;", f"listen 127.0.0.1:{self.port};")
        site = site.replace("/var/lib/dateline/media/", media_dir.rstrip("/") + "/")
        assert str(self.port) in site and all(u in site for u in upstreams)
        (tmp / "site.conf").write_text(site)
        (tmp / "nginx.conf").write_text(
            f"""user root;
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    include {tmp}/site.conf;
}}
"""
        )
        self.proc = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf")])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)

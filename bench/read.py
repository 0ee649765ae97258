"""Read throughput: the seed blog's page, events delta and Atom feed from `dateline serve`, and
through the shipped nginx cache in front of it (deploy/nginx.conf), against nginx serving the very
same bytes as static files, in the same run, with wrk.

    ./run bench read [--duration 10] [--connections 50] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SEED, SLUG, cli, free_port, wait_up

ENDPOINTS = {
    "page": f"/{SLUG}",
    "events": f"/api/v1/blogs/{SLUG}/events?after=0",
    "feed": f"/{SLUG}/feed.atom",
}
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def wrk(url: str, duration: int, connections: int) -> tuple[float, float]:
    """(requests/s, p99 ms) from one wrk run; refuses a run with any error answer or socket
    error, which would measure the error instead of the page."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for trouble in ("Non-2xx or 3xx responses", "Socket errors"):
        if trouble in out:
            raise SystemExit(f"wrk {url}: {trouble.lower()}, no figure taken:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, p99


def start_proxy(tmp: Path, upstream_port: int, port: int) -> subprocess.Popen[bytes]:
    """nginx with the shipped deploy/nginx.conf in front of the Dateline node."""
    site = (Path(__file__).resolve().parents[1] / "deploy" / "nginx.conf").read_text()
    site = site.replace(
        "    server 127.0.0.1:8001;\n    server 127.0.0.1:8002;\n",
        f"    server 127.0.0.1:{upstream_port};\n",
    )
    site = site.replace("/var/cache/nginx/dateline", str(tmp / "proxy-cache"))
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    (tmp / "proxy-site.conf").write_text(site)
    (tmp / "proxy.conf").write_text(
        f"""user root;
worker_processes 1;
daemon off;
pid {tmp}/proxy.pid;
error_log {tmp}/proxy-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/proxy-body;
    proxy_temp_path {tmp}/proxy-temp;
    include {tmp}/proxy-site.conf;
}}
"""
    )
    return subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(tmp / "proxy.conf")])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="dateline-read-"))
    db = str(tmp / "read.db")
    cli("import", str(SEED), "--slug", SLUG, db=db)
    port, nginx_port, proxy_port = free_port(), free_port(), free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "dateline.cli", "serve", "--db", db, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    nginx = proxy = None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(f"{base}/healthz")
        root = tmp / "static"
        root.mkdir()
        types = []
        for name, path in ENDPOINTS.items():
            r = httpx.get(base + path, headers={"Accept-Encoding": "identity"})
            (root / name).write_bytes(r.content)
            types.append((name, r.headers["content-type"]))
        locations = "\n".join(
            f'location = /{name} {{ default_type "{ctype}"; }}' for name, ctype in types
        )
        (tmp / "nginx.conf").write_text(
            f"""user root;  # the temp folder is private to its owner
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush off;
    tcp_nodelay on;
    server {{
        listen 127.0.0.1:{nginx_port};
        root {root};
        {locations}
    }}
}}
"""
        )
        nginx = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf")])
        wait_up(f"http://127.0.0.1:{nginx_port}/page")
        proxy = start_proxy(tmp, port, proxy_port)
        wait_up(f"http://127.0.0.1:{proxy_port}/healthz")
        # All three must answer the same bytes, or the ratio compares different work. (The page
        # names its host in its links; behind nginx that host has no port.)
        plain = {"Accept-Encoding": "identity"}
        for name, path in ENDPOINTS.items():
            bodies = {
                re.sub(rb"127\.0\.0\.1:\d+", b"127.0.0.1",
                       httpx.get(url, headers=plain).raise_for_status().content)
                for url in (base + path, f"http://127.0.0.1:{nginx_port}/{name}",
                            f"http://127.0.0.1:{proxy_port}{path}")
            }  # fmt: skip
            if len(bodies) != 1:
                raise SystemExit(
                    f"{name}: Dateline, nginx and the nginx cache answer different bytes"
                )
        results: dict[str, dict[str, float]] = {}
        for name, path in ENDPOINTS.items():
            rps, p99 = wrk(base + path, args.duration, args.connections)
            nginx_rps, nginx_p99 = wrk(
                f"http://127.0.0.1:{nginx_port}/{name}", args.duration, args.connections
            )
            # Fill the cache first, as readers do long before a spike: a cold entry makes 49 of
            # the 50 first requests wait on nginx's cache lock, which it re-checks every 500 ms.
            warm = httpx.get(
                f"http://127.0.0.1:{proxy_port}{path}", headers={"Accept-Encoding": "identity"}
            )
            warm.raise_for_status()
            cached_rps, cached_p99 = wrk(
                f"http://127.0.0.1:{proxy_port}{path}", args.duration, args.connections
            )
            results[name] = {
                "rps": round(rps),
                "p99_ms": round(p99, 2),
                "nginx_rps": round(nginx_rps),
                "nginx_p99_ms": round(nginx_p99, 2),
                "ratio": round(rps / nginx_rps, 3),
                "cached_rps": round(cached_rps),
                "cached_p99_ms": round(cached_p99, 2),
                "cached_ratio": round(cached_rps / nginx_rps, 3),
            }
            print(f"{name:>8}  dateline {rps:7.0f} req/s p99 {p99:6.1f} ms | "
                  f"behind nginx cache {cached_rps:7.0f} req/s p99 {cached_p99:6.1f} ms | "
                  f"nginx static {nginx_rps:7.0f} req/s p99 {nginx_p99:6.1f} ms | "
                  f"ratios {rps / nginx_rps:.3f} / {cached_rps / nginx_rps:.3f}")  # fmt: skip
    finally:
        server.terminate()
        for proc in (nginx, proxy):
            if proc:
                proc.terminate()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

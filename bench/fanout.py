"""Fan-out: N live readers, M posts; publish → deliver latency for every (reader, post) pair.

Starts `dateline serve` (SQLite, in-process bus) with the seed blog, opens N SSE connections from
separate client processes, publishes M posts through the API at a steady rate and records when
each post reaches each reader. In the same run, the same load against nginx with the nchan push
module (Debian libnginx-mod-nchan, EventSource subscribers, the same payload bytes published to
its HTTP publisher endpoint) gives the reference. Deliveries are counted on the client side.

    ./run bench fanout --readers 2000 --posts 20 [--clients 4] [--nodes 2] [--json results.json]

With --nodes K, K `dateline serve` processes share the database and a Redis bus; the readers are
spread over them and posts are written through the first.

With --workers N each node is `dateline serve --workers N` (N processes on one port, the Redis
bus between them), each holding its own share of the readers.

With --edge pushpin the nodes run in GRIP mode behind Debian's Pushpin (started here, on ports of
its own): the readers connect to Pushpin, which holds them, and each post is published to it
once. `node_cpu_ms_per_post` is the CPU time the Dateline nodes spend per post while the posts
are published and delivered (user + system, from /proc): in GRIP mode it must not grow with the
number of readers.

    ./run bench fanout --readers 10000 --posts 20 --edge pushpin
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing as mp
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from common import SLUG, free_port, pct, seeded_database, serve

from tests.pushpin import Pushpin  # Debian's Pushpin on ports and in a folder of its own

GRIP_KEY = "bench-grip-key-of-at-least-32-characters"
TICKS = os.sysconf("SC_CLK_TCK")

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MARK = re.compile(rb"bench-(\d+)-")
# How long the readers may take to get in, refusals and back-off included.
CONNECT_SECONDS = 300


def raise_file_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def client_process(host: str, port: int, path: str, count: int, index: int, clients: int,
                   conn: Any) -> None:  # fmt: skip
    """One load-client process: `count` SSE readers; reports arrival times at the end."""
    raise_file_limit()

    async def main() -> None:
        deadline = time.monotonic() + CONNECT_SECONDS
        ready = [0]
        refused = [0]  # answers other than 200 that the reader retried
        reconnected = [0]  # streams that closed and were opened again
        duplicates = [0]  # posts a reader received more than once
        per_reader: list[dict[int, float]] = []
        tasks = []

        async def attach(source: str, last_id: bytes | None, deadline: float) -> Any:
            """An open stream (reader, writer), resuming after `last_id` if given. A refusal
            (a 503 with Retry-After, an edge's 502 while thousands arrive, a reset from a full
            accept queue) is retried as the page's script does (live.js): after 1 s doubling
            to 30 s, times 0.5-1.5, until `deadline`."""
            resume = b"Last-Event-ID: " + last_id + b"\r\n" if last_id else b""
            for attempt in itertools.count():
                try:
                    reader, writer = await asyncio.open_connection(
                        host, port, local_addr=(source, 0)
                    )
                    writer.write(
                        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                        f"Accept: text/event-stream\r\n".encode()
                        + resume
                        + b"\r\n"
                    )
                    await writer.drain()
                    head = await reader.readuntil(b"\r\n\r\n")
                    if head.startswith(b"HTTP/1.1 200"):
                        return reader, writer
                    refused[0] += 1
                    writer.close()
                    failure = head.split(b"\r\n")[0].decode()
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    refused[0] += 1
                    failure = repr(exc)
                if time.monotonic() > deadline:
                    raise ConnectionError(f"not connected after {CONNECT_SECONDS} s: {failure}")
                await asyncio.sleep(min(30.0, 2.0**attempt) * (0.5 + random.random()))
            raise AssertionError("unreachable")

        async def one(i: int) -> None:
            source = f"127.0.{index + 1}.{i % 250 + 1}"  # spread source ports over addresses
            mine: dict[int, float] = {}
            per_reader.append(mine)
            last_id: bytes | None = None
            retry = 3.0  # EventSource's wait before it reconnects, until the server sets one
            reader, writer = await attach(source, None, deadline)
            ready[0] += 1
            while True:
                line = await reader.readline()
                if not line:
                    # The stream closed (an edge may close one it could not recover): a browser
                    # reconnects after `retry` with its Last-Event-ID, and so does this reader.
                    writer.close()
                    reconnected[0] += 1
                    await asyncio.sleep(retry)
                    reader, writer = await attach(source, last_id, float("inf"))
                elif line.startswith(b"id:"):
                    last_id = line[3:].strip()
                elif line.startswith(b"retry:"):
                    retry = int(line[6:].strip()) / 1000
                elif line.startswith(b"data:"):
                    found = MARK.search(line)
                    if found:
                        post = int(found.group(1))
                        if post in mine:
                            duplicates[0] += 1
                        else:
                            mine[post] = time.monotonic()

        for i in range(count):
            tasks.append(asyncio.create_task(one(i)))
            if i % 200 == 199:  # don't overflow the servers' accept backlogs
                await asyncio.sleep(0.05 * clients)
        while ready[0] < count:
            await asyncio.sleep(0.05)
            if any(t.done() and t.exception() for t in tasks):
                raise next(t.exception() for t in tasks if t.done() and t.exception())  # type: ignore[misc]
        conn.send(("ready", refused[0]))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # wait for "stop"
        conn.send(("arrivals", per_reader, reconnected[0], duplicates[0]))
        for t in tasks:
            t.cancel()

    asyncio.run(main())


def cpu_ms(pids: list[int]) -> float:
    """CPU time (user + system) the processes (and their children) have used, in ms."""
    total = 0
    for pid in pids:
        for p in [pid, *_children(pid)]:
            try:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total * 1000 / TICKS


def run_load(
    host: str, ports: list[int], path: str, readers: int, clients: int,
    publish: Any, posts: int, rate: float, cpu: Any = None,
) -> dict[str, Any]:  # fmt: skip
    """Connect the readers (client i to port i mod len(ports)), publish, and return the
    latencies (ms), the delivered count, the CPU ms `cpu()` grew by while posts were published
    and delivered, the refusals while connecting and the seconds until every reader was in."""
    ctx = mp.get_context("fork")
    started = time.monotonic()
    pipes, procs = [], []
    share = [readers // clients + (1 if i < readers % clients else 0) for i in range(clients)]
    for index, count in enumerate(share):
        parent, child = ctx.Pipe()
        port = ports[index % len(ports)]
        proc = ctx.Process(
            target=client_process, args=(host, port, path, count, index, clients, child)
        )
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    refused = 0
    for pipe, proc in zip(pipes, procs, strict=True):
        while not pipe.poll(1.0):  # a client that gave up ends the run, instead of a hang
            if not proc.is_alive():
                for other in procs:
                    other.kill()
                raise SystemExit("a load client gave up connecting its readers (see above)")
        kind, retried = pipe.recv()
        assert kind == "ready"
        refused += retried
    connect_s = time.monotonic() - started
    time.sleep(1.0)
    cpu_before = cpu() if cpu else 0.0
    sent: dict[int, float] = {}
    for i in range(posts):
        sent[i] = time.monotonic()
        publish(i)
        time.sleep(1 / rate)
    time.sleep(3.0)  # let the last deliveries land
    used = (cpu() - cpu_before) if cpu else 0.0
    latencies: list[float] = []
    delivered = reconnected = duplicates = 0
    for pipe in pipes:
        pipe.send("stop")
        _, per_reader, closed, twice = pipe.recv()
        reconnected += closed
        duplicates += twice
        for mine in per_reader:
            for i, at in mine.items():
                if i in sent:
                    delivered += 1
                    latencies.append((at - sent[i]) * 1000)
    for proc in procs:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    return {
        "latencies": latencies, "delivered": delivered, "cpu_ms": used, "refused": refused,
        "connect_s": connect_s, "reconnected": reconnected, "duplicates": duplicates,
    }  # fmt: skip


def rss_mb(pid: int) -> float:
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except FileNotFoundError:
            continue
        total += int(status.split("VmRSS:")[1].split()[0])
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def body(i: int) -> str:
    # The same bytes go to both servers; the marker identifies the post on arrival.
    return f"bench-{i}- Wagner chief claims his forces control 70% of Bakhmut. " + "x" * 200


def bench_dateline(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    _, db, token = seeded_database("fanout")
    redis = None
    bus = "memory://"
    if args.nodes > 1 or args.workers > 1:  # several processes on one SQLite file, and Redis
        redis_port = free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        bus = f"redis://127.0.0.1:{redis_port}/0"
        time.sleep(0.5)
    edge = None
    env: dict[str, str] = {"DATELINE_WORKERS": str(args.workers)}
    if args.edge == "pushpin":
        edge = Pushpin(tmp / "pushpin", key=GRIP_KEY, log_level=1, preexec=raise_file_limit)
        env |= {"DATELINE_PUSH": "grip", "DATELINE_GRIP_PUBLISH_URLS": edge.publish_url,
                "DATELINE_GRIP_KEY": GRIP_KEY}  # fmt: skip
    nodes = [serve(db, preexec=raise_file_limit, bus=bus, env=env) for _ in range(args.nodes)]
    ports = [int(base.rsplit(":", 1)[1]) for _, base in nodes]
    time.sleep(1.5 if redis else 0)  # nodes subscribe
    reader_ports = ports
    try:
        if edge is not None:
            edge.start(ports)
            edge.wait_ready(f"/{SLUG}/live")
            reader_ports = [edge.http_port]
        idle = sum(rss_mb(server.pid) for server, _ in nodes)
        client = httpx.Client(base_url=nodes[0][1], headers={"Authorization": f"Bearer {token}"})

        def publish(i: int) -> None:
            r = client.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": body(i)})
            r.raise_for_status()

        load = run_load(
            "127.0.0.1", reader_ports, f"/{SLUG}/live?after=9", args.readers, args.clients,
            publish, args.posts, args.rate, cpu=lambda: cpu_ms([s.pid for s, _ in nodes]),
        )  # fmt: skip
        rss = sum(rss_mb(server.pid) for server, _ in nodes)
        edge_rss = sum(rss_mb(p.pid) for p in edge.procs) if edge else 0.0
    finally:
        if edge is not None:
            edge.stop()
        for server, _ in nodes:
            server.terminate()
            server.wait(10)
        if redis:
            redis.terminate()
    return load | {"rss": rss, "idle": idle, "edge_rss": edge_rss}


def bench_nchan(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    port = free_port()
    conf = tmp / "nchan.conf"
    conf.write_text(
        f"""load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
worker_processes {args.nodes * args.workers};
daemon off;
pid {tmp}/nchan.pid;
error_log {tmp}/nchan-error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 20000; }}
http {{
    access_log off;
    tcp_nopush off;
    tcp_nodelay on;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /pub {{ nchan_publisher; nchan_channel_id blog; }}
        location = /sub {{ nchan_subscriber eventsource; nchan_channel_id blog;
                           nchan_subscriber_first_message newest; }}
    }}
}}
"""
    )
    nginx = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(conf)], preexec_fn=raise_file_limit)
    try:
        time.sleep(0.5)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}")
        client.post("/pub", content=b"warm-up")

        def publish(i: int) -> None:
            payload = json.dumps({"type": "post.published", "post": {"headline": body(i)}})
            client.post("/pub", content=payload.encode()).raise_for_status()

        load = run_load(
            "127.0.0.1", [port], "/sub", args.readers, args.clients, publish, args.posts, args.rate
        )
        rss = rss_mb(nginx.pid)
    finally:
        nginx.terminate()
        nginx.wait(10)
    return load | {"rss": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=20)
    parser.add_argument("--rate", type=float, default=2.0, help="posts per second")
    parser.add_argument("--clients", type=int, default=2, help="load-client processes")
    parser.add_argument("--nodes", type=int, default=1, help="Dateline nodes (>1: Redis bus)")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes per node, on one port (>1: Redis bus)")  # fmt: skip
    parser.add_argument("--edge", choices=["none", "pushpin"], default="none",
                        help="pushpin: readers held by Pushpin, nodes in GRIP mode")  # fmt: skip
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    raise_file_limit()
    tmp = Path(tempfile.mkdtemp(prefix="dateline-fanout-"))
    d = bench_dateline(args, tmp)
    n = bench_nchan(args, tmp)
    expected = args.readers * args.posts
    lat, ref = d["latencies"], n["latencies"]
    result = {
        "readers": args.readers,
        "posts": args.posts,
        "nodes": args.nodes,
        "workers": args.workers,
        "edge": args.edge,
        "delivered_ratio": round(d["delivered"] / expected, 4),
        "p50_ms": round(pct(lat, 0.50), 1),
        "p95_ms": round(pct(lat, 0.95), 1),
        "p99_ms": round(pct(lat, 0.99), 1),
        "max_ms": round(max(lat), 1),
        "rss_mb_per_1000": round(d["rss"] / args.readers * 1000, 1),
        "edge_rss_mb_per_1000": round(d["edge_rss"] / args.readers * 1000, 1),
        "node_cpu_ms_per_post": round(d["cpu_ms"] / args.posts, 2),
        "connect_s": round(d["connect_s"], 1),
        "refused_connecting": d["refused"],
        "streams_reopened": d["reconnected"],
        "duplicates": d["duplicates"],
        "nchan_delivered_ratio": round(n["delivered"] / expected, 4),
        "nchan_p50_ms": round(pct(ref, 0.50), 1),
        "nchan_p99_ms": round(pct(ref, 0.99), 1),
        "nchan_rss_mb_per_1000": round(n["rss"] / args.readers * 1000, 1),
        "nchan_connect_s": round(n["connect_s"], 1),
        "nchan_refused_connecting": n["refused"],
        "nchan_streams_reopened": n["reconnected"],
        "ratio_p50": round(pct(lat, 0.50) / max(pct(ref, 0.50), 0.001), 1),
        "ratio_p99": round(pct(lat, 0.99) / max(pct(ref, 0.99), 0.001), 1),
        "mean_ms": round(statistics.fmean(lat), 1),
        "cpus": os.cpu_count(),
    }
    for key, value in result.items():
        print(f"{key:>22}  {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Storms: N readers arriving at once (a story breaks), then the node restarting under them (a
deploy, a crash) so that all of them reconnect within a second, each with its Last-Event-ID.

    ./run bench storm --readers 10000 [--clients 2] [--posts 5] [--json results.json]

Starts `dateline serve` (SQLite, the seed blog), connects the readers from separate client
processes, publishes posts, kills the node and starts a new one on the same port and database,
publishes more posts through the API once it answers, and counts on the client side what every
reader received. Each reader reconnects as a browser's script would: at once when its stream
drops, after its Retry-After (or 1-3 s) when refused, with the last seq it saw. The figures:
every reader got every post exactly once and in order (delivered 1.0, duplicates 0, out of order
0), the answers other than 200 (by status), and how long after the restart the last reader had
caught up. There is no external reference for this one: the guarantee itself is the measure."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing as mp
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SLUG, free_port, pct, seeded_database, wait_up
from fanout import raise_file_limit

ID = re.compile(rb"^id: (\d+)$", re.M)


def client_process(port: int, count: int, index: int, start_seq: int, conn: Any) -> None:
    raise_file_limit()

    async def main() -> None:
        seqs: list[list[int]] = [[] for _ in range(count)]
        statuses: Counter[int] = Counter()
        caught_up: list[float] = [0.0] * count
        target = [0]
        stop = asyncio.Event()
        connected = [0]

        async def one(i: int) -> None:
            source = f"127.0.{index + 1}.{i % 250 + 1}"
            mine = seqs[i]
            first = True
            while not stop.is_set():
                last = mine[-1] if mine else start_seq
                try:
                    reader, writer = await asyncio.open_connection(
                        "127.0.0.1", port, local_addr=(source, 0)
                    )
                    writer.write(
                        f"GET /{SLUG}/live HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream"
                        f"\r\nLast-Event-ID: {last}\r\n\r\n".encode()
                    )
                    head = await reader.readuntil(b"\r\n\r\n")
                    status = int(head.split(b" ", 2)[1])
                    statuses[status] += 1
                    if status != 200:
                        found = re.search(rb"(?i)retry-after: (\d+)", head)
                        writer.close()
                        await asyncio.sleep(int(found.group(1)) if found else random.uniform(1, 3))
                        continue
                    if first:
                        connected[0] += 1
                        first = False
                    buffer = b""
                    while chunk := await reader.read(65536):
                        buffer += chunk
                        *frames, buffer = buffer.split(b"\n\n")
                        for frame in frames:
                            for m in ID.findall(frame):
                                mine.append(int(m))
                                if target[0] and int(m) >= target[0] and not caught_up[i]:
                                    caught_up[i] = time.time()
                    writer.close()
                except (OSError, asyncio.IncompleteReadError):
                    statuses[0] += 1  # no answer: refused or reset while the node was down
                # The stream dropped (the node went away): reconnect within a second.
                await asyncio.sleep(random.uniform(0, 1))

        tasks = []
        for i in range(count):
            tasks.append(asyncio.create_task(one(i)))
            if i % 200 == 199:
                await asyncio.sleep(0.05)
        while connected[0] < count:
            await asyncio.sleep(0.05)
        conn.send(("ready", count))
        loop = asyncio.get_running_loop()
        _, value = await loop.run_in_executor(None, conn.recv)  # ("target", last seq)
        target[0] = value
        for i, mine in enumerate(seqs):
            if mine and mine[-1] >= value and not caught_up[i]:
                caught_up[i] = time.time()
        await loop.run_in_executor(None, conn.recv)  # "stop"
        stop.set()
        for t in tasks:
            t.cancel()
        conn.send(("result", {"seqs": seqs, "statuses": dict(statuses), "caught": caught_up}))

    asyncio.run(main())


def serve_on(db: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dateline.cli", "serve", "--db", db, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=raise_file_limit,
        env={**os.environ, "DATELINE_MAX_LIVE_READERS": "100000"},
    )  # fmt: skip
    wait_up(f"http://127.0.0.1:{port}/healthz")
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--posts", type=int, default=5, help="before, during and after")
    parser.add_argument(
        "--settle", type=float, default=20.0,
        help="seconds given to the last posts to reach every reader before counting",
    )  # fmt: skip
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    raise_file_limit()
    _, db, token = seeded_database("storm")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve_on(db, port)
    ctx = mp.get_context("fork")
    share = [args.readers // args.clients + (i < args.readers % args.clients)
             for i in range(args.clients)]  # fmt: skip
    pipes, procs = [], []
    arrived = time.time()
    for index, count in enumerate(share):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=client_process, args=(port, count, index, 9, child))
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    for pipe in pipes:
        assert pipe.recv()[0] == "ready"
    connect_s = time.time() - arrived
    published: list[int] = []
    status_codes: Counter[int] = Counter()

    def publish(label: str) -> None:
        for i in range(args.posts):
            try:
                r = httpx.post(
                    f"{base}/api/v1/blogs/{SLUG}/posts",
                    json={"headline": f"{label} {i}"},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )
            except httpx.TransportError:
                status_codes[0] += 1
                continue
            status_codes[r.status_code] += 1
            if r.status_code == 201:
                published.append(r.json()["seq"])

    publish("Before")
    server.kill()  # the node dies under its readers
    server.wait()
    restarted = time.time()
    server = serve_on(db, port)
    publish("After")
    last = max(published)
    for pipe in pipes:
        pipe.send(("target", last))
    # Time for the last posts to reach every reader: the guarantee is measured after it, and how
    # long catching up took is its own figure (caught_up_after_restart_*).
    time.sleep(args.settle)
    for pipe in pipes:
        pipe.send("stop")
    results = [pipe.recv()[1] for pipe in pipes]
    for proc in procs:
        proc.join(10)
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    expected = sorted(published)
    delivered = duplicates = disorder = 0
    statuses: Counter[int] = Counter()
    lags = []
    for result in results:
        statuses.update({int(k): v for k, v in result["statuses"].items()})
        for seqs, caught in zip(result["seqs"], result["caught"], strict=True):
            got = [s for s in seqs if s in set(expected)]
            delivered += len(set(got))
            duplicates += len(got) - len(set(got))
            disorder += sum(1 for a, b in itertools.pairwise(got) if b <= a)
            if caught:
                lags.append(caught - restarted)
    result = {
        "readers": args.readers,
        "posts": len(expected),
        "connect_all_s": round(connect_s, 1),
        "delivered_ratio": round(delivered / (args.readers * len(expected)), 4),
        "duplicates": duplicates,
        "out_of_order": disorder,
        "answers": dict(sorted(statuses.items())),
        "writes": dict(sorted(status_codes.items())),
        "caught_up_after_restart_p50_s": round(pct(lags, 0.5), 2) if lags else None,
        "caught_up_after_restart_max_s": round(max(lags), 2) if lags else None,
        "readers_caught_up": len(lags),
        "cpus": os.cpu_count(),
    }
    for key, value in result.items():
        print(f"{key:>30}  {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

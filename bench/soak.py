"""Soak: a long stretch of ordinary breaking-news load on one node, to see that nothing creeps.

    ./run bench soak [--minutes 30] [--readers 5000] [--clients 2] [--json results.json]

`dateline serve` (SQLite, the seed blog) holds N readers from separate client processes; every
minute 10% of them drop their connection and reconnect with their Last-Event-ID; a post goes
out every 2 s, and every tenth post is edited and every twentieth deleted a little later. Every
minute the node's RSS and the minute's publish -> deliver latencies are sampled. At the end:
delivered (every reader got every event it should, once: 1.0), RSS at the start, middle and end
(flat), and p99 per minute (stable). Not part of the test suite: it takes as long as it says."""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SLUG, pct, seeded_database, serve
from fanout import raise_file_limit, rss_mb

FRAME = re.compile(rb"id: (\d+)\ndata: (.*)")
MARK = re.compile(rb'"headline":"soak-(\d+)-')


def client_process(port: int, count: int, index: int, minutes: float, conn: Any) -> None:
    raise_file_limit()

    async def main() -> None:
        seqs: list[list[int]] = [[] for _ in range(count)]
        arrivals: dict[int, list[float]] = {}  # post number -> arrival times
        drops: list[asyncio.Event] = [asyncio.Event() for _ in range(count)]
        connected = [0]

        async def one(i: int) -> None:
            source = f"127.0.{index + 1}.{i % 250 + 1}"
            mine = seqs[i]
            first = True
            while True:
                last = mine[-1] if mine else 9
                try:
                    reader, writer = await asyncio.open_connection(
                        "127.0.0.1", port, local_addr=(source, 0)
                    )
                    writer.write(
                        f"GET /{SLUG}/live HTTP/1.1\r\nHost: soak\r\nLast-Event-ID: {last}"
                        "\r\n\r\n".encode()
                    )
                    await reader.readuntil(b"\r\n\r\n")
                    if first:
                        connected[0] += 1
                        first = False
                    drop = asyncio.ensure_future(drops[i].wait())
                    buffer = b""
                    while True:
                        read = asyncio.ensure_future(reader.read(65536))
                        done, _ = await asyncio.wait({read, drop}, return_when="FIRST_COMPLETED")
                        if drop in done:
                            read.cancel()
                            break
                        chunk = read.result()
                        if not chunk:
                            break
                        buffer += chunk
                        *frames, buffer = buffer.split(b"\n\n")
                        for frame in frames:
                            found = FRAME.search(frame)
                            if not found:
                                continue
                            mine.append(int(found.group(1)))
                            mark = MARK.search(found.group(2))
                            if mark and b'"post.published"' in found.group(2):
                                arrivals.setdefault(int(mark.group(1)), []).append(time.time())
                    drop.cancel()
                    drops[i].clear()
                    writer.close()
                except (OSError, asyncio.IncompleteReadError):
                    await asyncio.sleep(1)

        tasks = [asyncio.create_task(one(i)) for i in range(count)]
        while connected[0] < count:
            await asyncio.sleep(0.1)
        conn.send(("ready", count))
        ends = time.time() + minutes * 60
        while time.time() < ends:  # 10% of the readers reconnect every minute
            await asyncio.sleep(6)
            for i in random.sample(range(count), max(1, count // 100)):
                drops[i].set()
        await asyncio.sleep(10)
        conn.send(("result", {"seqs": seqs, "arrivals": arrivals}))
        for t in tasks:
            t.cancel()

    asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--readers", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    raise_file_limit()
    _, db, token = seeded_database("soak")
    server, base = serve(db, preexec=raise_file_limit)
    port = int(base.rsplit(":", 1)[1])
    ctx = mp.get_context("fork")
    share = [args.readers // args.clients + (i < args.readers % args.clients)
             for i in range(args.clients)]  # fmt: skip
    pipes, procs = [], []
    for index, count in enumerate(share):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=client_process, args=(port, count, index, args.minutes, child))
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    for pipe in pipes:
        assert pipe.recv()[0] == "ready"
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    sent: dict[int, float] = {}
    minute_of: dict[int, int] = {}
    rss: list[tuple[float, float]] = []
    posts: dict[int, str] = {}
    errors = 0
    began = time.time()
    n = 0
    while time.time() - began < args.minutes * 60:
        minute = int((time.time() - began) // 60)
        if not rss or rss[-1][0] < minute:
            rss.append((minute, rss_mb(server.pid)))
        sent[n] = time.time()
        minute_of[n] = minute
        r = client.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": f"soak-{n}- update"})
        if r.status_code == 201:
            posts[n] = r.json()["id"]
        else:
            errors += 1
        if n % 10 == 5 and n - 5 in posts:  # an edit of an earlier post
            e = client.patch(
                f"/api/v1/blogs/{SLUG}/posts/{posts[n - 5]}",
                json={"body": "Edited.", "base_revision": 1},
            )
            errors += e.status_code != 200
        if n % 20 == 15 and n - 10 in posts:  # a retraction
            d = client.request("DELETE", f"/api/v1/blogs/{SLUG}/posts/{posts.pop(n - 10)}",
                               json={"reason": "Soak."})  # fmt: skip
            errors += d.status_code != 200
        n += 1
        time.sleep(max(0.0, began + n * 2 - time.time()))
    rss.append((args.minutes, rss_mb(server.pid)))
    results = [pipe.recv()[1] for pipe in pipes]
    for proc in procs:
        proc.join(10)
    last_seq = client.get(f"/api/v1/blogs/{SLUG}").json()["last_seq"]
    server.terminate()
    server.wait(10)
    complete = duplicates = 0
    per_minute: dict[int, list[float]] = {}
    for result in results:
        for seqs in result["seqs"]:
            if seqs == list(range(10, last_seq + 1)):
                complete += 1
            duplicates += len(seqs) - len(set(seqs))
        for post, times in result["arrivals"].items():
            post = int(post)
            for at in times:
                per_minute.setdefault(minute_of[post], []).append((at - sent[post]) * 1000)
    p99 = {m: round(pct(v, 0.99), 1) for m, v in sorted(per_minute.items())}
    result = {
        "minutes": args.minutes,
        "readers": args.readers,
        "posts": len(sent),
        "events": last_seq - 9,
        "write_errors": errors,
        "readers_with_every_event_once": f"{complete}/{args.readers}",
        "delivered_ratio": round(complete / args.readers, 4),
        "duplicates": duplicates,
        "rss_mb_start_mid_end": [rss[0][1], rss[len(rss) // 2][1], rss[-1][1]],
        "p99_ms_per_minute": p99,
        "p99_ms_first_last_minute": [next(iter(p99.values())), list(p99.values())[-1]],
        "cpus": os.cpu_count(),
    }
    for key, value in result.items():
        print(f"{key:>32}  {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

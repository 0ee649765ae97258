"""Publish → SSE delivery latency on one node (SQLite + in-process bus).

Starts `dateline serve` on a free port with the seed blog in a temporary SQLite database, holds
N live readers in this (separate) process, publishes M posts through the API at a steady rate, and
measures, for every (reader, post) pair, the time from sending the POST to the frame arriving.
The reference, measured in the same run, is the POST's own round trip (the time until the
newsroom's write is acknowledged): the ratio says what fan-out adds on top of a durable write.

    ./run bench latency --readers 100 --posts 50 [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SLUG, pct, seeded_database, serve


async def reader(base: str, arrivals: dict[str, list[float]], ready: asyncio.Event,
                 counter: list[int], total: int) -> None:  # fmt: skip
    async with (
        httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(10, read=None)) as client,
        client.stream("GET", f"/{SLUG}/live?after=9") as response,
    ):
        counter[0] += 1
        if counter[0] == total:
            ready.set()
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                now = time.perf_counter()
                data = json.loads(line[6:])
                arrivals.setdefault(data["post"]["id"], []).append(now)


async def run(args: argparse.Namespace) -> dict[str, object]:
    _, db, token = seeded_database("latency")
    server, base = serve(db)
    try:
        arrivals: dict[str, list[float]] = {}
        ready, counter = asyncio.Event(), [0]
        tasks = [
            asyncio.create_task(reader(base, arrivals, ready, counter, args.readers))
            for _ in range(args.readers)
        ]
        await asyncio.wait_for(ready.wait(), 60)
        await asyncio.sleep(0.5)
        sent: dict[str, float] = {}
        acks: list[float] = []
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=headers) as writer:
            for i in range(args.posts):
                start = time.perf_counter()
                r = await writer.post(
                    f"/api/v1/blogs/{SLUG}/posts", json={"headline": f"Bench {i}", "body": "x"}
                )
                acks.append(time.perf_counter() - start)
                sent[r.json()["id"]] = start
                await asyncio.sleep(1 / args.rate)
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline:
            if sum(len(arrivals.get(pid, [])) for pid in sent) >= args.readers * args.posts:
                break
            await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        rss_kb = int(Path(f"/proc/{server.pid}/status").read_text().split("VmRSS:")[1].split()[0])
    finally:
        server.terminate()
        server.wait(10)
    latencies = [(t - sent[pid]) * 1000 for pid in sent for t in arrivals.get(pid, [])]
    ack_ms = [a * 1000 for a in acks]
    delivered = len(latencies) / (args.readers * args.posts)
    return {
        "readers": args.readers,
        "posts": args.posts,
        "delivered_ratio": round(delivered, 4),
        "p50_ms": round(pct(latencies, 0.50), 2),
        "p95_ms": round(pct(latencies, 0.95), 2),
        "p99_ms": round(pct(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
        "ack_p50_ms": round(statistics.median(ack_ms), 2),
        "ack_p99_ms": round(pct(ack_ms, 0.99), 2),
        "ratio_p50_to_ack_p50": round(pct(latencies, 0.50) / statistics.median(ack_ms), 2),
        "server_rss_mb": round(rss_kb / 1024, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--readers", type=int, default=100)
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0, help="posts per second")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    for key, value in result.items():
        print(f"{key:>22}  {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

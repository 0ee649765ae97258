"""The writer's wait: how long `POST …/posts` takes to answer, with no readers and with N readers
on the same node, on the Redis bus. A publish must never wait for the fan-out to local readers,
so the acknowledgement should not grow with the readers a node holds.

    ./run bench ack --readers 5000 --posts 40 [--rate 4] [--clients 2] [--json results.json]

The reference is the same node, database and bus with no readers, measured in the same run:
the figure is the ratio of the two medians (p50 with N readers / p50 with none)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SLUG, free_port, pct, seeded_database, serve
from fanout import body, raise_file_limit, run_load


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=5000)
    parser.add_argument("--posts", type=int, default=40)
    parser.add_argument("--rate", type=float, default=4.0, help="posts per second")
    parser.add_argument("--clients", type=int, default=2, help="load-client processes")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    raise_file_limit()
    _, db, token = seeded_database("ack")
    redis_port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", tempfile.gettempdir()],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.5)
    server, base = serve(db, preexec=raise_file_limit, bus=f"redis://127.0.0.1:{redis_port}/0")
    acks: dict[str, list[float]] = {"none": [], "readers": []}
    try:
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
        phase = "none"

        def publish(i: int) -> None:
            began = time.perf_counter()
            r = client.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": body(i)})
            acks[phase].append((time.perf_counter() - began) * 1000)
            r.raise_for_status()

        for i in range(5):  # warm up: the first requests pay for imports and caches
            client.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": f"warm-up {i}"})
        for i in range(args.posts):
            publish(1000 + i)
            time.sleep(1 / args.rate)
        phase = "readers"
        last_seq = client.get(f"/api/v1/blogs/{SLUG}").json()["last_seq"]
        delivered = run_load(
            "127.0.0.1", [int(base.rsplit(":", 1)[1])], f"/{SLUG}/live?after={last_seq}",
            args.readers, args.clients, publish, args.posts, args.rate,
        )["delivered"]  # fmt: skip
    finally:
        server.terminate()
        server.wait(10)
        redis.terminate()
    none, loaded = acks["none"], acks["readers"]
    result = {
        "readers": args.readers,
        "posts": args.posts,
        "ack_p50_ms_no_readers": round(pct(none, 0.5), 2),
        "ack_p99_ms_no_readers": round(pct(none, 0.99), 2),
        "ack_p50_ms_with_readers": round(pct(loaded, 0.5), 2),
        "ack_p99_ms_with_readers": round(pct(loaded, 0.99), 2),
        "ratio_p50": round(pct(loaded, 0.5) / max(pct(none, 0.5), 0.001), 2),
        "delivered_ratio": round(delivered / (args.readers * args.posts), 4),
        "cpus": os.cpu_count(),
    }
    for key, value in result.items():
        print(f"{key:>26}  {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

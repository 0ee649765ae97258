"""Sign-in guesses against a node's readers: does checking passwords stop the node's event loop?

    ./run bench signin [--guesses 20] [--rounds 2] [--json results.json]

Starts `dateline serve` (SQLite, the seed blog) and probes `/healthz` every 10 ms, first with
nothing else going on (the reference), then while `--guesses` sign-ins with wrong passwords
arrive at once, `--rounds` times. Each check of a password is an argon2 hash: about 140 ms of CPU
and 64 MiB. Run on the event loop, every reader's stream of the node would wait for each one in
turn; run in threads, one at a time, the node keeps answering. The figure: the probe's p50 and
p99 during the guesses, as ratios of the same node's idle p50."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import pct, seeded_database, serve

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def probe(client: httpx.AsyncClient, seconds: float) -> list[float]:
    """/healthz answer times, one request every 10 ms, for `seconds`."""
    times: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        started = time.perf_counter()
        await client.get("/healthz")
        times.append(time.perf_counter() - started)
        await asyncio.sleep(0.01)
    return times


async def watch(client: httpx.AsyncClient, stop: asyncio.Event, into: list[float]) -> None:
    while not stop.is_set():
        into.extend(await probe(client, 0.05))


async def guess(base: str, n: int) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        form = (await client.get("/newsroom/login")).text
        found = CSRF.search(form)
        assert found is not None, "the sign-in form has no CSRF field"
        r = await client.post(
            "/newsroom/login",
            data={"email": f"guess{n}@example.org", "password": "not the password",
                  "csrf_token": found.group(1)},
        )  # fmt: skip
        return r.status_code


async def measure(base: str, guesses: int, rounds: int) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        idle = await probe(client, 2.0)
        during: list[float] = []
        statuses: dict[int, int] = {}
        took: list[float] = []
        for r in range(rounds):
            started = time.perf_counter()
            stop = asyncio.Event()

            watcher = asyncio.create_task(watch(client, stop, during))
            answers = await asyncio.gather(*(guess(base, r * guesses + i) for i in range(guesses)))
            took.append(time.perf_counter() - started)
            stop.set()
            await watcher
            for status in answers:
                statuses[status] = statuses.get(status, 0) + 1
    reference = pct(idle, 0.5)
    return {
        "guesses": guesses * rounds,
        "answers": dict(sorted(statuses.items())),
        "guesses_took_s": [round(t, 2) for t in took],
        "idle_p50_ms": round(reference * 1000, 1),
        "during_p50_ms": round(pct(during, 0.5) * 1000, 1),
        "during_p99_ms": round(pct(during, 0.99) * 1000, 1),
        "during_p50_ratio": round(pct(during, 0.5) / reference, 1),
        "during_p99_ratio": round(pct(during, 0.99) / reference, 1),
        "probes_during": len(during),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--guesses", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    _, db, _ = seeded_database("signin")
    server, base = serve(db)
    try:
        result = asyncio.run(measure(base, args.guesses, args.rounds))
    finally:
        server.terminate()
        server.wait(10)
    for key, value in result.items():
        print(f"{key:>20}  {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

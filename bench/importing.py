"""Importing a big text dump into a running node's SQLite database.

    ./run bench importing --posts 20000 [--rate 10] [--json results.json]
    ./run bench importing --posts 100000 --alone


Writes a text dump of N posts (the seed's layout, invented text), starts `dateline serve` on a
SQLite database that already holds the seed blog, and measures:

* the import itself (`dateline import`, as a user runs it): wall time, posts per second and the
  importing process's peak RSS;
* what the node's own newsroom sees meanwhile: an editor posting through the API `--rate` times a
  second, each post's latency and status (a "database is locked" would be a 5xx).

The reference, in the same run: the same posting for the same time with no import running.
The figures: p50/p99/max of the API's post latency during the import and at rest, their ratio,
and the answers that were not 201 (which must be none).

With --alone no node runs: only the import (time, posts per second, peak RSS), as an operator
moving a back catalogue in would run it."""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SLUG, pct, seeded_database, serve


def write_dump(path: Path, posts: int) -> None:
    """A dump in the seed's layout, newest post first, one post every 17 seconds."""
    start = datetime(2023, 3, 20, 6, 0)
    with path.open("w", encoding="utf-8") as out:
        out.write("March 20, 2023 - A long day of talks\n\nBy Jane Doe and John Roe, CNN\n\n")
        out.write(f"Updated 12:03 a.m. ET, March 21, 2023\n\n{posts} Posts\n\n")
        for i in range(posts, 0, -1):
            t = start + timedelta(seconds=17 * i)
            hour = t.hour % 12 or 12
            meridiem = "a.m." if t.hour < 12 else "p.m."
            out.write(
                f"{hour}:{t.minute:02d} {meridiem} ET, {t:%B} {t.day}, {t.year}\n"
                f"Update number {i} on the talks\n"
                "From CNN's Sarah Dean in London\n"
                f"Paragraph one of update {i}: delegations met again this morning and "
                "agreed to keep talking into the evening, officials said.\n"
                "More context: the talks began on Monday, “after months of preparation.”\n\n"
            )


class Poster(threading.Thread):
    """Posts through the API at `rate` per second until stopped; keeps (latency s, status)."""

    def __init__(self, base: str, token: str, rate: float) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.rate = base, token, rate
        self.results: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=60) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                started = time.perf_counter()
                try:
                    r = client.post(
                        f"/api/v1/blogs/{SLUG}/posts",
                        json={"headline": f"Live {n}", "body": "Still live."},
                    )
                    status = r.status_code
                except httpx.HTTPError:
                    status = 0
                took = time.perf_counter() - started
                self.results.append((took, status))
                self.stop.wait(max(0.0, 1 / self.rate - took))


def summary(results: list[tuple[float, int]]) -> dict[str, Any]:
    ms = [r[0] * 1000 for r in results]
    failures: dict[str, int] = {}
    for _, status in results:
        if status != 201:
            failures[str(status)] = failures.get(str(status), 0) + 1
    return {
        "posts": len(results),
        "p50_ms": round(pct(ms, 0.50), 1),
        "p99_ms": round(pct(ms, 0.99), 1),
        "max_ms": round(max(ms), 1) if ms else 0.0,
        "not_201": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=10.0, help="API posts per second")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--alone", action="store_true", help="no node, no API posting")
    args = parser.parse_args()

    tmp, db, token = seeded_database("importing")
    dump = tmp / "dump.txt"
    write_dump(dump, args.posts)
    if args.alone:
        took, peak_mb = run_import(dump, db)
        report(args, dump, took, peak_mb, None, None)
        shutil.rmtree(tmp, ignore_errors=True)
        return
    node, base = serve(db)
    try:
        poster = Poster(base, token, args.rate)
        poster.start()
        try:
            took, peak_mb = run_import(dump, db)
        finally:
            poster.stop.set()
            poster.join()
        during = summary(poster.results)
        # The reference: the same posting, as long, with nothing else going on.
        rest = Poster(base, token, args.rate)
        rest.start()
        time.sleep(min(took, 60))
        rest.stop.set()
        rest.join()
        idle = summary(rest.results)
    finally:
        node.terminate()
        node.wait(30)
    report(args, dump, took, peak_mb, during, idle)
    shutil.rmtree(tmp, ignore_errors=True)


def run_import(dump: Path, db: str) -> tuple[float, float]:
    """`dateline import` as a user runs it: (seconds, the importing process's peak RSS in MB).
    Called before any other child process ends, so RUSAGE_CHILDREN is this import's."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dateline.cli", "import", str(dump), "--slug", "big-dump",
         "--db", db],
        capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the import failed: {done.stderr}")
    return took, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def report(
    args: argparse.Namespace,
    dump: Path,
    took: float,
    peak_mb: float,
    during: dict[str, Any] | None,
    idle: dict[str, Any] | None,
) -> None:
    figures: dict[str, Any] = {
        "posts": args.posts,
        "dump_mb": round(dump.stat().st_size / 2**20, 1),
        "import_seconds": round(took, 1),
        "posts_per_second": round(args.posts / took),
        "import_peak_rss_mb": round(peak_mb, 1),
    }
    print(f"import: {args.posts} posts ({figures['dump_mb']} MB) in {took:.1f} s "
          f"({figures['posts_per_second']}/s), peak RSS {peak_mb:.0f} MB")  # fmt: skip
    if during is not None and idle is not None:
        figures["api_during_import"], figures["api_at_rest"] = during, idle
        ratio = round(during["p99_ms"] / idle["p99_ms"], 2) if idle["p99_ms"] else None
        figures["p99_ratio"] = ratio
        for name, row in (("during import", during), ("at rest", idle)):
            print(
                f"API posts {name}: {row['posts']} sent, p50 {row['p50_ms']} ms, "
                f"p99 {row['p99_ms']} ms, max {row['max_ms']} ms, not 201: {row['not_201'] or 0}"
            )
        print(f"p99 during / at rest: {figures['p99_ratio']}x")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

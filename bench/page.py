"""Reader page weight and time to first render of the seed blog, in headless chromium.

Serves the seed blog with `dateline serve` (SQLite) and, as the reference in the same run, the
very same bytes (HTML, CSS, JS) as static files from Python's http.server; loads each N times in
Debian's chromium and reports the median first-contentful-paint and the ratio.

    ./run bench page [--runs 7] [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SEED, SLUG, cli, free_port, wait_up

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


async def first_paints(url: str, runs: int) -> list[float]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        times = []
        for _ in range(runs):
            context = await browser.new_context()  # a cold cache each time
            page = await context.new_page()
            await page.goto(url, wait_until="load")
            fcp = await page.evaluate(
                """() => new Promise(done => {
                    const get = () => performance.getEntriesByName('first-contentful-paint')[0];
                    const poll = () => get() ? done(get().startTime) : setTimeout(poll, 20);
                    poll();
                })"""
            )
            times.append(float(fcp))
            await context.close()
        await browser.close()
    return times


async def run(args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="dateline-page-"))
    db = str(tmp / "page.db")
    cli("import", str(SEED), "--slug", SLUG, db=db)
    port, static_port = free_port(), free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "dateline.cli", "serve", "--db", db, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    static = None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(f"{base}/healthz")
        html = httpx.get(f"{base}/{SLUG}").content
        assets = re.findall(rb'(?:href|src)="(/static/[^"?]+)\?v=', html)
        sizes = {"html": (len(html), len(gzip.compress(html, 9)))}
        root = tmp / "static-site"
        (root / "static").mkdir(parents=True)
        (root / f"{SLUG}.html").write_bytes(html)
        for asset in assets:
            body = httpx.get(base + asset.decode()).content
            sizes[asset.decode().rsplit("/", 1)[1]] = (len(body), len(gzip.compress(body, 9)))
            (root / asset.decode().lstrip("/")).write_bytes(body)
        static = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(static_port), "--bind", "127.0.0.1",
             "--directory", str(root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        static_url = f"http://127.0.0.1:{static_port}/{SLUG}.html"
        wait_up(static_url)
        dateline_fcp = await first_paints(f"{base}/{SLUG}", args.runs)
        static_fcp = await first_paints(static_url, args.runs)
    finally:
        server.terminate()
        if static:
            static.terminate()
    total_raw = sum(raw for raw, _ in sizes.values())
    total_gz = sum(gz for _, gz in sizes.values())
    d, s = statistics.median(dateline_fcp), statistics.median(static_fcp)
    return {
        "files": {name: {"bytes": raw, "gzip_bytes": gz} for name, (raw, gz) in sizes.items()},
        "page_bytes": total_raw,
        "page_gzip_bytes": total_gz,
        "fcp_ms": round(d, 1),
        "static_fcp_ms": round(s, 1),
        "ratio": round(d / s, 2),
        "runs": args.runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    for key, value in result.items():
        print(f"{key:>16}  {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
